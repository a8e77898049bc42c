"""Gift stock and handouts (SPEC §8).

Stock on hand and the number held for customers change only through guarded UPDATEs: the
WHERE clause states what must still be true (enough left, still reserved) and the row count
says whether it was. Two phones handing out the last gift at once therefore get one handout
and one "out of stock", never a negative stock, on SQLite and PostgreSQL alike.
"""
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from kq.extensions import db
from kq.models import Gift, GiftHandout, GiftStockMove, utcnow
from kq.models.engagement import STOCK_REASONS
from kq.services import ServiceError
from kq.services.customers import live_customer
from kq.services.checklist import close_items, put_item

MAX_QUANTITY = 100_000
MAX_FEN = 10_000_000  # 100,000 CNY
RESERVED, HANDED_OUT, CANCELLED = "reserved", "handed_out", "cancelled"


def _out_of_stock(gift):
    return ServiceError(_l("Out of stock: no %(gift)s left to give.", gift=gift.name),
                        field="gift_id", code="out_of_stock")


def _guarded(statement):
    """Run a guarded UPDATE; True when it changed the row."""
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    return result.rowcount == 1


def _gift(store, gift_id):
    """A gift of this store, else a refusal (a foreign gift looks like no gift)."""
    query = select(Gift).where(Gift.id == gift_id, Gift.store_id == store.id)
    gift = db.session.scalar(query)
    if gift is None:
        raise LookupError("gift")
    return gift


def _check_money_and_count(name, face_value_fen, unit_cost_fen, quantity):
    errors = {}
    if not name or len(name) > 60:
        errors["name"] = _l("Give the gift a name of at most 60 characters.")
    for field, value in (("face_value", face_value_fen), ("unit_cost", unit_cost_fen)):
        if value is None or not 0 <= value <= MAX_FEN:
            errors[field] = _l("Enter an amount between 0 and 100,000.")
    if quantity is not None and not 0 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = _l("Enter a quantity between 0 and 100,000.")
    return errors


def create_gift(store, *, name, face_value_fen, unit_cost_fen, quantity, by):
    name = (name or "").strip()
    errors = _check_money_and_count(name, face_value_fen, unit_cost_fen, quantity)
    if not errors and db.session.scalar(select(Gift.id).where(
            Gift.store_id == store.id, func.lower(Gift.name) == name.lower())):
        errors["name"] = _l("This store already has a gift of that name.")
    if errors:
        raise ServiceError(errors, code="invalid")
    gift = Gift(store_id=store.id, name=name, face_value_fen=face_value_fen,
                unit_cost_fen=unit_cost_fen, quantity=quantity, reserved=0)
    db.session.add(gift)
    db.session.flush()
    if quantity:
        db.session.add(GiftStockMove(store_id=store.id, gift_id=gift.id, change=quantity,
                                     quantity_after=quantity, reason="initial", staff_id=by.id))
    db.session.commit()
    return gift


def update_gift(gift, *, name, face_value_fen, unit_cost_fen, active):
    name = (name or "").strip()
    errors = _check_money_and_count(name, face_value_fen, unit_cost_fen, None)
    if not errors and db.session.scalar(select(Gift.id).where(
            Gift.store_id == gift.store_id, func.lower(Gift.name) == name.lower(),
            Gift.id != gift.id)):
        errors["name"] = _l("This store already has a gift of that name.")
    if errors:
        raise ServiceError(errors, code="invalid")
    gift.name, gift.face_value_fen, gift.unit_cost_fen = name, face_value_fen, unit_cost_fen
    gift.active = active
    db.session.commit()
    return gift


