"""Background jobs. Each takes primitives and commits through the services it calls. Queued
(kq.queue), a job runs in an application context of its own: in an RQ worker one built once
per process, in-process a fresh one, so that it never shares the page's database session. A
direct call (the CLI, a test) runs in the caller's context. A job states its writes
(kq.db.write_intent) where they are not obvious."""
import functools
import time as clock
from datetime import datetime, time, timedelta, timezone

from flask import current_app, has_app_context

_worker_app = None

DAILY_JOB_ID = "kq-daily-checklists"  # + "-YYYYMMDD", the local day of the run
DAILY_AT = time(5, 0)  # store-local: lists are ready before the morning meeting
DAILY_CHECK_EVERY = 3600  # seconds: how often a web process makes sure the next run is booked


def with_app(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        global _worker_app
        if has_app_context():
            return func(*args, **kwargs)
        if _worker_app is None:
            from kq import create_app

            _worker_app = create_app()
        with _worker_app.app_context():
            return func(*args, **kwargs)

    return wrapper


@with_app
def generate_checklists(store_id=None, day_iso=None):
    """Generate one store-day, or every store's local today (kq.services.checklist.each_store:
    two stores at a time on PostgreSQL). Returns {store_id: created}."""
    from datetime import date

    from kq.extensions import db
    from kq.models import Store
    from kq.services.checklist import each_store, generate_day

    query = db.select(Store.id).order_by(Store.id)
    if store_id is not None:
        query = query.where(Store.id == store_id)
    return each_store(lambda store: generate_day(
        store, date.fromisoformat(day_iso) if day_iso else store.today()),
        db.session.scalars(query).all())


@with_app
def run_ledgers(store_id=None, day_iso=None):
    """The ledger for one store-day, or for every store's yesterday (a complete day; the run
    also looks at the six days before). Returns {store_id: {"rewards": n, "penalties": n}}."""
    from datetime import date

    from kq.extensions import db
    from kq.models import Store
    from kq.services.checklist import each_store
    from kq.services.ledger import run_ledger

    query = db.select(Store.id).order_by(Store.id)
    if store_id is not None:
        query = query.where(Store.id == store_id)
    return each_store(lambda store: run_ledger(
        store, date.fromisoformat(day_iso) if day_iso else store.today() - timedelta(days=1)),
        db.session.scalars(query).all())


@with_app
def build_report(report_id, job_id=None):
    """Build one printed report (kq.services.printing). Outside a request (an RQ worker) a
    request context is made so that templates, links and translations work as on a page; the
    build declares its own reads and writes, whatever that request's method."""
    from flask import has_request_context

    from kq.services.printing import build

    if has_request_context():
        return build(report_id, job_id)
    with current_app.test_request_context("/reports/job"):
        return build(report_id, job_id)


@with_app
def send_batch(batch_id):
    """A bulk message batch (kq.services.messaging.sending): render once per customer, then the
    provider; rerun safely at any point."""
    from kq.services.messaging.sending import send_batch as run

    return run(batch_id)


@with_app
def snapshot_dormant_months():
    from kq.extensions import db
    from kq.models import Store
    from kq.services.reports import snapshot_months

    for store in db.session.scalars(db.select(Store).order_by(Store.id)).all():
        snapshot_months(store)


@with_app
def cleanup_reports():
    """Printed reports past their retention, and uploaded import files over a week old."""
    from kq.services.importing.uploads import cleanup as cleanup_uploads
    from kq.services.printing import cleanup

    cleanup_uploads()
    return cleanup()


@with_app
def blank_old_contact_notes():
    """Each store's retention of contact notes (PIPL): older notes blanked. {store_id: n}."""
    from kq.extensions import db
    from kq.models import Store
    from kq.services.privacy import blank_old_contact_notes as blank

    blanked = {}
    for store in db.session.scalars(db.select(Store).order_by(Store.id)).all():
        blanked[store.id] = blank(store)
    db.session.commit()
    return blanked


def next_run_at(now=None, tz_name=None):
    """The next DAILY_AT in the default timezone, as aware UTC."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(tz_name or current_app.config["BABEL_DEFAULT_TIMEZONE"])
    now = (now or datetime.now(timezone.utc)).astimezone(tz)
    run = datetime.combine(now.date(), DAILY_AT, tzinfo=tz)
    if run <= now:
        run = datetime.combine(now.date() + timedelta(days=1), DAILY_AT, tzinfo=tz)
    return run.astimezone(timezone.utc)


@with_app
def daily_checklists():
    """The scheduled run: re-classify, count yesterday's rewards and penalties, generate
    today's lists for every store, then book tomorrow's run. A step that fails is rolled back
    and logged, the steps after it still run (a ledger that chokes must not leave everyone
    without her list), tomorrow is booked, and then the first failure is raised, so the job
    shows as failed with its reason."""
    import logging

    from kq.extensions import db

    created, failures = None, []
    for step in (apply_settings, recompute_classifications, run_ledgers,
                 snapshot_dormant_months, cleanup_reports, blank_old_contact_notes,
                 generate_checklists):
        try:
            result = step()
        except Exception as error:  # noqa: BLE001 - the other steps still run; raised below
            db.session.rollback()
            logging.getLogger(__name__).exception("daily run: %s failed", step.__name__)
            failures.append(error)
        else:
            if step is generate_checklists:
                created = result
    schedule_daily()
    if failures:
        raise failures[0]
    return created


def daily_job_id(when):
    """One id per run, named by its local day: the run that is going on books the next one
    under another id, and booking the same run twice leaves one."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return f"{DAILY_JOB_ID}-{when.astimezone(tz):%Y%m%d}"


def schedule_daily(connection=None):
    """Book the next daily run in RQ's scheduler (needs `rq worker --with-scheduler`), unless
    it is booked already. Returns when it runs; None without Redis. Raises what Redis raises."""
    from rq import Queue

    from kq.extensions import queue

    if connection is None:
        if queue.mode != "redis":
            return None
        connection = queue.redis
    rq_queue = Queue(queue.name, connection=connection)
    when = next_run_at()
    job_id = daily_job_id(when)
    existing = rq_queue.fetch_job(job_id)
    if existing is not None and existing.get_status(refresh=False) in (
            "scheduled", "queued", "started", "deferred"):
        return when
    if existing is not None:
        existing.delete()
    legacy = rq_queue.fetch_job(DAILY_JOB_ID)  # booked under one fixed id before
    if legacy is not None and legacy.get_status(refresh=False) == "scheduled":
        legacy.cancel()
        legacy.delete()
    rq_queue.enqueue_at(when, daily_checklists, job_id=job_id, job_timeout=1800)
    return when


def daily_booked():
    """Is the next daily run booked? None without Redis. Raises what Redis raises."""
    from rq import Queue

    from kq.extensions import queue

    if queue.mode != "redis":
        return None
    job = Queue(queue.name, connection=queue.redis).fetch_job(daily_job_id(next_run_at()))
    return job is not None and job.get_status(refresh=False) in (
        "scheduled", "queued", "started", "deferred")


@with_app
def book_daily_from_worker(connection):
    """At a worker's start (kq.worker.Worker): a Redis restarted without persistence forgot
    the booking."""
    return schedule_daily(connection)


def ensure_daily_booked():
    """From a web request, at most once an hour per process (so the first request of a day
    always looks): book the next daily run if Redis lost it. Never fails the request."""
    from kq.extensions import queue
    from kq.queue import redis_errors

    if queue.mode != "redis":
        return
    state = current_app.extensions["kq_queue"]
    now = clock.monotonic()
    today = next_run_at().date()  # changes once a day, at the run
    if state.get("daily_day") == today and now < state.get("daily_next", 0):
        return
    state["daily_day"], state["daily_next"] = today, now + DAILY_CHECK_EVERY
    try:
        schedule_daily()
    except redis_errors():
        state["daily_next"] = now + 60  # Redis is down: look again in a minute
        current_app.logger.warning("Redis unavailable; the daily run could not be checked")


@with_app
def apply_settings():
    """Settings changed yesterday take effect before anything of today's run is counted
    (key share and bands in the classification as well as the checklist)."""
    from kq.extensions import db
    from kq.models import Store
    from kq.services.settings import apply_pending_settings

    for store in db.session.scalars(db.select(Store).order_by(Store.id)).all():
        apply_pending_settings(store, store.today())
    db.session.commit()


@with_app
def recompute_classifications(store_id=None):
    """Key/general and bands for one store or all; the daily job runs it before the lists."""
    from kq.services.classify import recompute_all

    return recompute_all(store_id)


@with_app
def preview_import(import_id):
    """Read and plan an uploaded spreadsheet (kq.services.importing); writes only the preview."""
    from kq.services.importing.uploads import make_preview

    return make_preview(import_id)


@with_app
def run_import(import_id):
    """Import a previewed, confirmed spreadsheet in one transaction."""
    from kq.services.importing.uploads import make_import

    return make_import(import_id)
