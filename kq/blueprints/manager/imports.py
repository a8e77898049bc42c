"""Manage → Import: upload a spreadsheet, check the mapping and preview, confirm (SPEC §11)."""
from flask import abort

from kq.auth import manager_required
from kq.blueprints.manager import bp


@bp.route("/import", methods=["GET", "POST"])
@manager_required
def import_index():
    abort(404)  # being built
