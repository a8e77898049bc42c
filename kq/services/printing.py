"""Printed reports (SPEC §9): what each kind needs, its HTML, and the PDF WeasyPrint makes of it.

A report is asked for once (`request_report`), built by `kq.jobs.build_report` — in an RQ
worker when REDIS_URL is set, in-process otherwise — and served only to managers and the
owner of its store. Asking again for the same report while it is queued or running returns the
one already under way (a unique key on the row, not a check in Python).
"""
import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from kq import labels
from kq.extensions import db
from kq.models import (CareNote, Contact, Customer, GiftHandout, LedgerEntry, PrepaidCard,
                       Promise, Report, Store, Task, User, Visit, utcnow)
from kq.models.report import DONE, FAILED, QUEUED, RUNNING
from kq.services import ServiceError
from kq.services import reports as figures

KINDS = {
    "morning": _l("Morning meeting sheet"),
    "evening": _l("Evening meeting sheet"),
    "ledger": _l("Monthly reward/penalty statement"),
    "dormant": _l("Dormant customers"),
    "card": _l("Customer card"),
    "handover": _l("Handover pack"),
}
TIMEOUTS = {"handover": 1800}  # seconds; the rest take DEFAULT_TIMEOUT
DEFAULT_TIMEOUT = 600
MAX_DORMANT_ROWS = 3000
MAX_HANDOVER_CARDS = 400


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
            if _staff(store, int(staff)) is None:
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
        if not staff.isdigit() or _staff(store, int(staff)) is None:
            raise ServiceError({"staff": _l("Choose a member of staff.")}, code="invalid")
        return {"staff": int(staff), "date": today.isoformat()}
    raise ServiceError({"kind": _l("Choose a report.")}, code="invalid")


def _staff(store, staff_id):
    return db.session.scalar(select(User).where(User.id == staff_id, User.store_id == store.id))


def request_report(store, kind, raw, *, by, locale):
    """Returns (report, created). The same kind and parameters asked for while one is queued
    or running give back that one."""
    params = clean_params(store, kind, raw)
    key = f"{kind}:{json.dumps(params, sort_keys=True, separators=(',', ':'))}"[:120]
    existing = db.session.scalar(select(Report).where(Report.store_id == store.id,
                                                      Report.active_key == key))
    if existing is not None:
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
    """Hand the report to the queue (or build it now, in-process)."""
    from kq.extensions import queue
    from kq.jobs import build_report

    job_id = f"kq-report-{report.id}-{utcnow().strftime('%H%M%S%f')}"
    report.job_id = job_id
    db.session.commit()
    queue.enqueue(build_report, report.id, job_timeout=TIMEOUTS.get(report.kind,
                                                                     DEFAULT_TIMEOUT),
                  job_id=job_id)
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


def refresh(report):
    """A job the worker lost (killed, timed out) is reported as failed, with a reason."""
    from kq.extensions import queue

    if report.status not in (QUEUED, RUNNING) or queue.mode != "redis" or not report.job_id:
        return report
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(report.job_id, connection=queue.redis)
        state = job.get_status()
    except NoSuchJobError:
        state = "missing"
    if state in ("failed", "stopped", "canceled", "missing"):
        report.status, report.active_key, report.finished_at = FAILED, None, utcnow()
        report.error = report.error or "timeout_or_worker"
        db.session.commit()
    return report


def error_text(report):
    from flask_babel import gettext as _

    if report.error == "timeout_or_worker":
        return _("The job stopped before it finished (it took too long or the worker "
                 "stopped). Try again.")
    if report.error:
        return _("The report could not be built: %(reason)s", reason=report.error)
    return ""


def path_of(report):
    return Path(current_app.config["REPORTS_DIR"]) / str(report.store_id) / report.file_name


def cleanup(retention_days=None):
    """Delete reports older than the retention period, with their files. Returns how many."""
    days = current_app.config["REPORT_RETENTION_DAYS"] if retention_days is None \
        else retention_days
    cut = utcnow() - timedelta(days=days)
    old = db.session.scalars(select(Report).where(Report.created_at < cut,
                                                  Report.status.in_((DONE, FAILED)))).all()
    for report in old:
        if report.file_name:
            try:
                os.remove(path_of(report))
            except FileNotFoundError:
                pass
        db.session.delete(report)
    db.session.commit()
    return len(old)


