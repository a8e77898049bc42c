"""Printed reports (SPEC §9): what each kind needs, its HTML, and the PDF WeasyPrint makes of it.

Asking for one, the queue and a lost job's fate are in kq.services.printing_queue; this module
builds. The build runs in a job (kq.jobs.build_report) that states what it does with the
database: its reads in a read transaction (deferred on SQLite), each write — the start, the
progress, the end or the failure — in a short write transaction of its own (BEGIN IMMEDIATE), so
that it finishes while others are saving. Reports are served only to managers and the owner of
their store.
"""
import os
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from kq import labels
from kq.db import read_intent, write_intent
from kq.extensions import db
from kq.models import (CareNote, Contact, Customer, GiftHandout, LedgerEntry, PrepaidCard,
                       Promise, Report, Store, Task, User, Visit, utcnow)
from kq.models.report import DONE, FAILED, RUNNING
from kq.services import reports as figures

KINDS = {
    "morning": _l("Morning meeting sheet"),
    "evening": _l("Evening meeting sheet"),
    "ledger": _l("Monthly reward/penalty statement"),
    "dormant": _l("Dormant customers"),
    "card": _l("Customer card"),
    "handover": _l("Handover pack"),
    "campaign": _l("Campaign review"),
}
MAX_DORMANT_ROWS = 3000
MAX_HANDOVER_CARDS = 400
# From this size on a report comes in sections that start a page each (a staff member's focus,
# a run of the dormant list's rows, a customer's card), laid out on every core when there are
# several (kq.services.pdfsections). Below it the layout is as it always was.
SECTIONED_STAFF = 8
SECTIONED_ROWS, SECTION_ROWS = 300, 150
SECTIONED_CARDS = 20


def staff_member(store, staff_id):
    return db.session.scalar(select(User).where(User.id == staff_id, User.store_id == store.id))


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
                                    "focus": focus, "kinds": labels.KINDS,
                                    "sectioned": len(staff) >= SECTIONED_STAFF}


def evening_figures(store, day):
    """The evening meeting's figures, for the page and the sheet: (staff, per staff, whole
    store). Its staff are the morning sheet's (the store's active beauticians) and the whole
    store is their sum, so that both meetings count the same items (the owner's own list and
    other roles' rows are not a staff member's day). Rewards and penalties are the ledger's as
    last counted (the nightly run, or the manager's "count now"): reading counts nothing."""
    staff = figures.staff_of(store)
    every = figures.activity(store, day, day)
    numbers = {s.id: every[s.id] for s in staff}
    return staff, numbers, figures.store_total(numbers)


def _evening(store, params):
    day = date.fromisoformat(params["date"])
    staff, numbers, total = evening_figures(store, day)
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
        "only": staff_member(store, staff_id) if staff_id else None,
        "limited": len(rows) >= MAX_DORMANT_ROWS, "sectioned": len(rows) > SECTIONED_ROWS,
        "chunk_rows": SECTION_ROWS if len(rows) > SECTIONED_ROWS else max(1, len(rows))}


def _campaign_review(store, params):
    from kq.services.campaigns import review_data

    return "reports/campaign.html", review_data(store, params["campaign"])


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


def _cards(store, params, progress, audits):
    from kq.masking import national

    if "customer" in params:
        customers = db.session.scalars(select(Customer).where(
            Customer.id == params["customer"], Customer.store_id == store.id)).all()
        owner = None
    else:
        owner = staff_member(store, params["staff"])
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
    # Printed phone numbers leave the app: the print is recorded like a reveal (written with
    # the finished report).
    audits.append(("print_cards", {"customers": len(customers),
                                   "kind": "handover" if owner else "card",
                                   "customer": params.get("customer"),
                                   "staff": params.get("staff")}))
    return "reports/cards.html", {"cards": cards, "owner": owner, "national": national,
                                  "labels": labels, "today": store.today(),
                                  "sectioned": len(cards) > SECTIONED_CARDS}


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


