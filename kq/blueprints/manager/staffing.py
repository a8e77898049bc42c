"""Assignments, handover, the reward/penalty ledger and reassignment proposals (SPEC §7)."""
from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from kq import labels
from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.extensions import db
from kq.formtools import flash_refusal
from kq.models import Assignment, Customer, LedgerEntry
from kq.scoping import current_store, scoped
from kq.services import ServiceError
from kq.services.assignments import spread
from kq.services.audit import audit
from kq.services.ledger import describe, monthly_totals, run_ledger, void_entry
from kq.services import exporting, reports
from kq.services.exporting import DATE, DATETIME, MONEY, Column
from kq.services.reports import dormant_now, staff_of

BULK_LIMIT = 2000
PAGE = 50


def _customer_filter(store, args):
    """The same filters as the customer list (one code path), scoped to this store."""
    from kq.blueprints.customers.routes import _filters

    return _filters(store, args)


def _chosen_staff(store, ids):
    wanted = {int(i) for i in ids if str(i).isdigit()}
    return [s for s in staff_of(store) if s.id in wanted]


@bp.route("/assignments", methods=["GET", "POST"])
@manager_required
def assignments():
    store = current_store()
    if request.method == "POST":
        targets = _chosen_staff(store, request.form.getlist("to_staff"))
        if request.form.get("scope") == "all":
            query, _f = _customer_filter(store, request.form)
            customers = db.session.scalars(query.limit(BULK_LIMIT)).all()
        else:
            ids = [int(i) for i in request.form.getlist("customer") if i.isdigit()]
            customers = db.session.scalars(scoped(Customer).where(
                Customer.id.in_(ids), Customer.deleted_at.is_(None))).all() if ids else []
        if not targets:
            flash(_("Choose at least one member of staff."), "error")
        elif not customers:
            flash(_("Choose at least one customer."), "error")
        else:
            received = spread(customers, targets, by=current_user)
            names = {s.id: s.display_name for s in targets}
            flash(_("%(n)d customers assigned: %(detail)s", n=sum(received.values()),
                    detail=", ".join(f"{names[k]} {v}" for k, v in received.items())),
                  "success")
        return redirect(request.full_path if request.form.get("scope") != "all"
                        else url_for("manager.assignments", **{
                            k: v for k, v in request.form.items()
                            if k not in ("csrf_token", "scope", "to_staff", "customer")}))
    query, f = _customer_filter(store, request.args)
    page = db.paginate(query.options(joinedload(Customer.assigned_staff)), per_page=PAGE,
                       error_out=False)
    staff = staff_of(store)
    counts = dormant_now(store, store.dormant_after_days)
    key_counts = dict(db.session.execute(
        select(Customer.assigned_staff_id, func.count()).where(
            Customer.store_id == store.id, Customer.deleted_at.is_(None),
            Customer.is_key.is_(True)).group_by(Customer.assigned_staff_id)).all())
    args = {k: v for k, v in f.items() if v}
    return render_template("manager/assignments.html", store=store, page=page, f=f, args=args,
                           staff=staff, counts=counts, key_counts=key_counts, labels=labels,
                           today=store.today(), proposals=_proposal_count(store))


@bp.route("/handover", methods=["GET", "POST"])
@manager_required
def handover():
    """A leaving beautician's customers, spread evenly over the staff chosen, in one step."""
    store = current_store()
    staff = staff_of(store)
    if request.method == "POST":
        leaving = next((s for s in staff if str(s.id) == request.form.get("leaving")), None)
        targets = [s for s in _chosen_staff(store, request.form.getlist("staff"))
                   if leaving is None or s.id != leaving.id]
        if leaving is None:
            flash(_("Choose who is leaving."), "error")
        elif not targets:
            flash(_("Choose at least one member of staff to take her customers."), "error")
        else:
            customers = db.session.scalars(scoped(Customer).where(
                Customer.assigned_staff_id == leaving.id, Customer.deleted_at.is_(None))).all()
            received = spread(customers, targets, by=current_user, reason="handover",
                              exclude_current=True, commit=False)
            audit("handover", store_id=store.id, target=leaving, detail={
                "customers": sum(received.values()), "to": {str(k): v for k, v in
                                                            received.items()}})
            if request.form.get("deactivate") and leaving.id != current_user.id:
                leaving.active = False
                audit("staff", store_id=store.id, target=leaving, detail={
                    "op": "deactivate", "username": leaving.username, "via": "handover"})
            db.session.commit()
            names = {s.id: s.display_name for s in targets}
            flash(_("%(n)d customers of %(name)s handed over: %(detail)s",
                    n=sum(received.values()), name=leaving.display_name,
                    detail=", ".join(f"{names[k]} {v}" for k, v in received.items())),
                  "success")
            return redirect(url_for("manager.assignments"))
    counts = dormant_now(store, store.dormant_after_days)
    return render_template("manager/handover.html", staff=staff, counts=counts), \
        422 if request.method == "POST" else 200


