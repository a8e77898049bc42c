"""Assigning customers to staff, keeping every earlier assignment as history.

A manager's action that moves many customers at once (a bulk assignment, a handover, confirming
or keeping reassignment proposals) is one batch: it is recorded in the audit log with every row
it changed — the new assignment and the one it ended — so that for UNDO_MINUTES it can be undone
exactly: the new assignments end ("undone"), the ones they ended are open again as they were
(reassignment proposal included), and the undo is audited too. A customer moved again since the
batch stays where she is now."""
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, select

from kq.extensions import db
from kq.models import Assignment, AuditEvent, Customer, User, utcnow
from kq.services import ServiceError
from kq.services.audit import audit

UNDO_MINUTES = 10
ASSIGN, HANDOVER, REASSIGN, KEEP = "assign_bulk", "handover", "reassign", "keep_proposals"
BATCHES = (ASSIGN, HANDOVER, REASSIGN, KEEP)
UNDONE = "assign_undo"
CHUNK = 500  # ids per IN (…): far below either database's limit on bound parameters


def assign(customer, staff, *, by=None, at=None, reason="reassigned", commit=True):
    """End the current assignment (if any) and start one with `staff`. No-op if unchanged."""
    at = at or utcnow()
    current = db.session.scalar(db.select(Assignment).where(
        Assignment.customer_id == customer.id, Assignment.ended_at.is_(None)))
    if current is not None:
        if current.staff_id == staff.id:
            return current
        current.ended_at = at
        current.end_reason = reason
    assignment = Assignment(store_id=customer.store_id, customer_id=customer.id,
                            staff_id=staff.id, assigned_at=at,
                            assigned_by_id=by.id if by else None)
    db.session.add(assignment)
    customer.assigned_staff_id = staff.id
    if commit:
        db.session.commit()
    return assignment


def current_loads(store_id, staff_ids):
    """staff id → how many live customers she looks after now."""
    loads = {staff_id: 0 for staff_id in staff_ids}
    rows = db.session.execute(
        select(Customer.assigned_staff_id, func.count())
        .where(Customer.store_id == store_id, Customer.deleted_at.is_(None),
               Customer.assigned_staff_id.in_(staff_ids))
        .group_by(Customer.assigned_staff_id))
    for staff_id, count in rows:
        loads[staff_id] = count
    return loads


def _choose(customers, staff_ids, exclude_current):
    """[(customer, staff id)] as spread gives them: each to whoever has received the fewest in
    this batch (ties: the lightest current load, then the lowest id); with exclude_current,
    never back to her own beautician (None: she stays)."""
    customers = sorted(customers, key=lambda c: c.id)
    loads = current_loads(customers[0].store_id, list(staff_ids)) if customers else {}
    received = {staff_id: 0 for staff_id in staff_ids}
    chosen = []
    for customer in customers:
        choices = [s for s in staff_ids
                   if not (exclude_current and s == customer.assigned_staff_id)]
        if not choices:
            chosen.append((customer, None))  # her own beautician is the only one chosen
            continue
        target = min(choices, key=lambda s: (received[s], loads.get(s, 0), s))
        received[target] += 1
        if customer.assigned_staff_id != target:
            loads[target] = loads.get(target, 0) + 1
        chosen.append((customer, target))
    return chosen


def plan(customers, staff, *, exclude_current=False):
    """What spread would do, written nowhere: {"to": {staff id: customers she gets},
    "stay": customers already with whom they would go to, "from": {staff id or None: customers
    taken from her}, "moved": how many change hands}."""
    to = {s.id: 0 for s in staff}
    sources, stay = {}, 0
    for customer, target in _choose(customers, [s.id for s in staff], exclude_current):
        if target is None or customer.assigned_staff_id == target:
            stay += 1
            continue
        to[target] += 1
        sources[customer.assigned_staff_id] = sources.get(customer.assigned_staff_id, 0) + 1
    return {"to": to, "stay": stay, "from": sources, "moved": sum(to.values())}


