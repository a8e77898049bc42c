"""A catch-up run counts its days in one pass (the penalty candidates are read once for the
range, then each assignment's days are walked in order): it must make exactly the entries that
counting the same days one at a time, in order, makes — assignments that come due on different
days, visits inside and between the windows, an assignment ended by a reassignment in the middle
of the range, one that starts too late."""
from datetime import timedelta

from sqlalchemy import func, select, update

from kq.extensions import db
from kq.models import Assignment, LedgerEntry, Store, User
from kq.services.assignments import assign
from kq.services.ledger import run_ledger
from kq.services.visits import record_visit
from tests.factories import CustomerFactory
from tests.helpers import at, load
from tests.test_ledger import P

END = P + timedelta(days=130)
DAYS = 25


def _scenario(world):
    b1, b2 = load(User, world.users["beautician1"]), load(User, world.users["beautician2"])
    for i in range(14):
        customer = CustomerFactory(store_id=world.store1)
        assign(customer, b1 if i % 2 else b2, at=at(P - timedelta(days=3 * i), 9), commit=False)
        db.session.commit()
        for day in [P + timedelta(days=2 * i)] + ([END - timedelta(days=40 + i)]
                                                 if i % 3 == 0 else []):
            record_visit(customer, visited_at=at(day, 11), services="补水", amount_fen=30000)
        if i == 5:  # handed over in the middle of the range
            assign(customer, b1, at=at(END - timedelta(days=10), 9))
        if i == 7:  # a visit between two of the range's windows
            record_visit(customer, visited_at=at(END - timedelta(days=12), 11), services="补水",
                         amount_fen=30000)
    late = CustomerFactory(store_id=world.store1)  # assigned too late to come due
    assign(late, b1, at=at(END - timedelta(days=50), 9))
    db.session.commit()


def _made(after_id):
    return sorted(db.session.execute(
        select(LedgerEntry.kind, LedgerEntry.staff_id, LedgerEntry.customer_id,
               LedgerEntry.assignment_id, LedgerEntry.dedupe_key, LedgerEntry.occurred_on,
               LedgerEntry.amount_fen)
        .where(LedgerEntry.id > after_id)).all())


def _proposed():
    return sorted(db.session.scalars(select(Assignment.id).where(
        Assignment.proposed_for_reassignment.is_(True))).all())


def test_a_catch_up_run_makes_what_day_by_day_runs_make(app, world):
    with app.app_context():
        _scenario(world)
        store = load(Store, world.store1)
        before = db.session.scalar(select(func.coalesce(func.max(LedgerEntry.id), 0)))
        first = END - timedelta(days=DAYS - 1)
        for n in range(DAYS):
            run_ledger(store, first + timedelta(days=n), catch_up=1)
        one_by_one, proposed = _made(before), _proposed()
        assert len([e for e in one_by_one if e.kind == "penalty"]) >= 5

        db.session.execute(LedgerEntry.__table__.delete().where(LedgerEntry.id > before))
        db.session.execute(update(Assignment).values(proposed_for_reassignment=False))
        db.session.commit()
        store = load(Store, world.store1)
        made = run_ledger(store, END, catch_up=DAYS, start=first)
        assert _made(before) == one_by_one
        assert _proposed() == proposed
        assert made["penalties"] == len([e for e in one_by_one if e.kind == "penalty"])
        # and again: nothing new
        assert run_ledger(store, END, catch_up=DAYS, start=first) == {"rewards": 0,
                                                                      "penalties": 0}
