"""Asking for a printed report, handing it to the queue, and knowing when its job was lost.

A report is asked for once (`request_report`) and built by the job `kq.jobs.build_report` — in
an RQ worker when REDIS_URL is set, otherwise in a background thread the request starts (the
page answers at once and shows the progress), or in-process when Redis does not answer. Asking
again for the same report while it is queued or running returns the one under way (a unique
key on the row, not a check in Python).

Whether a job is still alive is read from RQ (its status and the heartbeats its worker sends
while the job runs) and from the clock; a report whose job was lost is marked failed with a
reason, in a write the page declares, so that it can be asked for again. Reading the status
never needs Redis: when Redis is down the page says so instead of failing.
"""
import json
from datetime import date, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kq.db import write_intent
from kq.extensions import db
from kq.models import Customer, Report, utcnow
from kq.models.report import FAILED, QUEUED, RUNNING
from kq.services import ServiceError
from kq.services.printing import staff_member

TIMEOUTS = {"handover": 1800}  # seconds; the rest take DEFAULT_TIMEOUT
DEFAULT_TIMEOUT = 600
# A running job's worker heartbeats every 30 s (RQ's job monitoring interval); a job with no
# heartbeat for this long lost its worker (killed, machine gone). App config REPORT_LOST_AFTER
# overrides it (seconds).
LOST_AFTER = 60
# Queued this long while no worker is registered on the queue: nobody is going to build it.
# App config REPORT_QUEUE_WAIT overrides it (seconds).
QUEUE_WAIT = 120
GRACE = 120  # beyond a job's timeout before a report still "running" is given up on

JOB = "kq.jobs.build_report"  # by name: services do not import the jobs that call them

# Why a report failed without an exception of its own.
LOST, WORKER_LOST, QUEUE_DOWN, NO_WORKER = ("timeout_or_worker", "worker_lost", "queue_down",
                                            "no_worker")


# Asking ------------------------------------------------------------------------------------

def _day(value, today):
    try:
        day = date.fromisoformat(value) if value else today
    except ValueError:
        raise ServiceError({"date": _l("Enter a date as YYYY-MM-DD.")}, code="invalid") from None
    if not today - timedelta(days=366) <= day <= today:
        raise ServiceError({"date": _l("Choose a date within the last year.")}, code="invalid")
    return day.isoformat()


def clean_params(store, kind, raw):
    """Validate what was asked for; returns the parameters the job will use."""
    today = store.today()
    if kind in ("morning", "evening"):
        return {"date": _day(raw.get("date"), today)}
    if kind == "ledger":
        month = raw.get("month") or today.strftime("%Y-%m")
        try:
            first = date.fromisoformat(f"{month}-01")
        except ValueError:
            raise ServiceError({"month": _l("Choose a month.")}, code="invalid") from None
        if first > today:
            raise ServiceError({"month": _l("Choose a month.")}, code="invalid")
        return {"month": first.strftime("%Y-%m")}
    if kind == "dormant":
        days = str(raw.get("days") or store.dormant_after_days)
        if not days.isdigit() or not 1 <= int(days) <= 3650:
            raise ServiceError({"days": _l("Enter a number of days from 1 to 3,650.")},
                               code="invalid")
        params = {"days": int(days), "date": today.isoformat()}
        staff = str(raw.get("staff") or "")
        if staff.isdigit():
            if staff_member(store, int(staff)) is None:
                raise ServiceError({"staff": _l("Choose a member of staff.")}, code="invalid")
            params["staff"] = int(staff)
        return params
    if kind == "card":
        customer_id = str(raw.get("customer") or "")
        if not customer_id.isdigit() or db.session.scalar(select(Customer.id).where(
                Customer.id == int(customer_id), Customer.store_id == store.id,
                Customer.deleted_at.is_(None))) is None:
            raise ServiceError({"customer": _l("Choose a customer of this store.")},
                               code="invalid")
        return {"customer": int(customer_id)}
    if kind == "handover":
        staff = str(raw.get("staff") or "")
        if not staff.isdigit() or staff_member(store, int(staff)) is None:
            raise ServiceError({"staff": _l("Choose a member of staff.")}, code="invalid")
        return {"staff": int(staff), "date": today.isoformat()}
    if kind == "campaign":
        from kq.services.campaigns import review_params

        return review_params(store, raw)
    raise ServiceError({"kind": _l("Choose a report.")}, code="invalid")


def request_report(store, kind, raw, *, by, locale):
    """Returns (report, created). The same kind and parameters asked for while one is queued
    or running give back that one — unless its job turns out to be lost, which is then marked
    failed and a new one made."""
    params = clean_params(store, kind, raw)
    key = f"{kind}:{json.dumps(params, sort_keys=True, separators=(',', ':'))}"[:120]
    existing = db.session.scalar(select(Report).where(Report.store_id == store.id,
                                                      Report.active_key == key))
    if existing is not None and refresh(existing).status in (QUEUED, RUNNING):
        return existing, False
    report = Report(store_id=store.id, kind=kind, params=params, params_key=key,
                    active_key=key, locale=str(locale), requested_by_id=by.id, status=QUEUED,
                    progress=0)
    db.session.add(report)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = db.session.scalar(select(Report).where(Report.store_id == store.id,
                                                          Report.active_key == key))
        if existing is None:
            raise
        return existing, False
    return report, True


