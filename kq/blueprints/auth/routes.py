"""Sign-in and sign-out. Failed sign-ins are rate-limited per IP."""
from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from kq.blueprints.auth import bp
from kq.blueprints.auth.forms import LoginForm
from kq.blueprints.core.routes import home_url
from kq.extensions import db, limiter
from kq.models import User, utcnow
from kq.redirects import safe_next


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
        if user is not None and user.active and user.check_password(form.password.data):
            locale = session.get("locale")
            session.clear()
            session.permanent = True
            login_user(user, remember=False)
            if locale and not user.locale:
                user.locale = locale
            user.last_login_at = utcnow()
            db.session.commit()
            return redirect(safe_next(form.next.data) or home_url(user))
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
