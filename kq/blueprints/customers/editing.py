"""Creating and editing cards, recording visits and writing care notes."""
from datetime import datetime, time
from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from kq import labels, policy
from kq.blueprints.customers import bp
from kq.blueprints.customers.forms import CareNoteForm, CustomerForm, VisitForm
from kq.extensions import db
from kq.i18n import fen
from kq.masking import masked_phone, national
from kq.models import BEAUTICIAN, CareNote, Customer, PrepaidCard, User, Visit
from kq.scoping import current_store, get_or_404, scoped
from kq.services import ServiceError
from kq.services.assignments import assign
from kq.services.audit import audit
from kq.services.classify import recompute_customer
from kq.services.customers import (DuplicatePhone, find_by_phone, normalize_phone, save_customer,
                                  tags_of)
from kq.services.privacy import set_consent
from kq.services.visits import record_visit

PROFILE_FIELDS = ("name", "surname", "title", "greeting_name", "gender", "wechat_id",
                  "birth_month", "birth_day", "birth_year", "approx_age", "address", "email",
                  "skin_type", "source", "occupation", "family",
                  "personality_type", "buying_psychology", "spending_habits",
                  "style_preferences", "hobbies", "lifestyle", "service_preference",
                  "promotion_attitude", "personal_values", "notes", "tier", "purchasing_power")


def _staff_choices(store):
    staff = db.session.scalars(scoped(User).where(User.active.is_(True), User.role == BEAUTICIAN)
                               .order_by(User.username)).all()
    return staff, [SelectChoice(str(s.id), s.display_name) for s in staff]


def _clean(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _apply(form, customer, store):
    """Copy the form onto the customer; returns a dict of field → message for what is wrong."""
    errors = {}
    for name in PROFILE_FIELDS:
        setattr(customer, name, _clean(getattr(form, name).data))
    try:
        customer.phone = normalize_phone(form.phone.data)
    except ServiceError:
        errors["phone"] = _("Enter a valid mobile number, e.g. 138 1234 5678 or +852 9123 4567.")
    customer.referred_by_id = None
    if form.referred_by_phone.data:
        try:
            referrer = find_by_phone(store.id, normalize_phone(form.referred_by_phone.data))
        except ServiceError:
            referrer = None
        if referrer is None or referrer.id == customer.id:
            errors["referred_by_phone"] = _("No other customer of this store has that number.")
        else:
            customer.referred_by_id = referrer.id
    override = form.key_override.data
    customer.key_override = {"key": True, "general": False}.get(override)
    customer.key_override_reason = _clean(form.key_override_reason.data) if override else None
    if not customer.greeting_name:
        customer.greeting_name = None  # save_customer derives surname + title
    return errors


def _form_page(form, customer, duplicate=None, status=200):
    return render_template("customers/form.html", form=form, customer=customer,
                           duplicate=duplicate, labels=labels), status


def _duplicate(form, shown, existing):
    """409: the number is on another card. Whoever may see that card gets a link to it; anyone
    else learns only that it exists (no name, no link: a guessed number must not open a
    colleague's customer). Every hit is audited, the number masked."""
    visible = policy.can(current_user, policy.VIEW_CONTACT, existing)
    phone = existing.phone
    db.session.rollback()
    audit("duplicate_phone", target=existing, detail={"phone": masked_phone(phone)})
    db.session.commit()
    if visible:
        return _form_page(form, shown, duplicate=existing, status=409)
    form.phone.errors = [_("A customer with this phone already exists — ask the manager.")]
    return _form_page(form, shown, status=409)


def _save(form, customer, store, staff_ids, creating):
    shown = None if creating else customer  # the page says "New customer" until it is saved
    errors = _apply(form, customer, store)
    if errors:
        for field, message in errors.items():
            getattr(form, field).errors = [message]
        db.session.rollback()
        return _form_page(form, shown, status=422)
    tags = [t for t in (form.tags.data or "").replace("，", ",").split(",")]
    try:
        save_customer(customer, tags=tags, commit=False)
    except DuplicatePhone as duplicate:
        return _duplicate(form, shown, duplicate.existing)
    set_consent(customer, form.marketing_consent.data, form.consent_source.data or None)
    wanted = form.assigned_staff_id.data
    if current_user.is_manager and wanted in staff_ids:
        assign(customer, db.session.get(User, int(wanted)), by=current_user, commit=False)
    elif creating and current_user.role == BEAUTICIAN:
        assign(customer, current_user, by=current_user, reason="created", commit=False)
    recompute_customer(customer)
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("customers.detail", customer_id=customer.id))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    store = current_store()
    form = CustomerForm()
    staff, form.assigned_staff_id.choices = _staff_choices(store)
    form.assigned_staff_id.choices.insert(0, SelectChoice("", "—"))
    customer = Customer(store_id=store.id)
    if request.method == "GET":
        form.phone.data = request.args.get("phone", "")
        return _form_page(form, None)
    if not form.validate():
        return _form_page(form, None, status=422)
    return _save(form, customer, store, {str(s.id) for s in staff}, creating=True)


