"""Printed reports: every kind renders with the right names and totals; the job path on a real
Redis with a burst worker and in-process; progress, failure and retry; no double builds;
downloads only for managers of the store."""
import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from rq import Queue, SimpleWorker

from kq.extensions import db
from kq.models import AuditEvent, Report, Store, User, utcnow
from kq.services import printing
from kq.services.assignments import assign
from kq.services.ledger import run_ledger
from tests.factories import CustomerFactory
from tests.helpers import at, load

EN = {"Accept-Language": "en"}


def _text(client, report_id):
    response = client.get(f"/reports/{report_id}/download")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def _ask(client, kind, wait=True, **fields):
    """Ask for a report; without Redis it is built in a thread: wait for it (wait=False: not)."""
    response = client.post("/reports/", data={"kind": kind, **fields}, headers=EN)
    if wait:
        with client.application.app_context():
            from kq.extensions import queue

            assert queue.wait(60), "the report's thread did not finish"
    return response


def _latest():
    return db.session.scalar(db.select(Report).order_by(Report.id.desc()))


def _penalty(world):
    """beautician1 is fined once this month for a customer unvisited 90 days."""
    store = load(Store, world.store1)
    today = store.today()
    customer = CustomerFactory(store_id=world.store1, name="冯晓雪", greeting_name="冯小姐")
    assign(customer, load(User, world.users["beautician1"]), at=at(today - timedelta(days=95)))
    run_ledger(store, today)
    return customer


@pytest.mark.parametrize("kind,fields,expected", [
    ("morning", {}, ["Morning meeting sheet", "一店"]),
    ("evening", {}, ["Evening meeting sheet", "Whole store"]),
    ("ledger", {}, ["Monthly reward/penalty statement", "冯小姐", "-¥30", "Signature"]),
    ("dormant", {"days": "30"}, ["Dormant customers", "冯小姐", "dormant rate"]),
    ("card", {"customer": "MINE"}, ["梁小姐", "梁小娟"]),
    ("handover", {"staff": "B1"}, ["Handover pack", "梁小娟", "冯晓雪", "13812345678"]),
])
def test_every_kind_renders_in_process(app, login, world, kind, fields, expected):
    with app.app_context():
        _penalty(world)
        names = {u.id: u.display_name for u in db.session.scalars(db.select(User))}
    fields = {k: {"MINE": str(world.customers["mine"]),
                  "B1": str(world.users["beautician1"])}.get(v, v) for k, v in fields.items()}
    client = login("manager")
    response = _ask(client, kind, **fields)
    assert response.status_code == 303
    with app.app_context():
        report = _latest()
        assert (report.status, report.progress, report.active_key) == ("done", 100, None)
        assert report.requested_by_id == world.users["manager"]
    text, pages = _text(client, report.id)
    for needle in expected:
        assert needle in text, (needle, text[:800])
    if kind in ("morning", "evening", "ledger", "dormant"):
        assert names[world.users["beautician1"]] in text
    with app.app_context():  # printed phones leave the app: recorded, as hers who asked
        printed = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "print_cards")).all()
        assert [(e.user_id, e.detail["kind"]) for e in printed] == (
            [(world.users["manager"], kind)] if kind in ("card", "handover") else [])
    assert "1 / " in text  # page numbers in the footer
    assert pages >= 1


def test_the_job_runs_on_real_redis_with_a_burst_worker(make_app, login, world, redis_url):
    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()
        _penalty(world)
    client = login("manager", client=app.test_client())
    first = _ask(client, "ledger")
    again = _ask(client, "ledger")  # asked twice while waiting: one report, one job
    assert first.location == again.location
    with app.app_context():
        from kq.extensions import queue

        report = _latest()
        assert report.status == "queued" and report.progress == 0
        rq_queue = Queue(queue.name, connection=queue.redis)
        assert rq_queue.count == 1
        status = client.get(f"/reports/{report.id}/status").get_json()
        assert status == {"status": "queued", "progress": 0, "error": None, "download": None}
        SimpleWorker([rq_queue], connection=queue.redis).work(burst=True)
        assert rq_queue.count == 0
        db.session.expire_all()
        report = db.session.get(Report, report.id)
        assert report.status == "done" and report.pages >= 1
    status = client.get(f"/reports/{report.id}/status").get_json()
    assert status["status"] == "done" and status["download"].endswith("/download")
    text, _ = _text(client, report.id)
    assert "冯小姐" in text


