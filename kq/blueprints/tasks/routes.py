"""The beautician's day: her plan for today (generated on first view), the rest of the day's
list one tap away ("more"), and past days. The owner's list spans every store."""
import json
import re
from datetime import date, timedelta
from itertools import groupby
from operator import attrgetter
from typing import NamedTuple

from babel.dates import format_skeleton
from flask import abort, redirect, render_template, request, session, url_for
from flask_babel import get_locale, get_translations
from flask_login import current_user, login_required
from jinja2 import pass_context
from markupsafe import Markup
from sqlalchemy import (Integer, and_, bindparam, case, func, not_, null, or_, select,
                        type_coerce, union_all)

from kq import labels, pagecache
from kq.fragments import kept
from kq.blueprints.tasks import bp
from kq.blueprints.tasks.items import DAILY_KINDS, GROUPS, ORDER, count_label, why
from kq.extensions import db
from kq.i18n import memo_gettext
from kq.masking import can_text, national
from kq.models import Customer, MessageTemplate, PrepaidCard, Store, Task
from kq.models.base import UTCDateTime
from kq.models.contact import DONE, OPEN
from kq.scoping import accessible_stores, current_store, signed_in
from kq.scripts import DEFAULTS, customer_date, render, store_signature
from kq.services.checklist import ensure_day, on_plan
from kq.services.contacts import RATED_OUTCOMES

OVERDUE_DAYS = 14
PAGE_SIZE = 50  # the next fifty items; done ones sink to the end of their group
PLAN, MORE, ALL = "plan", "more", "all"

# The page's statements are built once, with bound parameters, so that each view only binds
# values: SQLAlchemy caches their compiled form and their cache key, and a view costs little
# more than the database's own work. `since` is the first overdue day that still shows; for a
# past day it is the day itself, which leaves only that day's items. Staff see their items of
# the store; the owner sees hers in every store (her own list), so hers have no store term.
_store, _day, _since = bindparam("store"), bindparam("day"), bindparam("since")
_planned = on_plan()


def _where(everywhere):
    return ((() if everywhere else (Task.store_id == _store,))
            + (Task.staff_id == bindparam("staff"),
               or_(Task.due_on == _day,
                   and_(Task.due_on < _day, Task.due_on >= _since, Task.status == OPEN,
                        Task.kind.not_in(DAILY_KINDS)))))


def _summary(everywhere):
    """The day's items counted by plan, status and kind, then the overdue ones: two ranges of
    the index ix_tasks_store_staff_due_plan, which holds every column they read (no row, no
    JSON is opened), in the index's own order (no sort). list_summary adds them up."""
    staff = ((() if everywhere else (Task.store_id == _store,))
             + (Task.staff_id == bindparam("staff"),))
    day = (select(Task.planned, Task.status, Task.kind, func.count().label("n"))
           .where(*staff, Task.due_on == _day)
           .group_by(Task.planned, Task.status, Task.kind))
    overdue = (select(null(), null(), null(), func.count())
               .where(*staff, Task.due_on < _day, Task.due_on >= _since, Task.status == OPEN,
                      Task.kind.not_in(DAILY_KINDS)))
    return union_all(day, overdue)


# Order: the plan before the rest; in each, what can't wait, then red flags, then touches
# (open before done in each group); by kind, today's before overdue; red flags in the turn
# the day's run gave them (older lists: freshest dormancy first), touches key customers first
# and longest without contact first; then by name. All in SQL, so a page is a LIMIT.
_group = case((Task.kind == "red_flag", 1), (Task.kind == "relationship_touch", 2), else_=0)
_ORDER = ((case((_planned, 0), else_=1), False), (_group, False),
          (case((Task.status == DONE, 1), else_=0), False),
          (case({kind: i for i, kind in enumerate(ORDER)}, value=Task.kind, else_=len(ORDER)),
           False),
          (case((Task.due_on == _day, 0), else_=1), False),
          (case((Task.kind == "red_flag", Task.detail["turn"].as_integer()),
                (Task.kind == "relationship_touch", case((Customer.is_key, 0), else_=1)),
                else_=None), "last"),
          (case((Task.kind == "red_flag", Customer.last_visit_at), else_=None), "desc"),
          (case((Task.kind == "relationship_touch", Customer.last_contact_at), else_=None),
           "first"),
          (Customer.greeting_name, False), (Task.id, False))


def _ordered(columns):
    out = []
    for column, (_expr, how) in zip(columns, _ORDER):
        out.append(column.asc().nulls_last() if how == "last" else
                   column.desc().nulls_last() if how == "desc" else
                   column.asc().nulls_first() if how == "first" else column)
    return out