def move_stock(store, gift_id, *, change, reason, note, by):
    """A restock (positive) or an adjustment (either sign), recorded with who and why. Stock
    cannot fall below what is held for customers."""
    gift = _gift(store, gift_id)
    errors = {}
    if reason not in STOCK_REASONS or reason == "initial":
        errors["reason"] = _l("Choose why the stock changes.")
    if not isinstance(change, int) or change == 0 or abs(change) > MAX_QUANTITY:
        errors["change"] = _l("Enter how many come in (e.g. 20) or go out (e.g. -2), not 0.")
    elif reason == "restock" and change < 0:
        errors["change"] = _l("A restock adds stock: enter a positive number.")
    note = (note or "").strip()
    if reason != "restock" and not note:
        errors["note"] = _l("Say why the stock is adjusted.")
    if len(note) > 200:
        errors["note"] = _l("At most 200 characters.")
    if errors:
        raise ServiceError(errors, code="invalid")
    changed = _guarded(update(Gift).where(
        Gift.id == gift.id, Gift.quantity + change >= Gift.reserved,
        Gift.quantity + change <= MAX_QUANTITY).values(quantity=Gift.quantity + change))
    if not changed:
        db.session.rollback()
        raise ServiceError({"change": _l("Stock cannot go below the %(n)d held for customers.",
                                         n=gift.reserved)}, code="below_reserved")
    after = db.session.scalar(select(Gift.quantity).where(Gift.id == gift.id))
    db.session.add(GiftStockMove(store_id=store.id, gift_id=gift.id, change=change,
                                 quantity_after=after, reason=reason, note=note or None,
                                 staff_id=by.id))
    db.session.commit()
    db.session.refresh(gift)
    return gift



def _check_handout_fields(store, pickup_after, campaign, note):
    errors = {}
    today = store.today()
    if pickup_after is not None and not today - timedelta(days=1) < pickup_after <= \
            today + timedelta(days=366):
        errors["pickup_after"] = _l("Choose a pickup date from today to a year ahead.")
    if campaign and len(campaign) > 60:
        errors["campaign"] = _l("At most 60 characters.")
    if note and len(note) > 200:
        errors["note"] = _l("At most 200 characters.")
    if errors:
        raise ServiceError(errors, code="invalid")


def reserve(store, *, customer_id, gift_id, staff, by, pickup_after=None, campaign=None,
            note=None, commit=True, campaign_id=None):
    """Hold one gift for a customer. `staff` hands it out and sees it on her list once the
    pickup date has come (today, when there is none)."""
    customer = live_customer(store, customer_id)
    gift = _gift(store, gift_id)
    campaign, note = (campaign or "").strip() or None, (note or "").strip() or None
    _check_handout_fields(store, pickup_after, campaign, note)
    if not gift.active or not _guarded(update(Gift).where(
            Gift.id == gift.id, Gift.active.is_(True), Gift.quantity - Gift.reserved >= 1)
            .values(reserved=Gift.reserved + 1)):
        db.session.rollback()
        raise _out_of_stock(gift)
    handout = GiftHandout(store_id=store.id, gift_id=gift.id, customer_id=customer.id,
                          staff_id=staff.id, status=RESERVED, pickup_after=pickup_after,
                          campaign=campaign, campaign_id=campaign_id, note=note)
    db.session.add(handout)
    db.session.flush()
    today = store.today()
    if pickup_after is None or pickup_after <= today:
        put_item(store, staff.id, customer.id, "gift_pickup",
                 {"handout_id": handout.id, "gift": gift.name}, today)
    if commit:
        db.session.commit()
    return handout


def _handout(store, handout_id):
    handout = db.session.scalar(select(GiftHandout).where(
        GiftHandout.id == handout_id, GiftHandout.store_id == store.id))
    if handout is None:
        raise LookupError("handout")
    return handout


