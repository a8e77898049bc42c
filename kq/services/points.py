"""The points ledger (SPEC §8): earned on visits (kq.services.visits), redeemed here.

1 point pays 1 CNY of a service; a product may be paid at most half in points. The balance on
the customer is changed by a guarded UPDATE, so it never goes negative, and every change is a
ledger entry that says why.
"""
from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from kq.extensions import db
from kq.models import Customer, PointsEntry
from kq.services import ServiceError
from kq.services.customers import live_customer

REDEEM_KINDS = ("redeem_service", "redeem_product")
MAX_POINTS = 1_000_000



def max_points(kind, price_fen):
    """The most points that may pay for an item of this price."""
    if kind == "redeem_service":
        return price_fen // 100
    return price_fen // 200  # at most half a product's price


def _change_balance(customer, points):
    """Add `points` (signed) to the balance unless it would fall below zero."""
    result = db.session.execute(
        update(Customer).where(Customer.id == customer.id,
                               Customer.points_balance + points >= 0)
        .values(points_balance=Customer.points_balance + points)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def redeem(store, *, customer_id, kind, points, price_fen, item, by, note=None):
    customer = live_customer(store, customer_id)
    item, note = (item or "").strip(), (note or "").strip() or None
    errors = {}
    if kind not in REDEEM_KINDS:
        errors["kind"] = _l("Choose a service or a product.")
    if not item or len(item) > 60:
        errors["item"] = _l("Name the service or product (at most 60 characters).")
    if price_fen is None or not 0 < price_fen <= 10_000_000:
        errors["price"] = _l("Enter the price, more than 0 and at most 100,000.")
    if not isinstance(points, int) or not 0 < points <= MAX_POINTS:
        errors["points"] = _l("Enter a whole number of points, more than 0.")
    elif not errors and points > max_points(kind, price_fen):
        if kind == "redeem_product":
            errors["points"] = _l("A product may be paid at most half in points: at most "
                                  "%(n)d points here.", n=max_points(kind, price_fen))
        else:
            errors["points"] = _l("1 point pays 1 CNY: at most %(n)d points for this price.",
                                  n=max_points(kind, price_fen))
    if note and len(note) > 200:
        errors["note"] = _l("At most 200 characters.")
    if not errors and points > customer.points_balance:
        errors["points"] = _l("She has only %(n)d points.", n=customer.points_balance)
    if errors:
        raise ServiceError(errors, code="invalid")
    if not _change_balance(customer, -points):
        db.session.rollback()
        raise ServiceError({"points": _l("She no longer has that many points.")},
                           code="insufficient")
    entry = PointsEntry(store_id=store.id, customer_id=customer.id, points=-points, reason=kind,
                        staff_id=by.id, price_fen=price_fen,
                        note=f"{item} · {note}" if note else item)
    db.session.add(entry)
    db.session.commit()
    db.session.refresh(customer)
    return entry


def adjust(store, *, customer_id, points, note, by):
    """A manager's correction, either sign, always with a reason; never below zero."""
    customer = live_customer(store, customer_id)
    note = (note or "").strip()
    errors = {}
    if not isinstance(points, int) or points == 0 or abs(points) > MAX_POINTS:
        errors["points"] = _l("Enter a whole number of points other than 0.")
    if not note or len(note) > 200:
        errors["note"] = _l("Say why, in at most 200 characters.")
    if errors:
        raise ServiceError(errors, code="invalid")
    if not _change_balance(customer, points):
        db.session.rollback()
        raise ServiceError({"points": _l("She has only %(n)d points.",
                                         n=customer.points_balance)}, code="insufficient")
    entry = PointsEntry(store_id=store.id, customer_id=customer.id, points=points,
                        reason="adjust", staff_id=by.id, note=note)
    db.session.add(entry)
    db.session.commit()
    db.session.refresh(customer)
    return entry
