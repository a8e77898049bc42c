"""Gift stock (managers) and handouts (whoever looks after the customer)."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from kq.auth import manager_required
from kq.blueprints.gifts import bp
from kq.blueprints.gifts.forms import STOCK_REASON_LABELS, GiftForm, GiveForm, StockForm
from kq.extensions import db
from kq.formtools import acting_staff_choices, chosen_staff, show_errors, to_fen
from kq.models import Customer, Gift, GiftHandout, GiftStockMove
from kq.redirects import safe_next
from kq.scoping import current_store, get_or_404, scoped
from kq.services import ServiceError, exporting
from kq.services import gifts as service
from kq.services.contacts import can_contact
from kq.services.exporting import DATE, DATETIME, MONEY, NUMBER, Column


def can_handle(user, handout):
    """The one who hands it over, the customer's own beautician, or a manager."""
    return user.is_manager or user.id in (handout.staff_id, handout.customer.assigned_staff_id)


def _waiting(store):
    query = (scoped(GiftHandout).where(GiftHandout.status == service.RESERVED)
             .options(joinedload(GiftHandout.gift), joinedload(GiftHandout.customer))
             .order_by(GiftHandout.pickup_after.asc().nulls_first(), GiftHandout.id))
    if not current_user.is_manager:
        query = query.join(Customer, Customer.id == GiftHandout.customer_id).where(or_(
            GiftHandout.staff_id == current_user.id,
            Customer.assigned_staff_id == current_user.id))
    return db.session.scalars(query).all()


@bp.route("/")
@login_required
def index():
    store = current_store()
    fmt = exporting.wanted_format(request.args)
    if fmt:
        return _export_waiting(fmt, store)
    gifts = db.session.scalars(scoped(Gift).order_by(Gift.active.desc(), Gift.name)).all()
    if not current_user.is_manager:
        gifts = [g for g in gifts if g.active]
    return render_template("gifts/index.html", gifts=gifts, waiting=_waiting(store),
                           today=store.today())


def _export_waiting(fmt, store):
    """The gifts waiting to be collected, as the page lists them (a beautician: hers)."""
    today = store.today()
    columns = [
        Column(_("Customer"), lambda h: h.customer.greeting_name),
        Column(_("Name"), lambda h: h.customer.name),
        Column(_("Gift"), lambda h: h.gift.name),
        Column(_("Face value (yuan)"), lambda h: h.gift.face_value_fen, MONEY),
        Column(_("Hands it over"), lambda h: h.staff.display_name),
        Column(_("Collect from"), lambda h: h.pickup_after, DATE),
        Column(_("Ready"), lambda h: exporting.yes_no(not h.pickup_after
                                                      or h.pickup_after <= today)),
        Column(_("Campaign"), lambda h: h.campaign),
        Column(_("Note"), lambda h: h.note),
        Column(_("Reserved on"), lambda h: h.created_at, DATETIME),
    ]
    return exporting.send(fmt, store=store, list_name="gifts_waiting",
                          title=_("Gifts waiting to be collected"), columns=columns,
                          rows=_waiting(store))


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def new():
    form = GiftForm()
    if request.method == "POST" and form.validate():
        try:
            gift = service.create_gift(
                current_store(), name=form.name.data, face_value_fen=to_fen(form.face_value.data
                                                                            or 0),
                unit_cost_fen=to_fen(form.unit_cost.data or 0), quantity=form.quantity.data or 0,
                by=current_user)
        except ServiceError as error:
            show_errors(form, error)
        else:
            flash(_("Gift added."), "success")
            return redirect(url_for("gifts.detail", gift_id=gift.id))
    status = 422 if request.method == "POST" else 200
    return render_template("gifts/form.html", form=form, gift=None), status


@bp.route("/<int:gift_id>", methods=["GET", "POST"])
@login_required
def detail(gift_id):
    """The gift's page; managers edit it here and move its stock."""
    gift = get_or_404(Gift, gift_id)
    form, stock = GiftForm(obj=gift if request.method == "GET" else None), StockForm()
    if request.method == "GET":
        form.face_value.data = gift.face_value_fen / 100
        form.unit_cost.data = gift.unit_cost_fen / 100
    status = 200
    if request.method == "POST":
        if not current_user.is_manager:
            abort(403)
        if form.validate():
            try:
                service.update_gift(gift, name=form.name.data,
                                    face_value_fen=to_fen(form.face_value.data or 0),
                                    unit_cost_fen=to_fen(form.unit_cost.data or 0),
                                    active=bool(form.active.data))
            except ServiceError as error:
                db.session.rollback()
                show_errors(form, error)
            else:
                flash(_("Saved."), "success")
                return redirect(url_for("gifts.detail", gift_id=gift.id))
        status = 422
    return _detail_page(gift, form, stock, status)


def _detail_page(gift, form, stock, status=200):
    moves = db.session.scalars(select(GiftStockMove).where(GiftStockMove.gift_id == gift.id)
                               .options(joinedload(GiftStockMove.staff))
                               .order_by(GiftStockMove.id.desc()).limit(20)).all()
    handouts = db.session.scalars(
        select(GiftHandout).where(GiftHandout.gift_id == gift.id)
        .options(joinedload(GiftHandout.customer))
        .order_by(GiftHandout.id.desc()).limit(20)).all()
    return render_template("gifts/detail.html", gift=gift, form=form, stock=stock, moves=moves,
                           handouts=handouts, reasons=STOCK_REASON_LABELS), status