def _page(everywhere, part):
    keys = [expr.label(f"k{i}") for i, (expr, _how) in enumerate(_ORDER)]
    where = _where(everywhere) + ((_planned,) if part == PLAN else
                                  (not_(_planned),) if part == MORE else ())
    items = (select(Task.id, Task.kind, Task.status, Task.due_on, Task.detail, Task.store_id,
                    Customer.id.label("customer_id"), Customer.greeting_name, Customer.phone,
                    Customer.is_key,
                    # what "days since" counts from: the last visit, or joining if she never came
                    type_coerce(func.coalesce(Customer.last_visit_at, Customer.created_at),
                                UTCDateTime).label("since"),
                    Customer.last_visit_at.is_(None).label("never"), *keys)
             .join(Customer, Customer.id == Task.customer_id).where(*where)
             .order_by(*_ordered(keys))
             .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
             .subquery("items"))
    usable = (PrepaidCard.customer_id == items.c.customer_id, PrepaidCard.status == "open",
              PrepaidCard.expires_on.is_(None) | (PrepaidCard.expires_on >= _day))
    # The page's own rows, then per row (the fifty only, by index): her usable prepaid cards
    # and the store's own SMS text for the kind (none: the default).
    return (select(*(c for c in items.c if c.name not in {k.name for k in keys}),
                   select(func.sum(PrepaidCard.sessions_total - PrepaidCard.sessions_used))
                   .where(*usable).scalar_subquery().label("sessions_left"),
                   select(func.sum(PrepaidCard.balance_fen)).where(*usable)
                   .scalar_subquery().label("balance_fen"),
                   select(MessageTemplate.body).where(
                       MessageTemplate.store_id == items.c.store_id,
                       MessageTemplate.kind == items.c.kind, MessageTemplate.channel == "sms")
                   .scalar_subquery().label("sms_body"))
            .order_by(*_ordered([items.c[f"k{i}"] for i in range(len(_ORDER))])))


_SUMMARY = _summary(False)
_PAGE = _page(False, ALL)  # the whole day's list, as the export and the bench read it
_STATEMENTS = {(everywhere, part): _page(everywhere, part) if part != ALL or everywhere else _PAGE
               for everywhere in (False, True) for part in (PLAN, MORE, ALL)}
_SUMMARIES = {False: _SUMMARY, True: _summary(True)}


def list_params(store, staff_id, day, today):
    """The bound values of one staff member's list for `day`. On today's list, undone items of
    the last two weeks stay visible as overdue, except the daily kinds, which today's run has
    already asked again if their condition still holds."""
    since = day - timedelta(days=OVERDUE_DAYS) if day == today else day
    return {"store": store.id, "staff": staff_id, "day": day, "since": since}


def _core():
    """The session's connection, in its transaction: the list's statements select columns,
    not entities, so they run as Core statements, without the ORM's execution steps (a third
    of their cost on a cold Today)."""
    return db.session.connection()


def list_summary(params, everywhere=False):
    """The day's counts: all of it (total, done, open red flags, overdue), the plan's, and what
    waits on "more" (the rest of the day's items, all of them not on the plan)."""
    summary = dict.fromkeys(("total", "done", "red", "overdue", "plan_total", "plan_done"), 0)
    for planned, status, kind, n in _core().execute(_SUMMARIES[everywhere], params):
        if status is None:  # the overdue count (a day's items all have a status)
            summary["overdue"] += n
            continue
        done = status == DONE
        summary["total"] += n
        summary["done"] += n if done else 0
        summary["red"] += n if kind == "red_flag" and status == OPEN else 0
        if planned:
            summary["plan_total"] += n
            summary["plan_done"] += n if done else 0
    summary["more_total"] = summary["total"] - summary["plan_total"]
    summary["more_open"] = (summary["more_total"]
                            - (summary["done"] - summary["plan_done"]))
    return summary


def list_page(params, page=1, part=ALL, everywhere=False):
    """One page of the list (the plan, the rest, or all of it) as plain rows."""
    return _core().execute(_STATEMENTS[everywhere, part],
                           {**params, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}).all()


class Row(NamedTuple):
    """What the page shows of one item (a tuple: attribute reads in the template are cheap)."""
    id: int
    kind: str
    group: str
    done: bool
    overdue: bool
    due_on: date
    customer_id: int
    name: str
    key: bool  # a key customer, marked on red flags (they come first)
    count: str  # the one day count, labelled (count_label)
    red: bool
    reason: str
    prepaid: tuple | None
    tel: str | None
    sms: str | None  # sms:NUMBER; the page's script adds the text (_Texts)
    text: str | None  # the key of its text in the page's table when not its kind's
    gift: str | None  # the gift's name, when its text names it
    handout_id: int | None
    promise_id: int | None
    complaint_id: int | None
    store: str | None  # the owner's list: the item's store
    elsewhere: int | None  # the owner's list: a store to switch to before logging
    has_form: bool  # a form with this session's CSRF token: rendered each time, never kept


