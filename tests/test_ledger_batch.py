"""A catch-up run counts its days in one pass (the penalty candidates are read once for the
range, then each assignment's days are walked in order; the reward candidates of every day of
the range are read at once): it must make exactly the entries that counting the same days one at
a time, in order, makes — assignments that come due on different days, visits inside and
between the windows, an assignment ended by a reassignment in the middle of the range, one that
starts too late; spells ended on different days, twice on one day, a customer back on two days
in a row, a contact by the wrong staff member, a handover before the visit."""
from datetime import timedelta

from sqlalchemy import func, select, update

from kq.extensions import db
from kq.models import Assignment, Contact, LedgerEntry, Store, User
from kq.services.assignments import assign
from kq.services.ledger import run_ledger
from kq.services.visits import record_visit
from tests.factories import CustomerFactory
from tests.helpers import at, load
from tests.test_ledger import P, _contact

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


def _rewards_scenario(world):
    """Customers whose dormant spells end on different days of the range, some twice."""
    b1, b2 = load(User, world.users["beautician1"]), load(User, world.users["beautician2"])
    for i in range(10):
        customer = CustomerFactory(store_id=world.store1)
        assign(customer, b1 if i % 2 else b2, at=at(P - timedelta(days=60), 9), commit=False)
        db.session.commit()
        first = P + timedelta(days=i)
        record_visit(customer, visited_at=at(first, 11), services="补水", amount_fen=30000)
        back = END - timedelta(days=DAYS - 2 - 2 * i)
        staff = b2 if i == 3 else (b1 if i % 2 else b2)  # 3: only the wrong one called
        _contact(customer, staff, back - timedelta(days=5))
        if i == 4:  # handed over after the call: the new one earns nothing
            assign(customer, b1, at=at(back - timedelta(days=2), 9))
        record_visit(customer, visited_at=at(back, 11), services="补水", amount_fen=30000)
        if i in (1, 6):  # twice on the day her spell ends
            record_visit(customer, visited_at=at(back, 16), services="补水", amount_fen=30000)
        if i in (2, 7):  # and the next day too: not a new spell
            record_visit(customer, visited_at=at(back + timedelta(days=1), 11),
                         services="补水", amount_fen=30000)
    assert db.session.scalar(select(func.count(Contact.id))) >= 10


def test_a_catch_up_run_rewards_what_day_by_day_runs_reward(app, world):
    with app.app_context():
        _rewards_scenario(world)
        # recording the visits rewarded them at once: start the ledger over
        db.session.execute(LedgerEntry.__table__.delete())
        db.session.commit()
        store = load(Store, world.store1)
        first = END - timedelta(days=DAYS - 1)
        for n in range(DAYS):
            run_ledger(store, first + timedelta(days=n), catch_up=1)
        one_by_one = [e for e in _made(0) if e.kind == "reward"]
        assert len(one_by_one) == 8  # 10 spells, less the wrong caller's and the handover's

        db.session.execute(LedgerEntry.__table__.delete())
        db.session.commit()
        store = load(Store, world.store1)
        made = run_ledger(store, END, catch_up=DAYS, start=first)
        assert [e for e in _made(0) if e.kind == "reward"] == one_by_one
        assert made["rewards"] == 8
        assert run_ledger(store, END, catch_up=DAYS, start=first)["rewards"] == 0


def test_a_long_list_of_entries_goes_in_once(app, world):
    """Over 100 entries PostgreSQL leaves out the keys already stored and sends the rest with a
    plain INSERT: the same entries as ever, nothing twice, and only the missing ones again."""
    with app.app_context():
        b1 = load(User, world.users["beautician1"])
        for i in range(110):
            customer = CustomerFactory(store_id=world.store1)
            assign(customer, b1, at=at(P - timedelta(days=i % 7), 9), commit=False)
        db.session.commit()
        store = load(Store, world.store1)
        made = run_ledger(store, END, catch_up=DAYS, start=END - timedelta(days=DAYS - 1))
        assert made["penalties"] == 110
        keys = db.session.scalars(select(LedgerEntry.dedupe_key).order_by(LedgerEntry.id)).all()
        assert len(set(keys)) == 110
        gone = keys[::20]
        db.session.execute(LedgerEntry.__table__.delete().where(
            LedgerEntry.dedupe_key.in_(gone)))
        db.session.commit()
        store = load(Store, world.store1)
        again = run_ledger(store, END, catch_up=DAYS, start=END - timedelta(days=DAYS - 1))
        assert again["penalties"] == len(gone)
        assert sorted(db.session.scalars(select(LedgerEntry.dedupe_key))) == sorted(keys)


def test_postgresql_statements_are_planned_for_their_own_values(app):
    """No server-side prepared statements on PostgreSQL: a generic plan made while a table
    was empty (the ledger at the start of a run) must not outlive the table's growth."""
    from kq.extensions import db

    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name != "postgresql":
            import pytest

            pytest.skip("PostgreSQL only")
        assert connection.connection.driver_connection.prepare_threshold is None
