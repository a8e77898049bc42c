"""Dormant customers and their trend, win-back offers, the two daily meetings and staff
performance (SPEC §6, §9)."""
from datetime import date, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from kq import labels
from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.charts import bar_chart, line_chart
from kq.extensions import db
from kq.models import AuditEvent, Customer, ReactivationOffer
from kq.scoping import current_store
from kq.services import exporting, reports
from kq.services.checklist import ensure_day, midnight
from kq.services.exporting import DATE, MONEY, NUMBER, Column
from kq.services.printing import evening_figures

MAX_CUSTOM_DAYS = 3650


def window_from(args, store):
    """(key, days): 1m / 6m / 1y, or custom days."""
    key = args.get("window") or "1m"
    if key in reports.WINDOWS:
        days = reports.WINDOWS[key]
        if key == "1m":
            days = store.dormant_after_days
        return key, days
    raw = (args.get("days") or "").strip()
    if raw.isdigit() and 1 <= int(raw) <= MAX_CUSTOM_DAYS:
        return "custom", int(raw)
    return "1m", store.dormant_after_days


def dormant_chart(store, days, staff, trend, size=None):
    names = [(None, _("Whole store"))] + [(s.id, s.display_name) for s in staff]
    series = []
    for staff_id, name in names:
        values = []
        for _month, counts in trend:
            total, dormant = reports.totals(counts) if staff_id is None else \
                counts.get(staff_id, (0, 0))
            values.append(reports.rate(total, dormant) if total else None)
        series.append((name, values))
    return line_chart([m for m, _c in trend], series, size=size,
                      alt=_("Dormant rate by month"))


@bp.route("/dormant")
@manager_required
def dormant():
    store = current_store()
    today = store.today()
    key, days = window_from(request.args, store)
    staff_filter = request.args.get("staff")
    staff_id = "none" if staff_filter == "none" else (
        int(staff_filter) if (staff_filter or "").isdigit() else None)
    query = reports.dormant_query(store, days, staff_id, today)
    fmt = exporting.wanted_format(request.args)
    if fmt:
        return _export_dormant(fmt, store, query, days)
    staff = reports.staff_of(store)
    counts = reports.dormant_now(store, days, today)
    total, dormant_total = reports.totals(counts)
    # Finished months the nightly job has not stored are counted, not stored: a GET
    # writes nothing.
    trend = reports.dormant_trend(store, days, months=12, today=today, save=False)
    page = db.paginate(query.options(joinedload(Customer.assigned_staff)),
                       per_page=50, error_out=False)
    return render_template(
        "manager/dormant.html", store=store, key=key, days=days, staff=staff, counts=counts,
        total=total, dormant_total=dormant_total, rate=reports.rate, page=page,
        chart=dormant_chart(store, days, staff, trend), today=today, labels=labels,
        staff_filter=staff_filter or "", windows=reports.WINDOWS)


def _export_dormant(fmt, store, query, days):
    """The list below the chart, every page of it, with the window and staff chosen."""
    store = exporting.frozen(store)
    today, phone = store.today(), exporting.phone_for(current_user)
    columns = [
        Column(_("Name"), lambda c: c.name),
        Column(_("Greeting name"), lambda c: c.greeting_name),
        Column(_("Phone"), lambda c: phone(c.phone, c.assigned_staff_id)),
        Column(_("Looked after by"),
               lambda c: c.assigned_staff.display_name if c.assigned_staff else _("Unassigned")),
        Column(_("Last visit"), lambda c: store.local_date(c.last_visit_at), DATE),
        Column(_("Days since last visit"), lambda c: c.days_since_visit(store, today), NUMBER),
        Column(_("Visits"), lambda c: c.visit_count, NUMBER),
        Column(_("Total spent (yuan)"), lambda c: c.total_spent_fen, MONEY),
        Column(_("Key customer"), lambda c: exporting.yes_no(c.is_key)),
        Column(_("Tier"), lambda c: c.tier),
        Column(_("Do not contact"), lambda c: exporting.yes_no(c.do_not_contact)),
        Column(_("Why she left"), lambda c: labels.CHURN_REASONS.get(c.churn_reason)),
        Column(_("Win-back category"), lambda c: labels.REACTIVATION.get(c.reactivation_category)),
    ]
    rows = exporting.rows_of(query.options(joinedload(Customer.assigned_staff)), fmt)
    return exporting.send(fmt, store=store, list_name="dormant",
                          title=_("Not seen for %(days)d days", days=days), columns=columns,
                          rows=rows, count=exporting.count_of(query))


