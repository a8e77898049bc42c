"""Recording a visit: the single path for manual entry, import and the demo."""
from sqlalchemy import func, insert, select, update

from kq.extensions import db
from kq.models import Customer, PointsEntry, Visit
from kq.services import ServiceError
from kq.services.cards import use_card


def points_for(amount_fen, store):
    """Points at the store rate, 1 point per yuan: 6,000 CNY at 5% → 300 points."""
    return amount_fen * store.points_rate_bp // (100 * 10000)


def record_visit(customer, *, visited_at, staff=None, services="", amount_fen=0,
                 prepaid_card=None, recorded_by=None, commit=True, reclassify=True,
                 imported=False, visits_counted=1, ledger=None, card_amount_fen=None):
    """Add a visit and keep the customer's bookkeeping (last visit, count, spend, points),
    then re-classify her (key, band). Bulk loaders pass reclassify=False and run the store-wide
    classification once at the end; they also count the ledger themselves (ledger defaults
    to reclassify), while one visit entered by hand evaluates the spell it ends at once.

    An import passes imported=True: the row is her history from the old system (for an
    opening record, `visits_counted` visits summed into one), earns no points and never a
    reward (the ledger skips imported visits).

    With a prepaid card the visit uses one session of it, or, given card_amount_fen, takes
    that much of the visit's amount from the card's balance (kq.services.cards.use_card)."""
    if visited_at.tzinfo is None:
        raise ValueError("visited_at must be aware")
    if amount_fen < 0:
        raise ServiceError("amount", field="amount")
    store = customer.store
    visit = Visit(store_id=customer.store_id, customer_id=customer.id,
                  staff_id=staff.id if staff else None, visited_at=visited_at,
                  services=services, amount_fen=amount_fen,
                  recorded_by_id=recorded_by.id if recorded_by else None,
                  imported=imported, visits_counted=visits_counted)
    if prepaid_card is not None:
        if prepaid_card.customer_id != customer.id:
            raise ServiceError("card", field="prepaid_card")
        if card_amount_fen is not None and not 0 < card_amount_fen <= amount_fen:
            raise ServiceError("card_amount", field="prepaid_card")
    visit.points_earned = 0 if imported else points_for(amount_fen, store)
    db.session.add(visit)
    if prepaid_card is not None:
        # A refusal (no sessions, not enough balance, closed or expired) is a ServiceError
        # after the visit was flushed: the caller rolls back.
        visit.prepaid_card = prepaid_card
        db.session.flush()
        use_card(prepaid_card, sessions=0 if card_amount_fen else 1,
                 amount_fen=card_amount_fen or 0, visit=visit, by=recorded_by or staff,
                 commit=False)
    if customer.last_visit_at is None or visited_at > customer.last_visit_at:
        customer.last_visit_at = visited_at
    customer.visit_count += visits_counted
    customer.total_spent_fen += amount_fen
    if visit.points_earned:
        db.session.add(PointsEntry(store_id=customer.store_id, customer_id=customer.id,
                                   points=visit.points_earned, reason="visit",
                                   visit=visit, staff_id=visit.staff_id))
        customer.points_balance += visit.points_earned
    if reclassify:
        from kq.services.classify import recompute_customer

        db.session.flush()
        recompute_customer(customer)
    if ledger if ledger is not None else reclassify:
        from kq.services.ledger import after_visit

        db.session.flush()
        after_visit(visit, store)
    if commit:
        db.session.commit()
    return visit


IMPORT_CHUNK = 10000


def record_imported_visits(rows, progress=lambda done: None):
    """Visits from the old system in bulk (an import): rows of Visit columns, marked imported,
    no points, then keep_books() for the customers they touch. Returns the ids touched."""
    done, touched = 0, set()
    for start in range(0, len(rows), IMPORT_CHUNK):
        chunk = rows[start:start + IMPORT_CHUNK]
        for row in chunk:
            row.update(imported=True, points_earned=0)
            row.setdefault("visits_counted", 1)
            touched.add(row["customer_id"])
        db.session.execute(insert(Visit.__table__), chunk)
        done += len(chunk)
        progress(done)
    return touched


def keep_books(customer_ids):
    """last_visit_at, visit_count and total_spent_fen recomputed from her visits: what
    record_visit keeps one visit at a time, for many customers at once."""
    last = (select(func.max(Visit.visited_at)).where(Visit.customer_id == Customer.id)
            .scalar_subquery())
    counted = (select(func.coalesce(func.sum(Visit.visits_counted), 0))
               .where(Visit.customer_id == Customer.id).scalar_subquery())
    spent = (select(func.coalesce(func.sum(Visit.amount_fen), 0))
             .where(Visit.customer_id == Customer.id).scalar_subquery())
    ids = sorted(customer_ids)
    for start in range(0, len(ids), 900):
        db.session.execute(update(Customer).where(Customer.id.in_(ids[start:start + 900]))
                           .values(last_visit_at=last, visit_count=counted,
                                   total_spent_fen=spent)
                           .execution_options(synchronize_session=False))