def hand_out(store, handout_id, *, by):
    """The customer collects a reserved gift: stock falls by one in the same transaction."""
    handout = _handout(store, handout_id)
    if handout.status != RESERVED:
        raise ServiceError(_l("This gift was already handed out or cancelled."),
                           code="not_reserved")
    now = utcnow()
    gift = handout.gift
    claimed = _guarded(update(GiftHandout).where(
        GiftHandout.id == handout.id, GiftHandout.status == RESERVED).values(
        status=HANDED_OUT, handed_out_at=now, handed_out_by_id=by.id,
        face_value_fen=gift.face_value_fen, unit_cost_fen=gift.unit_cost_fen))
    taken = claimed and _guarded(update(Gift).where(
        Gift.id == gift.id, Gift.quantity >= 1, Gift.reserved >= 1).values(
        quantity=Gift.quantity - 1, reserved=Gift.reserved - 1))
    if not taken:
        db.session.rollback()
        raise ServiceError(_l("This gift was already handed out or cancelled."),
                           code="not_reserved")
    close_items(store, handout.customer_id, "gift_pickup", "handout_id", handout.id)
    db.session.commit()
    db.session.refresh(handout)
    return handout


def hand_out_now(store, *, customer_id, gift_id, by, campaign=None, note=None):
    """A gift handed over on the spot, with no reservation: one guarded decrement."""
    customer = live_customer(store, customer_id)
    gift = _gift(store, gift_id)
    campaign, note = (campaign or "").strip() or None, (note or "").strip() or None
    _check_handout_fields(store, None, campaign, note)
    if not gift.active or not _guarded(update(Gift).where(
            Gift.id == gift.id, Gift.active.is_(True), Gift.quantity - Gift.reserved >= 1)
            .values(quantity=Gift.quantity - 1)):
        db.session.rollback()
        raise _out_of_stock(gift)
    handout = GiftHandout(store_id=store.id, gift_id=gift.id, customer_id=customer.id,
                          staff_id=by.id, status=HANDED_OUT, campaign=campaign, note=note,
                          handed_out_at=utcnow(), handed_out_by_id=by.id,
                          face_value_fen=gift.face_value_fen, unit_cost_fen=gift.unit_cost_fen)
    db.session.add(handout)
    db.session.commit()
    return handout


def cancel(store, handout_id, *, by):
    """Release a reservation: the gift goes back to the shelf, the list item goes away."""
    handout = _handout(store, handout_id)
    released = _guarded(update(GiftHandout).where(
        GiftHandout.id == handout.id, GiftHandout.status == RESERVED).values(
        status=CANCELLED, cancelled_at=utcnow()))
    if not released or not _guarded(update(Gift).where(
            Gift.id == handout.gift_id, Gift.reserved >= 1).values(reserved=Gift.reserved - 1)):
        db.session.rollback()
        raise ServiceError(_l("This gift was already handed out or cancelled."),
                           code="not_reserved")
    close_items(store, handout.customer_id, "gift_pickup", "handout_id", handout.id, drop=True)
    db.session.commit()
    db.session.refresh(handout)
    return handout


def totals(store, *, by="month", start=None, end=None):
    """Handed-out gifts: count, face value and cost per month (local) or per campaign."""
    from kq.services.checklist import midnight

    query = select(GiftHandout.handed_out_at, GiftHandout.campaign, GiftHandout.face_value_fen,
                   GiftHandout.unit_cost_fen).where(
        GiftHandout.store_id == store.id, GiftHandout.status == HANDED_OUT)
    if start is not None:
        query = query.where(GiftHandout.handed_out_at >= midnight(store, start))
    if end is not None:
        query = query.where(GiftHandout.handed_out_at < midnight(store, end + timedelta(days=1)))
    groups = {}
    for moment, campaign, value, cost in db.session.execute(query):
        key = store.local_date(moment).strftime("%Y-%m") if by == "month" else (campaign or "")
        row = groups.setdefault(key, {"key": key, "count": 0, "value_fen": 0, "cost_fen": 0})
        row["count"] += 1
        row["value_fen"] += value or 0
        row["cost_fen"] += cost or 0
    rows = sorted(groups.values(), key=lambda r: r["key"], reverse=(by == "month"))
    total = {"count": sum(r["count"] for r in rows), "value_fen": sum(r["value_fen"] for r in rows),
             "cost_fen": sum(r["cost_fen"] for r in rows)}
    return rows, total
