"""The figures behind the manager's pages and the printed sheets (SPEC §6, §9).

Each function is a handful of grouped, indexed queries; pages and PDFs call the same ones.
"""
from calendar import monthrange
from datetime import date, timedelta

from sqlalchemy import and_, case, func, or_, select

from kq.extensions import db
from kq.models import (BEAUTICIAN, Assignment, Contact, Customer, LedgerEntry, Task, User,
                       Visit)
from kq.models.contact import DAILY_KINDS, DONE, OPEN
from kq.services.checklist import midnight

WINDOWS = {"1m": 30, "6m": 180, "1y": 365}
REACHED = ("reached", "booked")


def staff_of(store, include_inactive=False):
    query = select(User).where(User.store_id == store.id, User.role == BEAUTICIAN)
    if not include_inactive:
        query = query.where(User.active.is_(True))
    return db.session.scalars(query.order_by(User.username)).all()


def dormant_cut(store, day, window_days):
    """Not seen since this instant → dormant for the window (day counts like the checklist)."""
    return midnight(store, day - timedelta(days=window_days - 1))


def _live(store):
    return and_(Customer.store_id == store.id, Customer.deleted_at.is_(None))


def dormant_now(store, window_days, today=None):
    """{staff id or None: (customers, dormant)} today, from the cards' last visit."""
    rows = db.session.execute(dormant_counts_query(store, window_days, today)).all()
    return {staff_id: (total, dormant or 0) for staff_id, total, dormant in rows}


def dormant_counts_query(store, window_days, today=None):
    """Per staff member: her customers, and how many have not been in for the window. Read
    off the cards (last visit, else joining): no pass over visits."""
    cut = dormant_cut(store, today or store.today(), window_days)
    seen = func.coalesce(Customer.last_visit_at, Customer.created_at)
    return (select(Customer.assigned_staff_id, func.count(),
                   func.sum(case((seen < cut, 1), else_=0)))
            .where(_live(store)).group_by(Customer.assigned_staff_id))


def dormant_at(store, day, window_days):
    """{staff id or None: (customers, dormant)} as things stood at the end of a past `day`:
    her last visit before then, and who looked after her then."""
    end = midnight(store, day + timedelta(days=1))
    cut = dormant_cut(store, day, window_days)
    last = (select(func.max(Visit.visited_at))
            .where(Visit.customer_id == Customer.id, Visit.visited_at < end).scalar_subquery())
    seen = func.coalesce(last, Customer.created_at)
    staff = (select(Assignment.staff_id)
             .where(Assignment.customer_id == Customer.id, Assignment.assigned_at < end,
                    or_(Assignment.ended_at.is_(None), Assignment.ended_at >= end))
             .order_by(Assignment.assigned_at.desc()).limit(1).scalar_subquery())
    inner = (select(staff.label("staff_id"), case((seen < cut, 1), else_=0).label("dormant"))
             .where(_live(store), Customer.created_at < end).subquery())
    rows = db.session.execute(
        select(inner.c.staff_id, func.count(), func.sum(inner.c.dormant))
        .group_by(inner.c.staff_id)).all()
    return {staff_id: (total, dormant or 0) for staff_id, total, dormant in rows}


def rate(total, dormant):
    return round(100.0 * dormant / total, 1) if total else 0.0


def month_ends(today, months):
    """The last day of each of the `months` months up to this one (this month: today)."""
    ends = []
    year, month = today.year, today.month
    for _ in range(months):
        ends.append(today if (year, month) == (today.year, today.month)
                    else date(year, month, monthrange(year, month)[1]))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(ends))


