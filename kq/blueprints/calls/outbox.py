"""The outbox (/calls/outbox): bulk messages waiting for a staff member to send them from her
own phone (SPEC §5). A tap opens the SMS app prefilled; she marks it sent, which logs an SMS
contact (kq.services.contacts) so that the ledger and the checklist see it. Phone numbers
follow SPEC §1: she gets the sms: link for customers assigned to her; a manager for any."""
import uuid
from urllib.parse import quote

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from kq import scripts
from kq.blueprints.calls import bp
from kq.extensions import db
from kq.masking import can_see_phone, can_text, masked_phone, national
from kq.models import User, utcnow
from kq.models.messaging import MessageBatch, OutboundMessage
from kq.scoping import current_store
from kq.services import ServiceError, messaging
from kq.services.contacts import ContactInput, log_contact

PER_PAGE = 50
CLIENT_NS = uuid.UUID("6f1c1f0e-3a59-4c1e-9a8e-0b5a4e1f7d21")


def client_id_for(message):
    """The contact a sent message logs has a client id made from the message: marking it sent
    twice (a double tap, a replay) stores one contact."""
    return str(uuid.uuid5(CLIENT_NS, f"outbound-{message.id}"))


def _mine(store, staff_id):
    return select(OutboundMessage).where(OutboundMessage.store_id == store.id,
                                         OutboundMessage.staff_id == staff_id)


@bp.route("/outbox")
@login_required
def outbox():
    store = current_store()
    staff_id = current_user.id
    others = []
    if current_user.is_manager:
        others = db.session.execute(
            select(User.id, User.display_name, func.count(OutboundMessage.id))
            .join(OutboundMessage, OutboundMessage.staff_id == User.id)
            .where(OutboundMessage.store_id == store.id, OutboundMessage.status == "queued")
            .group_by(User.id, User.display_name).order_by(User.display_name)).all()
        try:
            staff_id = int(request.args.get("staff") or current_user.id)
        except ValueError:
            abort(404)
    waiting = db.session.scalars(
        _mine(store, staff_id).where(OutboundMessage.status == "queued")
        .options(joinedload(OutboundMessage.customer), joinedload(OutboundMessage.batch))
        .order_by(OutboundMessage.batch_id, OutboundMessage.id).limit(PER_PAGE)).all()
    left = db.session.scalar(select(func.count()).select_from(
        _mine(store, staff_id).where(OutboundMessage.status == "queued").subquery()))
    done_today = db.session.scalar(select(func.count()).select_from(
        _mine(store, staff_id).where(OutboundMessage.status == "sent",
                                     OutboundMessage.sent_at >= _day_start(store)).subquery()))
    quiet = messaging.in_quiet_hours(store)
    rows = []
    for m in waiting:
        c = m.customer
        visible = can_see_phone(current_user, c) and c.deleted_at is None
        sms = None
        if visible and m.batch.channel == "sms" and can_text(c.phone) and not quiet:
            sms = scripts.sms_link(c.phone, quote(m.body, safe=""))
        rows.append({"m": m, "customer": c, "sms": sms,
                     "phone": (national(c.phone) if visible else masked_phone(c.phone))
                     if c.phone else None,
                     "wechat": m.batch.channel == "wechat"})
    return render_template("calls/outbox.html", rows=rows, left=left, done_today=done_today,
                           quiet=quiet, others=others, staff_id=staff_id,
                           resume=messaging.QUIET_END)


def _day_start(store):
    from datetime import datetime, time

    return datetime.combine(store.today(), time.min, tzinfo=store.tz)


def _message(store, message_id):
    message = db.session.scalar(select(OutboundMessage).where(
        OutboundMessage.id == message_id, OutboundMessage.store_id == store.id))
    if message is None or not (message.staff_id == current_user.id or current_user.is_manager):
        abort(404)
    return message


def _back(message):
    staff = request.form.get("staff")
    if current_user.is_manager and staff and staff.isdigit():
        return redirect(url_for("calls.outbox", staff=staff))
    return redirect(url_for("calls.outbox"))


@bp.route("/outbox/<int:message_id>/sent", methods=["POST"])
@login_required
def outbox_sent(message_id):
    """She sent it from her phone: the message is sent and an SMS contact is logged (once).
    Accepted at any hour, quiet hours too: marking records what she did (she may have sent it
    before 21:00 and be marking it late); quiet hours only take away the SMS-app link."""
    store = current_store()
    message = _message(store, message_id)
    if message.status == "sent":
        return _back(message)
    if message.status != "queued":
        abort(409)
    batch = db.session.get(MessageBatch, message.batch_id)
    now = utcnow()
    message.status, message.sent_at = "sent", now
    message.attempts = (message.attempts or 0) + 1
    batch.sent = (batch.sent or 0) + 1
    channel = "sms" if batch.channel == "sms" else "wechat_text"
    try:
        contact, _created = log_contact(current_user, store, ContactInput(
            customer_id=message.customer_id, channel=channel, outcome="reached",
            client_id=client_id_for(message),
            notes=_("Bulk message #%(id)d", id=batch.id), contacted_at=now))
    except LookupError:
        db.session.rollback()
        flash(_("This customer is no longer yours: ask your manager."), "error")
        return _back(message)
    except ServiceError:
        db.session.rollback()
        flash(_("Could not log it; try again."), "error")
        return _back(message)
    message = db.session.get(OutboundMessage, message_id)
    message.contact_id = contact.id
    if message.status != "sent":  # the contact was there already (a replay)
        message.status, message.sent_at = "sent", now
    db.session.commit()
    flash(_("Marked sent."), "success")
    return _back(message)


@bp.route("/outbox/<int:message_id>/skip", methods=["POST"])
@login_required
def outbox_skip(message_id):
    """Not sent (she knows better: a wrong number, a bad moment); nothing is logged."""
    store = current_store()
    message = _message(store, message_id)
    if message.status == "queued":
        message.status = "skipped"
        message.last_error = "skipped by staff"
        db.session.commit()
    return _back(message)
