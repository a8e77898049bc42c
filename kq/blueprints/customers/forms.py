"""Customer, visit and care-note forms; every field is validated on the server."""
import calendar
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, DecimalField, HiddenField, IntegerField,
                     RadioField, SelectField, StringField, TextAreaField, TimeField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from kq import labels
from kq.formtools import NumberRange, money_field
from kq.services.privacy import CONSENT_SOURCES


def _choices(mapping, blank=True):
    items = [SelectChoice("", "—")] if blank else []
    for value, label in mapping.items():
        items.append(SelectChoice(value, label[0] if isinstance(label, tuple) else label))
    return items


def _max(n):
    return Length(max=n, message=_l("At most %(max)d characters.", max=n))


class CustomerForm(FlaskForm):
    # Basic profile
    name = StringField(_l("Name"), validators=[DataRequired(message=_l("Enter her name.")),
                                               _max(40)])
    surname = StringField(_l("Surname"), validators=[Optional(), _max(10)])
    title = StringField(_l("Title (小姐, 女士, 姐…)"), validators=[Optional(), _max(10)])
    greeting_name = StringField(_l("Greeting name"), validators=[Optional(), _max(20)])
    gender = SelectField(_l("Gender"), choices=_choices(labels.GENDERS), validate_choice=False)
    phone = StringField(_l("Mobile phone"), validators=[Optional(), _max(25)],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})
    wechat_id = StringField(_l("WeChat ID"), validators=[Optional(), _max(40)])
    birth_month = IntegerField(_l("Birth month"), validators=[
        Optional(), NumberRange(1, 12, message=_l("Month is 1 to 12."))])
    birth_day = IntegerField(_l("Day"), validators=[
        Optional(), NumberRange(1, 31, message=_l("Day is 1 to 31."))])
    birth_year = IntegerField(_l("Year (optional)"), validators=[
        Optional(), NumberRange(1900, 2100, message=_l("Enter a year like 1988."))])
    approx_age = IntegerField(_l("Approximate age"), validators=[
        Optional(), NumberRange(10, 110, message=_l("Age is 10 to 110."))])
    address = StringField(_l("Address"), validators=[Optional(), _max(200)])
    email = StringField(_l("Email"), validators=[Optional(), _max(120)])
    skin_type = SelectField(_l("Skin type"), choices=_choices(labels.SKIN_TYPES),
                            validate_choice=False)
    source = SelectField(_l("Source"), choices=_choices(labels.SOURCES), validate_choice=False)
    referred_by_phone = StringField(_l("Referred by (her phone)"),
                                    validators=[Optional(), _max(25)],
                                    render_kw={"inputmode": "tel"})
    # Never pre-ticked: she opts in, and then we note how she gave it (PIPL, issue 18).
    marketing_consent = BooleanField(_l("She agreed to receive offers and messages"))
    consent_source = SelectField(_l("How she agreed"), choices=_choices(CONSENT_SOURCES),
                                 validate_choice=False)
    # Personal profile
    occupation = StringField(_l("Work"), validators=[Optional(), _max(200)])
    family = StringField(_l("Family"), validators=[Optional(), _max(200)])
    personality_type = SelectField(_l("Personality"), choices=_choices(labels.PERSONALITY),
                                   validate_choice=False)
    buying_psychology = SelectField(_l("Buying psychology"), choices=_choices(labels.BUYING),
                                    validate_choice=False)
    spending_habits = StringField(_l("Spending habits"), validators=[Optional(), _max(200)])
    style_preferences = StringField(_l("Style preferences"), validators=[Optional(), _max(200)])
    hobbies = StringField(_l("Hobbies"), validators=[Optional(), _max(200)])
    lifestyle = StringField(_l("Lifestyle"), validators=[Optional(), _max(200)])
    service_preference = StringField(_l("How she likes to be served"),
                                     validators=[Optional(), _max(200)])
    promotion_attitude = StringField(_l("Attitude to promotions"),
                                     validators=[Optional(), _max(200)])
    personal_values = StringField(_l("Values"), validators=[Optional(), _max(200)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), _max(2000)])
    # Classification
    tier = SelectField(_l("Relationship tier"), choices=_choices(labels.TIERS),
                       validate_choice=False)
    purchasing_power = IntegerField(_l("Purchasing power (1–5)"), validators=[
        Optional(), NumberRange(1, 5, message=_l("Purchasing power is 1 to 5."))])
    tags = StringField(_l("Tags (separated by commas)"), validators=[Optional(), _max(300)])
    key_override = SelectField(_l("Key customer"), validate_choice=False, choices=[
        SelectChoice("", _l("Automatic (score and store rule)")),
        SelectChoice("key", _l("Always key")), SelectChoice("general", _l("Always general"))])
    key_override_reason = StringField(_l("Why (required when set by hand)"),
                                      validators=[Optional(), _max(200)])
    assigned_staff_id = SelectField(_l("Looked after by"), validate_choice=False, choices=[])

    def _one_of(self, field, allowed):
        if field.data and field.data not in allowed:
            raise ValidationError(_l("Choose one of the options."))

    def validate_gender(self, field):
        self._one_of(field, labels.GENDERS)

    def validate_skin_type(self, field):
        self._one_of(field, labels.SKIN_TYPES)

    def validate_source(self, field):
        self._one_of(field, labels.SOURCES)

    def validate_personality_type(self, field):
        self._one_of(field, labels.PERSONALITY)

    def validate_buying_psychology(self, field):
        self._one_of(field, labels.BUYING)

    def validate_consent_source(self, field):
        self._one_of(field, CONSENT_SOURCES)
        if self.marketing_consent.data and not field.data:
            raise ValidationError(_l("Say how she gave her consent."))

    def validate_tier(self, field):
        self._one_of(field, labels.TIERS)

    def validate_key_override(self, field):
        self._one_of(field, ("key", "general"))
        if field.data and not (self.key_override_reason.data or "").strip():
            raise ValidationError(_l("Say why she is set by hand."))

    def validate_birth_year(self, field):
        if field.data and field.data > date.today().year:
            raise ValidationError(_l("The birth year is in the future."))

    def validate_email(self, field):
        value = (field.data or "").strip()
        if value and (value.count("@") != 1 or "." not in value.split("@")[1]
                      or any(c.isspace() for c in value)):
            raise ValidationError(_l("Enter an email address like name@example.com."))

    def validate(self, extra_validators=None):
        """Checks across fields (Optional() would stop a field's own validators early)."""
        ok = super().validate(extra_validators)
        if not (self.phone.data or "").strip() and not (self.wechat_id.data or "").strip():
            self.phone.errors = [*self.phone.errors, _l("Enter a mobile phone or a WeChat ID.")]
            ok = False
        problem = self._birthday_problem()
        if problem:
            self.birth_day.errors = [*self.birth_day.errors, problem]
            ok = False
        return ok

    def _birthday_problem(self):
        month, day, year = self.birth_month.data, self.birth_day.data, self.birth_year.data
        if self.birth_month.errors or self.birth_day.errors or self.birth_year.errors:
            return None
        if (month is None) != (day is None):
            return _l("Enter both month and day, or neither.")
        if month is None:
            return None
        # 29 February is a real birthday; a year, if given, must make the date exist.
        if day > calendar.monthrange(year if year else 2000, month)[1]:
            return _l("That day does not exist in that month.")
        return None


