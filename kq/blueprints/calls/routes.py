"""The contact log: logging an outcome (two taps from the checklist) and reading the log."""
import uuid
from datetime import date, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from kq import labels, policy
from kq.blueprints.calls import bp
from kq.blueprints.calls.forms import ContactForm
from kq.blueprints.calls.submission import NotAssigned, submit
from kq.extensions import db
from kq.models import BEAUTICIAN, Contact, Customer, User
from kq.redirects import safe_next
from kq.scoping import current_store, get_or_404, scoped
from kq.services import ServiceError, exporting
from kq.services.checklist import midnight
from kq.services.contacts import find_replay
from kq.services.exporting import DATE, DATETIME, NUMBER, Column


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
        policy.require(current_user, policy.LOG_CONTACT, customer)
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
    policy.require(current_user, policy.LOG_CONTACT, customer)
    if not form.validate():
        return _form_page(form, customer, 422)
    try:
        contact, _created = submit(form, current_user, store)
    except NotAssigned:
        abort(403)
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


def _log_query(store, args):
    """The log's rows for the page's filters; a beautician sees her own contacts, or every
    contact with one customer when she opens that customer's log."""
    today = store.today()
    first, last, period = _period(args, today)
    query = scoped(Contact).where(Contact.contacted_at >= midnight(store, first),
                                  Contact.contacted_at < midnight(store, last + timedelta(days=1)))
    customer = None
    if args.get("customer_id"):
        customer = get_or_404(Customer, args.get("customer_id"))
        query = query.where(Contact.customer_id == customer.id)
    staff_id = args.get("staff_id", type=int)
    if not current_user.is_manager:
        staff_id = current_user.id if customer is None else staff_id
    if staff_id:
        query = query.where(Contact.staff_id == staff_id)
    outcome = args.get("outcome") if args.get("outcome") in labels.OUTCOMES else ""
    channel = args.get("channel") if args.get("channel") in labels.CHANNELS else ""
    if outcome:
        query = query.where(Contact.outcome == outcome)
    if channel:
        query = query.where(Contact.channel == channel)
    return query.order_by(Contact.contacted_at.desc(), Contact.id.desc()), dict(
        period=period, first=first, last=last, outcome=outcome, channel=channel,
        staff_id=staff_id, customer=customer)


@bp.route("/")
@login_required
def index():
    store = current_store()
    query, shown = _log_query(store, request.args)
    fmt = exporting.wanted_format(request.args)
    if fmt:
        return _export(fmt, store, query)
    page = db.paginate(query.options(joinedload(Contact.customer), joinedload(Contact.staff)),
                       per_page=50, error_out=False)
    staff = (db.session.scalars(scoped(User).where(User.active.is_(True), User.role == BEAUTICIAN)
                                .order_by(User.username)).all()
             if current_user.is_manager else [])
    return render_template("calls/index.html", page=page, labels=labels, staff=staff, **shown)


def _export(fmt, store, query):
    columns = [
        Column(_("Time"), lambda c: c.contacted_at, DATETIME),
        Column(_("Customer"), lambda c: c.customer.greeting_name),
        Column(_("Name"), lambda c: c.customer.name),
        Column(_("Staff"), lambda c: c.staff.display_name),
        Column(_("Channel"), lambda c: labels.CHANNELS.get(c.channel)),
        Column(_("Outcome"), lambda c: labels.OUTCOMES.get(c.outcome)),
        Column(_("Satisfaction (1–5)"), lambda c: c.satisfaction, NUMBER),
        Column(_("Suggestions"), lambda c: c.suggestions),
        Column(_("Notes"), lambda c: c.notes),
        Column(_("Next follow-up"), lambda c: c.next_follow_up_on, DATE),
    ]
    rows = exporting.rows_of(query.options(joinedload(Contact.customer),
                                           joinedload(Contact.staff)), fmt)
    return exporting.send(fmt, store=store, list_name="contacts", title=_("Contact log"),
                          columns=columns, rows=rows, count=exporting.count_of(query))
