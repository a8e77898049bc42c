"""Reports and jobs under faults: writers that never stop (SQLite), Redis unreachable or
stopped mid-use, Redis losing what it held, a whole RQ worker killed with SIGKILL."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker
from rq.job import Job
from sqlalchemy import update

from kq.extensions import db
from kq.models import AuditEvent, Report
from tests.helpers import load

EN = {"Accept-Language": "en"}
ROOT = Path(__file__).resolve().parent.parent


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, what, limit=60.0):
    """Poll until condition() is true; a fault that is never noticed fails the test."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting: {what}")


class Writer(threading.Thread):
    """Another member of staff saving all the time: one small write transaction after another
    on its own connection, until stopped."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.app, self.count, self.errors = app, 0, []
        self.stop, self.wrote = threading.Event(), threading.Condition()

    def run(self):
        with self.app.app_context():
            while not self.stop.is_set():
                try:
                    db.session.add(AuditEvent(action="soak"))
                    db.session.commit()
                except Exception as error:  # noqa: BLE001 - counted, the test looks at it
                    db.session.rollback()
                    self.errors.append(error)
                with self.wrote:
                    self.count += 1
                    self.wrote.notify_all()
                time.sleep(0.002)
            db.session.remove()

    def next_write(self):
        """Wait until one more write has been committed after this call."""
        with self.wrote:
            seen = self.count
            self.wrote.wait_for(lambda: self.count > seen, timeout=10)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join(timeout=30)


def _ask(client, kind, **fields):
    return client.post("/reports/", data={"kind": kind, **fields}, headers=EN)


def _reports():
    return db.session.scalars(db.select(Report).order_by(Report.id)).all()


# Writers on SQLite ---------------------------------------------------------------------------

def test_a_report_asked_for_while_others_write_is_built(make_app, login, world, redis_url):
    """The job declares its writes: no "database is locked" at its first progress save."""
    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()
    client = login("manager", client=app.test_client())
    _ask(client, "evening")
    _ask(client, "handover", staff=str(world.users["beautician1"]))
    with app.app_context():
        from kq.extensions import queue

        assert [r.status for r in _reports()] == ["queued", "queued"]
        with Writer(app) as writer:
            SimpleWorker([Queue(queue.name, connection=queue.redis)],
                         connection=queue.redis).work(burst=True)
            writer.next_write()
        db.session.expire_all()
        assert [(r.kind, r.status, r.error) for r in _reports()] == [
            ("evening", "done", None), ("handover", "done", None)]
        assert writer.count > 10 and writer.errors == []


def test_report_pages_answer_while_others_write(make_app, login, world, redis_url,
                                                monkeypatch):
    """Finding a lost job on a GET (the list, the status poll) declares its write."""
    app = make_app(REDIS_URL=redis_url)
    client = login("manager", client=app.test_client())
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()
    for kind in ("ledger", "evening", "morning"):
        _ask(client, kind)
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()  # Redis lost the jobs: each page that looks will find out
        first = _reports()[0].id
    with Writer(app) as writer:
        # Someone saves while the page is between reading the report and recording the loss.
        for name in ("fetch", "fetch_many"):
            real = getattr(Job, name).__func__

            def slowed(cls, *args, _real=real, **kwargs):
                result = _real(cls, *args, **kwargs)
                writer.next_write()
                return result

            monkeypatch.setattr(Job, name, classmethod(slowed))
        status = client.get(f"/reports/{first}/status", headers=EN)
        listing = client.get("/reports/", headers=EN)
    assert status.status_code == 200, status.get_data(as_text=True)[:300]
    assert status.get_json()["status"] == "failed"
    assert listing.status_code == 200
    with app.app_context():
        assert [r.status for r in _reports()] == ["failed"] * 3
        assert all(r.active_key is None for r in _reports())
    assert writer.errors == []


# Redis unreachable ---------------------------------------------------------------------------

def test_everything_answers_when_redis_is_unreachable(make_app, login, world):
    nowhere = f"redis://127.0.0.1:{_free_port()}/0"
    app = make_app(REDIS_URL=nowhere, RATELIMIT_STORAGE_URI=nowhere)
    client = login("manager", client=app.test_client())  # the sign-in throttle falls back
    response = _ask(client, "evening")
    assert response.status_code == 303
    with app.app_context():
        report = _reports()[-1]
        assert report.status == "done"  # built here, in-process
    for path in ("/reports/", f"/reports/{report.id}", f"/reports/{report.id}/status",
                 f"/reports/{report.id}/download"):
        assert client.get(path, headers=EN).status_code == 200, path
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json["redis"] == "down" and health.json["database"] is True
    assert health.json["status"] == "degraded"


def test_sign_in_is_still_throttled_in_memory_when_redis_is_unreachable(make_app, world):
    nowhere = f"redis://127.0.0.1:{_free_port()}/0"
    app = make_app(REDIS_URL=nowhere, RATELIMIT_STORAGE_URI=nowhere, LOGIN_LIMIT="2 per minute")
    client = app.test_client()
    wrong = {"username": "manager", "password": "not-the-password"}
    assert [client.post("/login", data=wrong).status_code for _ in range(3)] == [200, 200, 429]


@pytest.fixture
def private_redis():
    """A redis-server of this test's own, which the test may stop."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server")
    port = _free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save",
                                "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"

    def answers():
        from redis import Redis

        try:
            return Redis.from_url(url, socket_connect_timeout=1).ping()
        except Exception:  # noqa: BLE001
            return False

    _wait(answers, "private redis-server")
    yield url, process
    if process.poll() is None:
        process.terminate()
    process.wait(timeout=10)


