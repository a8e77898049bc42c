"""The beautician's day: her checklist for today (generated on first view) and past days."""
from datetime import date, timedelta

from typing import NamedTuple

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import Integer, and_, bindparam, case, func, or_, select, type_coerce

from kq import labels
from kq.blueprints.tasks import bp
from kq.blueprints.tasks.items import DAILY_KINDS, ORDER, reason
from kq.extensions import db
from kq.i18n import memo_gettext
from kq.masking import can_text
from kq.models import Customer, MessageTemplate, PrepaidCard, Task
from kq.models.base import UTCDateTime
from kq.models.contact import DONE, OPEN
from kq.scoping import current_store
from kq.scripts import sms_bodies, sms_link, tel_href
from kq.services.checklist import ensure_day

OVERDUE_DAYS = 14
PAGE_SIZE = 50  # the next fifty open items; done ones sink to the end

# The page's statements are built once, with bound parameters, so that each view only binds
# values: SQLAlchemy caches their compiled form and their cache key, and a view costs little
# more than SQLite's own work. `since` is the first overdue day that still shows; for a past
# day it is the day itself, which leaves only that day's items.
_store, _day, _since = bindparam("store"), bindparam("day"), bindparam("since")
_WHERE = (Task.store_id == _store, Task.staff_id == bindparam("staff"),
          or_(Task.due_on == _day, and_(Task.due_on < _day, Task.due_on >= _since,
                                        Task.status == OPEN, Task.kind.not_in(DAILY_KINDS))))
_SUMMARY = select(
    func.count(case((Task.due_on == _day, 1))),
    func.count(case((and_(Task.due_on == _day, Task.status == DONE), 1))),
    func.count(case((and_(Task.due_on == _day, Task.status == OPEN,
                          Task.kind == "red_flag"), 1))),
    func.count(case((Task.due_on < _day, 1)))).where(*_WHERE)
# Open before done; red flags first (freshest dormancy first: easiest to win back), then by
# kind, today's before overdue ones, then by name — all in SQL, so a page is a LIMIT.
_ORDER = (case((Task.status == DONE, 1), else_=0),
          case({kind: i for i, kind in enumerate(ORDER)}, value=Task.kind, else_=len(ORDER)),
          case((Task.due_on == _day, 0), else_=1),
          case((Task.kind == "red_flag", Customer.last_visit_at), else_=None),
          Customer.greeting_name, Task.id)
_keys = [key.label(f"k{i}") for i, key in enumerate(_ORDER)]
_items = (select(Task.id, Task.kind, Task.status, Task.due_on, Task.detail,
                 Customer.id.label("customer_id"), Customer.greeting_name, Customer.phone,
                 # what "days since" counts from: the last visit, or joining if she never came
                 type_coerce(func.coalesce(Customer.last_visit_at, Customer.created_at),
                             UTCDateTime).label("since"), *_keys)
          .join(Customer, Customer.id == Task.customer_id).where(*_WHERE)
          .order_by(*_keys[:3], _keys[3].desc().nulls_last(), *_keys[4:])
          .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
          .subquery("items"))
_usable = (PrepaidCard.customer_id == _items.c.customer_id, PrepaidCard.status == "open",
           PrepaidCard.expires_on.is_(None) | (PrepaidCard.expires_on >= _day))
# The page's own rows, then per row (the fifty only, by index): her usable prepaid cards and
# the store's own SMS text for the kind (none: the default).
_PAGE = (select(*(c for c in _items.c if c.name not in {k.name for k in _keys}),
                select(func.sum(PrepaidCard.sessions_total - PrepaidCard.sessions_used))
                .where(*_usable).scalar_subquery().label("sessions_left"),
                select(func.sum(PrepaidCard.balance_fen)).where(*_usable)
                .scalar_subquery().label("balance_fen"),
                select(MessageTemplate.body).where(
                    MessageTemplate.store_id == _store,
                    MessageTemplate.kind == _items.c.kind, MessageTemplate.channel == "sms")
                .scalar_subquery().label("sms_body"))
         .order_by(*(_items.c[f"k{i}"] for i in range(3)), _items.c.k3.desc().nulls_last(),
                   *(_items.c[f"k{i}"] for i in range(4, len(_ORDER)))))


def list_params(store, staff_id, day, today):
    """The bound values of one staff member's list for `day`. On today's list, undone items of
    the last two weeks stay visible as overdue, except the daily kinds, which today's run has
    already asked again if their condition still holds."""
    since = day - timedelta(days=OVERDUE_DAYS) if day == today else day
    return {"store": store.id, "staff": staff_id, "day": day, "since": since}


def list_summary(params):
    total, done, red, overdue = db.session.execute(_SUMMARY, params).one()
    return {"total": total, "done": done, "red": red, "overdue": overdue}


def list_page(params, page=1):
    """One page of the list as plain rows (no ORM objects: a view only reads them)."""
    return db.session.execute(_PAGE, {**params, "limit": PAGE_SIZE,
                                      "offset": (page - 1) * PAGE_SIZE}).all()


class Row(NamedTuple):
    """What the page shows of one item (a tuple: attribute reads in the template are cheap)."""
    id: int
    kind: str
    done: bool
    overdue: bool
    due_on: date
    customer_id: int
    name: str
    days: int
    reason: str
    prepaid: tuple | None
    tel: str | None
    sms: str | None
    handout_id: int | None
    promise_id: int | None
    complaint_id: int | None
    has_form: bool  # a form with this session's CSRF token: rendered each time, never kept


def _render_day(store, day):
    today = store.today()
    if day > today:
        abort(404)
    if day == today:
        ensure_day(store, day)
        store = current_store()
    params = list_params(store, current_user.id, day, today)
    summary = list_summary(params)
    page = request.args.get("page", 1, type=int) or 1
    pages = max(1, -(-(summary["total"] + summary["overdue"]) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    items = list_page(params, page)
    sms_body = sms_bodies(current_user, store, today)
    tr = memo_gettext()
    tz, dormant_after, is_today = store.tz, store.dormant_after_days, day == today
    rows = []
    for (task_id, kind, status, due_on, detail, customer_id, name, phone, since,
         sessions, balance, own_sms) in items:
        detail = detail or {}
        done = status == DONE
        handout, promise = detail.get("handout_id"), detail.get("promise_id")
        rows.append(Row(
            task_id, kind, done, due_on < day, due_on, customer_id, name,
            (today - since.astimezone(tz).date()).days, reason(kind, detail, tr),
            (sessions or 0, balance or 0) if (sessions or 0) > 0 or (balance or 0) > 0 else None,
            tel_href(phone),
            sms_link(phone, sms_body(kind, name, detail.get("gift", ""), own=own_sms))
            if can_text(phone) else None,
            handout, promise, detail.get("complaint_id"),
            is_today and not done and bool(handout or promise)))
    return render_template("tasks/today.html", rows=rows, store=store, day=day, today=today,
                           summary=summary, labels=labels, tomorrow=today + timedelta(days=1),
                           page=page, pages=pages, page_size=PAGE_SIZE,
                           dormant_after=dormant_after, kind_names=labels.KINDS,
                           cards=" ".join(f"/customers/{row.customer_id}" for row in rows),
                           days_format=_("%(days)d d", days=0).replace("0", "%d", 1),
                           previous=day - timedelta(days=1),
                           following=day + timedelta(days=1) if day < today else None)


@bp.route("/today")
@login_required
def today():
    store = current_store()  # held here: the session keeps only weak references
    return _render_day(store, store.today())


@bp.route("/<day>")
@login_required
def day(day):
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        abort(404)
    return _render_day(current_store(), parsed)