_SLOT = re.compile("\x00(greeting|gift)\x00")
_SLOTS = {"greeting": "\x00greeting\x00", "gift": "\x00gift\x00"}
_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


class _Texts:
    """The page's SMS texts: each text once, filled in for the sender, the store and the day,
    with the customer's greeting name and the gift left as slots, which the page's script
    (app.js) fills in per item. A text is keyed by the first kind that uses it (an item of that
    kind needs no key of its own); another text for the same kind (a campaign's script, the
    owner's list in another store) gets a number, which its item's link names (data-text)."""

    def __init__(self, staff, store, day, stores):
        self.staff, self.store, self.day, self.stores = staff, store, day, stores
        self.keys, self.table = {}, {}

    def key(self, kind, store_id, template):
        """The key of this text, and whether it names the gift."""
        found = self.keys.get((store_id, template))
        if found is None:
            store = self.stores.get(store_id, self.store)
            parts = _SLOT.split(render(template, {
                **_SLOTS, "staff": self.staff.display_name, "store": store_signature(store),
                "date": customer_date(self.day)}))
            key = kind if kind not in self.table else str(len(self.table))
            self.table[key] = parts
            found = self.keys[(store_id, template)] = (key, "gift" in parts[1::2])
        return found

    def json(self):
        """The table as JSON to embed in the page: no "<", ">" or "&" (a </script> in a text
        cannot end the element); letters as they are (a third of their escaped size)."""
        return json.dumps(self.table, ensure_ascii=False,
                          separators=(",", ":")).translate(_JSON_ESCAPES)


def _rows(items, store, day, today, stores, user):
    """The page's rows (Row) from the list's rows: each read once as a plain tuple (in the
    page statement's column order), each birthday formatted once."""
    tr, tz, locale = memo_gettext(), store.tz, get_locale()
    texts = _Texts(user, store, today, stores)
    dormant_after, birthdays = store.dormant_after_days, {}
    is_today = day == today

    def birthday(iso):
        text = birthdays.get(iso)
        if text is None:
            text = birthdays[iso] = format_skeleton("MMMd", date.fromisoformat(iso),
                                                    locale=locale)
        return text

    rows = []
    for (task_id, kind, status, due_on, detail, store_id, customer_id, name, phone, is_key,
         since, never, sessions_left, balance_fen, sms_body) in items:
        detail = detail or {}
        done = status == DONE
        handout, promise = detail.get("handout_id"), detail.get("promise_id")
        elsewhere = store_id if stores and store_id != store.id else None
        days = (today - since.astimezone(tz).date()).days
        sms = text = gift = None
        if phone:
            number = national(phone)
            tel = f"tel:{number}"
            if can_text(phone):
                sms = f"sms:{number}"
                key, gifted = texts.key(kind, store_id, detail.get("script") or sms_body
                                        or DEFAULTS.get(kind, ""))
                text = None if key == kind else key
                gift = (detail.get("gift") or "") if gifted else None
        else:
            tel = None
        sessions_left, balance_fen = sessions_left or 0, balance_fen or 0
        red_flag = kind == "red_flag"
        rows.append(Row(
            task_id, kind, GROUPS.get(kind, "due"), done, due_on < day, due_on, customer_id,
            name, red_flag and bool(is_key),
            count_label(kind, detail, days, never, birthday, tr),
            red_flag and days >= dormant_after,
            why(kind, detail, tr),
            (sessions_left, balance_fen) if sessions_left > 0 or balance_fen > 0 else None,
            tel, sms, text, gift, handout, promise, detail.get("complaint_id"),
            stores[store_id].name if stores and store_id in stores else None,
            elsewhere,
            is_today and not done and bool(handout or promise or elsewhere)))
    return rows, texts


def _groups(rows):
    """The rows by group, in the order of the groups' names (as Jinja's groupby gave them):
    what is due, then red flags, then touches."""
    return [(group, list(items))
            for group, items in groupby(sorted(rows, key=attrgetter("group")),
                                        key=attrgetter("group"))]


@pass_context
def _kept_items(context, rows, macro, today):
    """A group's items as HTML, in one call from the template: each item kept between
    requests (kq.fragments, keyed by its whole row), except one with a form, which carries
    this session's CSRF token and is rendered each time."""
    # the macros' own HTML, escaped by Jinja as they were made, joined: nothing else is added
    return Markup("".join([macro(t) if t.has_form  # nosec B704
                           else kept(context, ("task", today, t), macro, t) for t in rows]))


