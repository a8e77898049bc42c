"""Sign-in plumbing: the user loader and the role decorators used on every protected view."""
import hashlib
import hmac
from functools import wraps

from flask import abort, current_app, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from kq.extensions import db
from kq.models import MANAGER, OWNER, User


def password_stamp(user):
    """A keyed fingerprint of her password hash, kept in the session at sign-in: when the
    password changes (a manager's reset), every other sign-in with the old one ends."""
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:20]


def load_user(user_id):
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    if user is None or not user.active:
        return None
    stamp = session.get("pw")
    if stamp is not None and not hmac.compare_digest(stamp, password_stamp(user)):
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
