"""The contact log: what the signed-in staff member logged, newest first."""
from flask import render_template
from flask_login import current_user, login_required

from kq.blueprints.calls import bp
from kq.extensions import db
from kq.models import Contact
from kq.scoping import scoped


@bp.route("/")
@login_required
def index():
    query = (scoped(Contact).where(Contact.staff_id == current_user.id)
             .order_by(Contact.contacted_at.desc()).limit(100))
    return render_template("calls/index.html", contacts=db.session.scalars(query).all())