# Building ----------------------------------------------------------------------------------

def title_of(report):
    return str(KINDS.get(report.kind, report.kind))


def _tasks_of(store, staff_id, day, kinds):
    return db.session.scalars(
        select(Task).where(Task.store_id == store.id, Task.staff_id == staff_id,
                           Task.due_on == day, Task.kind.in_(kinds))
        .options(joinedload(Task.customer)).order_by(Task.kind, Task.id)).all()


def _morning(store, params):
    from kq.blueprints.tasks.items import reason
    from kq.services.checklist import ensure_day

    day = date.fromisoformat(params["date"])
    if day == store.today():
        ensure_day(store, day)
    staff = figures.staff_of(store)
    numbers = figures.morning(store, day)
    focus = {}
    for s in staff:
        special = _tasks_of(store, s.id, day, ("birthday_call", "birthday_prep", "promise_due",
                                               "gift_pickup", "complaint_follow_up",
                                               "callback"))
        red = db.session.scalars(
            select(Task).join(Customer, Customer.id == Task.customer_id)
            .where(Task.store_id == store.id, Task.staff_id == s.id, Task.due_on == day,
                   Task.kind == "red_flag")
            .options(joinedload(Task.customer))
            .order_by(Customer.last_visit_at.desc().nulls_last()).limit(10)).all()
        focus[s.id] = [(t, reason(t.kind, t.detail or {})) for t in special + red]
    return "reports/morning.html", {"day": day, "staff": staff, "numbers": numbers,
                                    "focus": focus, "kinds": labels.KINDS}


def _evening(store, params):
    from kq.services.ledger import run_ledger

    day = date.fromisoformat(params["date"])
    run_ledger(store, day, catch_up=1)
    staff = figures.staff_of(store)
    numbers = figures.activity(store, day, day)
    total = figures.store_total(numbers)
    return "reports/evening.html", {"day": day, "staff": staff, "numbers": numbers,
                                    "total": total}


def _ledger(store, params):
    from kq.services.ledger import describe, monthly_totals

    period = params["month"]
    staff = figures.staff_of(store, include_inactive=True)
    totals = monthly_totals(store, period)
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.store_id == store.id, LedgerEntry.period == period)
        .options(joinedload(LedgerEntry.customer))
        .order_by(LedgerEntry.staff_id, LedgerEntry.occurred_on, LedgerEntry.id)).all()
    by_staff = {}
    for entry in entries:
        by_staff.setdefault(entry.staff_id, []).append(entry)
    shown = [s for s in staff if s.active or s.id in totals]
    store_total = figures.store_total(totals)
    return "reports/ledger.html", {"period": period, "staff": shown, "totals": totals,
                                   "by_staff": by_staff, "store_total": store_total,
                                   "describe": describe}


def _dormant(store, params):
    from kq.blueprints.manager.insight import dormant_chart
    from kq.charts import PRINT
    from kq.masking import masked_phone

    days, day = params["days"], date.fromisoformat(params["date"])
    staff = figures.staff_of(store)
    counts = figures.dormant_now(store, days, day)
    total, dormant = figures.totals(counts)
    trend = figures.dormant_trend(store, days, months=12, today=day)
    staff_id = params.get("staff")
    rows = db.session.scalars(figures.dormant_query(store, days, staff_id, day)
                              .options(joinedload(Customer.assigned_staff))
                              .limit(MAX_DORMANT_ROWS)).all()
    return "reports/dormant.html", {
        "days": days, "day": day, "staff": staff, "counts": counts, "total": total,
        "dormant": dormant, "rate": figures.rate, "rows": rows, "masked_phone": masked_phone,
        "chart": dormant_chart(store, days, staff, trend, size=PRINT), "labels": labels,
        "only": _staff(store, staff_id) if staff_id else None,
        "limited": len(rows) >= MAX_DORMANT_ROWS}