def test_a_job_the_worker_lost_is_reported_and_can_be_retried(make_app, login, world,
                                                               redis_url):
    app = make_app(REDIS_URL=redis_url)
    client = login("manager", client=app.test_client())
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()
    _ask(client, "evening")
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()  # the worker died and Redis lost the job
        report_id = _latest().id
    page = client.get(f"/reports/{report_id}", headers=EN).get_data(as_text=True)
    assert "stopped before it finished" in page and "Try again" in page
    client.post(f"/reports/{report_id}/retry")
    with app.app_context():
        from kq.extensions import queue

        assert load(Report, report_id).status == "queued"
        SimpleWorker([Queue(queue.name, connection=queue.redis)],
                     connection=queue.redis).work(burst=True)
        db.session.expire_all()
        assert load(Report, report_id).status == "done"


def test_without_redis_the_page_answers_before_the_report_is_built(app, login, world,
                                                                     monkeypatch):
    """Finding 9: without Redis, asking blocked the page for the whole build and the progress
    page never showed. The build now runs in a thread the request starts."""
    import threading

    started, release = threading.Event(), threading.Event()
    real = printing.render_html

    def held(report, *args, **kwargs):
        started.set()
        assert release.wait(10), "the test never let the build go on"
        return real(report, *args, **kwargs)

    monkeypatch.setattr(printing, "render_html", held)
    client = login("manager")
    response = _ask(client, "evening", wait=False)
    try:
        assert response.status_code == 303
        assert started.wait(10)  # the build has begun, in its thread, and waits
        with app.app_context():
            report = _latest()
            assert (report.status, report.progress) == ("running", 5)
        page = client.get(response.location, headers=EN).get_data(as_text=True)
        assert "Being made… 5%" in page and "data-progress" in page
        status = client.get(f"/reports/{report.id}/status").get_json()
        assert (status["status"], status["download"]) == ("running", None)
    finally:
        release.set()
    with app.app_context():
        from kq.extensions import queue

        assert queue.wait(60)
        assert _latest().status == "done"
    text, _pages = _text(client, report.id)
    assert "Evening meeting sheet" in text


def test_the_evening_sheet_counts_nothing_it_prints_the_ledger_as_counted(app, login, world):
    """Finding 8: the evening sheet's build ran the ledger; it prints what was counted."""
    from kq.models import LedgerEntry

    with app.app_context():
        store = load(Store, world.store1)
        customer = CustomerFactory(store_id=world.store1, greeting_name="冯小姐")
        assign(customer, load(User, world.users["beautician1"]),
               at=at(store.today() - timedelta(days=90)))  # her penalty is due today
    client = login("manager")
    _ask(client, "evening")
    with app.app_context():
        assert _latest().status == "done"
        assert db.session.scalar(db.select(db.func.count(LedgerEntry.id))) == 0
        report_id = _latest().id
    text, _pages = _text(client, report_id)
    assert "-¥30" not in text
    client.post("/manager/ledger/run")
    _ask(client, "evening")  # asked again after the count: the penalty is on it
    with app.app_context():
        assert _latest().id != report_id
        text, _pages = _text(client, _latest().id)
    assert "-¥30" in text


