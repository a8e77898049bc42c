"""Promises (约定) and complaints worked through their nine steps (SPEC §8).

Both feed the checklist: a promise on its due date, a complaint whenever its next step is due.
Each public function is one user action and commits once.
"""
from datetime import datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from kq.extensions import db
from kq.models import Complaint, ComplaintStep, Promise, utcnow
from kq.models.engagement import COMPLAINT_CHANNELS, COMPLAINT_STEPS
from kq.services import ServiceError
from kq.services.customers import live_customer
from kq.services.checklist import close_items, put_item

MAX_AHEAD = timedelta(days=366)



def _moment(store, day):
    """When something dated `day` happened: now if today, else midday that day."""
    if day == store.today():
        return utcnow()
    return datetime.combine(day, time(12), tzinfo=store.tz)


# Promises -----------------------------------------------------------------------------------

def make_promise(store, *, customer_id, what, due_on, staff, by):
    customer = live_customer(store, customer_id)
    what = (what or "").strip()
    today = store.today()
    errors = {}
    if not what or len(what) > 200:
        errors["what"] = _l("Write what was promised, in at most 200 characters.")
    if due_on is None or not today <= due_on <= today + MAX_AHEAD:
        errors["due_on"] = _l("Choose a due date from today to a year ahead.")
    if errors:
        raise ServiceError(errors, code="invalid")
    promise = Promise(store_id=store.id, customer_id=customer.id, staff_id=staff.id, what=what,
                      due_on=due_on, status="open")
    db.session.add(promise)
    db.session.flush()
    if due_on == today:
        put_item(store, staff.id, customer.id, "promise_due",
                 {"promise_id": promise.id, "what": what}, today)
    db.session.commit()
    return promise


def resolve_promise(store, promise_id, *, outcome, note, by):
    promise = db.session.scalar(select(Promise).where(Promise.id == promise_id,
                                                      Promise.store_id == store.id))
    if promise is None:
        raise LookupError("promise")
    note = (note or "").strip()
    errors = {}
    if promise.status != "open":
        raise ServiceError(_l("This promise is already settled."), code="settled")
    if outcome not in ("fulfilled", "broken"):
        errors["outcome"] = _l("Choose kept or not kept.")
    if outcome == "broken" and not note:
        errors["note"] = _l("Say what happened and what you will do about it.")
    if len(note) > 200:
        errors["note"] = _l("At most 200 characters.")
    if errors:
        raise ServiceError(errors, code="invalid")
    promise.status, promise.note, promise.resolved_at = outcome, note or None, utcnow()
    close_items(store, promise.customer_id, "promise_due", "promise_id", promise.id)
    db.session.commit()
    return promise


# Complaints ---------------------------------------------------------------------------------

def open_complaint(store, *, customer_id, received_on, channel, summary, staff, by):
    customer = live_customer(store, customer_id)
    summary = (summary or "").strip()
    today = store.today()
    errors = {}
    if channel not in COMPLAINT_CHANNELS:
        errors["channel"] = _l("Choose how the complaint came in.")
    if not summary or len(summary) > 2000:
        errors["summary"] = _l("Write what she complained about, in at most 2,000 characters.")
    if received_on is None or not today - MAX_AHEAD <= received_on <= today:
        errors["received_on"] = _l("Choose the date it came in: not in the future, at most a "
                                   "year ago.")
    if errors:
        raise ServiceError(errors, code="invalid")
    complaint = Complaint(store_id=store.id, customer_id=customer.id, staff_id=staff.id,
                          received_at=_moment(store, received_on), channel=channel,
                          summary=summary, status="open", next_step_due_on=today)
    db.session.add(complaint)
    db.session.flush()
    put_item(store, staff.id, customer.id, "complaint_follow_up",
             {"complaint_id": complaint.id, "step": COMPLAINT_STEPS[0]}, today)
    db.session.commit()
    return complaint


def record_step(store, complaint_id, *, step, done_on, note, next_due_on, by, gift_id=None,
                pickup_after=None):
    """Date the next of the nine steps; at 'compensate' a gift may be reserved for her. The
    last step closes the complaint."""
    complaint = db.session.scalar(select(Complaint).where(Complaint.id == complaint_id,
                                                          Complaint.store_id == store.id))
    if complaint is None:
        raise LookupError("complaint")
    if complaint.status != "open":
        raise ServiceError(_l("This complaint is closed."), code="closed")
    expected = complaint.next_step
    if step != expected:
        raise ServiceError(_l("Steps are taken in order: the next one is a different step."),
                           code="order")
    today = store.today()
    note = (note or "").strip()
    last = step == COMPLAINT_STEPS[-1]
    received = store.local_date(complaint.received_at)
    errors = {}
    if done_on is None or not received <= done_on <= today:
        errors["done_on"] = _l("Choose a date from when it came in up to today.")
    if len(note) > 2000:
        errors["note"] = _l("At most 2,000 characters.")
    if not last and (next_due_on is None or not today <= next_due_on <= today + MAX_AHEAD):
        errors["next_due_on"] = _l("Choose when the next step is due: today or later.")
    if gift_id and step != "compensate":
        errors["gift_id"] = _l("A gift is given at the compensation step.")
    if errors:
        raise ServiceError(errors, code="invalid")
    if gift_id:
        from kq.services.gifts import reserve

        try:
            handout = reserve(store, customer_id=complaint.customer_id, gift_id=gift_id,
                              staff=complaint.staff, by=by, pickup_after=pickup_after,
                              campaign=None, note=str(_l("Complaint compensation")),
                              commit=False)
        except LookupError:
            raise ServiceError({"gift_id": _l("Choose one of this store's gifts.")},
                               code="invalid") from None
        complaint.gift_handout_id = handout.id
    db.session.add(ComplaintStep(complaint_id=complaint.id, step=step,
                                 done_at=_moment(store, done_on), staff_id=by.id,
                                 note=note or None))
    close_items(store, complaint.customer_id, "complaint_follow_up", "complaint_id",
                complaint.id)
    if last:
        complaint.status, complaint.closed_at, complaint.next_step_due_on = "closed", utcnow(), \
            None
    else:
        complaint.next_step_due_on = next_due_on
        if next_due_on <= today:
            following = COMPLAINT_STEPS[COMPLAINT_STEPS.index(step) + 1]
            put_item(store, complaint.staff_id, complaint.customer_id, "complaint_follow_up",
                     {"complaint_id": complaint.id, "step": following}, today)
    db.session.commit()
    return complaint
