"""Sign-in plumbing: the user loader and the role decorators used on every protected view."""
from functools import wraps

from flask import abort, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from kq.extensions import db
from kq.models import MANAGER, OWNER, User


def load_user(user_id):
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.active else None


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
