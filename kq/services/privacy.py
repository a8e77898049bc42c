"""Personal information (PIPL, SPEC §10): marketing consent, who may be messaged, the
access-request export of one customer, delete-by-anonymising, and how long contact notes
are kept."""
import calendar
import re
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, exists, select, update

from kq.extensions import db
from kq.models import (Assignment, AuditEvent, CardMove, CareNote, Complaint, ComplaintStep,
                       Contact, Customer, CustomerSearchKey, CustomerTag, Gift, GiftHandout,
                       LedgerEntry, OutboundMessage, PointsEntry, PrepaidCard, Promise, Store,
                       Task, User, Visit, utcnow)
from kq.services import ServiceError
from kq.services.audit import audit

# How consent was given; stored as the key.
CONSENT_SOURCES = {
    "in_store_paper": _l("In store, on paper"),
    "verbal": _l("Verbally (in store or by phone)"),
    "wechat": _l("By WeChat"),
    "online_form": _l("Online form"),
    "imported": _l("Imported from an earlier record"),
}
CONSENT_ACTIONS = ("consent_given", "consent_withdrawn")
DELETED_NAME = "已删除顾客 #{id}"
_DELETED_NAME = re.compile(r"已删除顾客 #(\d+)")


def display_name(name):
    """A name as shown: the stored placeholder of a deleted customer in the reader's language
    ("Deleted customer #7" in English); any other name unchanged."""
    found = _DELETED_NAME.fullmatch(name or "")
    if found is None:
        return name
    return _l("Deleted customer #%(id)s", id=found.group(1))
# Everything on the card that says who she is or what she is like; amounts, visit counts and
# the classification the books need stay.
PERSONAL_COLUMNS = (
    "surname", "title", "gender", "phone", "wechat_id", "birth_month", "birth_day",
    "birth_year", "approx_age", "address", "email", "skin_type", "source", "referred_by_id",
    "occupation", "family", "personality_type", "buying_psychology", "spending_habits",
    "style_preferences", "hobbies", "lifestyle", "service_preference", "promotion_attitude",
    "personal_values", "notes", "tier", "purchasing_power", "key_override_reason",
    "do_not_contact_reason", "churn_reason", "reactivation_category", "consent_source")


def may_market(customer) -> bool:
    """Whether bulk and campaign messages may go to her now: consent given and not withdrawn,
    not do-not-contact, not deleted. One-to-one service contacts do not ask this."""
    return bool(customer.marketing_consent and not customer.do_not_contact
                and customer.deleted_at is None)


def marketable_clause():
    """may_market() as a SQL condition on Customer, for segment queries."""
    return and_(Customer.marketing_consent.is_(True), Customer.do_not_contact.is_(False),
                Customer.deleted_at.is_(None))


def set_consent(customer, given, source=None, *, at=None, user=None):
    """Record her choice on the card (no commit: part of the caller's one transaction).
    Giving consent needs a source; a change is an audit event, so the history is kept.
    Returns the action recorded, or None when nothing changed."""
    given = bool(given)
    if given and source not in CONSENT_SOURCES:
        raise ServiceError(_l("Say how she gave her consent."), field="consent_source",
                           code="consent_source")
    unchanged_source = not given or source == customer.consent_source
    if given == bool(customer.marketing_consent) and unchanged_source:
        return None
    at = at or utcnow()
    if given:
        customer.marketing_consent = True
        customer.consent_at = at
        customer.consent_source = source  # an earlier withdrawal date stays: it is history
        action = "consent_given"
    elif customer.marketing_consent:
        customer.marketing_consent = False
        customer.consent_withdrawn_at = at
        action = "consent_withdrawn"
    else:
        return None
    if customer.id is None:
        db.session.add(customer)
        db.session.flush()
    audit(action, target=customer, user=user, detail={"source": source} if given else None)
    return action


def consent_history(customer):
    """Her consent events, oldest first: [(when, action, source, who)]."""
    rows = db.session.execute(
        select(AuditEvent, User.display_name).outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.target_type == "customer", AuditEvent.target_id == customer.id,
               AuditEvent.store_id == customer.store_id,
               AuditEvent.action.in_(CONSENT_ACTIONS))
        .order_by(AuditEvent.created_at, AuditEvent.id)).all()
    return [(e.created_at, e.action, (e.detail or {}).get("source"), who) for e, who in rows]


