"""The contact log: logging an outcome (two taps from the checklist) and reading the log."""
import uuid
from datetime import date, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from kq import labels
from kq.blueprints.calls import bp
from kq.blueprints.calls.forms import ContactForm
from kq.blueprints.calls.submission import submit
from kq.extensions import db
from kq.models import BEAUTICIAN, Contact, Customer, User
from kq.redirects import safe_next
from kq.scoping import current_store, get_or_404, scoped
from kq.services import ServiceError
from kq.services.checklist import midnight
from kq.services.contacts import can_contact, find_replay


def _form_page(form, customer, status=200):
    return render_template("calls/log.html", form=form, customer=customer, labels=labels,
                           tomorrow=current_store().today() + timedelta(days=1)), status


@bp.route("/log", methods=["GET", "POST"])
@login_required
def log():
    store = current_store()
    form = ContactForm()
    if request.method == "GET":
        customer = get_or_404(Customer, request.args.get("customer_id"))
        if not can_contact(current_user, customer):
            abort(404)
        form.customer_id.data = customer.id
        form.task_id.data = request.args.get("task_id", type=int)
        form.client_id.data = str(uuid.uuid4())
        form.next.data = request.args.get("next", "")
        return _form_page(form, customer)
    if form.client_id.data:
        replay = find_replay(store.id, form.client_id.data)
        if replay is not None:
            flash(_("Already logged."), "info")
            return redirect(safe_next(form.next.data) or url_for("tasks.today"))
    customer = get_or_404(Customer, form.customer_id.data)
    if not form.validate():
        return _form_page(form, customer, 422)
    try:
        contact, _created = submit(form, current_user, store)
    except LookupError:
        abort(404)
    except ServiceError as error:
        for field, message in error.message.items():
            getattr(form, field).errors = [message]
        return _form_page(form, customer, 422)
    flash(_("Logged: %(name)s — %(outcome)s", name=customer.greeting_name,
            outcome=labels.OUTCOMES[contact.outcome]), "success")
    return redirect(safe_next(form.next.data) or url_for("tasks.today"))


def _period(args, today):
    """(first day, last day, key) from ?period=today|week|month or ?from=&to=."""
    period = args.get("period", "today")
    if period == "week":
        return today - timedelta(days=today.weekday()), today, period
    if period == "month":
        return today.replace(day=1), today, period
    if period == "range":
        try:
            first = date.fromisoformat(args.get("from", ""))
            last = date.fromisoformat(args.get("to", ""))
        except ValueError:
            return today, today, "today"
        if first > last:
            first, last = last, first
        return first, min(last, first + timedelta(days=366)), period
    return today, today, "today"


@bp.route("/")
@login_required
def index():
    store = current_store()
    today = store.today()
    first, last, period = _period(request.args, today)
    query = (scoped(Contact).options(joinedload(Contact.customer), joinedload(Contact.staff))
             .where(Contact.contacted_at >= midnight(store, first),
                    Contact.contacted_at < midnight(store, last + timedelta(days=1))))
    customer = None
    if request.args.get("customer_id"):
        customer = get_or_404(Customer, request.args.get("customer_id"))
        query = query.where(Contact.customer_id == customer.id)
    staff_id = request.args.get("staff_id", type=int)
    if not current_user.is_manager:
        staff_id = current_user.id if customer is None else staff_id
    if staff_id:
        query = query.where(Contact.staff_id == staff_id)
    outcome = request.args.get("outcome") if request.args.get("outcome") in labels.OUTCOMES else ""
    channel = request.args.get("channel") if request.args.get("channel") in labels.CHANNELS else ""
    if outcome:
        query = query.where(Contact.outcome == outcome)
    if channel:
        query = query.where(Contact.channel == channel)
    page = db.paginate(query.order_by(Contact.contacted_at.desc(), Contact.id.desc()),
                       per_page=50, error_out=False)
    staff = (db.session.scalars(scoped(User).where(User.active.is_(True), User.role == BEAUTICIAN)
                                .order_by(User.username)).all()
             if current_user.is_manager else [])
    return render_template("calls/index.html", page=page, labels=labels, period=period,
                           first=first, last=last, outcome=outcome, channel=channel,
                           staff=staff, staff_id=staff_id, customer=customer)
