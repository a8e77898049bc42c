"""Sign-in, sign-out and changing one's own password. Failed sign-ins are throttled per IP and
per username in storage every worker shares (kq/throttle.py) and audited; an account with a
temporary password goes to the password page first, wherever she goes."""
from flask import (current_app, flash, g, jsonify, make_response, redirect, render_template,
                   request, session, url_for)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import generate_csrf

from kq import throttle
from kq.auth import end_all_sessions, end_session, start_session
from kq.blueprints.auth import bp
from kq.blueprints.auth.forms import LoginForm, PasswordForm
from kq.blueprints.core.routes import home_url
from kq.extensions import db
from kq.formtools import show_errors
from kq.models import User, utcnow
from kq.redirects import safe_next
from kq.scoping import signed_in
from kq.services import ServiceError
from kq.services.audit import audit
from kq.services.staff import change_own_password

# Reachable before a temporary password is replaced: signing out, the password page itself,
# and what the browser and the phone's outbox need to keep working.
OPEN_WITH_TEMPORARY_PASSWORD = {
    "auth.password", "auth.logout", "auth.logout_everywhere", "auth.login", "static",
    "core.service_worker", "core.manifest", "core.healthz", "core.offline", "core.set_language",
    "api.session_info"}


def _too_many(form, seconds):
    """429 on the sign-in page, in her language, saying when she may try again."""
    minutes = max(1, (seconds + 59) // 60)
    form.password.errors.append(ngettext(
        "Too many failed sign-ins. Try again in %(num)d minute.",
        "Too many failed sign-ins. Try again in %(num)d minutes.", minutes))
    response = make_response(render_template("auth/login.html", form=form), 429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _failed(user, username, ip, reason):
    audit("sign_in_failed", store_id=user.store_id if user is not None else None, target=user,
          detail={"username": username, "reason": reason})
    if reason == "password":
        throttle.record(username, ip, ok=False)
    throttle.commit_quietly()


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(home_url(current_user))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        username = form.username.data.strip().lower()
        ip = request.remote_addr
        wait = throttle.retry_after(username, ip)
        if wait:
            return _too_many(form, wait)
        user = db.session.scalar(db.select(User).where(User.username == username))
        if user is None:
            User.burn_password_check(form.password.data)
        if user is not None and user.check_password(form.password.data):
            if not user.active:
                _failed(user, username, ip, "closed")
                # Only someone who knows her password learns that the account is closed.
                form.password.errors.append(_("This account has been closed. Ask your manager "
                                              "if you still work here."))
                return render_template("auth/login.html", form=form)
            locale = session.get("locale")
            end_session()  # a sign-in this browser still had
            session.clear()
            session.permanent = True
            login_user(user, remember=False)
            start_session(user)
            # Her CSRF secret, new with the session: her first page need not change the
            # session to make one (a page's token is still signed afresh each request).
            g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
            generate_csrf()
            if locale and not user.locale:
                user.locale = locale
            user.last_login_at = utcnow()
            audit("sign_in", store_id=user.store_id, target=user, user=user)
            throttle.record(username, ip, ok=True)
            db.session.commit()
            target = safe_next(form.next.data)
            if user.must_change_password:
                return redirect(url_for("auth.password", next=target or None))
            return redirect(target or home_url(user))
        _failed(user, username, ip, "password")
        # One message whatever was wrong, so the form never tells whether the user exists.
        form.password.errors.append(_("Wrong username or password."))
    return render_template("auth/login.html", form=form)


def _signed_out(everywhere=False, message=None):
    locale = current_user.locale if current_user.is_authenticated else None
    if everywhere and current_user.is_authenticated:
        end_all_sessions(current_user)
    else:
        end_session()
    db.session.commit()
    logout_user()
    session.clear()
    if locale:
        session["locale"] = locale
    if message:
        flash(message, "success")
    return redirect(url_for("auth.login"))


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Signing out ends this sign-in on the server: a copy of the cookie opens nothing."""
    if request.method == "GET":
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        return render_template("auth/logout.html")
    return _signed_out()


@bp.post("/account/sign-out-everywhere")
@login_required
def logout_everywhere():
    """Every sign-in of hers ends: a lost phone, a shared computer she forgot."""
    audit("sign_out_everywhere", store_id=current_user.store_id, target=current_user)
    return _signed_out(everywhere=True, message=_("You are signed out on every device."))


@bp.before_app_request
def temporary_password_first():
    if request.endpoint in OPEN_WITH_TEMPORARY_PASSWORD or request.endpoint is None:
        return None
    user = signed_in()  # one look-up of current_user, not two
    if user is None or not user.must_change_password:
        return None
    if request.path.startswith("/api/"):  # the outbox keeps its entries and tries later
        return jsonify(error="password_change_required",
                       message=_("Choose your own password first.")), 401
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.password", next=target))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """More → Account: her own password. She stays signed in here; other sign-ins end."""
    form = PasswordForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            change_own_password(current_user, current=form.current.data, new=form.new.data,
                                repeat=form.repeat.data)
        except ServiceError as error:
            show_errors(form, error)
        else:
            start_session(current_user)  # her other sign-ins ended with the change
            db.session.commit()
            flash(_("Your password is changed."), "success")
            return redirect(safe_next(form.next.data) or home_url(current_user))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/password.html", form=form), status
