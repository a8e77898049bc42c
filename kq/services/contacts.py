"""Logging a contact (SPEC §4): one transaction that stores the contact once per client id,
closes the staff member's open items for that customer, resets the quiet clock, plans the
follow-up, and honours "asked not to be contacted"."""
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kq.extensions import db
from kq.models import Contact, Customer, Task, utcnow
from kq.models.contact import CHANNELS, DONE, OPEN, OUTCOMES
from kq.services import ServiceError
from kq.services.checklist import insert_ignoring_duplicates

MAX_NOTE = 1000
MAX_SUGGESTION = 500
# An offline phone may replay an entry logged days ago; older or future times are not trusted.
REPLAY_WINDOW = timedelta(days=14)


@dataclass
class ContactInput:
    customer_id: int
    channel: str
    outcome: str
    client_id: str | None = None
    task_id: int | None = None
    satisfaction: int | None = None
    suggestions: str | None = None
    notes: str | None = None
    next_follow_up_on: date | None = None
    contacted_at: datetime | None = None


def can_contact(user, customer):
    """Beauticians log for their own customers; managers and owners for any in the store."""
    return user.is_manager or customer.assigned_staff_id == user.id


def find_replay(store_id, client_id):
    return db.session.scalar(select(Contact).where(Contact.store_id == store_id,
                                                   Contact.client_id == client_id))


def _validate(data, store, today):
    errors = {}
    if data.channel not in CHANNELS:
        errors["channel"] = "channel"
    if data.outcome not in OUTCOMES:
        errors["outcome"] = "outcome"
    if data.satisfaction is not None and not 1 <= data.satisfaction <= 5:
        errors["satisfaction"] = "satisfaction"
    if data.notes and len(data.notes) > MAX_NOTE:
        errors["notes"] = "too_long"
    if data.suggestions and len(data.suggestions) > MAX_SUGGESTION:
        errors["suggestions"] = "too_long"
    if data.next_follow_up_on is not None:
        if data.next_follow_up_on <= today:
            errors["next_follow_up_on"] = "follow_up_past"
        elif data.next_follow_up_on > today + timedelta(days=366):
            errors["next_follow_up_on"] = "follow_up_far"
    if data.client_id is not None:
        try:
            uuid.UUID(str(data.client_id))
        except ValueError:
            errors["client_id"] = "client_id"
    return errors


def log_contact(user, store, data: ContactInput):
    """Returns (contact, created). Raises LookupError (→ 404) or ServiceError (→ 422)."""
    client_id = str(data.client_id or uuid.uuid4())
    existing = find_replay(store.id, client_id)
    if existing is not None:
        return existing, False
    customer = db.session.scalar(select(Customer).where(
        Customer.id == data.customer_id, Customer.store_id == store.id,
        Customer.deleted_at.is_(None)))
    if customer is None or not can_contact(user, customer):
        raise LookupError("customer")
    task = None
    if data.task_id is not None:
        task = db.session.scalar(select(Task).where(
            Task.id == data.task_id, Task.store_id == store.id, Task.staff_id == user.id,
            Task.customer_id == customer.id))
        if task is None:
            raise LookupError("task")
    today = store.today()
    errors = _validate(data, store, today)
    if errors:
        raise ServiceError(errors)
    now = utcnow()
    moment = data.contacted_at
    if moment is None or moment.tzinfo is None or not now - REPLAY_WINDOW <= moment <= now + timedelta(minutes=5):
        moment = now
    contact = Contact(store_id=store.id, customer_id=customer.id, staff_id=user.id,
                      task_id=task.id if task else None, client_id=client_id,
                      channel=data.channel, outcome=data.outcome,
                      satisfaction=data.satisfaction, suggestions=data.suggestions or None,
                      notes=data.notes or None, next_follow_up_on=data.next_follow_up_on,
                      contacted_at=moment)
    db.session.add(contact)
    if customer.last_contact_at is None or moment > customer.last_contact_at:
        customer.last_contact_at = moment
    # One call answers every open item she had for this customer up to today.
    open_items = select(Task).where(Task.store_id == store.id, Task.customer_id == customer.id,
                                    Task.status == OPEN, Task.due_on <= today)
    if data.outcome != "do_not_contact":
        open_items = open_items.where(Task.staff_id == user.id)
    else:
        customer.do_not_contact = True
        customer.do_not_contact_reason = "asked"
    for item in db.session.scalars(open_items):
        item.status, item.done_at = DONE, now
    if data.next_follow_up_on is not None and data.outcome != "do_not_contact":
        db.session.flush()
        insert_ignoring_duplicates(Task, [{
            "store_id": store.id, "staff_id": customer.assigned_staff_id or user.id,
            "customer_id": customer.id, "kind": "follow_up", "due_on": data.next_follow_up_on,
            "status": OPEN, "detail": {"contact_id": contact.id}}],
            ("staff_id", "customer_id", "kind", "due_on"))
    try:
        db.session.commit()
    except IntegrityError:
        # The same client id arrived twice at once: the other request stored it first.
        db.session.rollback()
        existing = find_replay(store.id, client_id)
        if existing is None:
            raise
        return existing, False
    return contact, True
