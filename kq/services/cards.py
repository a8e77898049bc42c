"""Prepaid cards (卡项, SPEC §2): sale, top-up, use, refund and close.

Every movement is one CardMove row, and a card's sessions left and balance are always the sums
of its moves (sessions_delta, balance_delta_fen); paid_fen is the money taken (+) or given back
(−). A use changes the card through a guarded UPDATE whose WHERE states what must still be
true (open, not expired, enough sessions and balance), so two phones using the last session at
once get one use and one refusal, never an overdraft, on SQLite and PostgreSQL alike. Refund
and close compare the card with what was read, so a use that slips in between is never lost.
"""
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from kq.extensions import db
from kq.i18n import fen
from kq.models import CardMove, PrepaidCard, Store, utcnow
from kq.services import ServiceError

MAX_SESSIONS = 999
MAX_FEN = 100_000_000  # 1,000,000 CNY, for any one amount
MAX_CARD_FEN = 1_000_000_000  # what a card may hold after top-ups (the column is 32-bit)
MAX_CARD_SESSIONS = 9_999
OPEN, CLOSED, REFUNDED = "open", "closed", "refunded"
SALE, IMPORT, TOP_UP, USE, REFUND, CLOSE = "sale", "import", "top_up", "use", "refund", "close"


def _count(value, maximum):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= maximum


def _check_note(note, errors, required=False, message=None):
    note = (note or "").strip() or None
    if required and not note:
        errors["note"] = message
    elif note and len(note) > 200:
        errors["note"] = _l("At most 200 characters.")
    return note


def _check_amounts(errors, sessions, balance_fen, money_fen, money_field):
    if not _count(sessions, MAX_SESSIONS):
        errors["sessions"] = _l("Enter a number of sessions from 0 to 999.")
    if not _count(balance_fen, MAX_FEN):
        errors["balance"] = _l("Enter an amount from 0 to 1,000,000.")
    if not _count(money_fen, MAX_FEN):
        errors[money_field] = _l("Enter an amount from 0 to 1,000,000.")
    if "sessions" not in errors and "balance" not in errors and not (sessions or balance_fen):
        errors["sessions"] = _l("Enter sessions, a balance, or both.")


def _store(card):
    return db.session.get(Store, card.store_id)


def _move(card, kind, *, by, sessions_delta=0, balance_delta_fen=0, paid_fen=0, visit=None,
          note=None):
    move = CardMove(store_id=card.store_id, card_id=card.id, customer_id=card.customer_id,
                    kind=kind, sessions_delta=sessions_delta, balance_delta_fen=balance_delta_fen,
                    paid_fen=paid_fen, visit_id=visit.id if visit is not None else None,
                    staff_id=by.id if by is not None else None, note=note)
    db.session.add(move)
    return move


def _reclassify(customer_id):
    from kq.models import Customer
    from kq.services.classify import recompute_customer

    db.session.flush()
    recompute_customer(db.session.get(Customer, customer_id))


def _refusal(card, today):
    """Why a card cannot move now, read fresh from the database (None: nothing stops it)."""
    db.session.refresh(card)
    if card.status == REFUNDED:
        return ServiceError(_l("This card was refunded and can no longer be used."),
                            field="prepaid_card_id", code="closed")
    if card.status != OPEN:
        return ServiceError(_l("This card is closed and can no longer be used."),
                            field="prepaid_card_id", code="closed")
    if card.expires_on is not None and card.expires_on < today:
        return ServiceError(_l("This card expired on %(date)s.",
                               date=card.expires_on.isoformat()),
                            field="prepaid_card_id", code="expired")
    return None


def _usable_now(today):
    return (PrepaidCard.status == OPEN,
            or_(PrepaidCard.expires_on.is_(None), PrepaidCard.expires_on >= today))


