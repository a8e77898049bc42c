"""Background jobs. Each takes primitives, runs inside an app context (building the app once
per worker process when it has none) and commits through the services it calls."""
import functools
from datetime import datetime, time, timedelta, timezone

from flask import current_app, has_app_context

_worker_app = None

DAILY_JOB_ID = "kq-daily-checklists"
DAILY_AT = time(5, 0)  # store-local: lists are ready before the morning meeting


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
    """Generate one store-day, or every store's local today. Returns {store_id: created}."""
    from datetime import date

    from kq.extensions import db
    from kq.models import Store
    from kq.services.checklist import generate_day

    query = db.select(Store).order_by(Store.id)
    if store_id is not None:
        query = query.where(Store.id == store_id)
    created = {}
    for store in db.session.scalars(query).all():
        day = date.fromisoformat(day_iso) if day_iso else store.today()
        created[store.id] = generate_day(store, day)
    return created


@with_app
def run_ledgers(store_id=None, day_iso=None):
    """The ledger for one store-day, or for every store's yesterday (a complete day; the run
    also looks at the six days before). Returns {store_id: {"rewards": n, "penalties": n}}."""
    from datetime import date

    from kq.extensions import db
    from kq.models import Store
    from kq.services.ledger import run_ledger

    query = db.select(Store).order_by(Store.id)
    if store_id is not None:
        query = query.where(Store.id == store_id)
    created = {}
    for store in db.session.scalars(query).all():
        day = date.fromisoformat(day_iso) if day_iso else store.today() - timedelta(days=1)
        created[store.id] = run_ledger(store, day)
    return created


@with_app
def build_report(report_id):
    """Build one printed report (kq.services.printing). Outside a request (an RQ worker) a
    request context is made so templates and translations work as they do on a page."""
    from flask import has_request_context

    from kq.services.printing import build

    if has_request_context():
        return build(report_id)
    with current_app.test_request_context("/reports/job"):
        return build(report_id)


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
    today's lists for every store, then book tomorrow's run."""
    apply_settings()
    recompute_classifications()
    run_ledgers()
    snapshot_dormant_months()
    cleanup_reports()
    created = generate_checklists()
    schedule_daily()
    return created


def schedule_daily():
    """Book the next daily run in RQ's scheduler (needs `rq worker --with-scheduler`).
    The fixed job id means booking twice leaves one run."""
    from kq.extensions import queue

    if queue.mode != "redis":
        return None
    from rq import Queue

    rq_queue = Queue(queue.name, connection=queue.redis)
    when = next_run_at()
    existing = rq_queue.fetch_job(DAILY_JOB_ID)
    if existing is not None:
        existing.cancel()
        existing.delete()
    rq_queue.enqueue_at(when, daily_checklists, job_id=DAILY_JOB_ID, job_timeout=1800)
    return when


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