def test_redis_stopped_mid_use(make_app, login, world, private_redis):
    url, server = private_redis
    app = make_app(REDIS_URL=url, RATELIMIT_STORAGE_URI=url)
    client = login("manager", client=app.test_client())
    _ask(client, "ledger")
    with app.app_context():
        waiting = _reports()[-1]
        assert waiting.status == "queued"
    server.terminate()
    server.wait(timeout=10)

    page = client.get(f"/reports/{waiting.id}", headers=EN)
    assert page.status_code == 200
    assert "print queue is down" in page.get_data(as_text=True)
    status = client.get(f"/reports/{waiting.id}/status", headers=EN)
    assert status.status_code == 200 and status.get_json()["status"] == "failed"
    assert "print queue is down" in status.get_json()["error"]
    assert client.get("/reports/", headers=EN).status_code == 200
    login("manager2", client=app.test_client())  # signing in still works

    again = _ask(client, "ledger")  # asking again builds it here
    assert again.status_code == 303
    with app.app_context():
        latest = _reports()[-1]
        assert latest.id != waiting.id and latest.status == "done"
    assert client.get(f"/reports/{latest.id}/download").status_code == 200
    retried = client.post(f"/reports/{waiting.id}/retry")
    assert retried.status_code == 303
    with app.app_context():
        assert load(Report, waiting.id).status == "done"
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json["redis"] == "down"


def _booked(connection):
    from kq.jobs import DAILY_JOB_ID

    ids = Queue("kq", connection=connection).scheduled_job_registry.get_job_ids()
    return [i for i in ids if i.startswith(DAILY_JOB_ID)]


def test_the_daily_run_is_booked_again_after_redis_forgets_it(make_app, redis_url):
    from kq.jobs import schedule_daily

    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushall()
        schedule_daily()
        assert len(_booked(queue.redis)) == 1
        queue.redis.flushall()  # a restart without persistence
        assert _booked(queue.redis) == []

        from kq.worker import Worker

        Worker([Queue(queue.name, connection=queue.redis)],
               connection=queue.redis).work(burst=True)  # a worker starts
        booked = _booked(queue.redis)
        assert len(booked) == 1
        queue.redis.flushall()
    app.test_client().get("/login")  # the first request books it again
    with app.app_context():
        from kq.extensions import queue

        assert _booked(queue.redis) == booked
    health = app.test_client().get("/healthz").json
    assert health["redis"] == "up" and health["daily_run_booked"] is True


