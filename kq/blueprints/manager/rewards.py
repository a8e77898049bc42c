"""The reward/penalty ledger, 50 entries a page, and the reassignment proposals (SPEC §7): a
void or a batch of proposals is said first and can be undone for a while."""
from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.blueprints.manager.staffing import (BULK_LIMIT, PAGE, _chosen_staff, _format_n,
                                            _named, _review, join_names, proposal_count)
from kq.extensions import db
from kq.formtools import flash_refusal
from kq.models import Assignment, LedgerEntry, utcnow
from kq.scoping import current_store, scoped
from kq.services import ServiceError, exporting, reports
from kq.services.assignments import (keep_proposals, reassign_proposals, undo_until,
                                     undoable)
from kq.services.audit import audit
from kq.services.exporting import DATE, DATETIME, MONEY, Column
from kq.services.ledger import (UNVOID_MINUTES, describe, monthly_totals, run_ledger,
                                unvoid_entry, unvoid_until, void_entry)
from kq.services.reports import staff_of


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
    page = db.paginate(query.options(joinedload(LedgerEntry.staff),
                                     joinedload(LedgerEntry.customer)),
                       per_page=PAGE, error_out=False)
    return render_template("manager/ledger.html", store=store, period=period, staff=staff,
                           totals=totals, store_total=reports.store_total(totals), page=page,
                           describe=describe, proposals=proposal_count(store), today=today,
                           unvoid_until=unvoid_until, now=utcnow(), previous=_shift(period, -1),
                           following=_shift(period, 1) if period < today.strftime("%Y-%m")
                           else None)


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
    """Count today's rewards and penalties now (the nightly run does it by itself)."""
    store = current_store()
    created = run_ledger(store, store.today(), commit=False)
    audit("ledger_run", store_id=store.id, detail=dict(created, day=store.today().isoformat()))
    db.session.commit()
    flash(_("Ledger run: %(rewards)d new rewards, %(penalties)d new penalties.", **created),
          "success")
    back = "manager.evening" if request.form.get("back") == "evening" else "manager.ledger"
    return redirect(url_for(back))


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
    flash(_("Entry voided. You can undo this for %(minutes)d minutes.",
            minutes=UNVOID_MINUTES), "success")
    return _back_to_entry(entry)


@bp.post("/ledger/<int:entry_id>/unvoid")
@manager_required
def unvoid(entry_id):
    store = current_store()
    try:
        entry = unvoid_entry(store, entry_id, by=current_user)
    except LookupError:
        abort(404)
    except ServiceError as error:
        db.session.rollback()
        flash_refusal(error)
        return redirect(url_for("manager.ledger"))
    flash(_("The void is undone: the entry counts again."), "success")
    return _back_to_entry(entry)


def _back_to_entry(entry):
    """The ledger page the entry was on, scrolled to it."""
    page = request.form.get("page", "")
    page = int(page) if page.isdigit() and len(page) < 6 and int(page) > 1 else None
    return redirect(url_for("manager.ledger", month=entry.period, page=page) + f"#e-{entry.id}")


# Reassignment proposals ----------------------------------------------------------------------

def _open_proposals():
    return (scoped(Assignment).where(Assignment.ended_at.is_(None),
                                     Assignment.proposed_for_reassignment.is_(True))
            .order_by(Assignment.id))


@bp.route("/proposals", methods=["GET", "POST"])
@manager_required
def proposals():
    """Customers proposed for reassignment after a penalty, 50 a page, none ticked."""
    store = current_store()
    if request.method == "POST":
        return _review_proposals(store)
    page = db.paginate(_open_proposals().options(joinedload(Assignment.customer),
                                                 joinedload(Assignment.staff)),
                       per_page=PAGE, error_out=False)
    return render_template("manager/proposals.html", store=store, page=page,
                           staff=staff_of(store), batches=undoable(store),
                           undo_until=undo_until, join_names=join_names)


def _proposal_request(store, form):
    if form.get("scope") == "all":
        chosen = db.session.scalars(_open_proposals().limit(BULK_LIMIT)).all()
    else:
        ids = [int(i) for i in form.getlist("assignment") if i.isdigit() and len(i) < 10]
        chosen = db.session.scalars(_open_proposals().where(Assignment.id.in_(ids))
                                    ).all() if ids else []
    targets = _chosen_staff(store, form.getlist("staff")) or staff_of(store)
    return chosen, targets


def _review_proposals(store, changed=None):
    form = request.form
    chosen, targets = _proposal_request(store, form)
    if not chosen:
        flash(_("Choose at least one customer."), "error")
        return redirect(url_for("manager.proposals"))
    keep = form.get("action") == "keep"
    hidden = [("action", "keep" if keep else "reassign"), ("scope", form.get("scope") or "")]
    hidden += [("assignment", str(p.id)) for p in chosen] if form.get("scope") != "all" else []
    hidden += [("staff", s) for s in form.getlist("staff") if s.isdigit()]
    page = {"action": url_for("manager.proposals_confirm"), "hidden": hidden,
            "cancel": url_for("manager.proposals"), "changed": changed,
            "status": 409 if changed else 200}
    n = _format_n(len(chosen))
    if keep:
        staff = staff_of(store, include_inactive=True)
        counts = {}
        for p in chosen:
            counts[p.staff_id] = counts.get(p.staff_id, 0) + 1
        return _review(store, chosen, [], question=_(
            "Keep %(n)s customers with their beautician?", n=n),
            confirm_label=_("Yes, keep them"), split=_named(counts, staff),
            split_label=_("They stay with"), **page)
    return _review(store, [p.customer for p in chosen], targets, exclude_current=True,
                   question=_("Reassign %(n)s customers, spread evenly over %(names)s?", n=n,
                              names=join_names(s.display_name for s in targets)),
                   confirm_label=_("Yes, reassign them"), **page)


@bp.post("/proposals/confirm")
@manager_required
def proposals_confirm():
    store = current_store()
    form = request.form
    chosen, targets = _proposal_request(store, form)
    if not chosen:
        flash(_("Choose at least one customer."), "error")
        return redirect(url_for("manager.proposals"))
    if str(len(chosen)) != form.get("expected"):
        return _review_proposals(store, changed=_(
            "The list changed meanwhile: it now holds %(n)s customers.",
            n=_format_n(len(chosen))))
    if form.get("action") == "keep":
        kept, _event = keep_proposals(store, chosen, by=current_user)
        flash(_("%(n)d customers stay with their beautician.", n=kept), "success")
    else:
        received, _event = reassign_proposals(store, chosen, targets, by=current_user)
        flash(_("%(n)d customers reassigned.", n=sum(received.values())), "success")
    return redirect(url_for("manager.proposals"))
