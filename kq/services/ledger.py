"""The reward/penalty ledger (SPEC §7).

Reward: a visit that ends a dormant spell (at least `dormant_after_days` local days since her
previous visit), made while she is assigned to a staff member who logged at least one contact
with her during the spell, earns that staff member `reward_fen`. Once per spell: a spell is
named by the visit that began it (her visit before the gap), which is the entry's dedupe key,
so two visits on its closing day, or an earlier visit of it entered late, earn nothing more.
A visit imported from the old system never earns; it counts as the visit before a gap.

Penalty: an assignment that reaches `penalty_after_days` days with no visit — counted from the
later of the last visit and the assignment date; a visit on day 89 saves it, one on day 90 is
too late — costs the assigned staff member `penalty_fen`, once per assignment (a penalty voided
because a visit entered late showed it was never due does not count), and proposes the
customer for reassignment.

A run for day D looks at D, the six days before it and every day since the last complete day
counted, so a missed night or an outage of weeks is caught up day by day; recording a visit
(form, import, API) evaluates at once the spell it ends and voids a penalty it shows was never
due, so a visit entered late gives the ledger the nightly run would have given. Entries are
inserted with ON CONFLICT DO NOTHING on their dedupe key, so running twice, at once, or for a
past date again creates nothing new. Entries are never edited or deleted; a manager may void
one, and a voided entry is never made again.
"""
import json
from bisect import bisect_left
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import any_, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from kq.extensions import db
from kq.models import Assignment, Contact, Customer, LedgerEntry, User, Visit, utcnow
from kq.services import ServiceError
from kq.services.audit import audit
from kq.gcpause import without_cyclic_gc
from kq.services.checklist import insert_ignoring_duplicates, midnight

CATCH_UP_DAYS = 7


def _previous():
    """Her visit just before Visit (latest first, ties by id): the visit that began the spell
    Visit may end. Two subqueries over the (customer, time) index."""
    previous = aliased(Visit)
    before = (previous.customer_id == Visit.customer_id, previous.visited_at < Visit.visited_at)
    prev_id = (select(previous.id).where(*before)
               .order_by(previous.visited_at.desc(), previous.id.desc()).limit(1)
               .scalar_subquery())
    prev_at = select(func.max(previous.visited_at)).where(*before).scalar_subquery()
    return prev_id, prev_at


def reward_rows(store, day, customer_id=None, last=None):
    """Reactivation visits on local `day` (to `last`, default `day` alone) that earn their
    assigned staff member a reward, one per dormant spell: the spell is named by the visit that
    began it, so two visits closing it (at the same moment, or an earlier one entered late)
    earn once. A range gives the rows that the days one by one, in order, would give: four
    queries for the range (a week of catch-up cost four a day)."""
    last = day if last is None else last
    prev_id, prev_at = _previous()
    query = (select(Visit.id, Visit.customer_id, Visit.visited_at, prev_id.label("prev_id"),
                    prev_at.label("prev"))
             .join(Customer, Customer.id == Visit.customer_id)
             .where(Visit.store_id == store.id, Visit.imported.is_(False),
                    Visit.visited_at >= midnight(store, day),
                    Visit.visited_at < midnight(store, last + timedelta(days=1)),
                    Customer.deleted_at.is_(None))
             .order_by(Visit.visited_at, Visit.id))
    if customer_id is not None:
        query = query.where(Visit.customer_id == customer_id)
    candidates = []
    for visit_id, cid, visited_at, spell, prev in db.session.execute(query).all():
        if prev is None:
            continue  # a first visit wins nobody back
        on, prev_day = store.local_date(visited_at), store.local_date(prev)
        if (on - prev_day).days >= store.dormant_after_days:
            candidates.append((visit_id, cid, visited_at, spell, prev_day, on))
    if not candidates:
        return []
    # What the candidates need, read at once (three queries for the range, not three a visit).
    customers = {c[1] for c in candidates}
    assignments = {}
    for row in db.session.execute(
            select(Assignment.id, Assignment.staff_id, Assignment.customer_id,
                   Assignment.assigned_at, Assignment.ended_at)
            .where(_among(Assignment.customer_id, customers))
            .order_by(Assignment.assigned_at.desc(), Assignment.id.desc())):
        assignments.setdefault(row.customer_id, []).append(row)
    spell_starts = {c[0]: midnight(store, c[4] + timedelta(days=store.dormant_after_days))
                    for c in candidates}
    contacts = {}
    for cid, staff_id, contacted_at in db.session.execute(
            select(Contact.customer_id, Contact.staff_id, Contact.contacted_at)
            .where(_among(Contact.customer_id, customers),
                   Contact.contacted_at >= min(spell_starts.values()),
                   Contact.contacted_at < max(c[2] for c in candidates))):
        contacts.setdefault((cid, staff_id), []).append(contacted_at)
    legacy = set(db.session.scalars(select(LedgerEntry.dedupe_key).where(  # keyed per visit
        _among(LedgerEntry.dedupe_key, [f"reward:visit:{c[0]}" for c in candidates]))))
    rows, days = [], {}
    for visit_id, cid, visited_at, spell, prev_day, on in candidates:
        of_day = days.setdefault(on, {})  # a spell earns once a day (and once on insert)
        key = f"reward:spell:{spell}"
        if key in of_day:
            continue
        assignment = next((a for a in assignments.get(cid, ()) if a.assigned_at <= visited_at
                           and (a.ended_at is None or a.ended_at > visited_at)), None)
        if assignment is None:
            continue
        spell_start = spell_starts[visit_id]
        if not any(spell_start <= at < visited_at
                   for at in contacts.get((cid, assignment.staff_id), ())):
            continue
        if f"reward:visit:{visit_id}" in legacy:
            continue
        of_day[key] = {
            "store_id": store.id, "staff_id": assignment.staff_id, "customer_id": cid,
            "assignment_id": assignment.id, "visit_id": visit_id, "kind": "reward",
            "amount_fen": store.reward_fen, "occurred_on": on, "period": on.strftime("%Y-%m"),
            "reason": f"dormant:{(on - prev_day).days}", "dedupe_key": key,
            "created_at": utcnow()}
        rows.append(of_day[key])
    return rows


