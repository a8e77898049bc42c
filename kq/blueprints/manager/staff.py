"""Manage → Staff: add, edit, deactivate and reset the passwords of the store's accounts."""
from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import case
from wtforms import SelectField, StringField
from wtforms.validators import Length

from kq import labels
from kq.auth import manager_required
from kq.blueprints.manager import bp
from kq.extensions import db
from kq.formtools import show_errors
from kq.masking import national
from kq.models import User
from kq.scoping import current_store, get_or_404, scoped
from kq.services import ServiceError
from kq.services import staff as service


class StaffForm(FlaskForm):
    """What a manager types; the rules are the service's."""
    username = StringField(_l("Username"), validators=[Length(max=60)],
                           render_kw={"autocapitalize": "none", "autocomplete": "off",
                                      "spellcheck": "false"})
    display_name = StringField(_l("Name shown to colleagues and customers"),
                               validators=[Length(max=100)])
    phone = StringField(_l("Mobile (optional)"), validators=[Length(max=30)],
                        render_kw={"type": "tel", "inputmode": "tel"})
    role = SelectField(_l("Role"), validate_choice=False)


def _form(user=None, saved=False):
    """The form as typed (a POST of it), or as the account stands (`saved`, or a GET)."""
    saved = user is not None and (saved or request.method == "GET")
    form = StaffForm(formdata=None, obj=user) if saved else StaffForm()
    form.role.choices = [(r, labels.ROLES[r]) for r in service.roles_for(current_user)]
    if user is not None and user.role not in service.roles_for(current_user):
        form.role.choices.append((user.role, labels.ROLES[user.role]))
    if saved and user.phone:
        form.phone.data = national(user.phone)
    return form


def _secret_page(user, password, mode):
    """The temporary password, shown this once: never flashed, never kept by a cache."""
    response = make_response(render_template("manager/staff_form.html", mode=mode, user=user,
                                             password=password))
    response.headers["Cache-Control"] = "no-store"
    return response


def _changeable(user_id):
    user = get_or_404(User, user_id)
    if not service.may_change(current_user, user):
        abort(403)
    return user


@bp.route("/staff")
@manager_required
def staff():
    store = current_store()
    order = case({"owner": 0, "manager": 1}, value=User.role, else_=2)
    people = db.session.scalars(scoped(User).order_by(User.active.desc(), order,
                                                      User.username)).all()
    return render_template("manager/staff.html", people=people,
                           counts=service.customer_counts(store), labels=labels)


@bp.route("/staff/new", methods=["GET", "POST"])
@manager_required
def staff_new():
    form = _form()
    if form.validate_on_submit():
        try:
            user, password = service.add_staff(
                current_store(), username=form.username.data,
                display_name=form.display_name.data, phone=form.phone.data,
                role=form.role.data, by=current_user)
        except ServiceError as error:
            show_errors(form, error)
        else:
            return _secret_page(user, password, "created")
    elif request.method == "GET":
        form.role.data = "beautician"
    return render_template("manager/staff_form.html", mode="new", form=form), \
        422 if request.method == "POST" else 200


def _edit_page(user, form, refusal=None, status=200):
    held = service.customer_counts(current_store()).get(user.id, 0)
    return render_template("manager/staff_form.html", mode="edit", form=form, user=user,
                           held=held, refusal=refusal,
                           read_only=not service.may_change(current_user, user),
                           may_reset=service.may_reset(current_user, user)), status


@bp.route("/staff/<int:user_id>", methods=["GET", "POST"])
@manager_required
def staff_edit(user_id):
    """Her account; a manager may look at an owner's but not change it."""
    user = _changeable(user_id) if request.method == "POST" else get_or_404(User, user_id)
    form = _form(user)
    if form.validate_on_submit():
        try:
            changes = service.edit_staff(current_store(), user,
                                         display_name=form.display_name.data,
                                         phone=form.phone.data, role=form.role.data,
                                         by=current_user)
        except ServiceError as error:
            show_errors(form, error)
        else:
            flash(_("Saved.") if changes else _("Nothing changed."),
                  "success" if changes else "info")
            return redirect(url_for("manager.staff"))
    return _edit_page(user, form, status=422 if request.method == "POST" else 200)


@bp.post("/staff/<int:user_id>/active")
@manager_required
def staff_active(user_id):
    user = _changeable(user_id)
    active = request.form.get("active") == "1"
    try:
        if service.set_active(current_store(), user, active, by=current_user):
            flash(_("%(name)s can sign in again.", name=user.display_name) if active else
                  _("%(name)s's account is closed.", name=user.display_name), "success")
    except ServiceError as error:
        return _edit_page(user, _form(user, saved=True), refusal=error.message, status=422)
    return redirect(url_for("manager.staff"))


@bp.post("/staff/<int:user_id>/password")
@manager_required
def staff_reset(user_id):
    user = _changeable(user_id)
    if user.id != current_user.id and not service.may_reset(current_user, user):
        abort(403)
    try:
        password = service.reset_password(current_store(), user, by=current_user)
    except ServiceError as error:
        return _edit_page(user, _form(user, saved=True), refusal=error.message, status=422)
    return _secret_page(user, password, "reset")