@bp.route("/<int:customer_id>/edit", methods=["GET", "POST"])
@login_required
def edit(customer_id):
    customer = get_or_404(Customer, customer_id)
    policy.require(current_user, policy.EDIT, customer)
    store = current_store()
    form = CustomerForm(obj=customer if request.method == "GET" else None)
    staff, form.assigned_staff_id.choices = _staff_choices(store)
    form.assigned_staff_id.choices.insert(0, SelectChoice("", "—"))
    if request.method == "GET":
        form.phone.data = national(customer.phone)
        form.tags.data = ", ".join(tags_of([customer.id]).get(customer.id, []))
        form.key_override.data = {True: "key", False: "general"}.get(customer.key_override, "")
        form.assigned_staff_id.data = str(customer.assigned_staff_id or "")
        referrer = db.session.get(Customer, customer.referred_by_id) if customer.referred_by_id \
            else None
        form.referred_by_phone.data = national(referrer.phone) if referrer else ""
        return _form_page(form, customer)
    if not form.validate():
        return _form_page(form, customer, status=422)
    return _save(form, customer, store, {str(s.id) for s in staff}, creating=False)


def _card_choices(customer, today):
    """Her usable cards as choices: "ID" uses one session, "balance-ID" pays the amount from
    the balance. Whoever may record her visit may draw on her card, as at the till."""
    if not policy.can(current_user, policy.USE_CARD, customer):
        return {}
    cards = db.session.scalars(select(PrepaidCard).where(
        PrepaidCard.customer_id == customer.id).order_by(PrepaidCard.id)).all()
    choices = {}
    for card in (c for c in cards if c.is_usable(today)):
        if card.sessions_left > 0:
            choices[str(card.id)] = (card, None, _("%(card)s: one session (%(n)d left)",
                                                   card=card.name, n=card.sessions_left))
        if card.balance_fen > 0:
            choices[f"balance-{card.id}"] = (card, "balance", _(
                "%(card)s: the amount from its balance (%(amount)s left)", card=card.name,
                amount=fen(card.balance_fen)))
    return choices


def _served_by(value, choices):
    """The member of staff the form names: one of the choices, else anyone of the store (the
    policy then says why not), else None."""
    if value in choices:
        return choices[value]
    if not (value or "").isdigit() or len(value) > 9:
        return None
    return db.session.scalar(scoped(User).where(User.id == int(value)))


def _visit_page(form, customer, today, status=200):
    earliest, latest = policy.visit_dates(current_user, today)
    return render_template("customers/visit.html", form=form, customer=customer,
                           earliest=earliest, latest=latest,
                           fixed_staff=not current_user.is_manager), status