def dormant_trend(store, window_days, months=12, today=None, save=True):
    """[(YYYY-MM, {staff id or None: (customers, dormant)})] month by month; the current month
    is today's figure, finished months come from their snapshots (made on first need)."""
    from kq.models import DormantSnapshot
    from kq.services.checklist import insert_ignoring_duplicates

    today = today or store.today()
    ends = month_ends(today, months)
    names = [end.strftime("%Y-%m") for end in ends]
    stored = {}
    for month, staff_key, customers, dormant in db.session.execute(
            select(DormantSnapshot.month, DormantSnapshot.staff_key, DormantSnapshot.customers,
                   DormantSnapshot.dormant)
            .where(DormantSnapshot.store_id == store.id,
                   DormantSnapshot.window_days == window_days,
                   DormantSnapshot.month.in_(names))):
        stored.setdefault(month, {})[staff_key or None] = (customers, dormant)
    trend, new_rows = [], []
    for end, month in zip(ends, names, strict=True):
        if end == today:
            trend.append((month, dormant_now(store, window_days, today)))
            continue
        if month not in stored:
            counts = dormant_at(store, end, window_days)
            stored[month] = counts
            new_rows += [{"store_id": store.id, "month": month, "window_days": window_days,
                          "staff_key": staff_id or 0, "customers": total, "dormant": dormant}
                         for staff_id, (total, dormant) in counts.items()]
        trend.append((month, stored[month]))
    if new_rows and save:
        from sqlalchemy.exc import OperationalError

        try:
            insert_ignoring_duplicates(DormantSnapshot, new_rows,
                                       ("store_id", "month", "window_days", "staff_key"))
            db.session.commit()
        except OperationalError:  # another writer holds SQLite's lock: count again next time
            db.session.rollback()
    return trend


def snapshot_months(store, today=None):
    """The daily job fills last months' snapshots for the report's usual windows."""
    for window in sorted({store.dormant_after_days, *WINDOWS.values()}):
        dormant_trend(store, window, months=12, today=today)


def store_total(per_staff):
    """The whole store's row of a per-staff table: every count summed (rates are not); a
    Counter, so a store with nobody in the table reads 0s, not missing values."""
    from collections import Counter

    total = Counter()
    for figures in per_staff.values():
        total.update({k: v for k, v in figures.items() if isinstance(v, int)})
    return total


def totals(counts):
    return (sum(t for t, _ in counts.values()), sum(d for _, d in counts.values()))


def not_seen_since(store, window_days, today=None):
    """No visit in the window (a customer who never came counts from the day she joined)."""
    cut = dormant_cut(store, today or store.today(), window_days)
    return or_(Customer.last_visit_at < cut,
               and_(Customer.last_visit_at.is_(None), Customer.created_at < cut))


def dormant_query(store, window_days, staff_id=None, today=None):
    """The dormant customers of a window, longest unseen first (for the list and the PDF)."""
    query = select(Customer).where(_live(store), not_seen_since(store, window_days, today))
    if staff_id == "none":
        query = query.where(Customer.assigned_staff_id.is_(None))
    elif staff_id is not None:
        query = query.where(Customer.assigned_staff_id == staff_id)
    return query.order_by(Customer.last_visit_at.asc().nulls_first(), Customer.id)


# Meetings -----------------------------------------------------------------------------------

def _by_staff(rows):
    return {staff_id: value for staff_id, value in rows}