def _among(column, values):
    """column IN values, the values in one parameter (not one each: a catch-up's lists run
    to thousands): a PostgreSQL array (= ANY), on SQLite a JSON array read by json_each."""
    values = list(values)
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(values, ARRAY(column.type)))
    listed = func.json_each(json.dumps(values)).table_valued("value")
    return column.in_(select(listed.c.value))


LATE_VISIT = "late_visit"


def _penalty_counted(store):
    """A penalty already counted for the assignment: any, void or not, except one voided
    because a visit entered late showed it was never due. An assignment's entries are its
    store's: naming the store lets PostgreSQL read that store's entries (its index) instead of
    every store's ledger (chain: a scan of all entries for each store)."""
    return exists().where(LedgerEntry.store_id == store.id,
                          LedgerEntry.assignment_id == Assignment.id,
                          LedgerEntry.kind == "penalty",
                          or_(LedgerEntry.void_reason.is_(None),
                              ~LedgerEntry.void_reason.startswith(LATE_VISIT)))


def _penalty_row(store, assignment_id, staff_id, customer_id, due):
    days = store.penalty_after_days
    return {"store_id": store.id, "staff_id": staff_id, "customer_id": customer_id,
            "assignment_id": assignment_id, "visit_id": None, "kind": "penalty",
            "amount_fen": -store.penalty_fen, "occurred_on": due, "period": due.strftime("%Y-%m"),
            "reason": f"no_visit:{days}",
            "dedupe_key": f"penalty:assignment:{assignment_id}:{due.isoformat()}",
            "created_at": utcnow()}


