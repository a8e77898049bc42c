"""The beautician's day: her checklist for today (generated on first view) and past days."""
from datetime import date, timedelta

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import contains_eager

from kq import labels
from kq.blueprints.tasks import bp
from kq.blueprints.tasks.items import DAILY_KINDS, ORDER, reason
from kq.extensions import db
from kq.models import Customer, PrepaidCard, Task
from kq.models.contact import DONE, OPEN
from kq.scoping import current_store
from kq.scripts import message_for, sms_href, store_bodies, tel_href
from kq.services.checklist import ensure_day

OVERDUE_DAYS = 14
PAGE_SIZE = 50  # the next fifty open items; done ones sink to the end


def _on_list(store, staff_id, day, today):
    """The items of one staff member's list for `day`. On today's list, undone items of the
    last two weeks stay visible as overdue, except the daily kinds, which today's run has
    already asked again if their condition still holds."""
    where = [Task.store_id == store.id, Task.staff_id == staff_id]
    if day == today:
        where.append(or_(Task.due_on == day, and_(
            Task.due_on < day, Task.due_on >= day - timedelta(days=OVERDUE_DAYS),
            Task.status == OPEN, Task.kind.not_in(DAILY_KINDS))))
    else:
        where.append(Task.due_on == day)
    return where


def _ordered(where, day):
    """Open before done; red flags first (freshest dormancy first: easiest to win back), then
    by kind, today's before overdue ones, then by name — all in SQL, so a page is a LIMIT."""
    rank = case({kind: i for i, kind in enumerate(ORDER)}, value=Task.kind, else_=len(ORDER))
    freshest = case((Task.kind == "red_flag", Customer.last_visit_at), else_=None)
    return (select(Task).join(Customer, Customer.id == Task.customer_id)
            .options(contains_eager(Task.customer)).where(*where)
            .order_by(case((Task.status == DONE, 1), else_=0), rank,
                      case((Task.due_on == day, 0), else_=1), freshest.desc().nulls_last(),
                      Customer.greeting_name, Task.id))


def _summary(where, day):
    total, done, red, overdue = db.session.execute(select(
        func.count(case((Task.due_on == day, 1))),
        func.count(case((and_(Task.due_on == day, Task.status == DONE), 1))),
        func.count(case((and_(Task.due_on == day, Task.status == OPEN,
                              Task.kind == "red_flag"), 1))),
        func.count(case((Task.due_on < day, 1)))).where(*where)).one()
    return {"total": total, "done": done, "red": red, "overdue": overdue}


def _prepaid(customer_ids, today):
    """customer id → (sessions left, balance in fen) over her usable cards."""
    if not customer_ids:
        return {}
    rows = db.session.execute(
        select(PrepaidCard.customer_id,
               func.sum(PrepaidCard.sessions_total - PrepaidCard.sessions_used),
               func.sum(PrepaidCard.balance_fen))
        .where(PrepaidCard.customer_id.in_(customer_ids),
               (PrepaidCard.expires_on.is_(None)) | (PrepaidCard.expires_on >= today))
        .group_by(PrepaidCard.customer_id))
    return {cid: (sessions or 0, balance or 0) for cid, sessions, balance in rows
            if (sessions or 0) > 0 or (balance or 0) > 0}


def _render_day(day):
    store = current_store()
    today = store.today()
    if day > today:
        abort(404)
    if day == today:
        ensure_day(store, day)
        store = current_store()
    where = _on_list(store, current_user.id, day, today)
    summary = _summary(where, day)
    page = request.args.get("page", 1, type=int) or 1
    pages = max(1, -(-(summary["total"] + summary["overdue"]) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    items = db.session.scalars(_ordered(where, day).limit(PAGE_SIZE)
                               .offset((page - 1) * PAGE_SIZE)).all()
    bodies = store_bodies(store)
    prepaid = _prepaid({t.customer_id for t in items}, today)
    rows = []
    for task in items:
        customer = task.customer
        text = message_for(bodies.get(task.kind, ""), customer, current_user, store, today,
                           gift=(task.detail or {}).get("gift", ""))
        rows.append({
            "task": task, "customer": customer, "reason": reason(task),
            "days": customer.days_since_visit(store, today),
            "overdue": task.due_on < day, "prepaid": prepaid.get(customer.id),
            "tel": tel_href(customer.phone), "sms": sms_href(customer.phone, text),
        })
    return render_template("tasks/today.html", rows=rows, store=store, day=day, today=today,
                           summary=summary, labels=labels, tomorrow=today + timedelta(days=1),
                           page=page, pages=pages, page_size=PAGE_SIZE,
                           kind_names={k: str(v) for k, v in labels.KINDS.items()},
                           days_format=_("%(days)d d", days=0).replace("0", "%d", 1),
                           previous=day - timedelta(days=1),
                           following=day + timedelta(days=1) if day < today else None)


@bp.route("/today")
@login_required
def today():
    return _render_day(current_store().today())


@bp.route("/<day>")
@login_required
def day(day):
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        abort(404)
    return _render_day(parsed)