def offers_for(store):
    """category → the store's wording of the suggested offer (or the built-in one)."""
    own = dict(db.session.execute(select(ReactivationOffer.category, ReactivationOffer.text)
                                  .where(ReactivationOffer.store_id == store.id)).all())
    return {k: own.get(k) or str(v) for k, v in labels.REACTIVATION_OFFERS.items()}, own


@bp.route("/offers", methods=["GET", "POST"])
@manager_required
def offers():
    store = current_store()
    if request.method == "POST":
        category = request.form.get("category")
        text = (request.form.get("text") or "").strip()
        problem = (_("Choose a category.") if category not in labels.REACTIVATION else
                   _("At most %(max)d characters.", max=500) if len(text) > 500 else None)
        if problem is None:
            row = db.session.scalar(select(ReactivationOffer).where(
                ReactivationOffer.store_id == store.id, ReactivationOffer.category == category))
            if not text or request.form.get("action") == "reset":
                if row is not None:
                    db.session.delete(row)
            elif row is None:
                db.session.add(ReactivationOffer(store_id=store.id, category=category,
                                                 text=text, updated_by_id=current_user.id))
            else:
                row.text, row.updated_by_id = text, current_user.id
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("manager.offers"))
        flash(problem, "error")
    texts, own = offers_for(store)
    return render_template("manager/offers.html", texts=texts, own=own, labels=labels), \
        422 if request.method == "POST" else 200


@bp.route("/meeting/morning")
@manager_required
def morning():
    store = current_store()
    today = store.today()
    ensure_day(store, today)  # the lists exist before anyone opens her phone
    store = current_store()
    staff = reports.staff_of(store)
    figures = reports.morning(store, today)
    total = reports.store_total(figures)
    return render_template("manager/morning.html", store=store, today=today, staff=staff,
                           figures=figures, total=total)


@bp.route("/meeting/evening")
@manager_required
def evening():
    """Today's figures as the ledger holds them: looking counts nothing; the manager counts
    today with a POST (manager.run_ledger_now), the nightly run counts every day."""
    store = current_store()
    today = store.today()
    staff, figures, total = evening_figures(store, today)
    last_run = db.session.scalar(
        select(AuditEvent.created_at).where(AuditEvent.store_id == store.id,
                                            AuditEvent.action == "ledger_run",
                                            AuditEvent.created_at >= midnight(store, today))
        .order_by(AuditEvent.id.desc()).limit(1))
    return render_template("manager/evening.html", store=store, today=today, staff=staff,
                           figures=figures, total=total, last_run=last_run)


def period_from(args, today):
    """(start, end, key) from ?period=week|month|last_month or ?from=&to=."""
    key = args.get("period") or "month"
    if key == "week":
        return today - timedelta(days=today.weekday()), today, key
    if key == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end, key
    if key == "range":
        try:
            start, end = date.fromisoformat(args.get("from", "")), date.fromisoformat(
                args.get("to", ""))
            if start <= end <= today and (end - start).days <= 366:
                return start, end, key
        except ValueError:
            pass
    return today.replace(day=1), today, "month"


@bp.route("/performance")
@manager_required
def performance():
    store = current_store()
    today = store.today()
    start, end, key = period_from(request.args, today)
    staff = reports.staff_of(store)
    figures = reports.activity(store, start, end)
    names = [s.display_name for s in staff]
    chart = bar_chart(names, [
        (_("Contacts"), [figures[s.id]["contacts"] for s in staff]),
        (_("Reached"), [figures[s.id]["reached"] for s in staff]),
        (_("Bookings"), [figures[s.id]["booked"] for s in staff]),
        (_("Won back"), [figures[s.id]["reactivations"] for s in staff]),
    ])
    return render_template("manager/performance.html", store=store, start=start, end=end,
                           key=key, staff=staff, figures=figures, chart=chart, today=today)
