"""Staff accounts (SPEC §1): managers add, edit, deactivate and reset the accounts of their
store; everyone changes her own password. Temporary passwords are returned to be shown once,
never stored in clear, logged or audited."""
import re
import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kq.auth import end_all_sessions
from kq.extensions import db
from kq.models import BEAUTICIAN, MANAGER, OWNER, Customer, User
from kq.passwords import password_problem
from kq.services import ServiceError
from kq.services.audit import audit

USERNAME = re.compile(r"[a-z][a-z0-9_.-]{2,39}")
# No 0/O, 1/l/I: read out over the counter or copied from a screen without mistakes.
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def temporary_password():
    """Three groups of four, e.g. "k7pw-m3qa-x9tr": 14 characters, about 60 bits."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))


def roles_for(by):
    """The roles `by` may give: a manager never makes an owner."""
    return (BEAUTICIAN, MANAGER, OWNER) if by.is_owner else (BEAUTICIAN, MANAGER)


def customer_counts(store):
    """{staff id: live customers assigned to her} for the store."""
    return dict(db.session.execute(
        select(Customer.assigned_staff_id, func.count()).where(
            Customer.store_id == store.id, Customer.deleted_at.is_(None),
            Customer.assigned_staff_id.is_not(None)).group_by(Customer.assigned_staff_id)).all())


def may_change(by, user):
    """Managers change beauticians and managers of their store, owners anyone's account."""
    return by.is_owner or user.role != OWNER


def may_reset(by, user):
    """A manager resets a beautician's password, the owner a manager's (or anyone's): one
    manager cannot take over another manager's account."""
    return by.is_owner or user.role == BEAUTICIAN


def _clean(value, limit):
    return re.sub(r"\s+", " ", (value or "")).strip()[:limit] or None


def _profile(display_name, phone, role, by, errors):
    from kq.services.customers import normalize_phone

    name = _clean(display_name, 100)
    if not name:
        errors["display_name"] = _l("Enter the name shown to colleagues and customers.")
    elif len(name) > 40:
        errors["display_name"] = _l("At most %(n)d characters.", n=40)
    try:
        phone = normalize_phone(phone, "CN")
    except ServiceError:
        errors["phone"] = _l("Enter a valid mobile number, e.g. 138 1234 5678.")
    if role not in roles_for(by):
        errors["role"] = _l("Choose a role.")
    return name, phone


def add_staff(store, *, username, display_name, phone, role, by):
    """A new account in `store` with a temporary password. Returns (user, password)."""
    errors = {}
    username = (username or "").strip().lower()
    if not USERNAME.fullmatch(username):
        errors["username"] = _l("3 to 40 characters: lowercase letters, digits, . _ or -, "
                                "starting with a letter.")
    elif db.session.scalar(select(User.id).where(func.lower(User.username) == username)):
        errors["username"] = _l("That username is taken. Choose another.")
    name, phone = _profile(display_name, phone, role, by, errors)
    if errors:
        raise ServiceError(errors, code="invalid")
    password = temporary_password()
    user = User(store_id=store.id, username=username, display_name=name, phone=phone, role=role,
                active=True, must_change_password=True)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # the same name taken a moment ago
        db.session.rollback()
        raise ServiceError({"username": _l("That username is taken. Choose another.")},
                           code="invalid") from None
    audit("staff", store_id=store.id, target=user, user=by,
          detail={"op": "add", "username": username, "role": role})
    db.session.commit()
    return user, password


def _refuse_for_self_or_owner(user, by):
    if not may_change(by, user):
        raise ServiceError(_l("Only the owner changes an owner's account."), code="owner")


def edit_staff(store, user, *, display_name, phone, role, by):
    _refuse_for_self_or_owner(user, by)
    errors = {}
    name, phone = _profile(display_name, phone, role, by, errors)
    if role != user.role and user.id == by.id:
        errors["role"] = _l("You cannot change your own role.")
    elif role != user.role and user.role == BEAUTICIAN:
        held = customer_counts(store).get(user.id, 0)
        if held:
            errors["role"] = _l("She still looks after %(n)d customers: hand them over first.",
                                n=held)
    if errors:
        raise ServiceError(errors, code="invalid")
    changes = {k: [getattr(user, k), v] for k, v in
               (("display_name", name), ("phone", phone), ("role", role)) if getattr(user, k) != v}
    if not changes:
        return {}
    user.display_name, user.phone, user.role = name, phone, role
    if "role" in changes:  # her sign-ins end: the next one carries the new role from the start
        end_all_sessions(user)
    audit("staff", store_id=store.id, target=user, user=by,
          detail={"op": "edit", "username": user.username, "changes": changes})
    db.session.commit()
    return changes


def set_active(store, user, active, *, by):
    """Deactivate (refused while she still looks after customers) or reactivate an account."""
    _refuse_for_self_or_owner(user, by)
    if user.id == by.id:
        raise ServiceError(_l("You cannot close your own account."), code="self")
    if user.active == active:
        return False
    if not active:
        held = customer_counts(store).get(user.id, 0)
        if held:
            raise ServiceError(_l("%(name)s still looks after %(n)d customers. Hand them over "
                                  "first, then close the account.", name=user.display_name,
                                  n=held), code="has_customers")
    user.active = active
    if not active:
        end_all_sessions(user)
    audit("staff", store_id=store.id, target=user, user=by,
          detail={"op": "reactivate" if active else "deactivate", "username": user.username})
    db.session.commit()
    return True


def reset_password(store, user, *, by):
    """A new temporary password, to be changed at the next sign-in; her other sign-ins end."""
    _refuse_for_self_or_owner(user, by)
    if user.id == by.id:
        raise ServiceError(_l("Change your own password under More → Account."), code="self")
    if not may_reset(by, user):
        raise ServiceError(_l("Only the owner resets a manager's password."), code="manager")
    password = temporary_password()
    user.set_password(password)
    user.must_change_password = True
    end_all_sessions(user)
    audit("staff", store_id=store.id, target=user, user=by,
          detail={"op": "reset_password", "username": user.username})
    db.session.commit()
    return password


def change_own_password(user, *, current, new, repeat):
    """Her own new password: the current one first, then the new one twice."""
    errors = {}
    if not user.check_password(current or ""):
        errors["current"] = _l("That is not your current password.")
    new = new or ""
    problem = password_problem(new, user.username)
    if problem is not None:
        errors["new"] = problem
    elif new == current:
        errors["new"] = _l("Choose a password different from the current one.")
    elif new != (repeat or ""):
        errors["repeat"] = _l("The two new passwords are not the same.")
    if errors:
        raise ServiceError(errors, code="invalid")
    user.set_password(new)
    user.must_change_password = False
    end_all_sessions(user)  # the caller opens a new one for the browser she is using
    audit("staff", store_id=user.store_id, target=user, user=user,
          detail={"op": "change_password", "username": user.username})
    db.session.commit()
