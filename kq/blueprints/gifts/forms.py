"""Gift stock and handout forms; the rules themselves live in kq.services.gifts."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from kq.formtools import money_field

STOCK_REASON_LABELS = {"restock": _l("Restock"), "adjust": _l("Count correction"),
                       "damaged": _l("Damaged"), "lost": _l("Lost")}


def _max(n):
    return Length(max=n, message=_l("At most %(max)d characters.", max=n))


class GiftForm(FlaskForm):
    name = StringField(_l("Gift"), validators=[
        InputRequired(message=_l("Give the gift a name of at most 60 characters.")), _max(60)])
    face_value = money_field(_l("Face value (CNY)"))
    unit_cost = money_field(_l("Unit cost (CNY)"))
    quantity = IntegerField(_l("Quantity in stock"), validators=[Optional()])
    active = BooleanField(_l("Can be given out"), default=True)


class StockForm(FlaskForm):
    change = IntegerField(_l("Change (+ in, − out)"), validators=[
        InputRequired(message=_l("Enter how many come in (e.g. 20) or go out (e.g. -2), not 0."))])
    reason = SelectField(_l("Why"), validate_choice=False, choices=[
        SelectChoice(k, v) for k, v in STOCK_REASON_LABELS.items()])
    note = StringField(_l("Note"), validators=[Optional(), _max(200)])


class GiveForm(FlaskForm):
    gift_id = SelectField(_l("Gift"), validate_choice=False, choices=[])
    mode = RadioField(_l("How"), validate_choice=False, default="reserve", choices=[
        SelectChoice("reserve", _l("Reserve for her")),
        SelectChoice("now", _l("Hand over now"))])
    pickup_after = DateField(_l("Ready to collect from"), validators=[Optional()])
    campaign = StringField(_l("Campaign (optional)"), validators=[Optional(), _max(60)])
    note = StringField(_l("Note"), validators=[Optional(), _max(200)])
    staff_id = SelectField(_l("Who hands it over"), validate_choice=False, choices=[])
