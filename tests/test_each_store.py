"""The daily runs over every store (kq.services.checklist.each_store): on PostgreSQL two stores
at a time, each in its own thread, session and transaction; on SQLite (one writer at a time) one
after another in the caller's session. Either way the lists and ledgers made are the ones that
running the stores one by one makes, a store that fails leaves nothing half-made and the others
are still done, and the failure is raised after them."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from kq.extensions import db
from kq.models import Assignment, LedgerEntry, Store, Task, User
from kq.services import checklist
from kq.services.assignments import assign
from kq.services.checklist import each_store, generate_day
from kq.services.ledger import run_ledger
from tests.factories import CustomerFactory, StoreFactory
from tests.helpers import at, load
from tests.test_ledger import P


def _stores(world, extra=2):
    """Store 1 and `extra` more, each with dormant assigned customers (red flags, penalties)."""
    ids = [world.store1]
    for n in range(extra):
        store = StoreFactory(name=f"分店{n}")
        db.session.flush()
        staff = User(username=f"each-{store.id}", display_name="小美", role="beautician",
                     store_id=store.id, password_hash="x")
        db.session.add(staff)
        ids.append(store.id)
    db.session.commit()
    for store_id in ids:
        staff = db.session.scalar(select(User).where(User.store_id == store_id,
                                                     User.role == "beautician"))
        for i in range(4):
            customer = CustomerFactory(store_id=store_id, last_visit_at=at(P - timedelta(days=i)))
            assign(customer, staff, at=at(P - timedelta(days=200), 9), commit=False)
        db.session.commit()
    return ids


def _snapshot():
    tasks = sorted(db.session.execute(select(Task.store_id, Task.staff_id, Task.customer_id,
                                             Task.kind, Task.due_on, Task.status)).all())
    entries = sorted(db.session.execute(select(LedgerEntry.store_id, LedgerEntry.kind,
                                               LedgerEntry.dedupe_key)).all())
    return tasks, entries


def _reset():
    db.session.execute(Task.__table__.delete())
    db.session.execute(checklist.ChecklistRun.__table__.delete())
    db.session.execute(LedgerEntry.__table__.delete())
    db.session.execute(Assignment.__table__.update().values(proposed_for_reassignment=False))
    db.session.execute(Store.__table__.update().values(ledger_through=None))
    db.session.commit()


def test_every_store_gives_what_one_by_one_gives(app, world):
    day = P + timedelta(days=120)
    with app.app_context():
        ids = _stores(world)
        made = {}
        for store_id in ids:
            store = load(Store, store_id)
            made[store_id] = (generate_day(store, day), run_ledger(store, day))
        one_by_one = _snapshot()
        assert len(one_by_one[0]) >= 12 and len(one_by_one[1]) >= 12
        _reset()

        created = each_store(lambda store: generate_day(store, day), ids)
        counted = each_store(lambda store: run_ledger(store, day), ids)
        db.session.expire_all()
        assert _snapshot() == one_by_one
        assert {i: (created[i], counted[i]) for i in ids} == made
        assert list(created) == ids  # in store order


def test_a_store_that_fails_leaves_nothing_half_made_and_the_others_are_done(app, world,
                                                                             monkeypatch):
    day = P + timedelta(days=120)
    with app.app_context():
        ids = _stores(world)
        broken = ids[1]
        real = checklist._satisfaction

        def failing(d, beauticians):
            if d.store.id == broken:
                raise RuntimeError("store 2 broke")
            return real(d, beauticians)

        monkeypatch.setattr(checklist, "_satisfaction", failing)
        with pytest.raises(RuntimeError, match="store 2 broke"):
            each_store(lambda store: generate_day(store, day), ids)
        db.session.rollback()
        made = {store_id for (store_id,) in db.session.execute(select(Task.store_id).distinct())}
        assert made == set(ids) - {broken}
        assert not checklist.day_generated(load(Store, broken), day)


def test_a_run_pauses_the_cyclic_collector_and_puts_it_back(app, world, monkeypatch):
    """generate_day and run_ledger run with gc paused (the rows they make are in no cycle),
    and leave it as they found it, whether they end well or not, and also when it was off."""
    import gc

    day = P + timedelta(days=120)
    seen = []
    real = checklist._satisfaction

    def watching(d, beauticians):
        seen.append(gc.isenabled())
        if d.store.id == world.store2:
            raise RuntimeError("broke")
        return real(d, beauticians)

    monkeypatch.setattr(checklist, "_satisfaction", watching)
    with app.app_context():
        assert gc.isenabled()
        generate_day(load(Store, world.store1), day)
        assert seen == [False] and gc.isenabled()
        with pytest.raises(RuntimeError):
            generate_day(load(Store, world.store2), day)
        db.session.rollback()
        assert gc.isenabled()
        run_ledger(load(Store, world.store1), day)
        assert gc.isenabled()
        gc.disable()
        try:
            generate_day(load(Store, world.store1), day + timedelta(days=1))
            assert not gc.isenabled()
        finally:
            gc.enable()
