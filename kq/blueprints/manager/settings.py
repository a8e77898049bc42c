"""Manage → Settings: every threshold and amount of the SPEC, as this store's own setting."""
from flask import render_template

from kq.auth import manager_required
from kq.blueprints.manager import bp


@bp.route("/settings", methods=["GET", "POST"])
@manager_required
def settings():
    return render_template("manager/_layout.html")  # being built