@bp.post("/<int:gift_id>/stock")
@manager_required
def move_stock(gift_id):
    gift = get_or_404(Gift, gift_id)
    stock = StockForm()
    if stock.validate():
        try:
            service.move_stock(current_store(), gift.id, change=stock.change.data,
                               reason=stock.reason.data, note=stock.note.data, by=current_user)
        except ServiceError as error:
            db.session.rollback()
            show_errors(stock, error)
        else:
            flash(_("Stock updated."), "success")
            return redirect(url_for("gifts.detail", gift_id=gift.id))
    gift = get_or_404(Gift, gift_id)
    form = GiftForm(obj=gift)
    form.face_value.data, form.unit_cost.data = gift.face_value_fen / 100, gift.unit_cost_fen / 100
    return _detail_page(gift, form, stock, 422)


@bp.route("/give/<int:customer_id>", methods=["GET", "POST"])
@login_required
def give(customer_id):
    """Reserve a gift for a customer, or hand one over on the spot."""
    customer = get_or_404(Customer, customer_id)
    if customer.deleted_at is not None:
        abort(404)  # deleted (anonymised): not there any more, as policy.in_store says
    if not can_contact(current_user, customer):
        abort(403)
    store = current_store()
    form = GiveForm()
    gifts = db.session.scalars(scoped(Gift).where(Gift.active.is_(True)).order_by(Gift.name)).all()
    form.gift_id.choices = [
        SelectChoice(str(g.id), _("%(gift)s (%(n)d available)", gift=g.name, n=g.available),
                     render_kw={"disabled": True} if g.available < 1 else {}) for g in gifts]
    form.staff_id.choices = acting_staff_choices()
    if request.method == "GET":
        form.staff_id.data = str(customer.assigned_staff_id or current_user.id)
        form.gift_id.data = request.args.get("gift_id", "")
        form.campaign.data = request.args.get("campaign", "")
    elif form.validate():
        staff = chosen_staff(form.staff_id, customer, _("Choose who hands it over."))
        if not (form.gift_id.data or "").isdigit():
            form.gift_id.errors = [_("Choose a gift.")]
        if form.mode.data not in ("reserve", "now"):
            form.mode.errors = [_("Choose whether to reserve it or hand it over now.")]
        if staff is not None and not form.gift_id.errors and not form.mode.errors:
            done = _give(store, customer, form, staff)
            if done:
                return done
    campaigns = db.session.scalars(
        select(GiftHandout.campaign).where(GiftHandout.store_id == store.id,
                                           GiftHandout.campaign.is_not(None))
        .group_by(GiftHandout.campaign).order_by(GiftHandout.campaign).limit(30)).all()
    status = 422 if request.method == "POST" else 200
    return render_template("gifts/give.html", form=form, customer=customer, gifts=gifts,
                           campaigns=campaigns, today=store.today()), status


def _give(store, customer, form, staff):
    """Reserve or hand over; a redirect when it worked, else None with the reason on the form."""
    try:
        if form.mode.data == "now":
            service.hand_out_now(store, customer_id=customer.id, gift_id=int(form.gift_id.data),
                                 by=current_user, campaign=form.campaign.data,
                                 note=form.note.data)
            flash(_("Gift handed over."), "success")
        else:
            service.reserve(store, customer_id=customer.id, gift_id=int(form.gift_id.data),
                            staff=staff, by=current_user, pickup_after=form.pickup_after.data,
                            campaign=form.campaign.data, note=form.note.data)
            flash(_("Gift reserved for her."), "success")
    except LookupError:
        form.gift_id.errors = [_("Choose one of this store's gifts.")]
    except ServiceError as error:
        show_errors(form, error)
    else:
        return redirect(url_for("customers.detail", customer_id=customer.id))
    return None


def _act(handout_id, action, done_message):
    store = current_store()
    handout = get_or_404(GiftHandout, handout_id)
    if not can_handle(current_user, handout):
        abort(403)
    try:
        action(store, handout.id, by=current_user)
    except ServiceError as error:
        db.session.rollback()
        flash(str(error.message), "error")
    else:
        flash(done_message, "success")
    return redirect(safe_next(request.form.get("next"))
                    or url_for("customers.detail", customer_id=handout.customer_id))


@bp.post("/handouts/<int:handout_id>/hand-out")
@login_required
def hand_out(handout_id):
    return _act(handout_id, service.hand_out, _("Gift handed over."))


@bp.post("/handouts/<int:handout_id>/cancel")
@login_required
def cancel(handout_id):
    return _act(handout_id, service.cancel, _("Reservation cancelled; the gift is back in stock."))


@bp.route("/totals")
@manager_required
def totals():
    store = current_store()
    by = "campaign" if request.args.get("by") == "campaign" else "month"
    rows, total = service.totals(store, by=by)
    fmt = exporting.wanted_format(request.args)
    if fmt:
        return exporting.send(fmt, store=store, list_name=f"gift_totals_{by}",
                              title=_("Gift totals"), rows=rows, columns=[
                                  Column(_("Month") if by == "month" else _("Campaign"),
                                         lambda r: r["key"] or _("No campaign")),
                                  Column(_("Gifts"), lambda r: r["count"], NUMBER),
                                  Column(_("Face value (yuan)"), lambda r: r["value_fen"], MONEY),
                                  Column(_("Cost (yuan)"), lambda r: r["cost_fen"], MONEY)])
    return render_template("gifts/totals.html", rows=rows, total=total, by=by)