def _proposal_count(store):
    return db.session.scalar(select(func.count(Assignment.id)).where(
        Assignment.store_id == store.id, Assignment.ended_at.is_(None),
        Assignment.proposed_for_reassignment.is_(True)))


def _period(value, today):
    try:
        return date.fromisoformat(f"{value}-01").strftime("%Y-%m")
    except (TypeError, ValueError):
        return today.strftime("%Y-%m")


def _shift(period, months):
    year, month = int(period[:4]), int(period[5:])
    month += months
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return f"{year:04d}-{month:02d}"


@bp.route("/ledger")
@manager_required
def ledger():
    store = current_store()
    today = store.today()
    period = _period(request.args.get("month"), today)
    staff = staff_of(store, include_inactive=True)
    query = (scoped(LedgerEntry).where(LedgerEntry.period == period)
             .order_by(LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc()))
    fmt = exporting.wanted_format(request.args)
    if fmt:
        return _export_ledger(fmt, store, query, period)
    totals = monthly_totals(store, period)
    entries = db.session.scalars(
        query.options(joinedload(LedgerEntry.staff), joinedload(LedgerEntry.customer))
        .limit(300)).all()
    proposals = db.session.scalars(
        scoped(Assignment).where(Assignment.ended_at.is_(None),
                                 Assignment.proposed_for_reassignment.is_(True))
        .options(joinedload(Assignment.customer), joinedload(Assignment.staff))
        .order_by(Assignment.id)).all()
    store_total = reports.store_total(totals)
    return render_template("manager/ledger.html", store=store, period=period, staff=staff,
                           totals=totals, store_total=store_total, entries=entries,
                           describe=describe, proposals=proposals, today=today,
                           previous=_shift(period, -1),
                           following=_shift(period, 1) if period < today.strftime("%Y-%m")
                           else None, active_staff=staff_of(store))


def _export_ledger(fmt, store, query, period):
    """Every entry of the month, voided ones too (marked): the books keep both."""
    kinds = {"reward": _("Reward"), "penalty": _("Penalty")}
    columns = [
        Column(_("Date"), lambda e: e.occurred_on, DATE),
        Column(_("Staff"), lambda e: e.staff.display_name),
        Column(_("Customer"), lambda e: e.customer.greeting_name),
        Column(_("Name"), lambda e: e.customer.name),
        Column(_("Kind"), lambda e: kinds.get(e.kind, e.kind)),
        Column(_("Amount (yuan)"), lambda e: e.amount_fen, MONEY),
        # what the month's totals count: a voided entry counts nothing
        Column(_("Counted (yuan)"), lambda e: 0 if e.voided_at else e.amount_fen, MONEY),
        Column(_("Reason"), describe),
        Column(_("Voided on"), lambda e: e.voided_at, DATETIME),
        Column(_("Why voided"), lambda e: e.void_reason),
    ]
    rows = exporting.rows_of(query.options(joinedload(LedgerEntry.staff),
                                           joinedload(LedgerEntry.customer)), fmt)
    return exporting.send(fmt, store=store, list_name="ledger",
                          title=_("Rewards & penalties %(month)s", month=period),
                          columns=columns, rows=rows, count=exporting.count_of(query))


@bp.post("/ledger/run")
@manager_required
def run_ledger_now():
    store = current_store()
    created = run_ledger(store, store.today())
    flash(_("Ledger run: %(rewards)d new rewards, %(penalties)d new penalties.", **created),
          "success")
    return redirect(url_for("manager.ledger"))


@bp.post("/ledger/<int:entry_id>/void")
@manager_required
def void(entry_id):
    store = current_store()
    try:
        entry = void_entry(store, entry_id, reason=request.form.get("reason"), by=current_user)
    except LookupError:
        abort(404)
    except ServiceError as error:
        db.session.rollback()
        flash_refusal(error)
        return redirect(url_for("manager.ledger"))
    flash(_("Entry voided."), "success")
    return redirect(url_for("manager.ledger", month=entry.period))


@bp.post("/proposals")
@manager_required
def confirm_proposals():
    """Confirm the chosen proposals in one step: spread over the other staff, evenly."""
    store = current_store()
    ids = [int(i) for i in request.form.getlist("assignment") if i.isdigit()]
    proposals = db.session.scalars(scoped(Assignment).where(
        Assignment.id.in_(ids), Assignment.ended_at.is_(None),
        Assignment.proposed_for_reassignment.is_(True))).all() if ids else []
    targets = _chosen_staff(store, request.form.getlist("staff")) or staff_of(store)
    if not proposals:
        flash(_("Choose at least one customer."), "error")
        return redirect(url_for("manager.ledger"))
    if request.form.get("action") == "keep":
        for proposal in proposals:
            proposal.proposed_for_reassignment = False
        db.session.commit()
        flash(_("%(n)d customers stay with their beautician.", n=len(proposals)), "success")
        return redirect(url_for("manager.ledger"))
    customers = [p.customer for p in proposals]
    received = spread(customers, targets, by=current_user, reason="penalty",
                      exclude_current=True)
    flash(_("%(n)d customers reassigned.", n=sum(received.values())), "success")
    return redirect(url_for("manager.ledger"))

