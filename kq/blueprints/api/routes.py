"""JSON endpoints for the phone app. CSRF applies to every POST here as to the forms
(header X-CSRFToken, from GET /api/session or the page's meta tag)."""
from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import MultiDict

from kq.blueprints.api import bp
from kq.blueprints.calls.forms import ContactForm
from kq.blueprints.calls.submission import submit
from kq.scoping import current_store
from kq.services import ServiceError
from kq.services.contacts import find_replay


@bp.route("/session")
@login_required
def session_info():
    """Who is signed in, and a fresh CSRF token (the offline outbox replays with it)."""
    store = current_store()
    return jsonify(user={"id": current_user.id, "username": current_user.username,
                         "name": current_user.display_name, "role": current_user.role},
                   store={"id": store.id, "name": store.name, "timezone": store.timezone},
                   csrf_token=generate_csrf())


def contact_json(contact):
    return {
        "id": contact.id, "client_id": contact.client_id, "customer_id": contact.customer_id,
        "staff_id": contact.staff_id, "task_id": contact.task_id, "channel": contact.channel,
        "outcome": contact.outcome, "satisfaction": contact.satisfaction,
        "suggestions": contact.suggestions, "notes": contact.notes,
        "next_follow_up_on": contact.next_follow_up_on.isoformat()
        if contact.next_follow_up_on else None,
        "contacted_at": contact.contacted_at.isoformat(),
    }


@bp.post("/contacts")
@login_required
def create_contact():
    """201 with the new contact; 200 with the original when the client id was seen before;
    422 with field errors; 404 for a customer or item that is not hers to log."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify(error="bad_request", message=_("Send a JSON object.")), 400
    flat = MultiDict({k: str(v) for k, v in payload.items()
                      if v is not None and not isinstance(v, (dict, list))})
    store = current_store()
    if flat.get("client_id"):
        replay = find_replay(store.id, flat["client_id"])
        if replay is not None:
            return jsonify(contact=contact_json(replay), replayed=True), 200
    form = ContactForm(formdata=flat, meta={"csrf": False})  # CSRFProtect checked the header
    if not form.validate():
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        return jsonify(error="invalid", errors=errors), 422
    try:
        contact, created = submit(form, current_user, store)
    except LookupError:
        return jsonify(error="not_found", message=_("There is nothing here, or it belongs to "
                                                    "another store.")), 404
    except ServiceError as error:
        return jsonify(error="invalid", errors={k: [v] for k, v in error.message.items()}), 422
    return jsonify(contact=contact_json(contact), replayed=not created), 201 if created else 200