# ---- access-request export --------------------------------------------------------------

def _value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _row(obj, names, skip=("store_id", "customer_id")):
    row = {}
    for column in obj.__table__.columns:
        if column.key in skip:
            continue
        row[column.key] = _value(getattr(obj, column.key))
        if column.key.endswith("_id") and column.foreign_keys and \
                next(iter(column.foreign_keys)).column.table.name == "users":
            row[column.key[:-3] + "_name"] = names.get(getattr(obj, column.key))
    return row


def _all(model, customer, order):
    return db.session.scalars(select(model).where(model.customer_id == customer.id,
                                                  model.store_id == customer.store_id)
                              .order_by(*order)).all()


def collect(customer):
    """Everything the store holds about her, as plain data (JSON-ready), by section."""
    names = dict(db.session.execute(select(User.id, User.display_name).where(
        User.store_id == customer.store_id)).all())
    names.update(db.session.execute(select(User.id, User.display_name).where(
        User.role == "owner")).all())
    profile = _row(customer, names, skip=("store_id",))
    store = db.session.get(Store, customer.store_id)
    profile["status"] = customer.status(store)
    complaints = []
    for complaint in _all(Complaint, customer, (Complaint.received_at, Complaint.id)):
        row = _row(complaint, names)
        row["steps"] = [_row(s, names, skip=("complaint_id",)) for s in complaint.steps]
        complaints.append(row)
    gifts = []
    for handout, gift_name in db.session.execute(
            select(GiftHandout, Gift.name).join(Gift, Gift.id == GiftHandout.gift_id)
            .where(GiftHandout.customer_id == customer.id,
                   GiftHandout.store_id == customer.store_id).order_by(GiftHandout.id)):
        gifts.append({"gift": gift_name, **_row(handout, names)})
    return {
        "store": store.name,
        "customer": profile,
        "tags": list(db.session.scalars(select(CustomerTag.name).where(
            CustomerTag.customer_id == customer.id).order_by(CustomerTag.id))),
        "consent_history": [{"at": _value(at), "action": action, "source": source, "by": who}
                            for at, action, source, who in consent_history(customer)],
        "visits": [_row(v, names) for v in _all(Visit, customer, (Visit.visited_at, Visit.id))],
        "care_notes": [_row(n, names) for n in _all(CareNote, customer,
                                                    (CareNote.created_at, CareNote.id))],
        "contacts": [_row(c, names, skip=("store_id", "customer_id", "client_id"))
                     for c in _all(Contact, customer, (Contact.contacted_at, Contact.id))],
        "promises": [_row(p, names) for p in _all(Promise, customer,
                                                  (Promise.due_on, Promise.id))],
        "complaints": complaints,
        "gifts": gifts,
        "points": [_row(p, names) for p in _all(PointsEntry, customer,
                                                (PointsEntry.created_at, PointsEntry.id))],
        "prepaid_cards": [_row(c, names) for c in _all(PrepaidCard, customer, (PrepaidCard.id,))],
        "card_moves": [_row(m, names) for m in _all(CardMove, customer,
                                                    (CardMove.created_at, CardMove.id))],
        "assignments": [_row(a, names) for a in _all(Assignment, customer,
                                                     (Assignment.assigned_at, Assignment.id))],
        "ledger": [_row(e, names) for e in _all(LedgerEntry, customer,
                                                (LedgerEntry.occurred_on, LedgerEntry.id))],
        "messages": [_row(m, names) for m in _all(
            OutboundMessage, customer, (OutboundMessage.created_at, OutboundMessage.id))],
    }


def record_export(customer, fmt, *, user=None):
    """The audit event of one access-request export (no commit)."""
    return audit("export_customer", target=customer, user=user, detail={"format": fmt})


# ---- delete = anonymise ------------------------------------------------------------------