def sell_card(customer, *, name, sessions=0, balance_fen=0, price_fen=0, expires_on=None, by,
              note=None, kind="sale", commit=True):
    """A new card for her: `sessions` and/or `balance_fen` on it, `price_fen` paid for it.

    kind="import" brings a card over from the old system: no money is taken now (the move's
    paid_fen is 0, the card keeps price_fen as its history), an expiry in the past is kept as
    it was, and the customer is not re-classified here (the import classifies the whole store
    when it is done). Validation errors are raised before anything is written."""
    if kind not in (SALE, IMPORT):
        raise ValueError(f"kind {kind!r}")
    store = customer.store
    name = (name or "").strip()
    errors = {}
    if customer.deleted_at is not None:
        errors["name"] = _l("This customer was deleted.")
    if not name or len(name) > 60:
        errors["name"] = _l("Give the card a name of at most 60 characters.")
    _check_amounts(errors, sessions, balance_fen, price_fen, "price")
    if kind == SALE and expires_on is not None and expires_on < store.today():
        errors["expires_on"] = _l("The expiry date cannot be in the past.")
    note = _check_note(note, errors)
    if errors:
        raise ServiceError(errors, code="invalid")
    card = PrepaidCard(store_id=customer.store_id, customer_id=customer.id, name=name,
                       sessions_total=sessions, sessions_used=0, balance_fen=balance_fen,
                       expires_on=expires_on, price_fen=price_fen, status=OPEN,
                       sold_by_id=by.id if by is not None else None, note=note)
    db.session.add(card)
    db.session.flush()
    _move(card, kind, by=by, sessions_delta=sessions, balance_delta_fen=balance_fen,
          paid_fen=price_fen if kind == SALE else 0, note=note)
    if kind == SALE:
        _reclassify(customer.id)
    if commit:
        db.session.commit()
    return card


def top_up(card, *, sessions=0, balance_fen=0, paid_fen=0, by, note=None, commit=True):
    """More sessions and/or balance on an open, unexpired card, `paid_fen` taken for them."""
    store = _store(card)
    today = store.today()
    errors = {}
    _check_amounts(errors, sessions, balance_fen, paid_fen, "paid")
    note = _check_note(note, errors)
    if errors:
        raise ServiceError(errors, code="invalid")
    result = db.session.execute(
        update(PrepaidCard)
        .where(PrepaidCard.id == card.id, *_usable_now(today),
               PrepaidCard.sessions_total + sessions <= MAX_CARD_SESSIONS,
               PrepaidCard.balance_fen + balance_fen <= MAX_CARD_FEN)
        .values(sessions_total=PrepaidCard.sessions_total + sessions,
                balance_fen=PrepaidCard.balance_fen + balance_fen)
        .returning(PrepaidCard.sessions_total, PrepaidCard.balance_fen)
        .execution_options(synchronize_session=False)).first()
    if result is None:
        refusal = _refusal(card, today) or ServiceError(
            {"sessions": _l("A card holds at most 9,999 sessions and 10,000,000 CNY.")},
            code="too_much")
        if commit:
            db.session.rollback()
        raise refusal
    set_committed_value(card, "sessions_total", result.sessions_total)
    set_committed_value(card, "balance_fen", result.balance_fen)
    _move(card, TOP_UP, by=by, sessions_delta=sessions, balance_delta_fen=balance_fen,
          paid_fen=paid_fen, note=note)
    _reclassify(card.customer_id)  # a used-up card topped up holds again
    if commit:
        db.session.commit()
    return card


