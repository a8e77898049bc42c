"""Keqing (客情): the application factory. No side effects beyond wiring, and the umask."""
import os

from flask import Flask, current_app, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import want_bytes

from kq import db as _db_events  # noqa: F401 - registers SQLite pragmas and BEGIN IMMEDIATE
from kq.config import INSTANCE_DIR, Config


# Files this process creates (the SQLite database and its WAL/SHM, printed PDFs, uploaded
# spreadsheets) are its owner's alone: 0600 files, 0700 folders. They hold phone numbers.
PRIVATE_UMASK = 0o077


def create_app(config=None):
    os.umask(PRIVATE_UMASK)
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    app.config.from_object(config or Config())
    register_extensions(app)
    register_guard(app)
    register_url_converters(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_shell_context(app)
    register_security_headers(app)
    from kq import assets  # compression, fingerprinted static files, the page cache switch
    assets.init_app(app)
    register_proxy_fix(app)
    return app


def register_extensions(app):
    from kq import models  # noqa: F401 - every table known to metadata and Alembic
    from kq.extensions import babel, csrf, db, limiter, login_manager, migrate, queue
    from kq.i18n import parent_url, select_locale, select_timezone, template_helpers
    from kq.models.base import render_item

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, compare_type=True, render_item=render_item)
    csrf.init_app(app)
    # Templates' csrf_token() (a global, and Flask-WTF's context processor, which ours follows)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})
    babel.init_app(app, default_locale=app.config["BABEL_DEFAULT_LOCALE"],
                   default_timezone=app.config["BABEL_DEFAULT_TIMEZONE"],
                   locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)
    queue.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.context_processor(template_helpers)
    from kq.fragments import kept

    app.jinja_env.globals["kept"] = kept
    app.jinja_env.globals["parent_url"] = parent_url

    from kq.auth import load_user, localized_login_message, unauthorized

    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)
    login_manager.localize_callback = localized_login_message
    login_manager.login_message = "Please sign in to continue."
    app.session_interface = SessionInterface()


class _Signer(TimestampSigner):
    """itsdangerous' signer, deriving its key from the secret once instead of on every
    signature and check (an HMAC each); signing and checking themselves are unchanged."""

    _derived = {}

    def derive_key(self, secret_key=None):
        secret = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        key = (secret, self.salt, self.key_derivation, self.digest_method)
        derived = self._derived.get(key)
        if derived is None:
            derived = self._derived[key] = super().derive_key(secret)
        return derived


# Only sessions of these values are remembered below (no float: -0.0 equals 0.0 but is
# written differently; no container: it could change without the session knowing).
_PLAIN = frozenset({str, int, bool, type(None)})
_KEPT = 2000  # payloads remembered each way, per process; cleared when full


def _plain_key(data):
    """A key naming the session's values exactly (types too: True == 1), or None."""
    if type(data) is not dict or not all(type(v) in _PLAIN for v in data.values()):
        return None
    return tuple(sorted((k, type(v).__name__, v) for k, v in data.items()))


class _Serializer(URLSafeTimedSerializer):
    """Flask's cookie serializer, remembering the payloads it wrote and read lately. A
    sign-in's session holds the same few values request after request, so their JSON, zlib
    and base64 are done once per process, not on every request in and out. The timestamp, the
    signature and the age limit are computed and checked every time, as before; a payload is
    remembered only once its signature has been checked (or after writing it)."""

    _dumped = {}  # _plain_key → payload
    _loaded = {}  # payload → values

    def dump_payload(self, obj):
        key = _plain_key(obj)
        if key is None:
            return super().dump_payload(obj)
        payload = self._dumped.get(key)
        if payload is None:
            payload = super().dump_payload(obj)
            if len(self._dumped) >= _KEPT:
                self._dumped.clear()
            self._dumped[key] = payload
        return payload

    def load_payload(self, payload, *args, **kwargs):
        if args or kwargs:
            return super().load_payload(payload, *args, **kwargs)
        data = self._loaded.get(payload)
        if data is None:
            data = super().load_payload(payload)
            if _plain_key(data) is None:
                return data
            if len(self._loaded) >= _KEPT:
                self._loaded.clear()
            self._loaded[payload] = data
        return dict(data)


_csrf_serializers = {}  # secret key → the serializer that signs CSRF tokens with it