def test_progress_moves_and_a_failing_job_is_reported(app, login, world, monkeypatch):
    seen = []
    real_write = printing.write_pdf

    def watching(html):
        report = db.session.scalar(db.select(Report).order_by(Report.id.desc()))
        seen.append(report.progress)
        db.session.rollback()
        return real_write(html)

    monkeypatch.setattr(printing, "write_pdf", watching)
    client = login("manager")
    _ask(client, "evening")
    with app.app_context():
        assert seen == [40] and _latest().progress == 100

    def broken(report, *args):
        raise RuntimeError("the printer caught fire")

    monkeypatch.setattr(printing, "render_html", broken)
    _ask(client, "morning")
    with app.app_context():
        report = _latest()
        assert report.status == "failed" and "the printer caught fire" in report.error
        assert report.active_key is None
    page = client.get(f"/reports/{report.id}", headers=EN).get_data(as_text=True)
    assert "could not be built" in page and "the printer caught fire" in page
    assert client.get(f"/reports/{report.id}/download").status_code == 404
    monkeypatch.undo()
    client.post(f"/reports/{report.id}/retry")
    with app.app_context():
        from kq.extensions import queue

        assert queue.wait(60)
        assert load(Report, report.id).status == "done"


def test_downloads_are_refused_across_stores_and_roles(app, login, world):
    client = login("manager")
    _ask(client, "ledger")
    with app.app_context():
        report_id = _latest().id
    beautician = login("beautician1")
    for path in ("", "/status", "/download"):
        assert beautician.get(f"/reports/{report_id}{path}").status_code == 403
    assert beautician.post("/reports/", data={"kind": "ledger"}).status_code == 403
    other = login("manager2")
    for path in ("", "/status", "/download"):
        assert other.get(f"/reports/{report_id}{path}").status_code == 404
    assert login("owner").get(f"/reports/{report_id}/download").status_code == 200


@pytest.mark.parametrize("kind,fields,message", [
    ("ledger", {"month": "2099-01"}, "Choose a month"),
    ("morning", {"date": "yesterday"}, "YYYY-MM-DD"),
    ("dormant", {"days": "0"}, "from 1 to 3,650"),
    ("card", {"customer": "OTHER"}, "customer of this store"),
    ("handover", {"staff": "B7"}, "member of staff"),
    ("poster", {}, "Choose a report"),
])
def test_bad_requests_are_refused_with_a_message(app, login, world, kind, fields, message):
    fields = {k: {"OTHER": str(world.customers["other_store"]),
                  "B7": str(world.users["beautician7"])}.get(v, v) for k, v in fields.items()}
    response = login("manager").post("/reports/", data={"kind": kind, **fields}, headers=EN,
                                     follow_redirects=True)
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Report.id))) == 0


def test_old_reports_are_cleaned_up_with_their_files(app, login, world):
    client = login("manager")
    _ask(client, "evening")
    with app.app_context():
        report = _latest()
        path = printing.path_of(report)
        assert path.exists()
        assert printing.cleanup() == 0
        report.created_at = utcnow() - timedelta(days=8)
        db.session.commit()
        assert printing.cleanup() == 1
        assert not path.exists() and db.session.scalar(db.select(db.func.count(Report.id))) == 0


def test_cli_cleanup(app, world):
    result = app.test_cli_runner().invoke(args=["kq", "reports", "cleanup", "--days", "3"])
    assert result.exit_code == 0 and "0 old reports deleted" in result.output



def test_every_page_carries_the_store_name_and_the_date(app, login, world):
    with app.app_context():
        store = load(Store, world.store1)
        store.name = '一店 "<b>'
        for i in range(90):
            CustomerFactory(store_id=store.id, last_visit_at=at(store.today() - timedelta(
                days=40 + i)))
        db.session.commit()
    client = login("manager")
    _ask(client, "dormant", days="30")
    with app.app_context():
        report_id = _latest().id
    response = client.get(f"/reports/{report_id}/download")
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) >= 3
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert '一店 "<b>' in text and "printed" in text, number
        assert f"{number} / {len(reader.pages)}" in text
