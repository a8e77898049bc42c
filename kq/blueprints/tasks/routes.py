"""The beautician's day: her checklist for today (generated on first view) and past days."""
import uuid
from datetime import date, timedelta

from flask import abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from kq import labels
from kq.blueprints.tasks import bp
from kq.blueprints.tasks.items import DAILY_KINDS, reason, sort_key
from kq.extensions import db
from kq.models import PrepaidCard, Task
from kq.models.contact import DONE, OPEN
from kq.scoping import current_store
from kq.scripts import message_for, sms_href, store_bodies, tel_href
from kq.services.checklist import ensure_day

OVERDUE_DAYS = 14


def _items(store, day, today):
    query = (select(Task).options(joinedload(Task.customer))
             .where(Task.store_id == store.id, Task.staff_id == current_user.id))
    if day == today:
        # Undone items of the last two weeks stay visible as overdue, except the daily kinds,
        # which today's run has already asked again if their condition still holds.
        query = query.where((Task.due_on == day) | (
            (Task.due_on < day) & (Task.due_on >= day - timedelta(days=OVERDUE_DAYS))
            & (Task.status == OPEN) & Task.kind.not_in(DAILY_KINDS)))
    else:
        query = query.where(Task.due_on == day)
    items = db.session.scalars(query).all()
    return sorted(items, key=lambda t: sort_key(t, day))


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
    items = _items(store, day, today)
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
            "client_id": uuid.uuid4(),
        })
    todays = [r for r in rows if not r["overdue"]]
    summary = {
        "total": len(todays), "done": sum(1 for r in todays if r["task"].status == DONE),
        "red": sum(1 for r in todays if r["task"].kind == "red_flag"
                   and r["task"].status == OPEN),
        "overdue": sum(1 for r in rows if r["overdue"]),
    }
    return render_template("tasks/today.html", rows=rows, store=store, day=day, today=today,
                           summary=summary, labels=labels, tomorrow=today + timedelta(days=1),
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
