"""The beautician's day. This first cut lists her assigned customers, longest unseen first."""
from flask import render_template
from flask_login import current_user, login_required

from kq.extensions import db
from kq.models import Customer
from kq.blueprints.tasks import bp
from kq.scoping import current_store, scoped


@bp.route("/today")
@login_required
def today():
    store = current_store()
    query = (scoped(Customer)
             .where(Customer.assigned_staff_id == current_user.id,
                    Customer.deleted_at.is_(None), Customer.do_not_contact.is_(False))
             .order_by(Customer.last_visit_at.asc().nulls_first())
             .limit(50))
    customers = db.session.scalars(query).all()
    return render_template("tasks/today.html", customers=customers, store=store,
                           today=store.today())
