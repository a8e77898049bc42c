"""The manager's view of her store: staff and their customers."""
from datetime import datetime, time, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from kq import labels, scripts

from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.extensions import db
from kq.models import BEAUTICIAN, Complaint, Customer, MessageTemplate, User
from kq.scoping import current_store, scoped


def dormant_cutoff(store, today):
    """Customers whose last visit is before this instant are dormant (store-local midnight)."""
    first_dormant_day = today - timedelta(days=store.dormant_after_days - 1)
    return datetime.combine(first_dormant_day, time.min, tzinfo=store.tz)


@bp.route("/")
@manager_required
def index():
    store = current_store()
    today = store.today()
    cutoff = dormant_cutoff(store, today)
    since = func.coalesce(Customer.last_visit_at, Customer.created_at)
    rows = db.session.execute(
        db.select(Customer.assigned_staff_id, func.count(),
                  func.sum(db.case((since < cutoff, 1), else_=0)))
        .where(Customer.store_id == store.id, Customer.deleted_at.is_(None))
        .group_by(Customer.assigned_staff_id)).all()
    counts = {staff_id: (total, dormant or 0) for staff_id, total, dormant in rows}
    staff = db.session.scalars(scoped(User).where(User.role == BEAUTICIAN, User.active.is_(True))
                               .order_by(User.username)).all()
    total = sum(t for t, _ in counts.values())
    dormant = sum(d for _, d in counts.values())
    return render_template("manager/index.html", store=store, staff=staff, counts=counts,
                           total=total, dormant=dormant, unassigned=counts.get(None, (0, 0))[0])


def _problem_messages(problems):
    text = {
        "empty": lambda p: _("The text is empty."),
        "unknown": lambda p: _("Unknown placeholder: %(names)s.", names=p["names"]),
        "greeting_first": lambda p: _("A text starts with the customer's name: begin with "
                                      "{greeting}."),
        "unsigned": lambda p: _("A text is signed by the sender: include {staff}."),
        "too_long": lambda p: _("It renders to %(length)d characters for %(example)s; the limit "
                                "is %(limit)d.", **p),
    }
    return [text[code](params) for code, params in problems]


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
    open_ones = db.session.scalars(
        scoped(Complaint).where(Complaint.status == "open").options(*options)
        .order_by(Complaint.next_step_due_on.asc().nulls_last(), Complaint.id)).all()
    closed = db.session.scalars(
        scoped(Complaint).where(Complaint.status == "closed").options(*options)
        .order_by(Complaint.closed_at.desc()).limit(30)).all()
    return render_template("manager/complaints.html", open_ones=open_ones, closed=closed,
                           today=store.today(), labels=labels)
