"""A store's settings (SPEC §3, §5, §7): every threshold and amount, validated against sane
bounds, audited. Thresholds wait in Store.pending_settings for the next daily run, so a day's
checklist, ledger and meeting figures are all counted by one set of numbers; the store's name,
phone, address and signature apply at once."""
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l

from kq.extensions import db
from kq.services import ServiceError
from kq.services.audit import audit

DAYS, COUNT, SHARE, YUAN, PERCENT, SECONDS, CHARS, ZONE, TEXT, PHONE, MONTHS = (
    "days", "count", "share", "yuan", "percent", "seconds", "chars", "zone", "text", "phone",
    "months")
SCALE = {YUAN: 100, PERCENT: 100}  # stored as fen and basis points


@dataclass(frozen=True)
class Setting:
    name: str  # the Store column
    section: str
    label: object
    hint: object
    unit: str
    default: object = None  # in the stored unit (fen, basis points); None: no default
    lo: object = None  # bounds in the unit entered (yuan, percent)
    hi: object = None
    waits: bool = True  # applies at the next daily run

    def shown(self, stored):
        """The stored value as entered: 3000 fen → "30", 250 bp → "2.5"."""
        if stored is None:
            return ""
        scale = SCALE.get(self.unit)
        if scale:
            return format((Decimal(stored) / scale).normalize(), "f")
        return str(stored)


SECTIONS = {
    "dormant": (_l("Dormant customers and red flags"),
                _l("When a customer counts as dormant, and how many a beautician calls a day.")),
    "touch": (_l("Keeping in touch"),
              _l("How often the checklist asks for a word with a customer who is not dormant.")),
    "ledger": (_l("Rewards and penalties"),
               _l("Counted every night for the customers assigned to each beautician.")),
    "key": (_l("Key customers and visit frequency"),
            _l("Who counts as a key customer, and the visit-frequency bands.")),
    "messages": (_l("Messages and points"), _l("The rules every text message keeps.")),
    "calendar": (_l("Calendar"), _l("Days are counted on the store's own calendar.")),
    "privacy": (_l("Personal information"),
                _l("How long what staff write about a contact is kept. These apply at once.")),
    "store": (_l("The store"),
              _l("How the store appears on screens and in messages. These apply at once.")),
}

SETTINGS = (
    Setting("dormant_after_days", "dormant", _l("Dormant after (days without a visit)"),
            _l("A customer not seen for this many days is dormant and shows as a red flag."),
            DAYS, 30, 7, 365),
    Setting("red_flag_quiet_days", "dormant", _l("Red flag waits after a contact (days)"),
            _l("A dormant customer contacted recently returns as a red flag after this many "
               "days."), DAYS, 7, 1, 90),
    Setting("daily_contact_target", "dormant", _l("Daily contact target (per beautician)"),
            _l("Contacts each beautician aims for in a day: the morning meeting's target."),
            COUNT, 15, 1, 200),
    Setting("monthly_reactivation_target", "dormant",
            _l("Monthly reactivation target (per beautician)"),
            _l("Dormant customers brought back a month; shown at the meetings."), COUNT, 3, 0,
            1000),
    Setting("key_touch_days", "touch", _l("Key customers: a word every (days)"),
            _l("A key customer with no contact for this long is put on the list."), DAYS, 7, 1,
            90),
    Setting("touch_days", "touch", _l("Every customer: a word every (days)"),
            _l("Any assigned customer with no contact for this long is put on the list."), DAYS,
            30, 1, 365),
    Setting("satisfaction_quota_min", "touch", _l("Satisfaction callbacks a week: at least"),
            _l("Recent visitors asked to rate their service, spread over the staff."), COUNT, 10,
            0, 500),
    Setting("satisfaction_quota_max", "touch", _l("Satisfaction callbacks a week: at most"),
            None, COUNT, 20, 0, 500),
    Setting("reward_fen", "ledger", _l("Reward per reactivated customer (yuan)"),
            _l("For a visit by a dormant customer she contacted while dormant."), YUAN, 3000, 0,
            10000),
    Setting("penalty_fen", "ledger", _l("Penalty per customer lost (yuan)"),
            _l("When an assigned customer has not visited for the penalty period."), YUAN, 3000,
            0, 10000),
    Setting("penalty_after_days", "ledger", _l("Penalty after (days without a visit)"),
            _l("Counted from the later of her last visit and the assignment; longer than the "
               "dormant threshold."), DAYS, 90, 8, 730),
    Setting("key_share_pct", "key", _l("Key customers: top share by score (%)"),
            _l("The highest-scoring share of the store's customers are key."), SHARE, 40, 1, 100),
    Setting("key_spend_fen", "key", _l("Always key above total spend (yuan)"),
            _l("A customer who has spent more than this, or holds a prepaid card, is always "
               "key."), YUAN, 50000, 0, 1000000),
    Setting("band_window_days", "key", _l("Visit frequency window (days)"),
            _l("Visits are counted over this many days."), DAYS, 90, 7, 365),
    Setting("band_high_visits", "key", _l("High frequency: visits in the window"),
            _l("This many visits or more: high (key)."), COUNT, 6, 2, 100),
    Setting("band_medium_visits", "key", _l("Fairly high frequency: visits in the window"),
            _l("This many or more, below high: fairly high (potential). Fewer: low."), COUNT, 3,
            1, 99),
    Setting("text_limit", "messages", _l("Text message limit (characters)"),
            _l("A text may be at most this long for every customer it could go to."), CHARS, 70,
            30, 500),
    Setting("voice_limit_seconds", "messages", _l("Voice message limit (seconds)"),
            _l("Shown as guidance on voice scripts."), SECONDS, 24, 5, 60),
    Setting("points_rate_bp", "messages", _l("Points earned on spending (%)"),
            _l("5% means 300 points for a spend of 6,000 yuan."), PERCENT, 500, 0, 50),
    Setting("timezone", "calendar", _l("Time zone"),
            _l("Decides when a day starts for checklists, birthdays and the nightly run."), ZONE,
            "Asia/Shanghai"),
    Setting("contact_notes_months", "privacy", _l("Keep contact notes (months)"),
            _l("The notes and suggestions of older contacts are blanked every night; the "
               "contacts themselves stay. 0 keeps them for ever."), MONTHS, 0, 0, 120,
            waits=False),
    Setting("name", "store", _l("Store name"), None, TEXT, None, 1, 80, waits=False),
    Setting("phone", "store", _l("Store phone"),
            _l("A landline or a mobile, e.g. 021 6234 5678."), PHONE, None, 0, 20, waits=False),
    Setting("address", "store", _l("Address"), None, TEXT, None, 0, 200, waits=False),
    Setting("signature", "store", _l("Signature in messages"),
            _l("How the store names itself in texts ({store}), e.g. 丽颜. Empty: the store "
               "name. Staff still sign with their own name ({staff})."), TEXT, None, 0, 40,
            waits=False),
)
BY_NAME = {s.name: s for s in SETTINGS}
WAITING = tuple(s.name for s in SETTINGS if s.waits)
REGIONS = ("Asia", "Africa", "America", "Antarctica", "Atlantic", "Australia", "Europe",
           "Indian", "Pacific")


