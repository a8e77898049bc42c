"""The contact form, shared by the page, the checklist's inline panel and POST /api/contacts."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from kq import labels
from kq.formtools import NumberRange
from kq.services.contacts import MAX_NOTE, MAX_SUGGESTION


def _choices(names):
    return [SelectChoice(value, label) for value, label in names.items()]


class ContactForm(FlaskForm):
    client_id = HiddenField(validators=[Optional(), Length(max=36)])
    customer_id = IntegerField(validators=[InputRequired()])
    task_id = IntegerField(validators=[Optional()])
    channel = RadioField(_l("Channel"), choices=_choices(labels.CHANNELS), default="phone",
                         validate_choice=False, validators=[
                             InputRequired(message=_l("Choose how you contacted her.")),
                             AnyOf(list(labels.CHANNELS),
                                   message=_l("Choose how you contacted her."))])
    outcome = RadioField(_l("Outcome"), choices=_choices(labels.OUTCOMES), validate_choice=False,
                         validators=[InputRequired(message=_l("Choose the outcome.")),
                                     AnyOf(list(labels.OUTCOMES),
                                           message=_l("Choose the outcome."))])
    satisfaction = IntegerField(_l("Satisfaction (1–5)"), validators=[
        Optional(), NumberRange(1, 5, message=_l("Satisfaction is from 1 to 5."))])
    suggestions = StringField(_l("Her suggestions"), validators=[
        Optional(), Length(max=MAX_SUGGESTION,
                           message=_l("At most %(max)d characters.", max=MAX_SUGGESTION))])
    notes = TextAreaField(_l("Note"), validators=[
        Optional(), Length(max=MAX_NOTE, message=_l("At most %(max)d characters.", max=MAX_NOTE))])
    next_follow_up_on = DateField(_l("Next follow-up"), validators=[Optional()])
    contacted_at = HiddenField(validators=[Optional(), Length(max=40)])
    next = HiddenField()
