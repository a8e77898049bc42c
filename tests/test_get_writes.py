"""Looking at a page changes no data (SPEC §1): every GET route in the app's route table, as a
manager, a beautician and the owner, with its ids filled from a small world, is asked once while
the engine counts the statements that write. Only the GETs listed below may write, and only to
the tables named, each for a reason of its design."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from kq.extensions import db
from kq.models import Customer, ImportJob, Report, Store, Task, User, utcnow
from kq.services.assignments import assign
from kq.services.cards import sell_card
from kq.services.commitments import open_complaint
from kq.services.gifts import create_gift
from tests.factories import CustomerFactory
from tests.helpers import at, load

# endpoint → (tables it may write, why). Nothing else writes on a GET.
ALLOWED = {
    "tasks.today": ({"tasks", "checklist_runs", "stores", "page_versions"},
                    "today's list is generated on first view if the nightly job has not"),
    "tasks.day": ({"tasks", "checklist_runs", "stores", "page_versions"},
                  "today's list (the day shown may be today) is generated on first view"),
    "tasks.today_more": ({"tasks", "checklist_runs", "stores", "page_versions"},
                         "the rest of today's list: generated on first view, as Today"),
    "tasks.day_more": ({"tasks", "checklist_runs", "stores", "page_versions"},
                       "the rest of a day's list: generated on first view, as Today"),
    "manager.morning": ({"tasks", "checklist_runs", "stores", "page_versions"},
                        "the morning meeting reads today's lists: made if the nightly job has not"),
    "tasks.export": ({"audit_events"}, "an export of customers' data is audited (PIPL)"),
    "reports.index": ({"reports"}, "a report whose job was lost is marked failed"),
    "reports.show": ({"reports"}, "a report whose job was lost is marked failed"),
    "reports.status": ({"reports"}, "a report whose job was lost is marked failed"),
    "reports.download": ({"reports"}, "a report whose job was lost is marked failed"),
}
# Exports are asked for with ?format= on list pages: each one is audited.
EXPORTS = ["/customers/?format=csv", "/manager/dormant?format=csv",
           "/manager/complaints?format=csv", "/manager/ledger?format=xlsx"]
EXPORT_TABLES = {"audit_events"}

WRITE = re.compile(r"^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)",
                   re.IGNORECASE)


def _small_world(app, world):
    """One of each thing a URL names, in store 1, and a report whose job was lost."""
    with app.app_context():
        store = load(Store, world.store1)
        manager = load(User, world.users["manager"])
        b1 = load(User, world.users["beautician1"])
        today = store.today()
        mine = load(Customer, world.customers["mine"])
        card = sell_card(mine, name="十次卡", sessions=10, price_fen=100000, by=manager)
        gift = create_gift(store, name="面膜", face_value_fen=5000, unit_cost_fen=2000,
                           quantity=5, by=manager)
        complaint = open_complaint(store, customer_id=mine.id, received_on=today,
                                   channel="phone", summary="等太久", staff=b1, by=manager)
        # A penalty falls due today: a run on any GET would write it.
        sleeper = CustomerFactory(store_id=store.id, created_at=at(today - timedelta(days=400)))
        assign(sleeper, b1, at=at(today - timedelta(days=95)))
        lost = Report(store_id=store.id, kind="evening", params={"date": today.isoformat()},
                      params_key="evening:lost", active_key="evening:lost",
                      requested_by_id=manager.id, status="running", progress=5,
                      started_at=utcnow() - timedelta(hours=2))
        job = ImportJob(store_id=store.id, requested_by_id=manager.id, file_name="a.csv")
        task = Task(store_id=store.id, staff_id=b1.id, customer_id=mine.id, kind="callback",
                    due_on=today)
        db.session.add_all([lost, job, task])
        db.session.commit()
        return {"customer_id": mine.id, "card_id": card.id, "gift_id": gift.id,
                "complaint_id": complaint.id, "report_id": lost.id, "import_id": job.id,
                "user_id": b1.id, "task_id": task.id, "handout_id": 1, "campaign_id": 1, "script_id": 1, "batch_id": 1,
                "day": today.isoformat(),
                "filename": "css/app.css"}


def _get_urls(app, ids):
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(ids[name]), path)
        urls.append((rule.endpoint, path))
    return sorted(urls)


class Writes:
    """The writing statements the engine runs while it is on: (table, statement)."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def _count(self, conn, cursor, statement, parameters, context, executemany):
        match = WRITE.match(statement)
        if match:
            self.seen.append((match.group(1).lower(), statement.split("\n")[0][:120]))

    def __enter__(self):
        self.seen = []
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.mark.parametrize("username", ["manager", "beautician1", "owner"])
def test_no_get_route_writes_but_the_listed_ones(app, login, world, username):
    ids = _small_world(app, world)
    client = login(username)
    urls = _get_urls(app, ids)
    assert len(urls) > 40
    unexpected = []
    with app.app_context():
        engine = db.engine
    writes = Writes(engine)
    for endpoint, path in urls + [("export", p) for p in EXPORTS]:
        if endpoint == "auth.logout":
            continue  # ends the session; asked last
        with writes:
            response = client.get(path)
            response.get_data()  # a streamed export writes its audit as it streams
            response.close()
        assert response.status_code < 500, (path, response.status_code)
        tables = {table for table, _ in writes.seen}
        allowed = EXPORT_TABLES if endpoint == "export" else ALLOWED.get(endpoint, (set(),))[0]
        if tables - allowed:
            unexpected.append((path, response.status_code, writes.seen))
    with writes:
        client.get("/logout")
    assert {t for t, _ in writes.seen} <= {"audit_events"}, writes.seen
    assert unexpected == [], "\n".join(f"{p} ({s}): {w}" for p, s, w in unexpected)


def test_the_allowed_list_names_real_routes(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    assert set(ALLOWED) <= endpoints
    assert all(reason for _tables, reason in ALLOWED.values())