@cache
def timezones():
    """Every IANA zone under a continent or ocean, Asia's first, then UTC."""
    names = [n for n in available_timezones() if n.split("/")[0] in REGIONS and "/" in n]
    return tuple(sorted(names, key=lambda n: (REGIONS.index(n.split("/")[0]), n))) + ("UTC",)


def current(store):
    """{name: stored value} of every setting, as the store holds it now."""
    return {s.name: getattr(store, s.name) for s in SETTINGS}


def pending(store):
    """The waiting values and the day they take effect, or ({}, None)."""
    waiting = store.pending_settings or {}
    try:
        start = date.fromisoformat(waiting.get("from") or "")
    except ValueError:
        start = None
    values = {k: v for k, v in (waiting.get("values") or {}).items() if k in WAITING}
    return (values, start) if values and start else ({}, None)


def _number(setting, text):
    text = unicodedata.normalize("NFKC", text).replace(",", "").replace(" ", "")
    text = text.lstrip("¥").rstrip("%元天")
    scale = SCALE.get(setting.unit, 1)
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is not None and value.is_finite() and not setting.lo <= value <= setting.hi:
        return None, _l("Enter a number from %(lo)s to %(hi)s.", lo=f"{setting.lo:,}",
                        hi=f"{setting.hi:,}")
    if value is None or not value.is_finite() or (value * scale) % 1:
        if setting.unit == YUAN:
            return None, _l("Enter an amount in yuan, e.g. 30 or 12.50.")
        if setting.unit == PERCENT:
            return None, _l("Enter a percentage, e.g. 5 or 2.5.")
        return None, _l("Enter a whole number.")
    return int(value * scale), None


def parse(form):
    """Raw form text → ({name: stored value}, {name: message}). Every field is read."""
    from kq.services.customers import normalize_phone

    values, errors = {}, {}
    for s in SETTINGS:
        text = (form.get(s.name) or "").strip()
        if s.unit == ZONE:
            if text in timezones():
                values[s.name] = text
            else:
                errors[s.name] = _l("Choose a time zone from the list.")
        elif s.unit == PHONE:
            try:
                values[s.name] = normalize_phone(text, "CN")
            except ServiceError:
                errors[s.name] = _l("Enter a valid phone number, e.g. 021 6234 5678 or "
                                    "138 1234 5678.")
        elif s.unit == TEXT:
            text = re.sub(r"\s+", " ", text)
            if len(text) < s.lo:
                errors[s.name] = _l("Enter the store's name.")
            elif len(text) > s.hi:
                errors[s.name] = _l("At most %(n)d characters.", n=s.hi)
            else:
                values[s.name] = text or None
        elif not text:
            errors[s.name] = _l("Enter a value.")
        else:
            values[s.name], message = _number(s, text)
            if message:
                errors[s.name] = message
    return values, errors


