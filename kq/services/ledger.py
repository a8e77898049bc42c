"""The reward/penalty ledger (SPEC §7).

Reward: a visit that ends a dormant spell (at least `dormant_after_days` local days since her
previous visit), made while she is assigned to a staff member who logged at least one contact
with her during the spell, earns that staff member `reward_fen`. Once per spell: the spell ends
with exactly one visit, whose id is the entry's dedupe key.

Penalty: an assignment that reaches `penalty_after_days` days with no visit — counted from the
later of the last visit and the assignment date; a visit on day 89 saves it, one on day 90 is
too late — costs the assigned staff member `penalty_fen`, once per assignment, and proposes the
customer for reassignment.

A run for day D looks at D and the six days before it, so a missed night or a visit entered a
few days late is still counted; each candidate is one indexed query. Entries are inserted with
ON CONFLICT DO NOTHING on their dedupe key, so running twice, at once, or for a past date again
creates nothing new. Entries are never edited or deleted; a manager may void one.
"""
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import aliased

from kq.extensions import db
from kq.models import Assignment, Contact, Customer, LedgerEntry, User, Visit, utcnow
from kq.services import ServiceError
from kq.services.checklist import insert_ignoring_duplicates, midnight

CATCH_UP_DAYS = 7


def _assignment_at(customer_id, moment):
    return db.session.execute(
        select(Assignment.id, Assignment.staff_id).where(
            Assignment.customer_id == customer_id, Assignment.assigned_at <= moment,
            or_(Assignment.ended_at.is_(None), Assignment.ended_at > moment))
        .order_by(Assignment.assigned_at.desc()).limit(1)).first()


def reward_rows(store, day):
    """Reactivation visits on local `day` that earn their assigned staff member a reward."""
    previous = aliased(Visit)
    prev_at = (select(func.max(previous.visited_at))
               .where(previous.customer_id == Visit.customer_id,
                      previous.visited_at < Visit.visited_at).scalar_subquery())
    visits = db.session.execute(
        select(Visit.id, Visit.customer_id, Visit.visited_at, prev_at.label("prev"))
        .join(Customer, Customer.id == Visit.customer_id)
        .where(Visit.store_id == store.id, Visit.imported.is_(False),
               Visit.visited_at >= midnight(store, day),
               Visit.visited_at < midnight(store, day + timedelta(days=1)),
               Customer.deleted_at.is_(None))).all()
    rows = []
    for visit_id, customer_id, visited_at, prev in visits:
        if prev is None:
            continue  # a first visit wins nobody back
        prev_day = store.local_date(prev)
        if (day - prev_day).days < store.dormant_after_days:
            continue
        assignment = _assignment_at(customer_id, visited_at)
        if assignment is None:
            continue
        spell_start = midnight(store, prev_day + timedelta(days=store.dormant_after_days))
        contacted = db.session.scalar(select(exists().where(
            Contact.customer_id == customer_id, Contact.staff_id == assignment.staff_id,
            Contact.contacted_at >= spell_start, Contact.contacted_at < visited_at)))
        if not contacted:
            continue
        rows.append({
            "store_id": store.id, "staff_id": assignment.staff_id, "customer_id": customer_id,
            "assignment_id": assignment.id, "visit_id": visit_id, "kind": "reward",
            "amount_fen": store.reward_fen, "occurred_on": day, "period": day.strftime("%Y-%m"),
            "reason": f"dormant:{(day - prev_day).days}",
            "dedupe_key": f"reward:visit:{visit_id}", "created_at": utcnow()})
    return rows