def test_a_report_nobody_will_build_says_so(make_app, login, world, redis_url):
    """Queued while no worker is registered on the queue (RQ's worker registry): failed with
    that reason once it has waited REPORT_QUEUE_WAIT, and asking again is possible."""
    app = make_app(REDIS_URL=redis_url, REPORT_QUEUE_WAIT=0)
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()
    client = login("manager", client=app.test_client())
    _ask(client, "ledger")
    with app.app_context():
        report_id = _reports()[-1].id
    body = client.get(f"/reports/{report_id}/status", headers=EN).get_json()
    assert body["status"] == "failed" and "No print worker is running" in body["error"]
    assert _ask(client, "ledger").location.endswith(f"/reports/{report_id + 1}")


# A worker killed -----------------------------------------------------------------------------

def _worker(database_url, redis_url, app, tmp_path, *extra):
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url,
               SECRET_KEY="test-worker", KQ_INSTANCE_DIR=str(tmp_path / "instance"),
               KQ_REPORTS_DIR=app.config["REPORTS_DIR"],
               KQ_IMPORTS_DIR=app.config["IMPORTS_DIR"], PYTHONPATH=str(ROOT))
    log = open(tmp_path / f"worker-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
    command = [sys.executable, "-m", "rq.cli", "worker", "--url", redis_url,
               "--worker-class", "kq.worker.Worker", *extra, "kq"]  # as the Procfile runs it
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _log_of(tmp_path):
    return "\n".join(log.read_text()[-3000:] for log in sorted(tmp_path.glob("worker-*.log")))


def _kill_whole(worker):
    """SIGKILL the worker and its work horse (RQ puts the horse in a process group of its
    own)."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
    horses = [int(pid) for pid in children.read_text().split()] if children.exists() else []
    os.killpg(worker.pid, signal.SIGKILL)
    for horse in horses:
        try:
            os.killpg(horse, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_report_whose_worker_was_killed_fails_soon_and_can_be_asked_again(
        make_app, login, world, redis_url, database_url, tmp_path):
    app = make_app(REDIS_URL=redis_url, REPORT_LOST_AFTER=2)
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()
        connection = queue.redis
    client = login("manager", client=app.test_client())
    _ask(client, "ledger")
    with app.app_context():
        stuck = _reports()[-1]
        stuck_id, stuck_job = stuck.id, stuck.job_id
        db.session.rollback()
        # Hold the report's row so the job is surely mid-way when its worker dies.
        holder = db.engine.connect()
        holder.begin()
        holder.execute(update(Report).where(Report.id == stuck_id)
                       .values(progress=Report.progress))
    worker = _worker(database_url, redis_url, app, tmp_path)
    try:
        state = _wait(lambda: Job.fetch(stuck_job, connection=connection).get_status()
                      not in ("queued", "scheduled", "deferred") and
                      Job.fetch(stuck_job, connection=connection).get_status(),
                      "the worker to take the report")
        assert state == "started", _log_of(tmp_path)
        _kill_whole(worker)
        worker.wait(timeout=10)
    finally:
        holder.rollback()
        holder.close()
        if worker.poll() is None:
            _kill_whole(worker)

    def asked_anew():
        """She asks again (the card page's Print, say) until she is given a new report."""
        location = _ask(client, "ledger").location
        return location if not location.endswith(f"/reports/{stuck_id}") else None

    _wait(asked_anew, "asking again to give a new report")
    body = client.get(f"/reports/{stuck_id}/status", headers=EN).get_json()
    assert body["status"] == "failed" and "worker stopped" in body["error"]
    fresh = _worker(database_url, redis_url, app, tmp_path, "--burst")
    assert fresh.wait(timeout=120) == 0, _log_of(tmp_path)
    with app.app_context():
        stuck, latest = _reports()  # asking while it still looked alive made nothing new
        assert (stuck.id, stuck.status, stuck.error) == (stuck_id, "failed", "worker_lost")
        assert latest.status == "done"
