"""The manager's view of her store: staff and their customers."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, select

from kq import labels, scripts
from kq.services import exporting, reports

from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.extensions import db
from kq.models import Complaint, MessageTemplate
from kq.scoping import current_store, scoped


@bp.route("/")
@manager_required
def index():
    """The Manage home: the store in four figures, what can still be undone, and every section
    as a big link (on a phone the section bar does not show)."""
    from sqlalchemy import func

    from kq.blueprints.manager.staffing import join_names, proposal_count
    from kq.services.assignments import undo_until, undoable

    store = current_store()
    counts = reports.dormant_now(store, store.dormant_after_days)
    total, dormant = reports.totals(counts)
    open_complaints = db.session.scalar(select(func.count(Complaint.id)).where(
        Complaint.store_id == store.id, Complaint.status == "open"))
    return render_template("manager/index.html", store=store, staff=reports.staff_of(store),
                           counts=counts, total=total, dormant=dormant,
                           unassigned=counts.get(None, (0, 0))[0],
                           proposals=proposal_count(store), open_complaints=open_complaints,
                           batches=undoable(store), undo_until=undo_until, undo_back="index",
                           join_names=join_names)


def _problem_messages(problems):
    return [scripts.problem_text(code, params) for code, params in problems]


def _template_rows(store, errors=None, drafts=None):
    bodies = scripts.store_bodies(store)
    worst = scripts.longest_values(store)
    rows = []
    for kind, label in labels.KINDS.items():
        body = (drafts or {}).get(kind, bodies[kind])
        preview = scripts.render(body, worst)
        rows.append({"kind": kind, "label": label, "body": body, "preview": preview,
                     "length": len(preview), "default": body == scripts.DEFAULTS[kind],
                     "errors": (errors or {}).get(kind, [])})
    return rows, worst


@bp.route("/templates", methods=["GET", "POST"])
@manager_required
def templates():
    store = current_store()
    if request.method == "GET":
        rows, worst = _template_rows(store)
        return render_template("manager/templates.html", rows=rows, worst=worst, store=store)
    kind = request.form.get("kind")
    if kind not in scripts.DEFAULTS:
        abort(400)
    row = db.session.scalar(select(MessageTemplate).where(
        MessageTemplate.store_id == store.id, MessageTemplate.kind == kind,
        MessageTemplate.channel == "sms"))
    if request.form.get("action") == "reset":
        if row is not None:
            db.session.delete(row)
            db.session.commit()
        flash(_("Default text restored."), "success")
        return redirect(url_for("manager.templates") + f"#k-{kind}")
    body = (request.form.get("body") or "").strip()[:500]
    problems = scripts.check(body, store)
    if problems:
        rows, worst = _template_rows(store, errors={kind: _problem_messages(problems)},
                                     drafts={kind: body})
        return render_template("manager/templates.html", rows=rows, worst=worst,
                               store=store), 422
    if row is None:
        row = MessageTemplate(store_id=store.id, kind=kind, channel="sms", body=body)
        db.session.add(row)
    row.body, row.updated_by_id = body, current_user.id
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("manager.templates") + f"#k-{kind}")


@bp.route("/complaints")
@manager_required
def complaints():
    """Open complaints first (the most overdue step first), then the last 30 closed."""
    from sqlalchemy.orm import joinedload, selectinload

    store = current_store()
    options = (joinedload(Complaint.customer), joinedload(Complaint.staff),
               selectinload(Complaint.steps))
    fmt = exporting.wanted_format(request.args)
    if fmt:
        return _export_complaints(fmt, store, options)
    open_ones = db.session.scalars(
        scoped(Complaint).where(Complaint.status == "open").options(*options)
        .order_by(Complaint.next_step_due_on.asc().nulls_last(), Complaint.id)).all()
    closed = db.session.scalars(
        scoped(Complaint).where(Complaint.status == "closed").options(*options)
        .order_by(Complaint.closed_at.desc()).limit(30)).all()
    return render_template("manager/complaints.html", open_ones=open_ones, closed=closed,
                           today=store.today(), labels=labels)


def _export_complaints(fmt, store, options):
    """Every complaint of the store (the page shows the last 30 closed; the file has all):
    open ones first, the most overdue step first, then closed ones, newest first."""
    from kq.blueprints.customers.forms import COMPLAINT_CHANNEL_LABELS
    from kq.services.exporting import DATE, DATETIME, NUMBER, Column

    statuses = {"open": _("Open"), "closed": _("Closed")}
    step = lambda c: labels.COMPLAINT_STEPS[c.next_step][0] if c.next_step else None  # noqa: E731
    columns = [
        Column(_("Received"), lambda c: c.received_at, DATETIME),
        Column(_("Customer"), lambda c: c.customer.greeting_name),
        Column(_("Name"), lambda c: c.customer.name),
        Column(_("Handled by"), lambda c: c.staff.display_name),
        Column(_("Channel"), lambda c: COMPLAINT_CHANNEL_LABELS.get(c.channel, c.channel)),
        Column(_("Summary"), lambda c: c.summary),
        Column(_("Status"), lambda c: statuses.get(c.status, c.status)),
        Column(_("Steps done (of 9)"), lambda c: len(c.steps), NUMBER),
        Column(_("Next step"), lambda c: step(c) if c.status == "open" else None),
        Column(_("Next step due"), lambda c: c.next_step_due_on if c.status == "open" else None,
               DATE),
        Column(_("Closed on"), lambda c: c.closed_at, DATETIME),
    ]
    is_open = Complaint.status == "open"
    query = scoped(Complaint).order_by(
        case((is_open, 0), else_=1), case((is_open, Complaint.next_step_due_on)).asc()
        .nulls_last(), Complaint.closed_at.desc().nulls_last(), Complaint.id)
    return exporting.send(fmt, store=store, list_name="complaints", title=_("Complaints"),
                          columns=columns, rows=exporting.rows_of(query.options(*options), fmt),
                          count=exporting.count_of(query))