class VisitForm(FlaskForm):
    visited_on = DateField(_l("Date"), validators=[InputRequired(message=_l("Enter the date."))])
    visited_time = TimeField(_l("Time"), validators=[Optional()])
    services = StringField(_l("Services"), validators=[
        InputRequired(message=_l("Enter what was done.")), _max(200)])
    amount = DecimalField(_l("Amount paid (CNY)"), places=2, validators=[
        Optional(), NumberRange(0, 1_000_000, message=_l("Enter an amount from 0 to 1,000,000."))])
    staff_id = SelectField(_l("Served by"), validate_choice=False, choices=[])
    prepaid_card_id = SelectField(_l("Prepaid card"), validate_choice=False, choices=[])
    client_id = HiddenField()


class CareNoteForm(FlaskForm):
    service_done = TextAreaField(_l("What was done"), validators=[Optional(), _max(1000)])
    skin_condition = TextAreaField(_l("Skin condition"), validators=[Optional(), _max(1000)])
    feedback = TextAreaField(_l("Her feedback"), validators=[Optional(), _max(1000)])

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if not any((f.data or "").strip()
                   for f in (self.service_done, self.skin_condition, self.feedback)):
            self.feedback.errors = [*self.feedback.errors, _l("Write at least one of the three.")]
            ok = False
        return ok


# Points, promises and complaints ------------------------------------------------------------

REDEEM_LABELS = {"redeem_service": _l("A service (1 point = 1 CNY)"),
                 "redeem_product": _l("A product (at most half in points)")}
