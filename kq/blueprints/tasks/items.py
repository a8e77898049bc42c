"""What the checklist shows for each item: order, the reason in words, the one day count."""
from flask_babel import gettext as _

from kq.models.contact import DAILY_KINDS  # noqa: F401 - re-exported for the views

# The plan: what can't wait, in this order, then the day's red flags, then (the owner's) key
# customers to touch. Unplanned red flags and touches wait on "more", in the same order.
ORDER = ("complaint_follow_up", "promise_due", "birthday_call", "gift_pickup", "callback",
         "follow_up", "satisfaction", "birthday_prep", "campaign_touch", "red_flag",
         "relationship_touch")
RANK = {kind: i for i, kind in enumerate(ORDER)}
GROUPS = {"red_flag": "red", "relationship_touch": "touch"}  # the rest: "due"


def reason(kind, detail, _=_):
    """The item's reason in words, with its figures (the export and the printed sheets); `_`
    may be a page's memoised gettext (kq.i18n)."""
    if kind == "red_flag":
        if detail.get("never"):
            return _("Joined %(days)d days ago and has not come in; no contact for a week",
                     days=detail.get("days", 0))
        return _("No visit for %(days)d days and no contact for a week", days=detail.get("days", 0))
    if kind == "relationship_touch":
        if detail.get("key"):
            return _("Key customer, no contact for %(days)d days", days=detail.get("days", 0))
        return _("No contact for %(days)d days", days=detail.get("days", 0))
    if kind == "callback":
        return _("Visited yesterday (%(services)s): ask how her skin feels",
                 services=detail.get("services") or "—")
    return why(kind, detail, _)


def why(kind, detail, _=_):
    """The reason as Today shows it, beside its one labelled count (count_label): the count
    is not repeated here."""
    if kind == "red_flag":
        if detail.get("never"):
            return _("Has not come in since joining; no contact for a week")
        return _("Dormant, and no contact for a week")
    if kind == "relationship_touch":
        if detail.get("key"):
            return _("Key customer: time for the weekly touch")
        return _("Time for the monthly call")
    if kind == "callback":
        return _("After her visit (%(services)s): ask how her skin feels",
                 services=detail.get("services") or "—")
    if kind == "birthday_prep":
        return _("Birthday tomorrow: prepare a gift")
    if kind == "birthday_call":
        return _("Birthday today: call and offer to bring the gift")
    if kind == "follow_up":
        return _("Follow-up you planned for today")
    if kind == "promise_due":
        return _("Promise due: %(what)s", what=detail.get("what", ""))
    if kind == "gift_pickup":
        return _("Gift ready to collect: %(gift)s", gift=detail.get("gift", ""))
    if kind == "satisfaction":
        return _("Satisfaction callback: ask for a score (1–5) and suggestions")
    if kind == "complaint_follow_up":
        from kq.labels import COMPLAINT_STEPS

        step = COMPLAINT_STEPS.get(detail.get("step"))
        if step:
            return _("Complaint: the next step is due — %(step)s", step=step[0])
        return _("Complaint: the next step is due")
    if kind == "campaign_touch" and detail.get("campaign"):
        return _("Campaign: %(name)s", name=detail["campaign"])
    return _("Campaign message")


def count_label(kind, detail, days, never, birthday, _=_):
    """The item's one day count, saying what it counts: days without a visit on a red flag,
    without a contact on a touch, the date on a birthday, else when she last came.
    `days` counts from her last visit (from joining if `never`); `birthday` formats a date."""
    if kind in ("birthday_call", "birthday_prep") and detail.get("on"):
        return _("Birthday %(date)s", date=birthday(detail["on"]))
    if kind == "red_flag":
        return _("%(n)d days without a visit", n=days)
    if kind == "relationship_touch" and "quiet" in detail:
        if detail["quiet"] is None:
            return _("No contact yet")
        return _("%(n)d days without contact", n=detail["quiet"])
    if kind == "relationship_touch":  # listed before touches knew their quiet days
        return _("%(n)d days without contact", n=detail.get("days", 0))
    if never:
        return _("No visit yet")
    if days <= 0:
        return _("Visited today")
    if days == 1:
        return _("Visited yesterday")
    return _("Last visit %(n)d days ago", n=days)