def _card_data(customer):
    recent = lambda model, order, n: db.session.scalars(  # noqa: E731
        select(model).where(model.customer_id == customer.id).order_by(order).limit(n)).all()
    from kq.services.customers import tags_of

    return {
        "customer": customer,
        "tags": tags_of([customer.id]).get(customer.id, []),
        "cards": db.session.scalars(select(PrepaidCard).where(
            PrepaidCard.customer_id == customer.id, PrepaidCard.status == "open")
            .order_by(PrepaidCard.id.desc()).limit(5)).all(),  # closed cards are not hers
        "visits": recent(Visit, Visit.visited_at.desc(), 6),
        "notes": recent(CareNote, CareNote.created_at.desc(), 3),
        "contacts": recent(Contact, Contact.contacted_at.desc(), 5),
        "promises": db.session.scalars(select(Promise).where(
            Promise.customer_id == customer.id, Promise.status == "open")).all(),
        "gifts": db.session.scalars(select(GiftHandout).where(
            GiftHandout.customer_id == customer.id, GiftHandout.status == "reserved")
            .options(joinedload(GiftHandout.gift))).all(),
    }


def _cards(store, params, progress):
    from kq.masking import national
    from kq.services.audit import audit

    if "customer" in params:
        customers = db.session.scalars(select(Customer).where(
            Customer.id == params["customer"], Customer.store_id == store.id)).all()
        owner = None
    else:
        owner = _staff(store, params["staff"])
        customers = db.session.scalars(
            select(Customer).where(Customer.store_id == store.id,
                                   Customer.assigned_staff_id == params["staff"],
                                   Customer.deleted_at.is_(None))
            .order_by(Customer.is_key.desc(), Customer.last_visit_at.desc().nulls_last())
            .limit(MAX_HANDOVER_CARDS)).all()
    cards = []
    for i, customer in enumerate(customers):
        cards.append(_card_data(customer))
        if i % 20 == 0:
            progress(10 + int(30 * i / max(1, len(customers))))
    # Printed phone numbers leave the app: the print is recorded like a reveal.
    audit("print_cards", store_id=store.id, detail={"customers": len(customers),
                                                    "kind": "handover" if owner else "card"})
    return "reports/cards.html", {"cards": cards, "owner": owner, "national": national,
                                  "labels": labels, "today": store.today()}


def css_string(text):
    """A CSS string literal for the page margins: every character outside plain letters,
    digits, CJK and spaces is written as a CSS escape, so no name can end the string or the
    <style> element."""
    out = []
    for ch in str(text):
        if ch.isalnum() or ch in " ·-_.,()（）":
            out.append(ch)
        else:
            out.append(f"\\{ord(ch):06x}")
    return '"' + "".join(out) + '"'


def render_html(report, progress=lambda p: None):
    store = db.session.get(Store, report.store_id)
    builders = {"morning": _morning, "evening": _evening, "ledger": _ledger,
                "dormant": _dormant}
    if report.kind in builders:
        template, context = builders[report.kind](store, report.params)
    else:
        template, context = _cards(store, report.params, progress)
    return render_template(template, store=store, title=title_of(report),
                           printed_at=store.local_now(), css_string=css_string, **context)


def write_pdf(html):
    from weasyprint import HTML

    document = HTML(string=html, base_url=current_app.root_path).render()
    return document.write_pdf(), len(document.pages)


def build(report_id):
    """The job's body: render, lay out, store the file; a failure is recorded, not lost."""
    from flask_babel import force_locale

    report = db.session.get(Report, report_id)
    if report is None or report.status == DONE:
        return None

    def progress(value):
        report.progress = max(report.progress, min(99, value))
        db.session.commit()

    report.status, report.started_at, report.error = RUNNING, utcnow(), None
    progress(5)
    try:
        with force_locale(report.locale):
            html = render_html(report, progress)
            progress(40)
            pdf, pages = write_pdf(html)
        progress(95)
        name = f"{report.id}-{report.kind}-{datetime.now().strftime('%Y%m%d%H%M%S')}.pdf"
        folder = Path(current_app.config["REPORTS_DIR"]) / str(report.store_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(pdf)
        report.file_name, report.file_size, report.pages = name, len(pdf), pages
        report.status, report.progress, report.finished_at = DONE, 100, utcnow()
        report.active_key = None
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - recorded for the user, then re-raised
        db.session.rollback()
        report = db.session.get(Report, report_id)
        report.status, report.active_key, report.finished_at = FAILED, None, utcnow()
        report.error = f"{type(error).__name__}: {error}"[:500]
        db.session.commit()
        current_app.logger.exception("report %s failed", report_id)
        return None
    return report.file_name
