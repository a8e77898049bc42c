"""Logging a contact (SPEC §4): one transaction that stores the contact once per client id,
closes the staff member's open items for that customer, resets the quiet clock, plans the
follow-up, and honours "asked not to be contacted"."""
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from kq import policy
from kq.extensions import db
from kq.models import Contact, Customer, Task, utcnow
from kq.models.contact import CHANNELS, DONE, OPEN, OUTCOMES
from kq.services import ServiceError
from kq.services.checklist import insert_ignoring_duplicates

MAX_NOTE = 1000
MAX_SUGGESTION = 500
# An offline phone may replay an entry logged days ago; older or future times are not trusted.
REPLAY_WINDOW = timedelta(days=14)
MAX_ID = 2 ** 31 - 1  # ids are 32-bit integer columns: anything larger names no row
# A satisfaction and her suggestions come from a customer she spoke with. With any other
# outcome they are dropped, not refused: an entry an older page queued offline is still
# stored (the attempt is the fact), without a rating nobody gave.
RATED_OUTCOMES = ("reached", "booked")


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
    """Beauticians log for their own customers; managers and owners for any in the store
    (kq/policy decides, as for every route)."""
    return policy.can(user, policy.LOG_CONTACT, customer)


def valid_client_id(value):
    """The client id as sent, when it is a UUID (the phone's crypto.randomUUID()); else None.
    Kept as sent, not re-spelt: a replay must find exactly what the first send stored."""
    if not isinstance(value, str) or len(value) > 36:
        return None
    try:
        uuid.UUID(value)
    except ValueError:
        return None
    return value


def find_replay(store_id, client_id):
    """The contact stored under this client id, if any. Anything that is not a UUID was never
    accepted as one, so it is not looked up (a NUL or a lone surrogate would not even bind)."""
    client_id = valid_client_id(client_id) if client_id is not None else None
    if client_id is None:
        return None
    return db.session.scalar(select(Contact).where(Contact.store_id == store_id,
                                                   Contact.client_id == client_id))


def storable_text(value):
    """Text a database can keep: no NUL (PostgreSQL refuses it), no lone surrogate (not UTF-8)."""
    if value is None:
        return True
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def valid_id(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _check_form(data):
    """What can be checked without the database or the date: a stored entry always passes."""
    errors = {}
    for name in ("customer_id", "task_id"):
        value = getattr(data, name)
        if (value is not None or name == "customer_id") and not valid_id(value):
            errors[name] = "id"
    for name in ("client_id", "channel", "outcome", "notes", "suggestions"):
        if not storable_text(getattr(data, name)):
            errors[name] = "text"
    if data.channel not in CHANNELS:
        errors.setdefault("channel", "channel")
    if data.outcome not in OUTCOMES:
        errors.setdefault("outcome", "outcome")
    if data.satisfaction is not None and not (
            isinstance(data.satisfaction, int) and 1 <= data.satisfaction <= 5):
        errors["satisfaction"] = "satisfaction"
    if data.notes and len(data.notes) > MAX_NOTE:
        errors.setdefault("notes", "too_long")
    if data.suggestions and len(data.suggestions) > MAX_SUGGESTION:
        errors.setdefault("suggestions", "too_long")
    if data.client_id is not None and "client_id" not in errors \
            and valid_client_id(data.client_id) is None:
        errors["client_id"] = "client_id"
    return errors


def _check_dates(data, today):
    errors = {}
    if data.next_follow_up_on is not None:
        if data.next_follow_up_on <= today:
            errors["next_follow_up_on"] = "follow_up_past"
        elif data.next_follow_up_on > today + timedelta(days=366):
            errors["next_follow_up_on"] = "follow_up_far"
    return errors


def _claim(row):
    """INSERT … ON CONFLICT (store, client id) DO NOTHING: the new contact's id, or None when
    the client id is already stored. On PostgreSQL a second sender waits here for the first
    one's transaction and then finds the row; on SQLite BEGIN IMMEDIATE already serialises."""
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (insert(Contact).values(**row)
                 .on_conflict_do_nothing(index_elements=["store_id", "client_id"])
                 .returning(Contact.id))
    return db.session.execute(statement).scalar()


def log_contact(user, store, data: ContactInput):
    """Returns (contact, created): created is False for a client id stored before, however the
    two sends interleave. Raises LookupError (→ 404) or ServiceError (→ 422); nothing is
    written then."""
    errors = _check_form(data)
    if errors:
        raise ServiceError(errors)
    client_id = valid_client_id(data.client_id) if data.client_id else str(uuid.uuid4())
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
    errors = _check_dates(data, today)
    if errors:
        raise ServiceError(errors)
    rated = data.outcome in RATED_OUTCOMES
    now = utcnow()
    moment = data.contacted_at
    if moment is None or moment.tzinfo is None or not now - REPLAY_WINDOW <= moment <= now + timedelta(minutes=5):
        moment = now
    # The contact goes in first, before anything else is touched: the client id decides who
    # stores the entry, and the one who does not writes nothing else.
    contact_id = _claim({
        "store_id": store.id, "customer_id": customer.id, "staff_id": user.id,
        "task_id": task.id if task else None, "client_id": client_id,
        "channel": data.channel, "outcome": data.outcome,
        "satisfaction": data.satisfaction if rated else None,
        "suggestions": (data.suggestions or None) if rated else None, "notes": data.notes or None,
        "next_follow_up_on": data.next_follow_up_on, "contacted_at": moment,
        "created_at": now})
    if contact_id is None:
        db.session.rollback()
        winner = find_replay(store.id, client_id)
        if winner is None:  # cannot happen: a conflict means a committed row
            raise RuntimeError("client id conflict without a stored contact")
        return winner, False
    # The quiet clock only moves forward, also when two contacts of hers are logged at once.
    db.session.execute(
        update(Customer).where(Customer.id == customer.id,
                               or_(Customer.last_contact_at.is_(None),
                                   Customer.last_contact_at < moment))
        .values(last_contact_at=moment).execution_options(synchronize_session=False))
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
        insert_ignoring_duplicates(Task, [{
            "store_id": store.id, "staff_id": customer.assigned_staff_id or user.id,
            "customer_id": customer.id, "kind": "follow_up", "due_on": data.next_follow_up_on,
            "status": OPEN, "detail": {"contact_id": contact_id}}],
            ("staff_id", "customer_id", "kind", "due_on"))
    if customer.last_visit_at is not None and moment < customer.last_visit_at:
        from kq.services.ledger import after_contact

        after_contact(store, customer.id, moment)  # sent after the visit it led to
    db.session.commit()
    return db.session.get(Contact, contact_id), True