def use_card(card, *, sessions=0, amount_fen=0, visit=None, by, commit=True):
    """Take `sessions` and/or `amount_fen` off the card, at `visit` if there is one.

    With commit=False (the visit service) a refusal leaves the transaction to the caller, who
    must roll it back; with commit=True the refusal rolls back itself."""
    store = _store(card)
    # A visit entered afterwards (yesterday's, or back-dated by a manager) counts on its day.
    today = store.local_date(visit.visited_at) if visit is not None else store.today()
    errors = {}
    if not _count(sessions, MAX_SESSIONS):
        errors["sessions"] = _l("Enter a number of sessions from 0 to 999.")
    if not _count(amount_fen, MAX_FEN):
        errors["amount"] = _l("Enter an amount from 0 to 1,000,000.")
    if not errors and not (sessions or amount_fen):
        errors["sessions"] = _l("Use a session or an amount from the card.")
    if errors:
        raise ServiceError(errors, code="invalid")
    result = db.session.execute(
        update(PrepaidCard)
        .where(PrepaidCard.id == card.id, *_usable_now(today),
               PrepaidCard.balance_fen >= amount_fen,
               PrepaidCard.sessions_used + sessions <= PrepaidCard.sessions_total)
        .values(sessions_used=PrepaidCard.sessions_used + sessions,
                balance_fen=PrepaidCard.balance_fen - amount_fen)
        .returning(PrepaidCard.sessions_used, PrepaidCard.balance_fen)
        .execution_options(synchronize_session=False)).first()
    if result is None:
        refusal = _refusal(card, today)
        if refusal is None and card.sessions_used + sessions > card.sessions_total:
            refusal = ServiceError(
                _l("The card has no sessions left.") if card.sessions_left <= 0 else
                _l("The card has only %(n)d sessions left.", n=card.sessions_left),
                field="prepaid_card_id", code="no_sessions")
        if refusal is None:
            refusal = ServiceError(_l("The card has only %(amount)s left.",
                                      amount=fen(card.balance_fen)),
                                   field="prepaid_card_id", code="insufficient")
        if commit:
            db.session.rollback()
        raise refusal
    set_committed_value(card, "sessions_used", result.sessions_used)
    set_committed_value(card, "balance_fen", result.balance_fen)
    move = _move(card, USE, by=by, sessions_delta=-sessions, balance_delta_fen=-amount_fen,
                 visit=visit)
    if commit:
        _reclassify(card.customer_id)
        db.session.commit()
    return move


def paid_on(card):
    """Money taken for the card so far, less what was given back."""
    return db.session.scalar(select(func.coalesce(func.sum(CardMove.paid_fen), 0))
                             .where(CardMove.card_id == card.id))


def _end(card, status, kind, *, by, note, refund_fen=0):
    """Close the card at what it holds now: a move takes its sessions and balance to 0. The
    UPDATE matches the values read, so a use in between makes this a refusal, not a loss."""
    if card.status != OPEN:
        raise ServiceError(_l("This card is already closed."), code="closed")
    left, balance = card.sessions_left, card.balance_fen
    changed = db.session.execute(
        update(PrepaidCard)
        .where(PrepaidCard.id == card.id, PrepaidCard.status == OPEN,
               PrepaidCard.sessions_used == card.sessions_used,
               PrepaidCard.sessions_total == card.sessions_total,
               PrepaidCard.balance_fen == balance)
        .values(status=status, closed_at=utcnow(), balance_fen=0,
                sessions_total=PrepaidCard.sessions_used)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not changed:
        db.session.rollback()
        raise ServiceError(_l("The card changed just now. Look at it again and retry."),
                           code="changed")
    _move(card, kind, by=by, sessions_delta=-left, balance_delta_fen=-balance,
          paid_fen=-refund_fen, note=note)
    _reclassify(card.customer_id)
    db.session.commit()
    db.session.refresh(card)
    return card


def refund_card(card, *, refund_fen, by, note):
    """Give money back and close the card (managers): at most what was paid for it, or its
    balance for a card brought over from the old system; a reason is required."""
    db.session.refresh(card)
    errors = {}
    note = _check_note(note, errors, required=True,
                       message=_l("Say why the card is refunded."))
    limit = max(paid_on(card), card.balance_fen)
    if not _count(refund_fen, MAX_FEN):
        errors["refund"] = _l("Enter an amount from 0 to 1,000,000.")
    elif refund_fen > limit:
        errors["refund"] = _l("At most %(amount)s can be given back on this card.",
                              amount=fen(limit))
    if errors:
        raise ServiceError(errors, code="invalid")
    return _end(card, REFUNDED, REFUND, by=by, note=note, refund_fen=refund_fen)


def close_card(card, *, by, note):
    """Close a card without money back (managers), e.g. expired or used up. While it still
    holds sessions or balance and has not expired, a reason is required."""
    db.session.refresh(card)
    today = _store(card).today()
    holds = card.sessions_left > 0 or card.balance_fen > 0
    expired = card.expires_on is not None and card.expires_on < today
    errors = {}
    note = _check_note(note, errors, required=holds and not expired,
                       message=_l("The card still holds sessions or balance: say why it is "
                                  "closed."))
    if errors:
        raise ServiceError(errors, code="invalid")
    return _end(card, CLOSED, CLOSE, by=by, note=note)

