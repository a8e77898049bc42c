"""Gift stock of the current store."""
from flask import render_template
from flask_login import login_required

from kq.blueprints.gifts import bp
from kq.extensions import db
from kq.models import Gift
from kq.scoping import scoped


@bp.route("/")
@login_required
def index():
    gifts = db.session.scalars(scoped(Gift).where(Gift.active.is_(True)).order_by(Gift.name)).all()
    return render_template("gifts/index.html", gifts=gifts)