def penalty_rows(store, day, last=None):
    """Assignments for which a day from `day` to `last` (default: `day` alone) is the first
    day after penalty_after_days without a visit: the rows that counting those days one by one,
    in order, would insert. One query for the assignments and one for their visits in the
    windows, then each assignment's days in turn here: counting a week of catch-up costs about
    what one day does (the query was run once per day)."""
    days = store.penalty_after_days
    last = day if last is None else last
    earliest_window = midnight(store, day - timedelta(days=days - 1))
    before_last = midnight(store, last)
    # A visit inside every day's window (from the last day's window start to the first day)
    # rules an assignment out for the whole range: most are ruled out in the query.
    every_window = (midnight(store, last - timedelta(days=days - 1)), midnight(store, day))
    last_visit = (select(func.max(Visit.visited_at))
                  .where(Visit.customer_id == Assignment.customer_id,
                         Visit.visited_at < earliest_window).scalar_subquery())
    candidates = (
        select(Assignment.id, Assignment.staff_id, Assignment.customer_id,
               Assignment.assigned_at, Assignment.ended_at, last_visit.label("last_visit"))
        .join(Customer, Customer.id == Assignment.customer_id)
        .join(User, User.id == Assignment.staff_id)
        .where(Assignment.store_id == store.id,
               Assignment.assigned_at < midnight(store, last - timedelta(days=days - 1)),
               or_(Assignment.ended_at.is_(None),
                   Assignment.ended_at >= midnight(store, day)),
               Customer.deleted_at.is_(None), Customer.do_not_contact.is_(False),
               User.active.is_(True), ~_penalty_counted(store)))
    if every_window[0] < every_window[1]:
        candidates = candidates.where(~exists().where(
            Visit.customer_id == Assignment.customer_id, Visit.visited_at >= every_window[0],
            Visit.visited_at < every_window[1]))
    found = db.session.execute(candidates).all()
    if not found:
        return []
    visits = {}
    for customer_id, visited_at in db.session.execute(
            select(Visit.customer_id, Visit.visited_at)
            .where(_among(Visit.customer_id, {row.customer_id for row in found}),
                   Visit.visited_at >= earliest_window, Visit.visited_at < before_last)):
        visits.setdefault(customer_id, []).append(visited_at)
    # A penalty voided because a visit entered late showed it was never due is not counted:
    # the same row again is ignored on insert, and the next day may make another.
    voided = set(db.session.scalars(select(LedgerEntry.dedupe_key).where(
        LedgerEntry.store_id == store.id, LedgerEntry.kind == "penalty",
        LedgerEntry.void_reason.startswith(LATE_VISIT))))
    marks = [(d, midnight(store, d - timedelta(days=days - 1)), midnight(store, d))
             for d in (day + timedelta(days=n) for n in range((last - day).days + 1))]
    rows = []
    for assignment_id, staff_id, customer_id, assigned_at, ended_at, before in found:
        seen = sorted(visits.get(customer_id, ()))
        for _d, window_start, before_day in marks:
            if assigned_at >= window_start or (ended_at is not None and ended_at < before_day):
                continue
            first_in = bisect_left(seen, window_start)
            if first_in < len(seen) and seen[first_in] < before_day:
                continue  # a visit in the window
            latest = seen[first_in - 1] if first_in else before
            since = store.local_date(assigned_at)
            if latest is not None:
                since = max(since, store.local_date(latest))
            row = _penalty_row(store, assignment_id, staff_id, customer_id,
                               since + timedelta(days=days))
            rows.append(row)
            if row["dedupe_key"] not in voided:
                break  # counted from now on
    return rows


def _insert_entries(rows):
    """Entries not made before (ON CONFLICT DO NOTHING on the dedupe key). On PostgreSQL a
    long list is first rid of the keys already stored and of repeats (the first one kept, as
    the insert in order would), so that it goes in with a plain INSERT (`fresh`)."""
    if len(rows) <= 100 or db.session.get_bind().dialect.name != "postgresql":
        return insert_ignoring_duplicates(LedgerEntry, rows, ("dedupe_key",))
    seen = set(db.session.scalars(select(LedgerEntry.dedupe_key).where(
        _among(LedgerEntry.dedupe_key, {row["dedupe_key"] for row in rows}))))
    fresh = []
    for row in rows:
        if row["dedupe_key"] not in seen:
            seen.add(row["dedupe_key"])
            fresh.append(row)
    return insert_ignoring_duplicates(LedgerEntry, fresh, ("dedupe_key",), fresh=True)


def _insert(rewards, penalties):
    made = {"rewards": _insert_entries(rewards), "penalties": _insert_entries(penalties)}
    if penalties:
        ids = [row["assignment_id"] for row in penalties]
        db.session.execute(
            Assignment.__table__.update()
            .where(_among(Assignment.id, ids), Assignment.ended_at.is_(None))
            .values(proposed_for_reassignment=True))
    return made


MAX_CATCH_UP_DAYS = 400