def enqueue(report):
    """Hand the report to the queue. Without Redis (the embedded default) it is built in a
    thread the request starts, so the progress page shows at once; when Redis does not answer
    it is built here and now. The job id is saved first: a job that is not the report's latest
    does nothing."""
    from kq.extensions import queue

    job_id = f"kq-report-{report.id}-{utcnow().strftime('%H%M%S%f')}"
    report.job_id = job_id
    report_id, kind = report.id, report.kind
    db.session.commit()  # nothing of this request stays open while the job runs
    queue.enqueue(JOB, report_id, job_id, job_timeout=TIMEOUTS.get(kind, DEFAULT_TIMEOUT),
                  job_id=job_id, background=True)
    return job_id


def retry(report):
    if report.status != FAILED:
        raise ServiceError(_l("Only a failed report can be tried again."), code="not_failed")
    clash = db.session.scalar(select(Report.id).where(Report.store_id == report.store_id,
                                                      Report.active_key == report.params_key))
    if clash is not None:
        return db.session.get(Report, clash)
    report.status, report.progress, report.error = QUEUED, 0, None
    report.active_key, report.started_at, report.finished_at = report.params_key, None, None
    db.session.commit()
    enqueue(report)
    return report


# Watching ----------------------------------------------------------------------------------

def refresh(report):
    refresh_all([report])
    return report


def refresh_all(reports):
    """Reports whose job was lost become failed, with the reason. Reads RQ (one round trip)
    and, only when something was lost, writes in a transaction of its own, declared as a write
    (a GET starts read-only)."""
    active = [r for r in reports if r.status in (QUEUED, RUNNING)]
    if not active:
        return reports
    lost = _lost(active)
    if lost:
        now = utcnow()
        db.session.rollback()  # end the read; SQLite takes the write lock up front
        with write_intent():
            for report_id, (job_id, reason) in lost.items():
                db.session.execute(
                    update(Report)
                    .where(Report.id == report_id, Report.status.in_((QUEUED, RUNNING)),
                           Report.job_id.is_(None) if job_id is None
                           else Report.job_id == job_id)
                    .values(status=FAILED, active_key=None, finished_at=now, error=reason)
                    .execution_options(synchronize_session=False))
            db.session.commit()
    return reports


def _setting(name, default):
    return current_app.config.get(name, default)


def _lost(active):
    """{report id: (its job id, reason)} for the reports whose job will never finish."""
    from kq.extensions import queue
    from kq.queue import redis_errors

    now = utcnow()
    lost = {}
    for report in active:
        timeout = TIMEOUTS.get(report.kind, DEFAULT_TIMEOUT)
        if report.status == RUNNING and report.started_at is not None and \
                now - report.started_at > timedelta(seconds=timeout + GRACE):
            lost[report.id] = (report.job_id, LOST)  # the process building it died
    if queue.mode != "redis":
        return lost
    watched = [r for r in active if r.job_id and r.id not in lost]
    if not watched:
        return lost
    from rq.job import Job

    try:
        jobs = Job.fetch_many([r.job_id for r in watched], connection=queue.redis)
        reasons = [_job_lost(job, now) for job in jobs]
        if NO_WORKER in reasons and queue.workers() != 0:  # one is listening, or unknown
            reasons = [None if reason == NO_WORKER else reason for reason in reasons]
    except redis_errors():
        current_app.logger.warning("Redis unavailable; queued reports cannot be built",
                                   exc_info=True)
        # A queued report would wait for a queue that is down: say so, let her ask again (it
        # is then built in-process). One being built goes on without Redis.
        reasons = [QUEUE_DOWN if r.status == QUEUED else None for r in watched]
    for report, reason in zip(watched, reasons, strict=True):
        if reason is not None:
            lost[report.id] = (report.job_id, reason)
    return lost


def _job_lost(job, now):
    """Why this RQ job will not finish, or None while it may."""
    if job is None:
        return LOST  # Redis forgot it (restarted without persistence, flushed)
    status = job.get_status(refresh=False)
    if status in ("failed", "stopped", "canceled", "finished"):
        # A job that ends records the report's end itself, before RQ records the job's.
        return LOST
    if status == "started":
        beat = job.last_heartbeat or job.started_at
        lost_after = timedelta(seconds=_setting("REPORT_LOST_AFTER", LOST_AFTER))
        if beat is not None and now - beat > lost_after:
            return WORKER_LOST
        return None
    if status == "queued" and job.enqueued_at is not None and now - job.enqueued_at > \
            timedelta(seconds=_setting("REPORT_QUEUE_WAIT", QUEUE_WAIT)):
        return NO_WORKER  # unless a worker is registered (checked once for all)
    return None


def error_text(report):
    from flask_babel import gettext as _

    if report.status != FAILED:
        return ""
    if report.error == LOST:
        return _("The job stopped before it finished (it took too long or the worker "
                 "stopped). Try again.")
    if report.error == WORKER_LOST:
        return _("The print worker stopped while making this report. Try again.")
    if report.error == QUEUE_DOWN:
        return _("The print queue is down, so this report was not made. Try again in a "
                 "minute.")
    if report.error == NO_WORKER:
        return _("No print worker is running, so this report was not made. Try again in a "
                 "minute.")
    if report.error:
        return _("The report could not be built: %(reason)s", reason=report.error)
    return ""
