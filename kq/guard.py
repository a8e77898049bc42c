"""One check of every request's input before a view sees it (bad input is a 4xx, never a 500).

What no field of Keqing can hold is refused here, whichever route it is sent to:

- text with a NUL byte, another C0 control character (tab, line feed and carriage return
  are text) or a lone surrogate, in the query string, a form field, a file's name or a JSON
  string → 422 naming the field (the database listener in kq.extensions still strips NUL
  and lone surrogates from whatever reaches a row some other way: the last line of defence);
- an id no row can have: `id`, `…_id` and `…_ids` in the query string or a form with more than
  2^31−1 (ids are 32-bit) → 404, as the URL's `<int:…>` converter answers for ids in a path;
  in JSON outside /api/ → 422 naming the field;
- a number no column can hold: digits alone worth 2^63 or more in a query string (views read
  them with type=int) or in JSON outside /api/, a JSON number that is not finite (NaN,
  Infinity, 1e400) → 422. Form fields and the API's fields are left to their forms and
  validators, which say it better ("Enter a valid mobile number", "not valid").
- JSON nested deeper than MAX_JSON_DEPTH, larger than MAX_JSON_BYTES, not UTF-8 or not JSON
  → 422; JSON sent to a page form (outside /api/, unless its view is marked @accepts_json)
  must be an object of text fields, as Flask-WTF reads it into the form.

Answers follow kq.errors: JSON `{"error": "invalid", "message", "errors": {field: [text]}}` for
the API and clients asking for JSON, the error page otherwise, in the user's language.
"""
import json
import math
import re
from io import BytesIO

from flask import abort, jsonify, render_template, request
from flask_babel import gettext as _

MAX_ID = 2**31 - 1
MAX_INT = 2**63  # no column holds a number of this size or more
MAX_JSON_DEPTH = 32
MAX_JSON_BYTES = 1024 * 1024

# C0 controls other than \t \n \r, DEL, and UTF-16 surrogates (only ever lone in a str).
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_ID_NAME = re.compile(r"^(?:id|.+_ids?)$")
# Fields named like ids that hold text, not a row's number: a WeChat ID is often her phone
# number (11 digits, past 2^31), the outbox's client id a UUID.
TEXT_IDS = frozenset({"client_id", "wechat_id"})
_DIGITS = re.compile(r"^\s*[+-]?\d+\s*$")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class Refused(Exception):
    def __init__(self, field, message):
        super().__init__(field, message)
        self.field, self.message = field, message


def register(app):
    app.before_request(check_request)


def check_request():
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and _BAD_CHAR.search(value):
            abort(404)  # no page has such a name
    try:
        _check_pairs(request.args.items(multi=True), ids_not_found=True, numbers=True)
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            _check_pairs(request.form.items(multi=True), ids_not_found=True, numbers=False)
            for name, upload in request.files.items(multi=True):
                _check_text(name, name)
                _check_text(name, upload.filename or "")
        elif request.is_json and request.method not in ("GET", "HEAD", "OPTIONS"):
            _check_json()
    except Refused as refusal:
        return refused(refusal.field, refusal.message)
    return None


def refused(field, message):
    """422: the field and what is wrong with it, as the API and the error page show it."""
    if request.path.startswith("/api/") or request.is_json or \
            request.accept_mimetypes.best == "application/json":
        return jsonify(error="invalid", message=f"{field}: {message}" if field else message,
                       errors={field or "body": [message]}), 422
    return render_template("errors/error.html", code=422, title=_("Check what you entered"),
                           message=f"{field}: {message}" if field else message), 422


def _check_pairs(pairs, ids_not_found, numbers):
    for name, value in pairs:
        _check_text(name, name)
        _check_text(name, value)
        _check_number(name, value, ids_not_found, numbers)


def _check_text(field, value):
    if isinstance(value, str) and _BAD_CHAR.search(value):
        raise Refused(_printable(field), _(
            "Contains characters that cannot be stored (control characters). Remove them and "
            "try again."))


def _check_number(field, value, ids_not_found, numbers=True):
    if isinstance(value, str):
        if not _DIGITS.match(value):
            return
        digits = value.strip().lstrip("+-").lstrip("0")
        number = int(digits) if 0 < len(digits) <= 20 else (0 if not digits else MAX_INT)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = abs(value)
    else:
        return
    if number > MAX_ID and _ID_NAME.match(field) and field not in TEXT_IDS:
        if ids_not_found:
            abort(404)  # an id no row can have: nothing here, as for an id in the path
        raise Refused(field, _("There is no such record."))
    if numbers and number >= MAX_INT and "phone" not in field:
        raise Refused(field, _("This number is too large."))


def _check_json():
    length = request.content_length
    if length is not None and length > MAX_JSON_BYTES:
        raise Refused(None, _("The request is too large."))
    raw = request.stream.read(MAX_JSON_BYTES + 1)
    # Views read the body again (request.get_json, or the stream itself): give them this copy.
    request.__dict__["stream"] = BytesIO(raw)
    request._cached_data = raw
    if len(raw) > MAX_JSON_BYTES:
        raise Refused(None, _("The request is too large."))
    if not raw.strip():
        return  # no body: the view says what it needs
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(None, _("Send JSON in UTF-8.")) from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise Refused(None, _("The data is nested too deeply."))
    try:
        payload = json.loads(text, parse_constant=_not_finite, parse_float=_finite_float)
    except _NotFinite:
        raise Refused(None, _("This number is too large.")) from None
    except (ValueError, RecursionError):
        raise Refused(None, _("Send a JSON object.")) from None
    api = request.path.startswith("/api/")
    _walk(payload, None, numbers=not api)
    if not api and not _accepts_json():
        _check_form_shaped(payload)


def accepts_json(view):
    """Mark a view outside /api/ that reads its JSON body itself (request.get_json), so any
    JSON values reach it; unmarked page views get JSON only as form fields of text."""
    view.accepts_json = True
    return view


def _accepts_json():
    from flask import current_app

    return getattr(current_app.view_functions.get(request.endpoint), "accepts_json", False)


def _depth(text):
    """How deep the brackets go, strings left out (a linear scan; json.loads recurses)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _not_finite(constant):
    raise _NotFinite(constant)


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite()
    return value


class _NotFinite(ValueError):
    pass


def _walk(value, field, numbers):
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, key)
            _walk(item, key if field is None else f"{field}.{key}", numbers)
    elif isinstance(value, list):
        for item in value:
            _walk(item, field, numbers)
    elif isinstance(value, (str, int)):
        name = field or "body"
        _check_text(name, value)
        if numbers:
            _check_number(name.rsplit(".", 1)[-1], value, ids_not_found=False)


def _check_form_shaped(payload):
    """Page forms read a JSON object as their fields (Flask-WTF): text, or lists of text."""
    if not isinstance(payload, dict):
        raise Refused(None, _("Send a JSON object."))
    for key, value in payload.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise Refused(key, _("Send this field as text."))


def _printable(name):
    return _BAD_CHAR.sub("?", name)[:40]