@without_cyclic_gc
def run_ledger(store, day, *, commit=True, catch_up=CATCH_UP_DAYS, start=None):
    """Rewards and penalties for `day` and the days before it that a run may have missed:
    at least `catch_up` days, and every day since the last complete day counted
    (store.ledger_through), so an outage of any length is caught up day by day; `start`
    counts a chosen range (the catch-up command). Pages that only need today's figures pass
    catch_up=1. Returns {"rewards": n, "penalties": n} of entries created now."""
    first = day - timedelta(days=catch_up - 1)
    if start is not None:
        first = min(first, start)
    elif catch_up > 1 and store.ledger_through is not None:
        first = min(first, store.ledger_through + timedelta(days=1))
    first = max(first, day - timedelta(days=MAX_CATCH_UP_DAYS))
    created = _insert(reward_rows(store, first, last=day), penalty_rows(store, first, day))
    if catch_up > 1 and day < store.today() and (
            store.ledger_through is None or day > store.ledger_through):
        store.ledger_through = day
    if commit:
        db.session.commit()
    return created


def after_visit(visit, store):
    """A visit just recorded, whatever its date: the reward of the spell it ends, at once, and
    a penalty it shows was never due voided (with a note), so that a slip entered late gives
    the ledger the nightly run would have given. Runs in the visit's transaction."""
    day = store.local_date(visit.visited_at)
    rewards = [] if visit.imported else reward_rows(store, day, customer_id=visit.customer_id)
    days = store.penalty_after_days
    wrong = db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.customer_id == visit.customer_id, LedgerEntry.kind == "penalty",
        LedgerEntry.voided_at.is_(None), LedgerEntry.occurred_on > day,
        LedgerEntry.occurred_on < day + timedelta(days=days))).all()
    penalties = []
    for entry in wrong:
        entry.voided_at, entry.void_reason = utcnow(), f"{LATE_VISIT}:{visit.id}"
        again = _penalty_due(store, entry.assignment_id)
        if again is not None and store.ledger_through and again[3] <= store.ledger_through:
            penalties.append(_penalty_row(store, *again))
    db.session.flush()
    return _insert(rewards, penalties)


def after_contact(store, customer_id, contacted_at):
    """A contact that reached the server after her next visit (logged offline, sent later):
    the spell that visit ended is evaluated again, as the nightly run would have with it."""
    visited_at = db.session.scalar(select(func.min(Visit.visited_at)).where(
        Visit.customer_id == customer_id, Visit.imported.is_(False),
        Visit.visited_at > contacted_at))
    if visited_at is None:
        return {"rewards": 0, "penalties": 0}
    return _insert(reward_rows(store, store.local_date(visited_at), customer_id=customer_id), [])


def _penalty_due(store, assignment_id):
    """(assignment, staff, customer, due) of the first 90-day gap of one assignment (from
    its start and her visits), or None while she keeps coming or it ended first."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        return None
    days = store.penalty_after_days
    since = store.local_date(assignment.assigned_at)
    visits = db.session.scalars(select(Visit.visited_at).where(
        Visit.customer_id == assignment.customer_id,
        Visit.visited_at >= midnight(store, since)).order_by(Visit.visited_at)).all()
    for moment in visits:
        seen = store.local_date(moment)
        if (seen - since).days >= days:
            break
        since = max(since, seen)
    due = since + timedelta(days=days)
    if assignment.ended_at is not None and assignment.ended_at < midnight(store, due):
        return None
    return assignment.id, assignment.staff_id, assignment.customer_id, due


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
    audit("ledger_void", store_id=store.id, target=entry, user=by,
          detail={"amount_fen": entry.amount_fen, "staff_id": entry.staff_id, "reason": reason})
    db.session.commit()
    return entry


UNVOID_MINUTES = 10


def unvoid_until(entry):
    """Until when a manager's void can be taken back (None: it cannot; a void the ledger made
    itself, for a visit entered late, is not hers to undo)."""
    if entry.voided_at is None or entry.voided_by_id is None:
        return None
    return entry.voided_at + timedelta(minutes=UNVOID_MINUTES)


def unvoid_entry(store, entry_id, *, by):
    """Undo a manager's void within UNVOID_MINUTES: the entry counts again, as it did."""
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.id == entry_id,
                                                        LedgerEntry.store_id == store.id)
                              .with_for_update())
    if entry is None:
        raise LookupError("entry")
    until = unvoid_until(entry)
    if until is None or utcnow() > until:
        raise ServiceError(_l("This can no longer be undone."), code="too_late")
    audit("ledger_unvoid", store_id=store.id, target=entry, user=by,
          detail={"amount_fen": entry.amount_fen, "staff_id": entry.staff_id,
                  "reason": entry.void_reason})
    entry.voided_at, entry.voided_by_id, entry.void_reason = None, None, None
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
