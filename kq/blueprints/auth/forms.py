"""Sign-in form; field names username and password are part of the outside contract."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=40)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class PasswordForm(FlaskForm):
    """Her own new password; the rules are the service's (kq.services.staff)."""
    current = PasswordField(_l("Current password"), validators=[Length(max=200)],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField(_l("New password"), validators=[Length(max=200)],
                        render_kw={"autocomplete": "new-password", "minlength": 10})
    repeat = PasswordField(_l("New password again"), validators=[Length(max=200)],
                           render_kw={"autocomplete": "new-password"})
    next = HiddenField()
