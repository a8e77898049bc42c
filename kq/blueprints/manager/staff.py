"""Manage → Staff: add, edit, deactivate and reset the passwords of the store's accounts."""
from flask import render_template

from kq.auth import manager_required
from kq.blueprints.manager import bp


@bp.route("/staff", methods=["GET", "POST"])
@manager_required
def staff():
    return render_template("manager/_layout.html")  # being built
