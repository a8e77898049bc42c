"""Bulk messages at size: a segment of n consenting customers, counted (the confirmation
screen), then rendered and queued to the outbox by the send job — the messages/s of SPEC §5's
"rendered per customer, queued as a background job". Speed is measured, never asserted.

bench_bulk(n) runs in the current application context if there is one (its database is used
and a store of its own is added), else on a fresh SQLite file of its own. Returns a list of
{"figure", "value", "unit"} dicts."""
import tempfile
import time
from datetime import timedelta
from pathlib import Path


def _fill(n):
    from kq.extensions import db
    from kq.models import Customer, Store, User

    store = Store(name=f"群发基准门店{int(time.time())}")
    db.session.add(store)
    db.session.flush()
    manager = User(username=f"bulkbench{store.id}", display_name="店长林", role="manager",
                   store_id=store.id, password_hash="unset")
    staff = [User(username=f"bulkbench{store.id}b{i}", display_name=f"美容师{i}",
                  role="beautician", store_id=store.id, password_hash="unset") for i in range(6)]
    db.session.add_all([manager, *staff])
    db.session.flush()
    when = store.local_now() - timedelta(days=200)
    surnames = "王李张刘陈杨黄赵吴周欧阳司马"
    rows = []
    for i in range(n):
        surname = surnames[i % len(surnames)]
        rows.append({"store_id": store.id, "name": f"{surname}客{i}", "surname": surname,
                     "title": "小姐", "greeting_name": f"{surname}小姐", "gender": "F",
                     "phone": f"+86139{i:08d}", "marketing_consent": True,
                     "do_not_contact": i % 50 == 0, "last_visit_at": when,
                     "created_at": when, "updated_at": when, "is_key": i % 3 == 0,
                     "assigned_staff_id": staff[i % len(staff)].id})
    for start in range(0, n, 5000):
        db.session.execute(Customer.__table__.insert(), rows[start:start + 5000])
    db.session.commit()
    return store.id, manager.id


def _run(n):
    from kq.extensions import db
    from kq.models import Store, User
    from kq.models.messaging import MessageBatch
    from kq.services import messaging
    from kq.services.messaging.sending import send_batch

    store_id, manager_id = _fill(n)
    store, manager = db.session.get(Store, store_id), db.session.get(User, manager_id)
    body = "{greeting}您好，好久不见，很想您！这周给您留了护理时间，方便时回我一下。—{staff}"
    started = time.perf_counter()
    batch = messaging.start_batch(store, by=manager, spec={"dormant_min_days": 180}, body=body,
                                  provider="outbox")
    batch.status = "confirmed"
    db.session.commit()
    counted = time.perf_counter() - started
    batch_id = batch.id
    started = time.perf_counter()
    send_batch(batch_id)
    queued_in = time.perf_counter() - started
    queued = db.session.get(MessageBatch, batch_id).queued
    return [
        {"figure": f"bulk message: count and check a segment of {n:,}", "value":
         round(counted * 1000, 1), "unit": "ms"},
        {"figure": f"bulk message: render and queue {queued:,} messages", "value":
         round(queued / queued_in) if queued_in else 0, "unit": "messages/s"},
    ]


def bench_bulk(n=20000):
    from flask import has_app_context

    if has_app_context():
        return _run(n)
    from kq import create_app
    from kq.config import TestConfig
    from kq.extensions import db

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(TestConfig(f"sqlite:///{Path(folder) / 'bulk.db'}"))
        with app.app_context():
            db.create_all()
            try:
                return _run(n)
            finally:
                db.session.remove()
                db.engine.dispose()


if __name__ == "__main__":
    for row in bench_bulk():
        print(f"{row['figure']}: {row['value']} {row['unit']}")
