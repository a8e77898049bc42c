"""JSON endpoints for the phone app. CSRF applies to every POST here as to the forms."""
from flask import jsonify
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from kq.blueprints.api import bp
from kq.scoping import current_store


@bp.route("/session")
@login_required
def session_info():
    """Who is signed in, and a fresh CSRF token (the offline outbox replays with it)."""
    store = current_store()
    return jsonify(user={"id": current_user.id, "username": current_user.username,
                         "name": current_user.display_name, "role": current_user.role},
                   store={"id": store.id, "name": store.name, "timezone": store.timezone},
                   csrf_token=generate_csrf())