def _template_gettext():
    """The page's `_` (and `gettext`), as the i18n extension's with newstyle gettext: the text
    is Markup and always %-formatted with its values, which are escaped. Each text is looked
    up in the catalogue once per page, without the four calls a lookup costs through the
    extension and Flask-Babel (a page of Today asks for about twenty)."""
    translations, texts = get_translations(), {}

    def gettext(string, **variables):
        text = texts.get(string)
        if text is None:
            # our own catalogue's text, as the i18n extension marks it; the values are escaped
            text = texts[string] = Markup(translations.ugettext(string))  # nosec B704
        return text % variables

    return gettext


def _prepare(store, day):
    """Today's list is generated on first view (if the nightly run has not): before the page
    versions are read, so that a kept page never predates the day's run."""
    today = store.today()
    if day > today:
        abort(404)
    if day == today:
        for each in (accessible_stores() if current_user.is_owner else (store,)):
            ensure_day(each, day)
        store = current_store()
    return store


def _serve(store, day, part=PLAN):
    """The day's page, reused while nothing on it has changed (kq.pagecache)."""
    store = _prepare(store, day)
    user = signed_in()
    return pagecache.serve(lambda: _render_day(store, day, part, user), user=user,
                           store=store, day=day, everywhere=user.is_owner,
                           parts=(part, store.today().isoformat()))


def _render_day(store, day, part, user):
    today = store.today()
    everywhere = user.is_owner  # her own list: her items in every store
    stores = {s.id: s for s in accessible_stores()} if everywhere else {}
    params = list_params(store, user.id, day, today)
    summary = list_summary(params, everywhere)
    listed = summary["plan_total"] + summary["overdue"] if part == PLAN else summary["more_total"]
    pages = max(1, -(-listed // PAGE_SIZE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    gettext = _template_gettext()
    rows, texts = _rows(list_page(params, page, part, everywhere), store, day, today, stores,
                        user)
    base = url_for("tasks.today") if day == today else url_for("tasks.day", day=day.isoformat())
    more = url_for("tasks.today_more") if day == today else url_for("tasks.day_more",
                                                                    day=day.isoformat())
    here = base if part == PLAN else more
    # Today's other pages, for the phone to keep for offline use (the service worker): how
    # many pages the plan and "more" have (app.js names them).
    more_pages = -(-summary["more_total"] // PAGE_SIZE)
    return render_template(
        "tasks/today.html" if part == PLAN else "tasks/more.html", rows=rows, store=store,
        day=day, today=today, summary=summary, labels=labels, tomorrow=today + timedelta(days=1),
        page=page, pages=pages, page_size=PAGE_SIZE, here=here, more=more, base=base,
        kind_names=labels.KINDS, target=store.daily_contact_target, everywhere=everywhere,
        rated=RATED_OUTCOMES, _=gettext, gettext=gettext,
        groups=_groups(rows), kept_items=_kept_items,
        texts=texts.json() if day == today and texts.table else None,
        today_pages=f"{pages} {more_pages}" if day == today and part == PLAN and page == 1
        else None,
        previous=day - timedelta(days=1),
        following=day + timedelta(days=1) if day < today else None)


@bp.route("/today")
@login_required
def today():
    store = current_store()  # held here: the session keeps only weak references
    return _serve(store, store.today())


@bp.route("/today/more")
@login_required
def today_more():
    store = current_store()
    return _serve(store, store.today(), MORE)


def _parse(day):
    try:
        return date.fromisoformat(day)
    except ValueError:
        abort(404)


@bp.route("/<day>")
@login_required
def day(day):
    return _serve(current_store(), _parse(day))


@bp.route("/<day>/more")
@login_required
def day_more(day):
    return _serve(current_store(), _parse(day), MORE)


@bp.post("/store")
@login_required
def switch_store():
    """The owner's list spans her stores; logging an item of another store starts by viewing
    that store (as Manage → store does), and brings her back to the item."""
    if not current_user.is_owner:
        abort(403)
    store = db.session.get(Store, request.form.get("store_id", type=int) or 0)
    if store is None:
        abort(404)
    session["store_id"] = store.id
    task = request.form.get("task_id", type=int)
    return redirect(url_for("tasks.today") + (f"#t{task}" if task else ""))


@bp.route("/<int:task_id>/log")
@login_required
def log(task_id):
    """Log an item without the page's script: the full form, for her own item."""
    task = db.session.get(Task, task_id)
    if task is None or task.staff_id != current_user.id:
        abort(404)
    return redirect(url_for("calls.log", customer_id=task.customer_id, task_id=task.id))