@bp.route("/<int:customer_id>/visits/new", methods=["GET", "POST"])
@login_required
def record(customer_id):
    """A beautician records a visit she served herself, today or yesterday, for any customer
    of the store; managers record any visit, for any member of staff, on any past day."""
    customer = get_or_404(Customer, customer_id)
    policy.require(current_user, policy.RECORD_VISIT, customer)
    store = current_store()
    today = store.today()
    form = VisitForm()
    if current_user.is_manager:
        staff, form.staff_id.choices = _staff_choices(store)
        form.staff_id.choices.insert(0, SelectChoice(str(current_user.id),
                                                     current_user.display_name))
    else:
        staff = []
        form.staff_id.choices = [SelectChoice(str(current_user.id), current_user.display_name)]
    cards = _card_choices(customer, today)
    form.prepaid_card_id.choices = [SelectChoice("", _("No card: paid"))] + [
        SelectChoice(value, label) for value, (_card, _use, label) in cards.items()]
    if request.method == "GET":
        form.visited_on.data = today
        form.visited_time.data = store.local_now().time().replace(second=0, microsecond=0)
        form.staff_id.data = str(current_user.id)
        return _visit_page(form, customer, today)
    if not form.staff_id.data and not current_user.is_manager:
        form.staff_id.data = str(current_user.id)  # her own visit: the form does not ask
    valid = form.validate()
    served_by = _served_by(form.staff_id.data,
                           {str(s.id): s for s in staff} | {str(current_user.id): current_user})
    if valid and served_by is None:
        form.staff_id.errors = [_("Choose who served her.")]
        valid = False
    if valid:
        try:
            policy.require(current_user, policy.RECORD_VISIT, customer, served_by=served_by,
                           visited_on=form.visited_on.data, today=today)
        except policy.Refused as refusal:
            getattr(form, refusal.field).errors = [str(refusal.message)]
            valid = False
    card, use, _label = cards.get(form.prepaid_card_id.data, (None, None, None))
    amount = int((form.amount.data or Decimal(0)) * 100)
    if valid and form.prepaid_card_id.data and card is None:
        form.prepaid_card_id.errors = [_("That card has no sessions left or is not hers.")]
        valid = False
    if valid and use == "balance" and amount <= 0:
        form.amount.errors = [_("Enter the amount to take from the card's balance.")]
        valid = False
    if valid:
        moment = datetime.combine(form.visited_on.data, form.visited_time.data or time(12),
                                  tzinfo=store.tz)
        try:
            record_visit(customer, visited_at=moment, staff=served_by,
                         services=form.services.data.strip(), amount_fen=amount,
                         prepaid_card=card, card_amount_fen=amount if use else None,
                         recorded_by=current_user)
        except ServiceError as error:  # the card could not pay (e.g. used meanwhile)
            db.session.rollback()
            form.prepaid_card_id.errors = [str(error.message)]
        else:
            flash(_("Visit recorded."), "success")
            return redirect(url_for("customers.detail", customer_id=customer.id))
    return _visit_page(form, customer, today, 422)


@bp.route("/<int:customer_id>/care-notes/new", methods=["GET", "POST"])
@login_required
def care_note(customer_id):
    customer = get_or_404(Customer, customer_id)
    policy.require(current_user, policy.CARE_NOTE, customer)
    form = CareNoteForm()
    if request.method == "POST" and form.validate():
        last_visit = db.session.scalar(select(func.max(Visit.id)).where(
            Visit.customer_id == customer.id))
        db.session.add(CareNote(store_id=customer.store_id, customer_id=customer.id,
                                visit_id=last_visit, staff_id=current_user.id,
                                service_done=(form.service_done.data or "").strip(),
                                skin_condition=(form.skin_condition.data or "").strip(),
                                feedback=(form.feedback.data or "").strip()))
        db.session.commit()
        flash(_("Care note saved. It shows at the top of her card next time."), "success")
        return redirect(url_for("customers.detail", customer_id=customer.id))
    status = 422 if request.method == "POST" else 200
    return render_template("customers/care_note.html", form=form, customer=customer), status
