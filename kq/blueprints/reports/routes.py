"""Printed reports: ask for one, watch its progress, download it (managers and the owner of the
store only). The pages answer whether or not Redis does; a GET that finds a lost job declares
the write that records it (kq.services.printing_queue.refresh_all)."""
from flask import abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from kq.auth import manager_required
from kq.blueprints.reports import bp
from kq.extensions import db
from kq.formtools import flash_refusal
from kq.models import Report
from kq.models.report import DONE
from kq.scoping import current_store, get_or_404, scoped
from kq.services import ServiceError, printing
from kq.services import printing_queue as asking
from kq.services.reports import staff_of


@bp.route("/")
@manager_required
def index():
    store = current_store()
    recent = db.session.scalars(scoped(Report).options(joinedload(Report.requested_by))
                                .order_by(Report.created_at.desc(), Report.id.desc())
                                .limit(30)).all()
    asking.refresh_all(recent)
    return render_template("reports/index.html", store=store, kinds=printing.KINDS,
                           recent=recent, staff=staff_of(store, include_inactive=True),
                           today=store.today(), error_text=asking.error_text,
                           title_of=printing.title_of)


@bp.post("/")
@manager_required
def ask():
    store = current_store()
    kind = request.form.get("kind", "")
    try:
        report, created = asking.request_report(store, kind, request.form, by=current_user,
                                                  locale=get_locale() or "zh_Hans")
    except ServiceError as error:
        flash_refusal(error)
        return redirect(url_for("reports.index")), 303
    if created:
        asking.enqueue(report)
    else:
        flash(_("This report is already being prepared."), "info")
    return redirect(url_for("reports.show", report_id=report.id)), 303


def _report(report_id):
    report = get_or_404(Report, report_id)
    return asking.refresh(report)


@bp.route("/<int:report_id>")
@manager_required
def show(report_id):
    report = _report(report_id)
    return render_template("reports/show.html", report=report, title=printing.title_of(report),
                           error_text=asking.error_text(report))


@bp.route("/<int:report_id>/status")
@manager_required
def status(report_id):
    report = _report(report_id)
    return jsonify(status=report.status, progress=report.progress,
                   error=asking.error_text(report) or None,
                   download=url_for("reports.download", report_id=report.id)
                   if report.status == DONE else None)


@bp.route("/<int:report_id>/download")
@manager_required
def download(report_id):
    report = _report(report_id)
    if report.status != DONE or not report.file_name:
        abort(404)
    path = printing.path_of(report)
    if not path.exists():
        abort(404)
    name = f"{printing.title_of(report)}-{report.created_at.strftime('%Y%m%d')}.pdf"
    return send_file(path, mimetype="application/pdf", as_attachment=True, download_name=name,
                     max_age=0)


@bp.post("/<int:report_id>/retry")
@manager_required
def retry(report_id):
    report = _report(report_id)
    try:
        report = asking.retry(report)
    except ServiceError as error:
        flash(str(error.message), "error")
    return redirect(url_for("reports.show", report_id=report.id)), 303
