"""The manager's view of her store: staff and their customers."""
from datetime import datetime, time, timedelta

from flask import render_template
from sqlalchemy import func

from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.extensions import db
from kq.models import BEAUTICIAN, Customer, User
from kq.scoping import current_store, scoped


def dormant_cutoff(store, today):
    """Customers whose last visit is before this instant are dormant (store-local midnight)."""
    first_dormant_day = today - timedelta(days=store.dormant_after_days - 1)
    return datetime.combine(first_dormant_day, time.min, tzinfo=store.tz)


@bp.route("/")
@manager_required
def index():
    store = current_store()
    today = store.today()
    cutoff = dormant_cutoff(store, today)
    since = func.coalesce(Customer.last_visit_at, Customer.created_at)
    rows = db.session.execute(
        db.select(Customer.assigned_staff_id, func.count(),
                  func.sum(db.case((since < cutoff, 1), else_=0)))
        .where(Customer.store_id == store.id, Customer.deleted_at.is_(None))
        .group_by(Customer.assigned_staff_id)).all()
    counts = {staff_id: (total, dormant or 0) for staff_id, total, dormant in rows}
    staff = db.session.scalars(scoped(User).where(User.role == BEAUTICIAN, User.active.is_(True))
                               .order_by(User.username)).all()
    total = sum(t for t, _ in counts.values())
    dormant = sum(d for _, d in counts.values())
    return render_template("manager/index.html", store=store, staff=staff, counts=counts,
                           total=total, dormant=dormant, unassigned=counts.get(None, (0, 0))[0])