def render_html(report, progress=lambda p: None, audits=None):
    """The report's HTML. What it records (a print of phone numbers) goes into `audits` as
    (action, detail) for the caller to write with the finished report; without a list it is
    added to the session here."""
    store = db.session.get(Store, report.store_id)
    builders = {"morning": _morning, "evening": _evening, "ledger": _ledger,
                "dormant": _dormant, "campaign": _campaign_review}
    recorded = [] if audits is None else audits
    if report.kind in builders:
        template, context = builders[report.kind](store, report.params)
    else:
        template, context = _cards(store, report.params, progress, recorded)
    from kq.services.pdfsections import SECTION

    context = {"sectioned": False, **context}
    html = render_template(template, store=store, title=title_of(report),
                           printed_at=store.local_now(), css_string=css_string,
                           section_mark=SECTION if context["sectioned"] else "", **context)
    if audits is None:
        from kq.services.audit import audit

        for action, detail in recorded:
            audit(action, store_id=store.id, detail=detail)
    return html


def write_pdf(html, sections=None):
    """(PDF bytes, pages). A report in sections is laid out on every core when that gains
    anything (`sections` True or False forces the choice, for the tests and the bench)."""
    from kq.services import pdfsections

    if pdfsections.worth_it(html) if sections is None else sections:
        return pdfsections.write_pdf(html, current_app.root_path)
    return pdfsections.lay_out(html, current_app.root_path)


# The job's body ----------------------------------------------------------------------------

def build(report_id, job_id=None):
    """Render, lay out, store the file. Every step is inside the error handling: a failure is
    recorded on the report with its reason, never left "running". A job that is no longer the
    report's latest (it was asked again meanwhile) does nothing."""
    from flask_babel import force_locale

    db.session.rollback()  # a job starts with nothing open
    try:
        if not _start(report_id, job_id):
            return None
        audits = []
        with read_intent():
            report = db.session.get(Report, report_id)
            with force_locale(report.locale):
                html = render_html(report, lambda value: _progress(report_id, value), audits)
            store_id, kind = report.store_id, report.kind
            db.session.rollback()
        _progress(report_id, 40)
        pdf, pages = write_pdf(html)
        _progress(report_id, 95)
        name = f"{report_id}-{kind}-{datetime.now().strftime('%Y%m%d%H%M%S')}.pdf"
        folder = Path(current_app.config["REPORTS_DIR"]) / str(store_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(pdf)
        if not _finish(report_id, job_id, name, len(pdf), pages, audits):
            os.remove(folder / name)
            return None
    except Exception as error:  # noqa: BLE001 - recorded for the user, logged
        db.session.rollback()
        current_app.logger.exception("report %s failed", report_id)
        _fail(report_id, job_id, f"{type(error).__name__}: {error}"[:500])
        return None
    return name


def _mine(report, job_id):
    return report is not None and (job_id is None or report.job_id == job_id)


def _start(report_id, job_id):
    with write_intent():
        report = db.session.get(Report, report_id)
        if not _mine(report, job_id) or report.status == DONE:
            db.session.rollback()
            return False
        report.status, report.started_at, report.error = RUNNING, utcnow(), None
        report.finished_at, report.progress = None, max(report.progress or 0, 5)
        db.session.commit()
    return True


def _progress(report_id, value):
    """A courtesy for the page that watches: its own short write on its own connection (the
    job's session may be reading), and a failure to save it does not stop the report."""
    value = min(99, value)
    try:
        with write_intent(), db.engine.begin() as connection:
            connection.execute(update(Report).where(
                Report.id == report_id, Report.status == RUNNING, Report.progress < value)
                .values(progress=value))
    except SQLAlchemyError:
        current_app.logger.warning("report %s: progress not saved", report_id, exc_info=True)


def _finish(report_id, job_id, name, size, pages, audits):
    from kq.services.audit import audit

    with write_intent():
        report = db.session.get(Report, report_id)
        if not _mine(report, job_id):
            db.session.rollback()
            return False
        report.file_name, report.file_size, report.pages = name, size, pages
        report.status, report.progress, report.finished_at = DONE, 100, utcnow()
        report.active_key, report.error = None, None
        requester = db.session.get(User, report.requested_by_id)
        for action, detail in audits:
            audit(action, store_id=report.store_id, detail=detail, user=requester)
        db.session.commit()
    return True


def _fail(report_id, job_id, reason):
    """Raises if even this cannot be saved (the database is gone): the job then fails in RQ,
    and the page's liveness check reports it."""
    with write_intent():
        report = db.session.get(Report, report_id)
        if not _mine(report, job_id) or report.status == DONE:
            db.session.rollback()
            return
        report.status, report.active_key, report.finished_at = FAILED, None, utcnow()
        report.error = reason
        db.session.commit()