def penalty_rows(store, day):
    """Assignments for which `day` is the first day after penalty_after_days without a visit."""
    days = store.penalty_after_days
    window_start = midnight(store, day - timedelta(days=days - 1))
    before_day = midnight(store, day)
    visited_in_window = exists().where(Visit.customer_id == Assignment.customer_id,
                                       Visit.visited_at >= window_start,
                                       Visit.visited_at < before_day)
    already = exists().where(LedgerEntry.assignment_id == Assignment.id,
                             LedgerEntry.kind == "penalty")
    last_visit = (select(func.max(Visit.visited_at))
                  .where(Visit.customer_id == Assignment.customer_id,
                         Visit.visited_at < before_day).scalar_subquery())
    candidates = db.session.execute(
        select(Assignment.id, Assignment.staff_id, Assignment.customer_id,
               Assignment.assigned_at, last_visit.label("last_visit"))
        .join(Customer, Customer.id == Assignment.customer_id)
        .join(User, User.id == Assignment.staff_id)
        .where(Assignment.store_id == store.id, Assignment.assigned_at < window_start,
               or_(Assignment.ended_at.is_(None), Assignment.ended_at >= before_day),
               Customer.deleted_at.is_(None), Customer.do_not_contact.is_(False),
               User.active.is_(True), ~visited_in_window, ~already)).all()
    rows = []
    for assignment_id, staff_id, customer_id, assigned_at, last in candidates:
        since = store.local_date(assigned_at)
        if last is not None:
            since = max(since, store.local_date(last))
        due = since + timedelta(days=days)
        rows.append({
            "store_id": store.id, "staff_id": staff_id, "customer_id": customer_id,
            "assignment_id": assignment_id, "visit_id": None, "kind": "penalty",
            "amount_fen": -store.penalty_fen, "occurred_on": due, "period": due.strftime("%Y-%m"),
            "reason": f"no_visit:{days}",
            "dedupe_key": f"penalty:assignment:{assignment_id}", "created_at": utcnow()})
    return rows


def run_ledger(store, day, *, commit=True, catch_up=CATCH_UP_DAYS):
    """Rewards and penalties for `day` and the days before it that a run may have missed
    (pages that only need today's figures pass catch_up=1). Returns {"rewards": n,
    "penalties": n} of entries created now."""
    created = {"rewards": 0, "penalties": 0}
    for offset in range(catch_up - 1, -1, -1):
        d = day - timedelta(days=offset)
        created["rewards"] += insert_ignoring_duplicates(LedgerEntry, reward_rows(store, d),
                                                         ("dedupe_key",))
        penalties = penalty_rows(store, d)
        created["penalties"] += insert_ignoring_duplicates(LedgerEntry, penalties,
                                                           ("dedupe_key",))
        if penalties:
            ids = [row["assignment_id"] for row in penalties]
            db.session.execute(
                Assignment.__table__.update()
                .where(Assignment.id.in_(ids), Assignment.ended_at.is_(None))
                .values(proposed_for_reassignment=True))
    if commit:
        db.session.commit()
    return created


def void_entry(store, entry_id, *, reason, by):
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.id == entry_id,
                                                        LedgerEntry.store_id == store.id))
    if entry is None:
        raise LookupError("entry")
    reason = (reason or "").strip()
    if entry.voided_at is not None:
        raise ServiceError(_l("This entry is already void."), code="void")
    if not reason or len(reason) > 200:
        raise ServiceError({"reason": _l("Say why it is void, in at most 200 characters.")},
                           code="invalid")
    entry.voided_at, entry.voided_by_id, entry.void_reason = utcnow(), by.id, reason
    db.session.commit()
    return entry


def monthly_totals(store, period):
    """staff id → {"rewards", "penalties", "net", "count"} in fen for one YYYY-MM."""
    rows = db.session.execute(
        select(LedgerEntry.staff_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_fen),
               func.count())
        .where(LedgerEntry.store_id == store.id, LedgerEntry.period == period,
               LedgerEntry.voided_at.is_(None))
        .group_by(LedgerEntry.staff_id, LedgerEntry.kind)).all()
    totals = {}
    for staff_id, kind, amount, count in rows:
        t = totals.setdefault(staff_id, {"rewards": 0, "penalties": 0, "net": 0,
                                         "reward_count": 0, "penalty_count": 0})
        t["rewards" if kind == "reward" else "penalties"] += amount or 0
        t["reward_count" if kind == "reward" else "penalty_count"] += count
        t["net"] += amount or 0
    return totals


def entries_on(store, day):
    """Non-void entries that occurred on one day, per staff: for the evening meeting."""
    return db.session.execute(
        select(LedgerEntry.staff_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_fen),
               func.count())
        .where(LedgerEntry.store_id == store.id, LedgerEntry.occurred_on == day,
               LedgerEntry.voided_at.is_(None))
        .group_by(LedgerEntry.staff_id, LedgerEntry.kind)).all()



def describe(entry):
    """The entry's reason in the reader's language."""
    from flask_babel import gettext as _

    code, _sep, number = (entry.reason or "").partition(":")
    if code == "dormant":
        return _("Won back after %(days)s days away", days=number)
    if code == "no_visit":
        return _("No visit for %(days)s days while assigned", days=number)
    return entry.reason
