"""Many rows at once (over 100: one JSON document on PostgreSQL) are stored exactly as the same
rows given a few at a time (the ordinary INSERT … ON CONFLICT DO NOTHING): every column type the
daily runs write (dates, aware times in any zone, text with quotes, backslashes and Chinese,
nested details, NULLs, booleans, Python-side defaults), and duplicates, within the batch or
already stored, are counted out."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from kq.extensions import db
from kq.models import Assignment, LedgerEntry, Task
from kq.services.checklist import UNIQUE, insert_ignoring_duplicates
from tests.factories import CustomerFactory

D = date(2026, 3, 31)
ODD = "引号\"和&\\n'; -- \\u0041 {\"x\": 1} 😀"


def _in_chunks(model, rows, keys):
    return sum(insert_ignoring_duplicates(model, rows[i:i + 50], keys)
               for i in range(0, len(rows), 50))


def _tasks(world, customers, due_on):
    staff = world.users["beautician1"]
    details = [{"days": 31, "never": False, "plan": True, "turn": 0, "note": ODD},
               {"on": "2026-03-31", "key": True, "nested": {"list": [1, 2.5, None]}},
               None, {}]
    return [{"store_id": world.store1, "staff_id": staff, "customer_id": c.id,
             "kind": "red_flag" if i % 3 else "birthday_call", "due_on": due_on,
             "status": "open", "detail": details[i % len(details)]}
            for i, c in enumerate(customers)]


def _stored_tasks(due_on):
    return [(t.staff_id, t.customer_id, t.kind, t.status, t.detail, t.done_at,
             t.created_at is not None and t.created_at.tzinfo is not None)
            for t in db.session.scalars(select(Task).where(Task.due_on == due_on)
                                        .order_by(Task.customer_id, Task.kind))]


def test_many_tasks_at_once_are_stored_as_a_few_at_a_time(app, world):
    with app.app_context():
        customers = [CustomerFactory(store_id=world.store1) for _ in range(130)]
        db.session.flush()
        one_go = _tasks(world, customers, D)
        assert insert_ignoring_duplicates(Task, one_go + one_go[:7], UNIQUE) == 130
        assert insert_ignoring_duplicates(Task, one_go, UNIQUE) == 0
        assert _in_chunks(Task, _tasks(world, customers, D + timedelta(days=1)), UNIQUE) == 130
        db.session.commit()
        db.session.expire_all()
        assert _stored_tasks(D) == _stored_tasks(D + timedelta(days=1))
        null, other = [db.session.scalar(select(func.count(Task.id)).where(
            Task.due_on == due_on, Task.detail.is_(None))) for due_on in (D, D + timedelta(1))]
        assert null == other  # a detail of None stored the same way (JSON null)
        assert _stored_tasks(D)[0][4] == {"days": 31, "never": False, "plan": True, "turn": 0,
                                           "note": ODD}


def _entries(world, customers, assignment, tag):
    zones = [timezone.utc, ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")]
    return [{"store_id": world.store1, "staff_id": world.users["beautician1"],
             "customer_id": c.id, "assignment_id": assignment if i % 2 else None,
             "visit_id": None, "kind": "penalty" if i % 2 else "reward",
             "amount_fen": -5000 if i % 2 else 10000, "occurred_on": D - timedelta(days=i),
             "period": (D - timedelta(days=i)).strftime("%Y-%m"),
             "reason": f"no_visit:90 {ODD}" if i % 5 == 0 else "dormant:45",
             "dedupe_key": f"{tag}:{c.id}",
             "voided_at": datetime(2026, 3, 1, 23, 30, 15, 123456, tzinfo=zones[i % 3])
             if i % 4 == 0 else None,
             "void_reason": "late_visit:1" if i % 4 == 0 else None}
            for i, c in enumerate(customers)]


def _stored_entries(tag):
    return [(e.staff_id, e.customer_id, e.assignment_id, e.kind, e.amount_fen, e.occurred_on,
             e.period, e.reason, e.voided_at, e.void_reason, e.created_at.tzinfo is not None)
            for e in db.session.scalars(select(LedgerEntry)
                                        .where(LedgerEntry.dedupe_key.startswith(tag + ":"))
                                        .order_by(LedgerEntry.customer_id))]


def test_many_ledger_entries_at_once_are_stored_as_a_few_at_a_time(app, world):
    with app.app_context():
        customers = [CustomerFactory(store_id=world.store1) for _ in range(120)]
        db.session.flush()
        assignment = Assignment(store_id=world.store1, customer_id=customers[0].id,
                                staff_id=world.users["beautician1"],
                                assigned_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
        db.session.add(assignment)
        db.session.flush()
        rows = _entries(world, customers, assignment.id, "bulk")
        assert insert_ignoring_duplicates(LedgerEntry, rows, ("dedupe_key",)) == 120
        assert insert_ignoring_duplicates(LedgerEntry, rows, ("dedupe_key",)) == 0
        assert _in_chunks(LedgerEntry, _entries(world, customers, assignment.id, "rows"),
                          ("dedupe_key",)) == 120
        db.session.commit()
        db.session.expire_all()
        bulk = _stored_entries("bulk")
        assert bulk == _stored_entries("rows")
        assert bulk[0][8] == datetime(2026, 3, 1, 23, 30, 15, 123456, tzinfo=timezone.utc)
        assert bulk[4][8] == datetime(2026, 3, 1, 23, 30, 15, 123456,
                                      tzinfo=ZoneInfo("Asia/Shanghai"))


def test_fresh_rows_of_which_another_writer_added_one_meanwhile(app, world):
    """`fresh` rows go in with a plain INSERT on PostgreSQL; one that someone else stored
    meanwhile makes the batch fall back to skipping it, and the transaction goes on (what it
    did before the batch is kept)."""
    with app.app_context():
        customers = [CustomerFactory(store_id=world.store1) for _ in range(120)]
        db.session.flush()
        rows = _tasks(world, customers, D)
        assert insert_ignoring_duplicates(Task, [rows[5]], UNIQUE) == 1  # the other writer
        assert insert_ignoring_duplicates(Task, rows, UNIQUE, fresh=True) == 119
        assert insert_ignoring_duplicates(Task, _tasks(world, customers, D + timedelta(days=1)),
                                          UNIQUE, fresh=True) == 120
        db.session.commit()
        assert db.session.scalar(select(func.count(Task.id)).where(Task.due_on == D)) == 120
        assert db.session.scalar(select(func.count(Task.id))) == 240
        assert len(_stored_tasks(D)) == 120
