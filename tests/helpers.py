"""Small helpers shared by test modules."""
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from kq.extensions import db
from kq.models import Customer, Store, Task, User

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour=10, minute=0):
    """An aware instant on a Shanghai calendar day."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def load(model, ident):
    return db.session.get(model, ident)


def items(day=None, kind=None, staff_id=None, customer_id=None):
    query = db.select(Task)
    if day is not None:
        query = query.where(Task.due_on == day)
    if kind is not None:
        query = query.where(Task.kind == kind)
    if staff_id is not None:
        query = query.where(Task.staff_id == staff_id)
    if customer_id is not None:
        query = query.where(Task.customer_id == customer_id)
    return db.session.scalars(query).all()


def kinds_for(customer_id, day):
    return sorted(t.kind for t in items(day=day, customer_id=customer_id))


__all__ = ["SHANGHAI", "at", "load", "items", "kinds_for", "Customer", "Store", "User"]
