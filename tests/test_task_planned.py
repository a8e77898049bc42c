"""An item's place on the day's plan is kept in tasks.planned (Today's counts and list read it
from an index instead of each item's JSON). It must say what the kind and the detail say —
kq.models.contact.planned_for — whichever way the item was written: through the ORM (made or
changed), a few rows or many at once (one JSON document on PostgreSQL), by the day's run, and
for items stored before the column existed (the migration)."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import select

from kq import create_app
from kq.config import TestConfig
from kq.extensions import db
from kq.models import Store, Task, User
from kq.models.contact import planned_for
from kq.services.checklist import UNIQUE, generate_day, insert_ignoring_duplicates
from tests import dbs
from tests.factories import CustomerFactory, StoreFactory, UserFactory
from tests.test_today_plan import _dormant

D = date(2026, 3, 31)
DETAILS = [{"plan": True, "turn": 0}, {"plan": False, "turn": 9}, {"turn": 3}, None, {},
           {"plan": None}]


def test_planned_follows_the_kind_and_the_detail():
    assert planned_for("birthday_call", None) and planned_for("callback", {"plan": False})
    assert planned_for("red_flag", {"plan": True}) and planned_for("relationship_touch",
                                                                   {"plan": True})
    for detail in DETAILS[1:]:
        assert not planned_for("red_flag", detail)
        assert not planned_for("relationship_touch", detail)


def _rows(world, customers, due_on):
    staff = world.users["beautician1"]
    return [{"store_id": world.store1, "staff_id": staff, "customer_id": c.id,
             "kind": ("red_flag", "relationship_touch", "callback")[i % 3], "due_on": due_on,
             "status": "open", "detail": DETAILS[i % len(DETAILS)]}
            for i, c in enumerate(customers)]


def _check(due_on, expected):
    stored = db.session.execute(select(Task.kind, Task.detail, Task.planned)
                                .where(Task.due_on == due_on)).all()
    assert len(stored) == expected
    assert [planned for *_rest, planned in stored] == \
        [planned_for(kind, detail) for kind, detail, _planned in stored]
    assert {planned for *_rest, planned in stored} == {True, False}


def test_every_write_path_keeps_planned(app, world):
    with app.app_context():
        customers = [CustomerFactory(store_id=world.store1) for _ in range(130)]
        db.session.flush()
        # a few rows (insert … on conflict) and many (PostgreSQL: one JSON document)
        assert insert_ignoring_duplicates(Task, _rows(world, customers[:20], D), UNIQUE) == 20
        _check(D, 20)
        later = D + timedelta(days=1)
        assert insert_ignoring_duplicates(Task, _rows(world, customers, later), UNIQUE,
                                          fresh=True) == 130
        _check(later, 130)
        # the ORM: made, then changed
        made = Task(store_id=world.store1, staff_id=world.users["beautician1"],
                    customer_id=customers[0].id, kind="red_flag", due_on=D - timedelta(days=1),
                    detail={"plan": True})
        other = Task(store_id=world.store1, staff_id=world.users["beautician1"],
                     customer_id=customers[1].id, detail={"plan": False},
                     kind="birthday_call", due_on=D - timedelta(days=1))
        db.session.add_all([made, other])
        db.session.commit()
        assert (made.planned, other.planned) == (True, True)
        made.detail = {"plan": False, "turn": 4}
        other.kind = "relationship_touch"
        db.session.commit()
        db.session.expire_all()
        assert (made.planned, other.planned) == (False, False)
        made.kind = "callback"
        db.session.commit()
        db.session.expire_all()
        assert made.planned is True


def test_the_days_run_plans_in_the_column_what_the_detail_says(app, world):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        staff = db.session.get(User, world.users["beautician1"])
        store.daily_contact_target = 5
        _dormant(store, staff, 12)
        db.session.commit()
        generate_day(store, store.today())
        db.session.commit()
        items = db.session.execute(select(Task.kind, Task.detail, Task.planned)
                                   .where(Task.staff_id == staff.id)).all()
        assert all(planned == planned_for(kind, detail) for kind, detail, planned in items)
        red = [planned for kind, _d, planned in items if kind == "red_flag"]
        assert len(red) >= 12 and red.count(True) == 5  # her twelve dormant, and any other


def _migrate_with_old_items(url):
    """Items stored by the revision before the column: after the upgrade, each is planned
    as its kind and detail say."""
    app = create_app(TestConfig(url))
    with app.app_context():
        upgrade(directory="migrations", revision="507c962407a3")
        rows = [("red_flag", '{"plan": true, "turn": 0}'), ("red_flag", '{"plan": false}'),
                ("red_flag", '{"turn": 2}'), ("relationship_touch", '{"plan": true}'),
                ("relationship_touch", "null"), ("callback", '{"plan": false}'),
                ("birthday_call", "null")]
        # stores, users and customers are as the models have them; tasks as they were
        store = StoreFactory()
        staff = UserFactory(store_id=store.id)
        customers = [CustomerFactory(store_id=store.id) for _ in rows]
        db.session.commit()
        for customer, (kind, detail) in zip(customers, rows):
            db.session.execute(sa.text(
                "INSERT INTO tasks (store_id, staff_id, customer_id, kind, due_on, status, "
                "detail, created_at) VALUES (:store, :staff, :customer, :kind, '2026-03-31', "
                "'open', :detail, CURRENT_TIMESTAMP)"),
                {"store": store.id, "staff": staff.id, "customer": customer.id, "kind": kind,
                 "detail": detail})
        db.session.commit()
        db.session.remove()
        upgrade(directory="migrations")
        with db.engine.connect() as conn:
            planned = conn.execute(sa.text("SELECT planned FROM tasks ORDER BY id")).scalars()
            got = [bool(p) for p in planned]
        db.engine.dispose()
    assert got == [True, False, False, True, False, True, True]


def test_the_migration_plans_the_items_already_stored(tmp_path):
    _migrate_with_old_items(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.skipif(not dbs.postgres_base_url(), reason="KQ_TEST_DATABASE_URL not set")
def test_the_migration_plans_the_items_already_stored_on_postgresql():
    url, schema = dbs.fresh_postgres_schema("kq_migtest")
    try:
        _migrate_with_old_items(url)
    finally:
        dbs.drop_postgres_schema(schema)
