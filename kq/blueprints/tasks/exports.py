"""A day's checklist as a file: a beautician her own, a manager anyone's in her store (or
everyone's at once). The rows are the page's own (kq.blueprints.tasks.routes): same items,
same order, overdue ones included on today's list."""
from datetime import date

from flask import abort, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from kq import labels
from kq.blueprints.tasks import bp
from kq.blueprints.tasks.items import reason
from kq.blueprints.tasks.routes import PAGE_SIZE, list_page, list_params, list_summary
from kq.extensions import db
from kq.models import OWNER, Customer, Task, User
from kq.models.contact import DONE
from kq.scoping import current_store
from kq.services import exporting
from kq.services.checklist import ensure_day
from kq.services.exporting import DATE, MONEY, NUMBER, Column


def _day(today):
    raw = request.args.get("day")
    try:
        day = date.fromisoformat(raw) if raw else today
    except ValueError:
        abort(404)
    if day > today:
        abort(404)
    return day


def _staff(store, day, today):
    """Whose lists: her own; a manager may name anyone with a list in her store, or "all"."""
    wanted = request.args.get("staff") or str(current_user.id)
    if not current_user.is_manager:
        if wanted != str(current_user.id):
            abort(403)
        return [current_user]
    in_store = (User.store_id == store.id) | (User.role == OWNER)
    if wanted == "all":
        since = list_params(store, 0, day, today)["since"]
        ids = select(Task.staff_id).where(Task.store_id == store.id, Task.due_on >= since,
                                          Task.due_on <= day)
        return db.session.scalars(select(User).where(User.id.in_(ids), in_store)
                                  .order_by(User.role, User.username)).all()
    user = db.session.scalar(select(User).where(User.id == int(wanted), in_store)) \
        if wanted.isdigit() else None
    if user is None:
        abort(404)
    return [user]


def _rows(store, staff, day, today):
    rows = []
    for user in staff:
        params = list_params(store, user.id, day, today)
        summary = list_summary(params)
        pages = -(-(summary["total"] + summary["overdue"]) // PAGE_SIZE)
        for page in range(1, pages + 1):
            rows.extend((user, row) for row in list_page(params, page))
    assigned = dict(db.session.execute(select(Customer.id, Customer.assigned_staff_id).where(
        Customer.id.in_({row.customer_id for _user, row in rows}))).all()) if rows else {}
    return [(user, row, assigned.get(row.customer_id)) for user, row in rows]


@bp.route("/export")
@login_required
def export():
    fmt = exporting.wanted_format(request.args, required=True)
    store = current_store()
    today = store.today()
    day = _day(today)
    if day == today:
        ensure_day(store, day)  # as the page does: the list exists before it is read
        store = current_store()
    staff = _staff(store, day, today)
    phone, tz = exporting.phone_for(current_user), store.tz
    columns = [
        Column(_("Due"), lambda r: r[1].due_on, DATE),
        Column(_("Staff"), lambda r: r[0].display_name),
        Column(_("Item"), lambda r: labels.KINDS.get(r[1].kind, r[1].kind)),
        Column(_("Customer"), lambda r: r[1].greeting_name),
        Column(_("Phone"), lambda r: phone(r[1].phone, r[2])),
        Column(_("Why"), lambda r: reason(r[1].kind, r[1].detail or {})),
        Column(_("Days since last visit"),
               lambda r: (today - r[1].since.astimezone(tz).date()).days, NUMBER),
        Column(_("Sessions left"), lambda r: r[1].sessions_left or None, NUMBER),
        Column(_("Card balance (yuan)"), lambda r: r[1].balance_fen or None, MONEY),
        Column(_("Done"), lambda r: exporting.yes_no(r[1].status == DONE)),
    ]
    who = staff[0].display_name if len(staff) == 1 else _("All staff")
    return exporting.send(fmt, store=store, list_name="checklist", day=day,
                          title=_("Checklist %(who)s", who=who),
                          columns=columns, rows=_rows(store, staff, day, today),
                          filters={"day": day.isoformat(),
                                   "staff": request.args.get("staff") or str(current_user.id)})