def morning(store, day):
    """Per staff: today's items, open, red flags, birthdays, overdue; targets."""
    rows = db.session.execute(
        select(Task.staff_id, func.count(),
               func.sum(case((Task.status == OPEN, 1), else_=0)),
               func.sum(case((Task.kind == "red_flag", 1), else_=0)),
               func.sum(case((Task.kind.in_(("birthday_call", "birthday_prep")), 1), else_=0)),
               func.sum(case((Task.kind.in_(("promise_due", "gift_pickup",
                                             "complaint_follow_up")), 1), else_=0)))
        .where(Task.store_id == store.id, Task.due_on == day)
        .group_by(Task.staff_id)).all()
    overdue = _by_staff(db.session.execute(
        select(Task.staff_id, func.count())
        .where(Task.store_id == store.id, Task.status == OPEN, Task.due_on < day,
               Task.due_on >= day - timedelta(days=14), Task.kind.not_in(DAILY_KINDS))
        .group_by(Task.staff_id)).all())
    month_start = day.replace(day=1)
    reactivated = _by_staff(db.session.execute(
        select(LedgerEntry.staff_id, func.count())
        .where(LedgerEntry.store_id == store.id, LedgerEntry.kind == "reward",
               LedgerEntry.voided_at.is_(None), LedgerEntry.occurred_on >= month_start,
               LedgerEntry.occurred_on <= day)
        .group_by(LedgerEntry.staff_id)).all())
    figures = {}
    for staff_id, total, open_, red, birthdays, commitments in rows:
        figures[staff_id] = {"items": total, "open": open_ or 0, "red": red or 0,
                             "birthdays": birthdays or 0, "commitments": commitments or 0}
    result = {}
    for staff in staff_of(store):
        f = figures.get(staff.id, {"items": 0, "open": 0, "red": 0, "birthdays": 0,
                                   "commitments": 0})
        f.update(overdue=overdue.get(staff.id, 0), reactivated=reactivated.get(staff.id, 0),
                 contact_target=store.daily_contact_target,
                 reactivation_target=store.monthly_reactivation_target)
        result[staff.id] = f
    return result


def activity(store, start, end):
    """Per staff over local days start..end inclusive: items done/total, contacts, reached,
    bookings, visits, reactivations, rewards, penalties (fen), net."""
    since, until = midnight(store, start), midnight(store, end + timedelta(days=1))
    tasks = db.session.execute(
        select(Task.staff_id, func.count(), func.sum(case((Task.status == DONE, 1), else_=0)))
        .where(Task.store_id == store.id, Task.due_on >= start, Task.due_on <= end)
        .group_by(Task.staff_id)).all()
    contacts = db.session.execute(
        select(Contact.staff_id, func.count(),
               func.sum(case((Contact.outcome.in_(REACHED), 1), else_=0)),
               func.sum(case((Contact.outcome == "booked", 1), else_=0)))
        .where(Contact.store_id == store.id, Contact.contacted_at >= since,
               Contact.contacted_at < until)
        .group_by(Contact.staff_id)).all()
    visits = _by_staff(db.session.execute(
        select(Visit.staff_id, func.count())
        .where(Visit.store_id == store.id, Visit.visited_at >= since, Visit.visited_at < until)
        .group_by(Visit.staff_id)).all())
    ledger = db.session.execute(
        select(LedgerEntry.staff_id, LedgerEntry.kind, func.count(),
               func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.store_id == store.id, LedgerEntry.voided_at.is_(None),
               LedgerEntry.occurred_on >= start, LedgerEntry.occurred_on <= end)
        .group_by(LedgerEntry.staff_id, LedgerEntry.kind)).all()
    blank = {"items": 0, "done": 0, "contacts": 0, "reached": 0, "booked": 0, "visits": 0,
             "reactivations": 0, "rewards": 0, "penalties": 0, "penalty_count": 0}
    result = {s.id: dict(blank) for s in staff_of(store)}

    def row(staff_id):
        return result.setdefault(staff_id, dict(blank))

    for staff_id, total, done in tasks:
        row(staff_id).update(items=total, done=done or 0)
    for staff_id, total, reached, booked in contacts:
        row(staff_id).update(contacts=total, reached=reached or 0, booked=booked or 0)
    for staff_id, count in visits.items():
        if staff_id is not None:
            row(staff_id)["visits"] = count
    for staff_id, kind, count, amount in ledger:
        if kind == "reward":
            row(staff_id).update(reactivations=count, rewards=amount or 0)
        else:
            row(staff_id).update(penalty_count=count, penalties=amount or 0)
    for figures in result.values():
        figures["net"] = figures["rewards"] + figures["penalties"]
        figures["reach_rate"] = rate(figures["contacts"], figures["reached"])
        figures["completion"] = rate(figures["items"], figures["done"])
    return result
