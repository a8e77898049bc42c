"""Site-wide routes: home redirect by role, health check, language and store switches, PWA files."""
from flask import (current_app, jsonify, redirect, render_template, request, send_from_directory,
                   session, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import text

from kq.blueprints.core import bp
from kq.extensions import db, queue
from kq.models import Store
from kq.redirects import safe_next
from kq.scoping import accessible_stores


def home_url(user):
    """Beauticians and owners start on their checklist; managers on the manager's view."""
    if user.role == "manager":
        return url_for("manager.index")
    return url_for("tasks.today")


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(home_url(current_user))


@bp.before_app_request
def _daily_run_booked():
    """A Redis restarted without persistence forgets the booked daily run: the first request
    of the day (and one an hour after) books it again. Never fails the request."""
    from kq.jobs import ensure_daily_booked

    ensure_daily_booked()


@bp.route("/healthz")
def healthz():
    """200 while the database answers — Redis is an accelerator, so without it the app works
    and says "degraded"; 503 when the database does not answer."""
    from kq.jobs import daily_booked
    from kq.queue import redis_errors

    try:
        db.session.execute(text("SELECT 1"))
        database = True
    except Exception:  # noqa: BLE001 - report, never raise
        db.session.rollback()
        database = False
    redis_ok = queue.ping()
    body = {"status": "ok" if database and redis_ok else "degraded", "database": database,
            "queue": queue.mode, "queue_reachable": redis_ok}
    if queue.mode == "redis":
        body["redis"] = "up" if redis_ok else "down"
        if redis_ok:
            try:
                body["workers"] = queue.workers()
                body["daily_run_booked"] = daily_booked()
            except redis_errors():
                body["redis"], body["status"] = "down", "degraded"
    return jsonify(body), 200 if database else 503


@bp.route("/more")
@login_required
def more():
    return render_template("core/more.html", stores=accessible_stores())


@bp.post("/lang")
def set_language():
    locale = request.form.get("locale")
    if locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("core.index"))


@bp.post("/store")
@login_required
def switch_store():
    """Owners see every store, one at a time; staff cannot switch."""
    from flask import abort, flash

    from kq.auth import renew_session

    if not current_user.is_owner:
        abort(403)
    store = db.session.get(Store, request.form.get("store_id", type=int) or 0)
    if store is None:
        abort(404)
    session["store_id"] = store.id
    renew_session(current_user)  # kq.auth: a new token for the new scope, same sign-in
    db.session.commit()
    flash(_("Now viewing %(store)s.", store=store.name), "info")
    return redirect(url_for("core.more"))


@bp.route("/sw.js")
def service_worker():
    # Served from the root so its scope covers the whole app.
    response = send_from_directory(current_app.static_folder, "sw.js",
                                   mimetype="application/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/manifest.webmanifest")
def manifest():
    return send_from_directory(current_app.static_folder, "manifest.webmanifest",
                               mimetype="application/manifest+json", max_age=3600)


@bp.route("/offline")
def offline():
    return render_template("core/offline.html")
