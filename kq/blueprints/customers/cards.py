"""Prepaid cards (卡项) on the customer's card: sell, top up, refund or close, and the moves.

Who may: selling and topping up, managers and the beautician who looks after her (the same
rule as logging for her); refunds and closing, managers. Uses happen at a visit (editing.py).
"""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from kq import policy
from kq.blueprints.customers import bp
from kq.blueprints.customers.forms import (CardCloseForm, CardRefundForm, CardSellForm,
                                           CardTopUpForm)
from kq.extensions import db
from kq.formtools import show_errors, to_fen
from kq.models import CardMove, Customer, PrepaidCard, Visit
from kq.scoping import current_store, get_or_404
from kq.services import ServiceError
from kq.services import cards as service

MOVE_KINDS = {"sale": _l("Sold"), "import": _l("Brought over from the old system"),
              "opening": _l("Balance when moves began"), "top_up": _l("Topped up"),
              "use": _l("Used"), "refund": _l("Refunded"), "close": _l("Card closed")}


def _customer(customer_id, *, act=False, manage=False):
    customer = get_or_404(Customer, customer_id)
    policy.require(current_user, policy.MANAGE if manage else policy.ACT_FOR if act
                   else policy.VIEW, customer)
    return customer


def _card(customer, card_id):
    card = get_or_404(PrepaidCard, card_id)
    if card.customer_id != customer.id:
        abort(404)
    return card


@bp.route("/<int:customer_id>/cards/new", methods=["GET", "POST"])
@login_required
def sell_card(customer_id):
    customer = _customer(customer_id, act=True)
    form = CardSellForm()
    if request.method == "POST":
        if form.validate():
            try:
                service.sell_card(customer, name=form.name.data, sessions=form.sessions.data or 0,
                                  balance_fen=to_fen(form.balance.data) or 0,
                                  price_fen=to_fen(form.price.data) or 0,
                                  expires_on=form.expires_on.data, by=current_user,
                                  note=form.note.data)
            except ServiceError as error:
                db.session.rollback()
                show_errors(form, error)
            else:
                flash(_("Card sold."), "success")
                return redirect(url_for("customers.detail", customer_id=customer.id))
        return render_template("customers/card_sell.html", form=form, customer=customer), 422
    return render_template("customers/card_sell.html", form=form, customer=customer)


def _card_page(customer, card, status=200, **forms):
    store = current_store()
    moves = db.session.execute(
        db.select(CardMove, Visit.services).outerjoin(Visit, Visit.id == CardMove.visit_id)
        .where(CardMove.card_id == card.id).options(joinedload(CardMove.staff))
        .order_by(CardMove.created_at.desc(), CardMove.id.desc())).all()
    forms = {"top_up": CardTopUpForm(prefix="t", formdata=None),
             "refund": CardRefundForm(prefix="r", formdata=None),
             "close": CardCloseForm(prefix="c", formdata=None)} | forms
    return render_template("customers/card_detail.html", customer=customer, card=card,
                           moves=moves, today=store.today(), kinds=MOVE_KINDS,
                           may_act=policy.can(current_user, policy.ACT_FOR, customer),
                           paid=service.paid_on(card), **forms), status


@bp.get("/<int:customer_id>/cards/<int:card_id>")
@login_required
def card(customer_id, card_id):
    customer = _customer(customer_id)
    return _card_page(customer, _card(customer, card_id))


def _act(customer, card, name, form, action, done):
    """Validate `form`, run `action`; back to the card with `done`, or 422 with the form."""
    if form.validate():
        try:
            action()
        except ServiceError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            flash(done, "success")
            return redirect(url_for("customers.card", customer_id=customer.id, card_id=card.id))
    return _card_page(customer, card, 422, **{name: form})


@bp.post("/<int:customer_id>/cards/<int:card_id>/top-up")
@login_required
def top_up_card(customer_id, card_id):
    customer = _customer(customer_id, act=True)
    card = _card(customer, card_id)
    form = CardTopUpForm(prefix="t")
    return _act(customer, card, "top_up", form, lambda: service.top_up(
        card, sessions=form.sessions.data or 0, balance_fen=to_fen(form.balance.data) or 0,
        paid_fen=to_fen(form.paid.data) or 0, by=current_user, note=form.note.data),
        _("Card topped up."))


@bp.post("/<int:customer_id>/cards/<int:card_id>/refund")
@login_required
def refund_card(customer_id, card_id):
    customer = _customer(customer_id, manage=True)
    card = _card(customer, card_id)
    form = CardRefundForm(prefix="r")
    return _act(customer, card, "refund", form, lambda: service.refund_card(
        card, refund_fen=to_fen(form.refund.data), by=current_user, note=form.note.data),
        _("Card refunded and closed."))


@bp.post("/<int:customer_id>/cards/<int:card_id>/close")
@login_required
def close_card(customer_id, card_id):
    customer = _customer(customer_id, manage=True)
    card = _card(customer, card_id)
    form = CardCloseForm(prefix="c")
    return _act(customer, card, "close", form, lambda: service.close_card(
        card, by=current_user, note=form.note.data), _("Card closed."))