def spread(customers, staff, *, by=None, reason="reassigned", exclude_current=False,
           commit=True, moves=None):
    """Assign customers over the given staff as evenly as possible (see _choose). With
    exclude_current, nobody gets back a customer she already has (reassignment after a
    penalty, or a handover). Each change is appended to `moves` as (customer, new assignment,
    the assignment it ended or None, whom she had before, that one's proposal flag). Returns
    {staff id: how many she received}."""
    staff = {s.id: s for s in staff}
    if not staff:
        raise ServiceError("no_staff", code="no_staff")
    received = {staff_id: 0 for staff_id in staff}
    at = utcnow()
    for customer, target in _choose(customers, list(staff), exclude_current):
        if target is None:
            continue
        received[target] += 1
        if customer.assigned_staff_id == target:
            continue
        current = db.session.scalar(db.select(Assignment).where(
            Assignment.customer_id == customer.id, Assignment.ended_at.is_(None)))
        before, proposed = customer.assigned_staff_id, False
        if current is not None:
            proposed = bool(current.proposed_for_reassignment)
            current.proposed_for_reassignment = False
        new = assign(customer, staff[target], by=by, at=at, reason=reason, commit=False)
        if moves is not None:
            moves.append((customer, new, current, before, proposed))
    if commit:
        db.session.commit()
    return received


# Batches a manager can undo ------------------------------------------------------------------

def _record(action, store, by, moves, detail, target=None):
    """The batch's audit event, with every row it changed (flushed first, for the ids)."""
    db.session.flush()
    detail = dict(detail, rows=[[c.id, new.id, old.id if old else None, before, proposed]
                                for c, new, old, before, proposed in moves])
    return audit(action, store_id=store.id, target=target, detail=detail, user=by)


def _names(staff):
    return [s.display_name for s in staff]


def give(store, customers, staff, *, by):
    """A bulk assignment the manager confirmed: spread over `staff`, recorded for undo.
    Returns (received {staff id: n}, the batch's event or None when nothing changed)."""
    return _spread_batch(ASSIGN, store, customers, staff, by=by)


def _spread_batch(kind, store, customers, staff, *, by, **spreading):
    """Spread, then record the batch for undo (nothing moved: no event); one commit."""
    moves = []
    received = spread(customers, staff, by=by, moves=moves, commit=False, **spreading)
    event = None
    if moves:
        event = _record(kind, store, by, moves, {
            "customers": len(moves), "to": {str(k): v for k, v in received.items()},
            "names": _names(staff)})
    db.session.commit()
    return received, event


def hand_over(store, leaving, staff, *, by, deactivate=False):
    """A leaving beautician's customers spread over `staff`, her account closed if asked (not
    one's own); recorded for undo. Returns (received, event)."""
    customers = db.session.scalars(select(Customer).where(
        Customer.store_id == store.id, Customer.assigned_staff_id == leaving.id,
        Customer.deleted_at.is_(None))).all()
    moves = []
    received = spread(customers, staff, by=by, reason="handover", exclude_current=True,
                      commit=False, moves=moves)
    closed = bool(deactivate) and leaving.id != by.id and leaving.active
    event = _record(HANDOVER, store, by, moves, {
        "customers": sum(received.values()), "to": {str(k): v for k, v in received.items()},
        "names": _names(staff), "leaving": leaving.display_name, "deactivated": closed},
        target=leaving)
    if closed:
        leaving.active = False
        audit("staff", store_id=store.id, target=leaving, user=by, detail={
            "op": "deactivate", "username": leaving.username, "via": "handover"})
    db.session.commit()
    return received, event


def reassign_proposals(store, proposals, staff, *, by):
    """Proposed customers spread evenly over `staff` (never back to her own beautician).
    Returns (received, event or None)."""
    return _spread_batch(REASSIGN, store, [p.customer for p in proposals], staff, by=by,
                         reason="penalty", exclude_current=True)


