"""Who may do what to which customer (SPEC §1, §10): the one place every route asks.

    can(user, action, customer=None, **ctx) → bool
    require(user, action, customer=None, **ctx) → None, or abort(403/404), or Refused

The store boundary comes first: a customer of another store (or a deleted one) is not there
at all (404), whatever the action. Inside the store:

| action          | beautician                                   | manager, owner        |
| --------------- | -------------------------------------------- | --------------------- |
| view            | any customer of the store (phone masked)     | yes                   |
| view_contact    | customers assigned to her (full phone, links) | yes (reveal audited) |
| reveal_phone    | no                                           | yes, audited          |
| log_contact     | customers assigned to her                    | any                   |
| care_note       | customers assigned to her                    | any                   |
| act_for         | assigned to her (promises, complaints, win-back, cards sold or topped up,
|                 | points redeemed)                             | any                   |
| edit            | customers assigned to her                    | any                   |
| record_visit    | any; served by herself, dated today or yesterday (store's day); may draw on
|                 | the customer's prepaid card, as at the till  | any staff, any past day |
| use_card        | at a visit she may record                    | yes                   |
| manage          | no (refunds, closing cards, point adjustments) | yes                 |
| search_partial  | partial phone digits find her own customers only | the whole store   |

Visit checks name the field they belong to: `Refused(field, message)`.
"""
from datetime import timedelta

from flask import abort
from flask_babel import lazy_gettext as _l

VIEW = "view"
VIEW_CONTACT = "view_contact"
REVEAL_PHONE = "reveal_phone"
LOG_CONTACT = "log_contact"
CARE_NOTE = "care_note"
ACT_FOR = "act_for"
EDIT = "edit"
RECORD_VISIT = "record_visit"
USE_CARD = "use_card"
MANAGE = "manage"
SEARCH_PARTIAL = "search_partial"

# Actions a beautician may take only for the customers assigned to her.
_ASSIGNED_ONLY = {VIEW_CONTACT, LOG_CONTACT, CARE_NOTE, ACT_FOR, EDIT}
# Actions for any customer of the store (visits are checked further by served_by and date).
_STORE_WIDE = {VIEW, RECORD_VISIT, USE_CARD}
_MANAGERS_ONLY = {REVEAL_PHONE, MANAGE}
ACTIONS = _ASSIGNED_ONLY | _STORE_WIDE | _MANAGERS_ONLY | {SEARCH_PARTIAL}

NOT_HERS = _l("This customer is not assigned to you: ask the manager.")


class Refused(Exception):
    """An act the user may do, but not like this: `field` names the form field to mark."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


def in_store(user, customer):
    """The customer exists for this user: her store (an owner: any of hers), not deleted."""
    if customer is None or customer.deleted_at is not None:
        return False
    return user.is_owner or customer.store_id == user.store_id


def visit_refusal(user, *, served_by=None, visited_on=None, today=None):
    """Why this visit may not be recorded by `user` (a Refused), or None."""
    if served_by is not None:
        if not user.is_manager and served_by.id != user.id:
            return Refused("staff_id", _l("You record the visits you served yourself."))
        if user.is_manager and (not served_by.active or not (
                user.is_owner or served_by.store_id == user.store_id)):
            return Refused("staff_id", _l("Choose who served her."))
    if visited_on is not None and today is not None:
        if visited_on > today:
            return Refused("visited_on", _l("A visit cannot be in the future."))
        if not user.is_manager and visited_on < today - timedelta(days=1):
            return Refused("visited_on", _l("You can record a visit of today or yesterday; "
                                            "ask the manager for an earlier one."))
        if visited_on.year < 2000:
            return Refused("visited_on", _l("Enter a date after 2000."))
    return None


def can(user, action, customer=None, **ctx):
    """True when `user` may do `action` (to `customer`); ctx for visits: served_by, visited_on,
    today."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return False
    if customer is not None and not in_store(user, customer):
        return False
    if action == RECORD_VISIT and visit_refusal(user, **ctx) is not None:
        return False
    if user.is_manager:
        return True
    if action in _MANAGERS_ONLY or action == SEARCH_PARTIAL:
        return False
    if action in _STORE_WIDE:
        return True
    return customer is not None and customer.assigned_staff_id == user.id


def require(user, action, customer=None, **ctx):
    """Go on, or stop: 404 for a customer not in her store, 403 for one she may not act for,
    Refused(field, message) for a visit she may record but not as entered."""
    if customer is not None and not in_store(user, customer):
        abort(404)
    if action == RECORD_VISIT:
        refusal = visit_refusal(user, **ctx)
        if refusal is not None:
            raise refusal
    if not can(user, action, customer):
        abort(403)


def visit_dates(user, today):
    """(earliest, latest) date she may enter for a visit; earliest None = any past day."""
    return (None if user.is_manager else today - timedelta(days=1)), today
