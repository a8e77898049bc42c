"""Manage → Import: upload a spreadsheet, check the mapping and preview, confirm (SPEC §11)."""
from flask import render_template

from kq.auth import manager_required
from kq.blueprints.manager import bp


@bp.route("/import", methods=["GET", "POST"])
@manager_required
def import_index():
    return render_template("manager/_layout.html")  # being built