def csrf_token():
    """flask_wtf.csrf.generate_csrf as templates call it: the same token, kept in g for the
    request (forms then use it too), its secret in the session, signed by a serializer made
    once per secret key rather than once per page. No secret in the session yet, or no key:
    generate_csrf itself (it makes the secret, or says what is missing)."""
    from flask import g, session
    from flask_wtf.csrf import generate_csrf

    config = current_app.config
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    secret = config.get("WTF_CSRF_SECRET_KEY", current_app.secret_key)
    if field is None or secret is None or field in g:
        return generate_csrf()
    raw = session.get(field)
    if not isinstance(raw, str):
        return generate_csrf()
    serializer = _csrf_serializers.get(secret)
    if serializer is None:
        serializer = _csrf_serializers[secret] = URLSafeTimedSerializer(
            secret, salt="wtf-csrf-token", signer=_Signer)
    token = serializer.dumps(raw)
    setattr(g, field, token)
    return token


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, except for files that are the same for everyone (static
    files, the manifest, the service worker): they neither renew the cookie nor say
    `Vary: Cookie`. A year-long public answer carries no Set-Cookie for a shared cache to keep,
    a first load is 445 bytes a file lighter, and the browser's own cache can reuse the file
    although the cookie changes on every page. A session changed during such a request
    (nothing does that today) is still saved as Flask saves it."""

    FILES = frozenset({"static", "core.manifest", "core.service_worker"})

    _signing = None  # (secret keys, serializer): made once, not twice a request

    def get_signing_serializer(self, app):
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        signing = self._signing
        if signing is None or signing[0] != keys:
            serializer = _Serializer(
                list(keys), salt=self.salt, serializer=self.serializer, signer=_Signer,
                signer_kwargs={"key_derivation": self.key_derivation,
                               "digest_method": self.digest_method})
            signing = self._signing = (keys, serializer)
        return signing[1]

    def save_session(self, app, session, response):
        if request.endpoint in self.FILES and not session.modified:
            return None
        return super().save_session(app, session, response)


def register_url_converters(app):
    """`<int:…>` in every URL stops at the largest id an id column holds (32-bit): a bigger
    number is no row at all (404), not an overflow in the driver (500)."""
    from werkzeug.routing import IntegerConverter

    class IdConverter(IntegerConverter):
        def __init__(self, url_map, *args, **kwargs):
            kwargs.setdefault("max", 2**31 - 1)
            super().__init__(url_map, *args, **kwargs)

    app.url_map.converters["int"] = IdConverter


def register_blueprints(app):
    from kq.blueprints import api, auth, calls, core, customers, gifts, manager, reports, tasks

    app.register_blueprint(core.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(tasks.bp, url_prefix="/tasks")
    app.register_blueprint(customers.bp, url_prefix="/customers")
    app.register_blueprint(calls.bp, url_prefix="/calls")
    app.register_blueprint(gifts.bp, url_prefix="/gifts")
    app.register_blueprint(manager.bp, url_prefix="/manager")
    app.register_blueprint(reports.bp, url_prefix="/reports")
    app.register_blueprint(api.bp, url_prefix="/api")


def register_errorhandlers(app):
    from kq.errors import register

    register(app)


def register_commands(app):
    from kq.cli import kq_cli

    app.cli.add_command(kq_cli)


def register_shell_context(app):
    from kq import models
    from kq.extensions import db

    def shell_context():
        return {"db": db, **{name: getattr(models, name) for name in models.__all__}}

    app.shell_context_processor(shell_context)


def register_guard(app):
    """Bad input (ids no row can have, control characters, deep or huge JSON) is a 4xx
    before any view runs; see kq/guard.py."""
    from kq.guard import register

    register(app)


# Browser features no page of Keqing uses, switched off for every page (and anything injected).
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "camera", "display-capture", "geolocation", "gyroscope", "magnetometer",
    "microphone", "midi", "payment", "usb", "browsing-topics"))
HSTS = "max-age=31536000"


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Permissions-Policy", PERMISSIONS_POLICY),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def register_security_headers(app):
    https = bool(app.config.get("SESSION_COOKIE_SECURE"))  # KQ_HTTPS=1 (kq/config.py)
    defaults = tuple((name.lower(), name, value) for name, value in
                     SECURITY_HEADERS + ((("Strict-Transport-Security", HSTS),) if https else ()))

    @app.after_request
    def headers(response):
        from flask import request, session

        # Each header is added unless the view set its own (one look at the headers, not a
        # search per header).
        present = {name.lower() for name, _value in response.headers.items()}
        for lowered, name, value in defaults:
            if lowered not in present:
                response.headers.add(name, value)
        # What a signed-in user is shown (names, phones, spending) stays out of every cache,
        # the browser's and a proxy's: no-store, unless the view chose its own caching (Today
        # revalidates with private, no-cache; the service worker script). Static files keep
        # theirs. The session is read without the database: it names the signed-in user.
        if request.endpoint != "static" and "cache-control" not in present \
                and session.get("_user_id") is not None:
            response.headers["Cache-Control"] = "no-store"
        return response


def register_proxy_fix(app):
    """Behind KQ_PROXY_FIX trusted reverse proxies (default 0: none), the client's address,
    scheme, host and port come from their X-Forwarded-* headers (the sign-in throttle counts
    by client address). Never set it higher than the proxies in front: a client could then
    name any address it likes."""
    proxies = int(app.config.get("PROXY_FIX", os.environ.get("KQ_PROXY_FIX") or 0))
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,
                                x_host=proxies, x_port=proxies)
