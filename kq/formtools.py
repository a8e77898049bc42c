"""Small helpers shared by the forms of several blueprints."""
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from wtforms import DecimalField
from wtforms.validators import NumberRange as _NumberRange
from wtforms.validators import Optional, ValidationError


class NumberRange(_NumberRange):
    """WTForms' range check without its float(): 10**400 or Decimal('sNaN') from a form are
    refused with the field's message instead of raising OverflowError/ValueError (a 500)."""

    def __call__(self, form, field):
        data = field.data
        if isinstance(data, Decimal) and not data.is_finite():
            raise ValidationError(self.message or field.gettext("Not a valid number."))
        if isinstance(data, (int, Decimal)) and not isinstance(data, bool):
            low, high = self._resolve(self.min), self._resolve(self.max)
            if (low is None or data >= low) and (high is None or data <= high):
                return
            raise ValidationError(self.message or field.gettext("Number out of range."))
        return super().__call__(form, field)


def money_field(label, required=False, maximum=100_000):
    """Yuan with at most two decimals; the service gets fen."""
    return DecimalField(label, places=2, validators=[Optional(), NumberRange(
        0, maximum, message=_l("Enter an amount from 0 to %(max)s.", max=f"{maximum:,}"))])


def to_fen(value):
    if value is None:
        return None
    try:
        return int((Decimal(value) * 100).to_integral_value())
    except (InvalidOperation, ValueError):
        return None


def show_errors(form, error):
    """Put a service's refusal on the form: per field where it names one, else on top."""
    message = error.message
    if isinstance(message, dict):
        for field, text in message.items():
            target = getattr(form, field, None)
            if target is not None and hasattr(target, "errors"):
                target.errors = [*target.errors, text] if isinstance(target.errors, list) \
                    else [text]
            else:
                form.form_errors.append(text)
    elif error.field and hasattr(getattr(form, error.field, None), "errors"):
        target = getattr(form, error.field)
        target.errors = [*target.errors, message] if isinstance(target.errors, list) \
            else [message]
    else:
        form.form_errors.append(message)


def flash_refusal(error):
    """A service's refusal as one flashed message (for actions without a form page)."""
    from flask import flash

    message = error.message
    flash(" ".join(str(m) for m in message.values()) if isinstance(message, dict)
          else str(message), "error")


def acting_staff_choices():
    """Who may act for a customer: managers choose among themselves and the store's
    beauticians; a beautician acts for herself."""
    from flask_login import current_user
    from wtforms.fields.choices import SelectChoice

    from kq.extensions import db
    from kq.models import BEAUTICIAN, User
    from kq.scoping import scoped

    choices = [SelectChoice(str(current_user.id), current_user.display_name)]
    if current_user.is_manager:
        staff = db.session.scalars(scoped(User).where(User.active.is_(True),
                                                      User.role == BEAUTICIAN)
                                   .order_by(User.username)).all()
        choices += [SelectChoice(str(s.id), s.display_name) for s in staff]
    return choices


def chosen_staff(field, customer, message):
    """The staff member picked in `field` (left out: her own beautician when allowed, else
    oneself), or None with `message` on the field."""
    from flask_login import current_user

    from kq.extensions import db
    from kq.models import User

    allowed = {c.value for c in field.choices}
    if not field.data:
        default = str(customer.assigned_staff_id or current_user.id)
        field.data = default if default in allowed else str(current_user.id)
    if field.data not in allowed:
        field.errors = [*field.errors, message]
        return None
    return db.session.get(User, int(field.data))
