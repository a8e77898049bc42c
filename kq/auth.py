"""Sign-in plumbing: the user loader and the role decorators used on every protected view."""
import hashlib
import secrets
import time
from functools import wraps

from flask import abort, current_app, g, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import bindparam, delete, select

from kq.extensions import db
from kq.models import MANAGER, OWNER, Store, User, UserSession, utcnow

# What the session cookie carries besides Flask-Login's keys: the sign-in's random token
# (its row in user_sessions must still exist) and when she signed in (never renewed).
TOKEN, ISSUED = "sid", "iat"


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _absolute():
    return current_app.config["SESSION_ABSOLUTE_LIFETIME"]


def start_session(user, issued_at=None):
    """A new server-side sign-in for this browser, after login_user; the caller commits.
    Sign-ins (anyone's) past the absolute lifetime are pruned here: a few rows per person."""
    now = utcnow()
    token = secrets.token_urlsafe(32)
    db.session.execute(delete(UserSession).where(UserSession.created_at < now - _absolute()))
    db.session.add(UserSession(user_id=user.id, token_hash=_digest(token),
                               created_at=issued_at or now))
    session[TOKEN] = token
    session[ISSUED] = int((issued_at or now).timestamp())


def end_session():
    """This browser's sign-in ends (sign-out); the caller commits."""
    token = session.get(TOKEN)
    if isinstance(token, str):
        db.session.execute(delete(UserSession).where(UserSession.token_hash == _digest(token)))


def end_all_sessions(user):
    """Every sign-in of hers ends, on every device and every copy of the cookie."""
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))


def renew_session(user):
    """A new token for the same sign-in (privilege change, store switch): a copy of the cookie
    taken before stops working; the absolute lifetime still counts from the first sign-in."""
    row = _current_row(user.id)
    issued = row.created_at if row is not None else None
    end_session()
    start_session(user, issued_at=issued)


def _current_row(user_id):
    token = session.get(TOKEN)
    if not isinstance(token, str):
        return None
    return db.session.scalar(select(UserSession).where(
        UserSession.token_hash == _digest(token), UserSession.user_id == user_id))


# load_user's statement, built once (building it cost more than running it): the account, its
# sign-in row and her store for an id and a token's digest.
SIGNED_IN = (select(User, UserSession.created_at, Store)
             .join(UserSession, UserSession.user_id == User.id)
             .join(Store, Store.id == User.store_id)
             .where(User.id == bindparam("user_id"),
                    UserSession.token_hash == bindparam("token_hash")))


def load_user(user_id):
    """Her account, if this cookie's sign-in is still open: the row exists (no sign-out, no
    password change or reset, no "sign out everywhere" since) and it began less than the
    absolute lifetime ago. The idle lifetime is the signed cookie's own age limit. One query:
    the account, its sign-in row and her store together (it runs on every signed-in request;
    the store then comes from the session's identity map, kq.scoping.current_store)."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return None
    issued = session.get(ISSUED)
    token = session.get(TOKEN)
    if (not isinstance(issued, int) or time.time() - issued > _absolute().total_seconds()
            or not isinstance(token, str)):
        return None
    found = db.session.execute(SIGNED_IN, {"user_id": user_id, "token_hash": _digest(token)}
                               ).first()
    if found is None:
        return None
    user, began, store = found
    g.kq_user_store = store  # the identity map holds rows weakly: kept for this request
    if not user.active or utcnow() - began > _absolute():
        return None
    return user


def localized_login_message(message):
    return _("Please sign in to continue.")


def unauthorized():
    """JSON callers get 401 (the phone keeps its outbox); pages go to the sign-in form."""
    if request.path.startswith("/api/"):
        return jsonify(error="unauthorized", message=_("Please sign in to continue.")), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def roles_required(*roles):
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


manager_required = roles_required(MANAGER, OWNER)