def anonymise(customer, *, by):
    """Delete her as a person: every personal field and free text about her goes; amounts,
    visits, cards, points and ledger rows stay for the books, under "已删除顾客 #id". One
    transaction, committed here; audited. Raises ServiceError if she is already deleted."""
    if customer.deleted_at is not None:
        raise ServiceError(_l("This customer has already been deleted."), code="deleted")
    now = utcnow()
    had_consent = bool(customer.marketing_consent)
    customer.name = customer.greeting_name = DELETED_NAME.format(id=customer.id)
    for name in PERSONAL_COLUMNS:
        setattr(customer, name, None)
    customer.key_override = None
    customer.marketing_consent = False
    if had_consent:
        customer.consent_withdrawn_at = now
    customer.do_not_contact = True
    customer.deleted_at = now
    cid, sid = customer.id, customer.store_id
    mine = lambda model: and_(model.customer_id == cid, model.store_id == sid)  # noqa: E731
    db.session.execute(delete(CustomerTag).where(CustomerTag.customer_id == cid))
    db.session.execute(delete(CustomerSearchKey).where(CustomerSearchKey.customer_id == cid))
    db.session.execute(update(CareNote).where(mine(CareNote)).values(
        service_done="", skin_condition="", feedback=""))
    db.session.execute(update(Contact).where(mine(Contact)).values(notes=None, suggestions=None))
    db.session.execute(update(Promise).where(mine(Promise)).values(what="", note=None))
    # An open complaint has no next step due any more; a gift held for her goes back.
    db.session.execute(update(Complaint).where(mine(Complaint)).values(summary="",
                                                                       next_step_due_on=None))
    held = db.session.execute(select(GiftHandout.id, GiftHandout.gift_id).where(
        mine(GiftHandout), GiftHandout.status == "reserved")).all()
    for handout_id, gift_id in held:
        if db.session.execute(update(GiftHandout).where(
                GiftHandout.id == handout_id, GiftHandout.status == "reserved")
                .values(status="cancelled", cancelled_at=now)).rowcount:
            db.session.execute(update(Gift).where(Gift.id == gift_id, Gift.reserved >= 1)
                               .values(reserved=Gift.reserved - 1))
    db.session.execute(update(ComplaintStep).where(ComplaintStep.complaint_id.in_(
        select(Complaint.id).where(mine(Complaint)))).values(note=None))
    # A bulk message rendered for her carries her name: its text goes, and one not yet sent
    # never will be.
    db.session.execute(update(OutboundMessage).where(
        mine(OutboundMessage), OutboundMessage.status == "queued").values(status="skipped"))
    db.session.execute(update(OutboundMessage).where(mine(OutboundMessage)).values(body=""))
    for model in (GiftHandout, PrepaidCard, CardMove, PointsEntry):
        db.session.execute(update(model).where(mine(model)).values(note=None))
    # Off every checklist: open items go (unless a logged contact points at one), and what
    # the rest carried (a birthday, a promise's words) is dropped.
    db.session.execute(delete(Task).where(
        mine(Task), Task.status == "open", ~exists().where(Contact.task_id == Task.id)))
    db.session.execute(update(Task).where(mine(Task)).values(detail=None, status="done"))
    db.session.execute(update(Customer).where(Customer.referred_by_id == cid,
                                              Customer.store_id == sid)
                       .values(referred_by_id=None))
    audit("delete_customer", target=customer, user=by, detail={"had_consent": had_consent})
    db.session.commit()
    return customer


# ---- retention of contact notes ----------------------------------------------------------

def months_before(day, months):
    """The same day `months` calendar months earlier (31 March - 1 month → 28/29 February)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def retention_cut(store, today=None):
    """The instant before which contact notes are blanked: local midnight starting the day
    `contact_notes_months` months ago; None when the store keeps them forever (0)."""
    months = store.contact_notes_months or 0
    if months <= 0:
        return None
    first_kept = months_before(today or store.today(), months)
    return datetime.combine(first_kept, datetime.min.time(), tzinfo=store.tz)


def blank_old_contact_notes(store, today=None):
    """Blank the free text of contacts older than the store keeps it. Returns how many."""
    cut = retention_cut(store, today)
    if cut is None:
        return 0
    has_text = (Contact.notes.is_not(None)) | (Contact.suggestions.is_not(None))
    result = db.session.execute(
        update(Contact).where(Contact.store_id == store.id, Contact.contacted_at < cut, has_text)
        .values(notes=None, suggestions=None).execution_options(synchronize_session=False))
    return result.rowcount or 0