def keep_proposals(store, proposals, *, by):
    """Proposed customers stay with their beautician (the proposal is dropped). Returns
    (how many, event or None)."""
    kept = [p for p in proposals if p.proposed_for_reassignment and p.ended_at is None]
    for proposal in kept:
        proposal.proposed_for_reassignment = False
    event = None
    if kept:
        event = audit(KEEP, store_id=store.id, user=by, detail={
            "customers": len(kept), "rows": [p.id for p in kept]})
    db.session.commit()
    return len(kept), event


def _undone():
    undo = db.aliased(AuditEvent)
    return exists().where(undo.action == UNDONE, undo.target_type == "auditevent",
                          undo.target_id == AuditEvent.id)


def undoable(store, now=None):
    """This store's batches that can still be undone, newest first."""
    since = (now or utcnow()) - timedelta(minutes=UNDO_MINUTES)
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.store_id == store.id,
                                 AuditEvent.action.in_(BATCHES),
                                 AuditEvent.created_at >= since, ~_undone())
        .order_by(AuditEvent.id.desc()).limit(5)).all()


def undo_until(event):
    return event.created_at + timedelta(minutes=UNDO_MINUTES)


def _load(model, ids):
    rows = {}
    ids = [i for i in ids if i is not None]
    for start in range(0, len(ids), CHUNK):
        for row in db.session.scalars(select(model).where(
                model.id.in_(ids[start:start + CHUNK]))):
            rows[row.id] = row
    return rows


def undo(store, event_id, *, by):
    """Undo a batch of this store within UNDO_MINUTES: every customer it moved goes back to
    the assignment it ended (reopened as it was), unless she was moved again since. Returns
    {"action", "restored", "skipped"}."""


    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.id == event_id, AuditEvent.store_id == store.id,
        AuditEvent.action.in_(BATCHES)).with_for_update())
    if event is None:
        raise LookupError("batch")
    if db.session.scalar(select(_undone_of(event.id))) or utcnow() > undo_until(event):
        raise ServiceError(_l("This can no longer be undone."), code="too_late")
    rows = (event.detail or {}).get("rows", [])
    restored = skipped = 0
    now = utcnow()
    if event.action == KEEP:
        for proposal in _load(Assignment, rows).values():
            if proposal.ended_at is None and not proposal.proposed_for_reassignment:
                proposal.proposed_for_reassignment = True
                restored += 1
            else:
                skipped += 1
    else:
        news = _load(Assignment, [r[1] for r in rows])
        olds = _load(Assignment, [r[2] for r in rows])
        customers = _load(Customer, [r[0] for r in rows])
        for customer_id, new_id, old_id, before, proposed in rows:
            customer, new = customers.get(customer_id), news.get(new_id)
            if customer is None or new is None or new.ended_at is not None or \
                    customer.assigned_staff_id != new.staff_id:
                skipped += 1  # moved again since: she stays where she is now
                continue
            new.ended_at, new.end_reason = now, "undone"
            old = olds.get(old_id)
            if old is not None:
                old.ended_at, old.end_reason = None, None
                old.proposed_for_reassignment = bool(proposed)
            customer.assigned_staff_id = before
            restored += 1
        _reopen_account(store, event, by)
    db.session.flush()
    audit(UNDONE, store_id=store.id, target=event, user=by, detail={
        "of": event.action, "restored": restored, "skipped": skipped})
    db.session.commit()
    return {"action": event.action, "restored": restored, "skipped": skipped}


def _undone_of(event_id):
    return exists().where(AuditEvent.action == UNDONE, AuditEvent.target_type == "auditevent",
                          AuditEvent.target_id == event_id)


def _reopen_account(store, event, by):
    """A handover that closed her account: undoing it opens the account again."""
    if event.action != HANDOVER or not (event.detail or {}).get("deactivated"):
        return
    leaving = db.session.scalar(select(User).where(and_(User.id == event.target_id,
                                                        User.store_id == store.id)))
    if leaving is not None and not leaving.active:
        leaving.active = True
        audit("staff", store_id=store.id, target=leaving, user=by, detail={
            "op": "reactivate", "username": leaving.username, "via": "undo"})
