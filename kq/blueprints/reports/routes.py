"""Printed reports (PDF). The list of what can be printed; the jobs come with the reports issue."""
from flask import render_template

from kq.auth import manager_required
from kq.blueprints.reports import bp


@bp.route("/")
@manager_required
def index():
    return render_template("reports/index.html")
