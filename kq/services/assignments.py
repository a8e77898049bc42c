"""Assigning customers to staff, keeping every earlier assignment as history."""
from kq.extensions import db
from kq.models import Assignment, utcnow


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
    from sqlalchemy import func, select

    from kq.models import Customer

    loads = {staff_id: 0 for staff_id in staff_ids}
    rows = db.session.execute(
        select(Customer.assigned_staff_id, func.count())
        .where(Customer.store_id == store_id, Customer.deleted_at.is_(None),
               Customer.assigned_staff_id.in_(staff_ids))
        .group_by(Customer.assigned_staff_id))
    for staff_id, count in rows:
        loads[staff_id] = count
    return loads


def spread(customers, staff, *, by=None, reason="reassigned", exclude_current=False,
           commit=True):
    """Assign customers over the given staff as evenly as possible: each goes to whoever has
    received the fewest in this batch (ties: the lightest current load, then the lowest id).
    With exclude_current, nobody gets back a customer she already has (reassignment after a
    penalty, or a handover). Returns {staff id: how many she received}."""
    from kq.services import ServiceError

    staff = {s.id: s for s in staff}
    if not staff:
        raise ServiceError("no_staff", code="no_staff")
    customers = sorted(customers, key=lambda c: c.id)
    loads = current_loads(customers[0].store_id, list(staff)) if customers else {}
    received = {staff_id: 0 for staff_id in staff}
    at = utcnow()
    for customer in customers:
        choices = [s for s in staff if not (exclude_current and s == customer.assigned_staff_id)]
        if not choices:
            continue  # her own beautician is the only one chosen: she stays
        target = min(choices, key=lambda s: (received[s], loads.get(s, 0), s))
        if customer.assigned_staff_id == target:
            received[target] += 1
            continue
        current = db.session.scalar(db.select(Assignment).where(
            Assignment.customer_id == customer.id, Assignment.ended_at.is_(None)))
        if current is not None:
            current.proposed_for_reassignment = False
        assign(customer, staff[target], by=by, at=at, reason=reason, commit=False)
        received[target] += 1
        loads[target] = loads.get(target, 0) + 1
    if commit:
        db.session.commit()
    return received