def _cross_checks(values, errors):
    """Rules between fields, checked only when both sides are valid numbers."""
    def both(a, b):
        return a in values and b in values and a not in errors and b not in errors

    if both("penalty_after_days", "dormant_after_days") and \
            values["penalty_after_days"] <= values["dormant_after_days"]:
        errors["penalty_after_days"] = _l(
            "Must be more than the dormant threshold (%(days)d days).",
            days=values["dormant_after_days"])
    if both("satisfaction_quota_min", "satisfaction_quota_max") and \
            values["satisfaction_quota_min"] > values["satisfaction_quota_max"]:
        errors["satisfaction_quota_min"] = _l("The minimum cannot be above the maximum (%(n)d).",
                                              n=values["satisfaction_quota_max"])
    if both("key_touch_days", "touch_days") and values["key_touch_days"] > values["touch_days"]:
        errors["key_touch_days"] = _l(
            "Key customers hear from us at least as often as everyone: at most %(days)d days.",
            days=values["touch_days"])
    if both("band_medium_visits", "band_high_visits") and \
            values["band_medium_visits"] >= values["band_high_visits"]:
        errors["band_medium_visits"] = _l("Must be fewer than the visits for high (%(n)d).",
                                          n=values["band_high_visits"])


def _text_checks(store, values, errors):
    """A new signature or a lower limit must not push one of the store's texts over the limit:
    the editor refuses such texts, so the settings must not make one (SPEC §5)."""
    from kq import labels, scripts

    if "text_limit" in errors or "signature" in errors or "name" in errors:
        return
    worst = scripts.longest_values(store)
    before = dict(worst)
    worst["store"] = values.get("signature") or values.get("name") or store.name
    limit, now = values["text_limit"], store.text_limit
    for kind, body in scripts.store_bodies(store).items():
        length, was = len(scripts.render(body, worst)), len(scripts.render(body, before))
        label = labels.KINDS.get(kind, kind)
        if length > limit and limit < now and "text_limit" not in errors:
            errors["text_limit"] = _l(
                "“%(kind)s” renders to %(length)d characters: shorten that text first (Message "
                "texts) or keep the limit at %(length)d or more.", kind=label, length=length)
        if length > min(limit, now) and length > was and "signature" not in errors:
            errors["signature"] = _l(
                "With this name “%(kind)s” renders to %(length)d characters, over the limit of "
                "%(limit)d: choose a shorter signature.", kind=label, length=length,
                limit=min(limit, now))


def apply_pending_settings(store, day):
    """At the start of a day's run: the waiting values take effect once `day` reaches their
    first day. Returns the values applied ({} when none). Does not commit."""
    values, start = pending(store)
    if store.pending_settings and not values:
        store.pending_settings = None  # nothing usable left in it
    if not values or day < start:
        return {}
    for name, value in values.items():
        setattr(store, name, value)
    store.pending_settings = None
    return values


def save_settings(store, form, by):
    """One save of the settings page. Raises ServiceError({field: message}) and writes nothing
    when anything is wrong; else returns (names changed, the day waiting values take effect
    or None when nothing waits)."""
    values, errors = parse(form)
    _cross_checks(values, errors)
    if not errors:
        _text_checks(store, values, errors)
    if errors:
        raise ServiceError(errors, code="invalid")
    today = store.today()
    apply_pending_settings(store, today)  # due but not yet run: it counts as the present
    now = current(store)
    waiting_before, start_before = pending(store)
    waiting = {k: values[k] for k in WAITING if values[k] != now[k]}
    immediate = {k: values[k] for k in BY_NAME if k not in WAITING and values[k] != now[k]}
    touched = [*immediate, *(k for k in WAITING
                             if waiting_before.get(k, now[k]) != values[k])]
    if not touched:
        return [], start_before
    start = today + timedelta(days=1)
    for name, value in immediate.items():
        setattr(store, name, value)
    store.pending_settings = ({"from": start.isoformat(), "values": waiting, "by": by.id}
                              if waiting else None)
    audit("settings", store_id=store.id, target=store, user=by, detail={
        "before": {k: waiting_before.get(k, now[k]) for k in touched},
        "after": {k: values[k] for k in touched},
        "from": start.isoformat() if waiting else None})
    db.session.commit()
    return touched, start if waiting else None
