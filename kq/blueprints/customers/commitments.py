"""On the card: the points ledger, promises and complaints."""
from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.fields.choices import SelectChoice

from kq import labels
from kq import policy
from kq.blueprints.customers import bp
from kq.blueprints.customers.forms import (COMPLAINT_CHANNEL_LABELS, REDEEM_LABELS,
                                           AdjustPointsForm, ComplaintForm, PromiseForm,
                                           RedeemForm, ResolvePromiseForm, StepForm)
from kq.extensions import db
from kq.formtools import acting_staff_choices, chosen_staff, flash_refusal, show_errors, to_fen
from kq.models import Complaint, Customer, Gift, PointsEntry, Promise
from kq.models.engagement import COMPLAINT_STEPS
from kq.scoping import current_store, get_or_404, scoped
from kq.services import ServiceError
from kq.services import commitments, points


def _allowed(customer, action=policy.ACT_FOR):
    policy.require(current_user, action, customer)


def can_contact(user, customer):
    return policy.can(user, policy.ACT_FOR, customer)


# Points -------------------------------------------------------------------------------------

@bp.route("/<int:customer_id>/points", methods=["GET", "POST"])
@login_required
def points_page(customer_id):
    customer = get_or_404(Customer, customer_id)
    _allowed(customer, policy.VIEW)
    store = current_store()
    redeem, adjust = RedeemForm(prefix="r"), AdjustPointsForm(prefix="a")
    status = 200
    if request.method == "POST":
        _allowed(customer)
        status = 422
        if request.form.get("action") == "adjust":
            _allowed(customer, policy.MANAGE)
            if adjust.validate():
                try:
                    points.adjust(store, customer_id=customer.id, points=adjust.adjust_points.data,
                                  note=adjust.adjust_note.data, by=current_user)
                except ServiceError as error:
                    error.message = {"adjust_" + k: v for k, v in error.message.items()}
                    show_errors(adjust, error)
                else:
                    flash(_("Points adjusted."), "success")
                    return redirect(url_for("customers.points_page", customer_id=customer.id))
        elif redeem.validate():
            try:
                points.redeem(store, customer_id=customer.id, kind=redeem.kind.data,
                              points=redeem.points.data, price_fen=to_fen(redeem.price.data),
                              item=redeem.item.data, note=redeem.note.data, by=current_user)
            except ServiceError as error:
                show_errors(redeem, error)
            else:
                flash(_("Points redeemed."), "success")
                return redirect(url_for("customers.points_page", customer_id=customer.id))
        db.session.rollback()
    entries = db.session.scalars(
        select(PointsEntry).where(PointsEntry.customer_id == customer.id)
        .options(joinedload(PointsEntry.staff))
        .order_by(PointsEntry.created_at.desc(), PointsEntry.id.desc()).limit(100)).all()
    return render_template("customers/points.html", customer=customer, redeem=redeem,
                           adjust=adjust, entries=entries, may_redeem=can_contact(
                               current_user, customer), redeem_labels=REDEEM_LABELS), status


# Promises -----------------------------------------------------------------------------------

@bp.route("/<int:customer_id>/promises/new", methods=["GET", "POST"])
@login_required
def new_promise(customer_id):
    customer = get_or_404(Customer, customer_id)
    _allowed(customer)
    store = current_store()
    form = PromiseForm()
    form.staff_id.choices = acting_staff_choices()
    if request.method == "GET":
        form.staff_id.data = str(customer.assigned_staff_id or current_user.id)
        form.due_on.data = store.today() + timedelta(days=7)
    elif form.validate():
        staff = chosen_staff(form.staff_id, customer, _("Choose a member of staff."))
        if staff is not None:
            try:
                commitments.make_promise(store, customer_id=customer.id, what=form.what.data,
                                         due_on=form.due_on.data, staff=staff, by=current_user)
            except ServiceError as error:
                db.session.rollback()
                show_errors(form, error)
            else:
                flash(_("Promise recorded."), "success")
                return redirect(url_for("customers.detail", customer_id=customer.id))
    status = 422 if request.method == "POST" else 200
    return render_template("customers/promise.html", form=form, customer=customer,
                           today=store.today()), status


@bp.post("/<int:customer_id>/promises/<int:promise_id>")
@login_required
def resolve_promise(customer_id, promise_id):
    customer = get_or_404(Customer, customer_id)
    _allowed(customer, policy.VIEW)
    promise = get_or_404(Promise, promise_id)
    if promise.customer_id != customer.id:
        abort(404)
    if not (can_contact(current_user, customer) or promise.staff_id == current_user.id):
        abort(403)
    form = ResolvePromiseForm()
    if form.validate():
        try:
            commitments.resolve_promise(current_store(), promise.id, outcome=form.outcome.data,
                                        note=form.note.data, by=current_user)
        except ServiceError as error:
            db.session.rollback()
            flash_refusal(error)
        else:
            flash(_("Promise kept.") if form.outcome.data == "fulfilled"
                  else _("Promise marked as not kept."), "success")
    else:
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
    return redirect(request.form.get("next") == "today" and url_for("tasks.today")
                    or url_for("customers.detail", customer_id=customer.id))


