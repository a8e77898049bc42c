"""Turning a submitted contact form into a service call, for the page and for the API alike."""
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from kq import policy
from kq.extensions import db
from kq.models import Customer
from kq.services import ServiceError
from kq.services.contacts import (MAX_NOTE, MAX_SUGGESTION, ContactInput, find_replay,
                                  log_contact, valid_id)


class NotAssigned(Exception):
    """The customer is in her store but not hers to log for (SPEC §1): 403, for good."""


def service_messages(codes):
    """Field → message in the user's language for the service's refusal codes."""
    text = {
        "channel": _("Choose how you contacted her."),
        "outcome": _("Choose the outcome."),
        "satisfaction": _("Satisfaction is from 1 to 5."),
        "follow_up_past": _("The follow-up date must be after today."),
        "follow_up_far": _("The follow-up date must be within a year."),
        "client_id": _("This entry's id is not valid; log it again."),
        "id": _("This customer or item number is not valid."),
        "text": _("The text contains characters that cannot be saved; retype it."),
        "type": _("This value has the wrong type."),
    }
    messages = {}
    for field, code in codes.items():
        if code == "too_long":
            limit = MAX_NOTE if field == "notes" else MAX_SUGGESTION
            messages[field] = _("At most %(max)d characters.", max=limit)
        else:
            messages[field] = text.get(code, code)
    return messages


def _parse_moment(value):
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def submit(form, user, store):
    """Returns (contact, created) or raises NotAssigned (a customer of the store not hers, asked
    of the policy; a replay of an entry stored before passes), LookupError (no such customer
    or item here) or ServiceError(dict of messages)."""
    data = ContactInput(
        customer_id=form.customer_id.data, task_id=form.task_id.data,
        client_id=form.client_id.data or None, channel=form.channel.data,
        outcome=form.outcome.data, satisfaction=form.satisfaction.data,
        suggestions=(form.suggestions.data or "").strip() or None,
        notes=(form.notes.data or "").strip() or None,
        next_follow_up_on=form.next_follow_up_on.data,
        contacted_at=_parse_moment(form.contacted_at.data))
    if find_replay(store.id, data.client_id) is None and valid_id(data.customer_id):
        customer = db.session.scalar(select(Customer).where(
            Customer.id == data.customer_id, Customer.store_id == store.id))
        if customer is not None and policy.in_store(user, customer) and \
                not policy.can(user, policy.LOG_CONTACT, customer):
            raise NotAssigned()
    try:
        return log_contact(user, store, data)
    except ServiceError as error:
        raise ServiceError(service_messages(error.message)) from error
