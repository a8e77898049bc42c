"""Manage → Import: upload a spreadsheet, check the mapping and preview, confirm (SPEC §11)."""
import csv
import io

from flask import (Response, abort, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.extensions import db
from kq.masking import national
from kq.models import ImportJob
from kq.models.imports import IMPORTING, PREVIEWING
from kq.scoping import current_store, get_or_404, scoped
from kq.services import ServiceError
from kq.services.importing import describe
from kq.services.importing import uploads
from kq.services.importing.mapping import CUSTOMER_FIELDS, VISIT_FIELDS, column_letter

SHOWN_PROBLEMS = 100


def _refusal(code):
    return {
        "choose_file": _("Choose a file first."),
        "file_type": _("Choose an .xlsx or .csv file."),
        "busy": _("This import has moved on; here is where it stands."),
        "file_gone": _("The uploaded file is no longer here. Upload it again."),
        "crashed": _("The import stopped with an error; nothing was written. Try again, or "
                     "tell the person who runs Keqing."),
        "lost": _("The import stopped without finishing (the worker was restarted); nothing "
                  "was written. Try again."),
    }.get(code) or describe(code, {"limit_mb": 20})


@bp.route("/import", methods=["GET", "POST"])
@manager_required
def import_index():
    store = current_store()
    if request.method == "POST":
        try:
            job = uploads.save_upload(store, current_user, request.files.get("file"),
                                      str(get_locale()))
        except ServiceError as refused:
            recent = _recent()
            return render_template("manager/import.html", recent=recent,
                                   error=_refusal(refused.code)), 422
        import_id = job.id
        uploads.enqueue(job, "preview_import")
        return redirect(url_for("manager.import_show", import_id=import_id))
    return render_template("manager/import.html", recent=_recent(), error=None)


def _recent():
    return db.session.scalars(scoped(ImportJob).order_by(ImportJob.created_at.desc())
                              .limit(10)).all()


def _fields(kind):
    return CUSTOMER_FIELDS if kind == "customers" else VISIT_FIELDS


@bp.route("/import/<int:import_id>")
@manager_required
def import_show(import_id):
    job = get_or_404(ImportJob, import_id)
    lost = uploads.is_lost(job)
    preview = job.preview or {}
    problems = {kind: [dict(p, message=describe(p["code"], p["params"]))
                       for p in preview.get(kind, [])[:SHOWN_PROBLEMS]]
                for kind in ("errors", "warnings")}
    return render_template("manager/import_show.html", job=job, preview=preview, lost=lost,
                           problems=problems, shown=SHOWN_PROBLEMS, fields=_fields,
                           letter=column_letter, national=national, error_text=_refusal(
                               "lost" if lost else job.error) if (job.error or lost) else None,
                           busy=job.status in (PREVIEWING, IMPORTING) and not lost)


@bp.route("/import/<int:import_id>/status")
@manager_required
def import_status(import_id):
    job = get_or_404(ImportJob, import_id)
    busy = job.status in (PREVIEWING, IMPORTING) and not uploads.is_lost(job)
    return jsonify(status="running" if busy else "done", progress=_progress(job))


def _progress(job):
    from kq.extensions import queue

    if job.status != IMPORTING or queue.redis is None or not job.job_id:
        return job.progress
    try:
        from rq.job import Job

        return int(Job.fetch(job.job_id, connection=queue.redis).meta.get("progress", 0))
    except Exception:  # noqa: BLE001 - no Redis, no job: the page still answers
        return job.progress


@bp.post("/import/<int:import_id>/mapping")
@manager_required
def import_mapping(import_id):
    job = get_or_404(ImportJob, import_id)
    chosen = {}
    for table in (job.preview or {}).get("tables", []):
        index = str(table["index"])
        kind = request.form.get(f"t{index}_kind", table["kind"])
        if kind not in ("customers", "visits"):
            abort(400)
        mapping = {}
        for field in _fields(kind):
            value = request.form.get(f"t{index}_{field}", "")
            if value.isascii() and value.isdigit() and int(value) < len(table["headers"]):
                mapping[field] = int(value)
        chosen[index] = {"kind": kind, "mapping": mapping}
    return _advance(job, lambda: uploads.choose(job, chosen), "preview_import")


@bp.post("/import/<int:import_id>/confirm")
@manager_required
def import_confirm(import_id):
    job = get_or_404(ImportJob, import_id)
    return _advance(job, lambda: uploads.confirm(job, request.form.get("sha256", "")),
                    "run_import")


@bp.post("/import/<int:import_id>/retry")
@manager_required
def import_retry(import_id):
    job = get_or_404(ImportJob, import_id)
    return _advance(job, lambda: uploads.retry(job), "preview_import")


def _advance(job, step, job_name):
    """Move the import on one step (a service call that commits), then queue the job that
    does the work; a refusal is said on its page instead."""
    import_id = job.id
    try:
        step()
    except ServiceError as refused:
        flash(_refusal(refused.code), "error")
    else:
        uploads.enqueue(job, job_name)
    return redirect(url_for("manager.import_show", import_id=import_id))


@bp.route("/import/<int:import_id>/problems.csv")
@manager_required
def import_problems(import_id):
    """Every problem of the preview, for fixing the sheet beside it."""
    job = get_or_404(ImportJob, import_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Kind"), _("Sheet"), _("Row"), _("Column"), _("Problem")])
    for kind, label in (("errors", _("Error")), ("warnings", _("Warning"))):
        for p in (job.preview or {}).get(kind, []):
            column = " ".join(x for x in (p.get("letter"), p.get("column")) if x)
            message = describe(p["code"], p["params"])
            writer.writerow([label, p.get("sheet") or "", p["row"], _safe(column),
                             _safe(message)])
    name = f"import-{job.id}-problems.csv"
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _safe(text):
    """A cell Excel must not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

