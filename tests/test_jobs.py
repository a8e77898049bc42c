"""The daily checklist job on real Redis with a burst worker, the schedule, and the CLI."""
from datetime import date, datetime, timedelta, timezone

from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from kq.extensions import db
from kq.jobs import daily_job_id, generate_checklists, next_run_at, schedule_daily
from kq.models import Customer, Store
from tests.helpers import SHANGHAI, at, items, load


def _dormant(app, world):
    with app.app_context():
        load(Customer, world.customers["mine"]).last_visit_at = at(date(2026, 1, 1))
        db.session.commit()


def test_generation_job_runs_on_a_real_redis_queue(make_app, world, redis_url):
    app = make_app(REDIS_URL=redis_url)
    _dormant(app, world)
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()
        assert queue.mode == "redis"
        queue.enqueue(generate_checklists, world.store1, "2026-03-31", job_timeout=600)
        rq_queue = Queue(queue.name, connection=queue.redis)
        assert rq_queue.count == 1
        SimpleWorker([rq_queue], connection=queue.redis).work(burst=True)
        assert rq_queue.count == 0
        assert items(day=date(2026, 3, 31), kind="red_flag",
                     customer_id=world.customers["mine"])


def test_inline_mode_runs_the_same_job_in_process(app, world):
    _dormant(app, world)
    with app.app_context():
        from kq.extensions import queue

        assert queue.mode == "inline"
        queue.enqueue(generate_checklists, world.store1, "2026-03-31")
        assert items(day=date(2026, 3, 31), kind="red_flag")


def test_daily_run_is_booked_once_for_5am_local(make_app, redis_url):
    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()
        first = schedule_daily()
        second = schedule_daily()
        assert first == second
        assert first.astimezone(timezone(timedelta(hours=8))).hour == 5
        rq_queue = Queue(queue.name, connection=queue.redis)
        assert rq_queue.scheduled_job_registry.get_job_ids() == [daily_job_id(first)]
        assert daily_job_id(first) == f"kq-daily-checklists-{first.astimezone(SHANGHAI):%Y%m%d}"
        now = datetime(2026, 3, 31, 20, 59, tzinfo=timezone.utc)  # 04:59 in Shanghai
        assert next_run_at(now) == datetime(2026, 3, 31, 21, 0, tzinfo=timezone.utc)
        assert next_run_at(now + timedelta(minutes=1)) == datetime(2026, 4, 1, 21, 0,
                                                                   tzinfo=timezone.utc)


def test_cli_generate(app, world):
    _dormant(app, world)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["kq", "tasks", "generate", "--date", "2026-03-31",
                                 "--store", str(world.store1)])
    assert result.exit_code == 0 and "new items" in result.output
    again = runner.invoke(args=["kq", "tasks", "generate", "--date", "2026-03-31",
                                "--store", str(world.store1)])
    assert f"store {world.store1}: 0 new items" in again.output
    assert runner.invoke(args=["kq", "tasks", "generate", "--date", "31/03/2026"]).exit_code != 0
    assert runner.invoke(args=["kq", "tasks", "generate", "--store", "999"]).exit_code != 0
    assert runner.invoke(args=["kq", "schedule"]).exit_code != 0  # no Redis configured


def test_opening_today_generates_it_once(app, login, world):
    _dormant(app, world)
    client = login("beautician1")
    client.get("/tasks/today")
    client.get("/tasks/today")
    with app.app_context():
        today = load(Store, world.store1).today()
        assert len(items(day=today, kind="red_flag", customer_id=world.customers["mine"])) == 1


def test_the_daily_run_applies_waiting_settings_before_it_classifies(app, world):
    """A key share changed yesterday is in force for this morning's classification."""
    from kq.jobs import daily_checklists

    with app.app_context():
        store = db.session.get(Store, world.store1)
        store.key_share_pct, store.key_spend_fen = 1, 10**9
        mine = db.session.get(Customer, world.customers["mine"])
        mine.total_spent_fen, mine.visit_count = 40000, 5
        db.session.commit()
        daily_checklists()
        assert db.session.scalar(select(func.count()).select_from(Customer).where(
            Customer.store_id == world.store1, Customer.is_key.is_(True))) == 1
        store = db.session.get(Store, world.store1)
        store.pending_settings = {"from": store.today().isoformat(),
                                  "values": {"key_share_pct": 100}, "by": None}
        db.session.commit()
        daily_checklists()
        store = db.session.get(Store, world.store1)
        assert store.key_share_pct == 100 and store.pending_settings is None
        assert db.session.scalar(select(func.count()).select_from(Customer).where(
            Customer.store_id == world.store1, Customer.is_key.is_(False))) == 0


def test_the_daily_run_books_the_next_one_and_its_own_end_leaves_it_booked(make_app, world,
                                                                             redis_url):
    """The run books tomorrow's under tomorrow's id: finishing today's (RQ marks it finished
    and lets its key expire) does not touch the booking."""
    from rq.job import Job

    from kq.jobs import daily_checklists

    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        from kq.extensions import queue

        queue.redis.flushdb()
        tomorrow = next_run_at()
        today = daily_job_id(tomorrow - timedelta(days=1))
        rq_queue = Queue(queue.name, connection=queue.redis)
        rq_queue.enqueue(daily_checklists, job_id=today, job_timeout=1800)  # 05:00 came
        SimpleWorker([rq_queue], connection=queue.redis).work(burst=True)
        assert Job.fetch(today, connection=queue.redis).get_status() == "finished"
        booked = Job.fetch(daily_job_id(tomorrow), connection=queue.redis)
        assert booked.get_status() == "scheduled"
        assert queue.redis.ttl(booked.key) == -1  # kept until it runs
        assert rq_queue.scheduled_job_registry.get_job_ids() == [daily_job_id(tomorrow)]


def test_a_failing_step_of_the_daily_run_leaves_the_others_done(app, world, monkeypatch):
    """The ledger count failing (say a store's data it chokes on) must not leave every
    beautician without her list, nor the next morning unbooked: each step runs, then the first
    failure is raised (the job shows failed, with its reason)."""
    import pytest

    import kq.jobs as jobs
    from kq.models import ChecklistRun

    booked = []
    monkeypatch.setattr(jobs, "schedule_daily", lambda *a, **k: booked.append(True))

    def broken(*args, **kwargs):
        raise RuntimeError("ledger went wrong")

    monkeypatch.setattr(jobs, "run_ledgers", broken)
    with app.app_context():
        with pytest.raises(RuntimeError, match="ledger went wrong"):
            jobs.daily_checklists()
        assert db.session.scalar(select(func.count()).select_from(ChecklistRun)) >= 1
    assert booked == [True]
