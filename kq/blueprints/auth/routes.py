"""Sign-in, sign-out and changing one's own password. Failed sign-ins are rate-limited per IP;
an account with a temporary password goes to the password page first, wherever she goes."""
from flask import (current_app, flash, jsonify, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from kq.auth import password_stamp
from kq.blueprints.auth import bp
from kq.blueprints.auth.forms import LoginForm, PasswordForm
from kq.blueprints.core.routes import home_url
from kq.extensions import db, limiter
from kq.formtools import show_errors
from kq.models import User, utcnow
from kq.redirects import safe_next
from kq.services import ServiceError
from kq.services.staff import change_own_password

# Reachable before a temporary password is replaced: signing out, the password page itself,
# and what the browser and the phone's outbox need to keep working.
OPEN_WITH_TEMPORARY_PASSWORD = {
    "auth.password", "auth.logout", "auth.login", "static", "core.service_worker",
    "core.manifest", "core.healthz", "core.offline", "core.set_language", "api.session_info"}


def _login_limit():
    return current_app.config["LOGIN_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda response: response.status_code != 302)
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(home_url(current_user))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        username = form.username.data.strip().lower()
        user = db.session.scalar(db.select(User).where(User.username == username))
        if user is None:
            User.burn_password_check(form.password.data)
        if user is not None and user.check_password(form.password.data):
            if not user.active:
                # Only someone who knows her password learns that the account is closed.
                form.password.errors.append(_("This account has been closed. Ask your manager "
                                              "if you still work here."))
                return render_template("auth/login.html", form=form)
            locale = session.get("locale")
            session.clear()
            session.permanent = True
            login_user(user, remember=False)
            session["pw"] = password_stamp(user)
            if locale and not user.locale:
                user.locale = locale
            user.last_login_at = utcnow()
            db.session.commit()
            target = safe_next(form.next.data)
            if user.must_change_password:
                return redirect(url_for("auth.password", next=target or None))
            return redirect(target or home_url(user))
        # One message whatever was wrong, so the form never tells whether the user exists.
        form.password.errors.append(_("Wrong username or password."))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    if request.method == "GET":
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        return render_template("auth/logout.html")
    locale = current_user.locale if current_user.is_authenticated else None
    logout_user()
    session.clear()
    if locale:
        session["locale"] = locale
    return redirect(url_for("auth.login"))


@bp.before_app_request
def temporary_password_first():
    if request.endpoint in OPEN_WITH_TEMPORARY_PASSWORD or request.endpoint is None:
        return None
    if not current_user.is_authenticated or not current_user.must_change_password:
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
            session["pw"] = password_stamp(current_user)
            flash(_("Your password is changed."), "success")
            return redirect(safe_next(form.next.data) or home_url(current_user))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/password.html", form=form), status
