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