COMPLAINT_CHANNEL_LABELS = {"in_person": _l("In person"), "phone": _l("Phone"),
                            "wechat": _l("WeChat"), "review": _l("Online review"),
                            "other": _l("Other")}


class RedeemForm(FlaskForm):
    kind = RadioField(_l("Pays for"), validate_choice=False, default="redeem_service",
                      choices=_choices(REDEEM_LABELS, blank=False))
    item = StringField(_l("Service or product"), validators=[
        InputRequired(message=_l("Name the service or product (at most 60 characters).")),
        _max(60)])
    price = DecimalField(_l("Price (CNY)"), places=2, validators=[
        InputRequired(message=_l("Enter the price, more than 0 and at most 100,000.")),
        NumberRange(0, 100_000, message=_l("Enter the price, more than 0 and at most 100,000."))])
    points = IntegerField(_l("Points to use"), validators=[
        InputRequired(message=_l("Enter a whole number of points, more than 0."))])
    note = StringField(_l("Note"), validators=[Optional(), _max(200)])


class AdjustPointsForm(FlaskForm):
    adjust_points = IntegerField(_l("Points (+ or −)"), validators=[
        InputRequired(message=_l("Enter a whole number of points other than 0."))])
    adjust_note = StringField(_l("Reason"), validators=[
        InputRequired(message=_l("Say why, in at most 200 characters.")), _max(200)])


class PromiseForm(FlaskForm):
    what = StringField(_l("What was promised"), validators=[
        InputRequired(message=_l("Write what was promised, in at most 200 characters.")),
        _max(200)])
    due_on = DateField(_l("Due on"), validators=[
        InputRequired(message=_l("Choose a due date from today to a year ahead."))])
    staff_id = SelectField(_l("Who keeps it"), validate_choice=False, choices=[])


class ResolvePromiseForm(FlaskForm):
    outcome = SelectField(validate_choice=False, choices=[])
    note = StringField(_l("Note"), validators=[Optional(), _max(200)])


class ComplaintForm(FlaskForm):
    received_on = DateField(_l("Received on"), validators=[
        InputRequired(message=_l("Choose the date it came in: not in the future, at most a "
                                 "year ago."))])
    channel = SelectField(_l("How it came in"), validate_choice=False,
                          choices=_choices(COMPLAINT_CHANNEL_LABELS, blank=False))
    summary = TextAreaField(_l("What she complained about"), validators=[
        InputRequired(message=_l("Write what she complained about, in at most 2,000 "
                                 "characters.")), _max(2000)])
    staff_id = SelectField(_l("Who works on it"), validate_choice=False, choices=[])


class StepForm(FlaskForm):
    step = HiddenField()
    done_on = DateField(_l("Done on"), validators=[
        InputRequired(message=_l("Choose a date from when it came in up to today."))])
    note = TextAreaField(_l("What was said and done"), validators=[Optional(), _max(2000)])
    next_due_on = DateField(_l("Next step due"), validators=[Optional()])
    gift_id = SelectField(_l("Gift as compensation (optional)"), validate_choice=False,
                          choices=[])
    pickup_after = DateField(_l("Gift ready from"), validators=[Optional()])


# Prepaid cards -----------------------------------------------------------------------------

def _sessions(label):
    return IntegerField(label, validators=[Optional(), NumberRange(
        0, 999, message=_l("Enter a number of sessions from 0 to 999."))],
        render_kw={"inputmode": "numeric"})


class CardSellForm(FlaskForm):
    name = StringField(_l("Card name"), validators=[
        InputRequired(message=_l("Give the card a name of at most 60 characters.")), _max(60)])
    sessions = _sessions(_l("Sessions"))
    balance = money_field(_l("Balance (CNY)"), maximum=1_000_000)
    price = money_field(_l("Price paid (CNY)"), maximum=1_000_000)
    expires_on = DateField(_l("Expires on (optional)"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Optional(), _max(200)])


class CardTopUpForm(FlaskForm):
    sessions = _sessions(_l("Sessions to add"))
    balance = money_field(_l("Balance to add (CNY)"), maximum=1_000_000)
    paid = money_field(_l("Paid (CNY)"), maximum=1_000_000)
    note = StringField(_l("Note"), validators=[Optional(), _max(200)])


class CardRefundForm(FlaskForm):
    refund = money_field(_l("Money given back (CNY)"), maximum=1_000_000)
    note = StringField(_l("Why"), validators=[Optional(), _max(200)])


class CardCloseForm(FlaskForm):
    note = StringField(_l("Why"), validators=[Optional(), _max(200)])
