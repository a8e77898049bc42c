"""JSON endpoints for the phone app. CSRF applies to every POST here as to the forms
(header X-CSRFToken, from GET /api/session or the page's meta tag)."""
import json

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import MultiDict

from kq.blueprints.api import bp
from kq.blueprints.calls.forms import ContactForm
from kq.blueprints.calls.submission import NotAssigned, service_messages, submit
from kq.policy import NOT_HERS
from kq.scoping import current_store
from kq.services import ServiceError

# One contact is a few hundred bytes; a note is at most 1,000 characters (4 bytes each in
# UTF-8, 6 escaped in JSON). Anything far larger is not a contact, and is not parsed.
MAX_BODY = 64 * 1024
INTEGERS = ("customer_id", "task_id", "satisfaction")
TEXTS = ("client_id", "channel", "outcome", "suggestions", "notes", "next_follow_up_on",
         "contacted_at")


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


def _refused(message=None, errors=None):
    body = {"error": "invalid"}
    if message:
        body["message"] = message
    if errors:
        body["errors"] = errors
        body.setdefault("message", " ".join(m for ms in errors.values() for m in ms))
    return jsonify(body), 422


def _read_object():
    """The body as a dict, or None: too large, not UTF-8, not JSON, nested past what the parser
    allows (RecursionError), or not an object."""
    if (request.content_length or 0) > MAX_BODY:
        return None
    raw = request.stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return None
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def _fields(payload):
    """The contact's fields as form text, and {field: code} for values of the wrong type
    (numbers are whole JSON numbers or digit strings; the rest are strings)."""
    flat, wrong = {}, {}
    for name in INTEGERS + TEXTS:
        value = payload.get(name)
        if value is None:
            continue
        if name in INTEGERS and isinstance(value, int) and not isinstance(value, bool):
            flat[name] = str(value)
        elif isinstance(value, str):
            flat[name] = value
        else:
            wrong[name] = "type"
    return flat, wrong


@bp.post("/contacts")
@login_required
def create_contact():
    """201 with the new contact; 200 with the original when the client id was stored before
    (also when both sends arrive at once); 403 for a customer of the store not assigned to her
    (the policy); 404 for a customer or item that is not there or not hers;
    422 for anything else that is not a contact, with a message in her language."""
    payload = _read_object()
    if payload is None:
        return _refused(_("Send a JSON object."))
    flat, wrong = _fields(payload)
    if wrong:
        return _refused(errors={k: [v] for k, v in service_messages(wrong).items()})
    form = ContactForm(formdata=MultiDict(flat), meta={"csrf": False})  # header checked
    if not form.validate():
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        return _refused(errors=errors)
    try:
        contact, created = submit(form, current_user, current_store())
    except NotAssigned:
        # 403 is permanent for the phone's outbox: kept with this message, not sent again.
        return jsonify(error="not_assigned", message=str(NOT_HERS)), 403
    except LookupError:
        return jsonify(error="not_found", message=_("There is nothing here, or it belongs to "
                                                    "another store.")), 404
    except ServiceError as error:
        return _refused(errors={k: [v] for k, v in error.message.items()})
    return jsonify(contact=contact_json(contact), replayed=not created), 201 if created else 200
