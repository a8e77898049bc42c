"""Classifications of SPEC §2 that are computed: key vs general, and visit-frequency bands.

Key: a weighted score (0–100) over total spend, visit count, referrals, age and purchasing
power; the top key_share_pct (40%) of the store's customers by score are key; the store rule
(an open, unexpired prepaid card with sessions or balance left, or more than key_spend_fen
spent) always makes key; a manual override wins over both. Bands count visits in the last
band_window_days (90).
"""
import math
from datetime import timedelta

from sqlalchemy import func, select, update

from kq.extensions import db
from kq.models import Customer, PrepaidCard, Store, Visit
from kq.services.checklist import midnight

# Weights of the score; each part is scaled to 0..1 first.
WEIGHTS = {"spend": 40, "visits": 25, "referrals": 15, "age": 10, "power": 10}
SPEND_FULL_FEN = 1_000_000  # 10,000 CNY spent counts as full marks
VISITS_FULL = 24
REFERRALS_FULL = 3


def _age_part(age):
    if age is None:
        return 0.5
    if 30 <= age <= 50:
        return 1.0
    if 25 <= age < 30 or 50 < age <= 60:
        return 0.6
    return 0.3


def score(total_spent_fen, visit_count, referral_count, age, purchasing_power):
    parts = {
        "spend": min(total_spent_fen / SPEND_FULL_FEN, 1.0),
        "visits": min(visit_count / VISITS_FULL, 1.0),
        "referrals": min(referral_count / REFERRALS_FULL, 1.0),
        "age": _age_part(age),
        "power": (purchasing_power or 3) / 5,
    }
    return round(sum(WEIGHTS[k] * v for k, v in parts.items()))


def band(visits_in_window, store):
    if visits_in_window >= store.band_high_visits:
        return "high"
    if visits_in_window >= store.band_medium_visits:
        return "medium"
    return "low" if visits_in_window > 0 else "none"


def decide_key(customer_score, threshold, has_card, total_spent_fen, override, store):
    """(is_key, reason) — reason is None for a general customer."""
    if override is not None:
        return bool(override), "override"
    if has_card:
        return True, "card"
    if total_spent_fen > store.key_spend_fen:
        return True, "spend"
    if threshold is not None and customer_score >= threshold:
        return True, "score"
    return False, None


def _card_holders(store, customer_ids=None):
    today = store.today()
    query = (select(PrepaidCard.customer_id).distinct()
             .where(PrepaidCard.store_id == store.id, PrepaidCard.status == "open",
                    (PrepaidCard.expires_on.is_(None)) | (PrepaidCard.expires_on >= today),
                    (PrepaidCard.sessions_used < PrepaidCard.sessions_total)
                    | (PrepaidCard.balance_fen > 0)))
    if customer_ids is not None:
        query = query.where(PrepaidCard.customer_id.in_(customer_ids))
    return set(db.session.scalars(query))


def _visits_in_window(store, customer_ids=None):
    since = midnight(store, store.today() - timedelta(days=store.band_window_days - 1))
    query = (select(Visit.customer_id, func.count())
             .where(Visit.store_id == store.id, Visit.visited_at >= since)
             .group_by(Visit.customer_id))
    if customer_ids is not None:
        query = query.where(Visit.customer_id.in_(customer_ids))
    return dict(db.session.execute(query).all())


def _referrals(store, customer_ids=None):
    query = (select(Customer.referred_by_id, func.count())
             .where(Customer.store_id == store.id, Customer.referred_by_id.is_not(None),
                    Customer.deleted_at.is_(None))
             .group_by(Customer.referred_by_id))
    if customer_ids is not None:
        query = query.where(Customer.referred_by_id.in_(customer_ids))
    return dict(db.session.execute(query).all())


def recompute_store(store, *, commit=True):
    """Score every customer of the store, set the key threshold, key flags and bands."""
    rows = db.session.execute(
        select(Customer.id, Customer.total_spent_fen, Customer.visit_count, Customer.approx_age,
               Customer.purchasing_power, Customer.key_override)
        .where(Customer.store_id == store.id, Customer.deleted_at.is_(None))).all()
    cards, visits, referrals = _card_holders(store), _visits_in_window(store), _referrals(store)
    scores = {r.id: score(r.total_spent_fen, r.visit_count, referrals.get(r.id, 0),
                          r.approx_age, r.purchasing_power) for r in rows}
    ranked = sorted(scores.values(), reverse=True)
    cut = math.ceil(len(ranked) * store.key_share_pct / 100)
    threshold = ranked[cut - 1] if cut else None
    store.key_score_threshold = threshold
    updates = []
    for r in rows:
        is_key, reason = decide_key(scores[r.id], threshold, r.id in cards, r.total_spent_fen,
                                    r.key_override, store)
        updates.append({"id": r.id, "key_score": scores[r.id], "is_key": is_key,
                        "key_reason": reason, "referral_count": referrals.get(r.id, 0),
                        "visit_band": band(visits.get(r.id, 0), store)})
    if updates:
        db.session.execute(update(Customer), updates)
    if commit:
        db.session.commit()
    return {"customers": len(rows), "key": sum(1 for u in updates if u["is_key"]),
            "threshold": threshold}


def recompute_customer(customer):
    """After a visit or an edit: her score, key flag and band against the store's threshold."""
    store = customer.store
    referrals = _referrals(store, [customer.id]).get(customer.id, 0)
    customer.referral_count = referrals
    customer.key_score = score(customer.total_spent_fen, customer.visit_count, referrals,
                               customer.approx_age, customer.purchasing_power)
    has_card = customer.id in _card_holders(store, [customer.id])
    customer.is_key, customer.key_reason = decide_key(
        customer.key_score, store.key_score_threshold, has_card, customer.total_spent_fen,
        customer.key_override, store)
    customer.visit_band = band(_visits_in_window(store, [customer.id]).get(customer.id, 0), store)


def recompute_all(store_id=None):
    query = select(Store).order_by(Store.id)
    if store_id is not None:
        query = query.where(Store.id == store_id)
    return {store.id: recompute_store(store) for store in db.session.scalars(query).all()}