# Complaints ---------------------------------------------------------------------------------

@bp.route("/<int:customer_id>/complaints/new", methods=["GET", "POST"])
@login_required
def new_complaint(customer_id):
    customer = get_or_404(Customer, customer_id)
    _allowed(customer)
    store = current_store()
    form = ComplaintForm()
    form.staff_id.choices = acting_staff_choices()
    if request.method == "GET":
        form.staff_id.data = str(customer.assigned_staff_id or current_user.id)
        form.received_on.data = store.today()
    elif form.validate():
        staff = chosen_staff(form.staff_id, customer, _("Choose a member of staff."))
        if staff is not None:
            try:
                complaint = commitments.open_complaint(
                    store, customer_id=customer.id, received_on=form.received_on.data,
                    channel=form.channel.data, summary=form.summary.data, staff=staff,
                    by=current_user)
            except ServiceError as error:
                db.session.rollback()
                show_errors(form, error)
            else:
                flash(_("Complaint recorded. Work through the steps below."), "success")
                return redirect(url_for("customers.complaint", customer_id=customer.id,
                                        complaint_id=complaint.id))
    status = 422 if request.method == "POST" else 200
    return render_template("customers/complaint_new.html", form=form, customer=customer,
                           today=store.today()), status


def _step_defaults(step, today):
    """When the step after this one is usually due: the first six in the first talk, then
    compensation the next day, confirmation after two days, the follow-up a week on."""
    ahead = {"resolve": 1, "compensate": 2, "confirm": 7}.get(step, 0)
    return today + timedelta(days=ahead)


@bp.route("/<int:customer_id>/complaints/<int:complaint_id>", methods=["GET", "POST"])
@login_required
def complaint(customer_id, complaint_id):
    customer = get_or_404(Customer, customer_id)
    _allowed(customer, policy.VIEW)
    record = db.session.scalar(scoped(Complaint).where(
        Complaint.id == complaint_id, Complaint.customer_id == customer.id)
        .options(selectinload(Complaint.steps), joinedload(Complaint.staff)))
    if record is None:
        abort(404)
    store = current_store()
    today = store.today()
    may_work = (can_contact(current_user, customer) or record.staff_id == current_user.id)
    form = StepForm()
    gifts = db.session.scalars(scoped(Gift).where(Gift.active.is_(True)).order_by(Gift.name)).all()
    form.gift_id.choices = [SelectChoice("", _("No gift"))] + [
        SelectChoice(str(g.id), _("%(gift)s (%(n)d available)", gift=g.name, n=g.available),
                     render_kw={"disabled": True} if g.available < 1 else {}) for g in gifts]
    next_step = record.next_step
    status = 200
    if request.method == "POST":
        if not may_work:
            abort(403)
        status = 422
        if form.validate():
            gift_id = int(form.gift_id.data) if (form.gift_id.data or "").isdigit() else None
            try:
                commitments.record_step(
                    store, record.id, step=form.step.data, done_on=form.done_on.data,
                    note=form.note.data, next_due_on=form.next_due_on.data, by=current_user,
                    gift_id=gift_id, pickup_after=form.pickup_after.data)
            except ServiceError as error:
                db.session.rollback()
                show_errors(form, error)
            else:
                flash(_("Step recorded."), "success")
                return redirect(url_for("customers.complaint", customer_id=customer.id,
                                        complaint_id=record.id))
    else:
        form.step.data = next_step
        form.done_on.data = today
        if next_step:
            form.next_due_on.data = _step_defaults(next_step, today)
    done = {s.step: s for s in record.steps}
    return render_template("customers/complaint.html", customer=customer, complaint=record,
                           form=form, steps=COMPLAINT_STEPS, done=done, next_step=next_step,
                           labels=labels.COMPLAINT_STEPS, channels=COMPLAINT_CHANNEL_LABELS,
                           may_work=may_work, today=today), status


# Why she left, and the win-back plan (SPEC §6) ------------------------------------------------

@bp.post("/<int:customer_id>/win-back")
@login_required
def win_back(customer_id):
    customer = get_or_404(Customer, customer_id)
    _allowed(customer)
    reason, category = request.form.get("churn_reason") or None, \
        request.form.get("reactivation_category") or None
    if (reason and reason not in labels.CHURN_REASONS) or \
            (category and category not in labels.REACTIVATION):
        flash(_("Choose from the lists."), "error")
        return redirect(url_for("customers.detail", customer_id=customer.id))
    customer.churn_reason, customer.reactivation_category = reason, category
    if category == "poor_unwilling" and not customer.do_not_contact:
        # The trade keeps only her name and number and stops calling her.
        customer.do_not_contact, customer.do_not_contact_reason = True, "churned"
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("customers.detail", customer_id=customer.id) + "#win-back")
