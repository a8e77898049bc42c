"""What the checklist shows for each item: order, the reason in words, the one-tap links."""
from flask_babel import gettext as _

from kq.models.contact import DAILY_KINDS  # noqa: F401 - re-exported for the views

ORDER = ("red_flag", "complaint_follow_up", "promise_due", "birthday_call", "gift_pickup",
         "follow_up", "callback", "birthday_prep", "satisfaction", "relationship_touch",
         "campaign_touch")
RANK = {kind: i for i, kind in enumerate(ORDER)}


def reason(kind, detail, _=_):
    """The item's reason in words; `_` may be a page's memoised gettext (kq.i18n)."""
    if kind == "red_flag":
        if detail.get("never"):
            return _("Joined %(days)d days ago and has not come in; no contact for a week",
                     days=detail.get("days", 0))
        return _("No visit for %(days)d days and no contact for a week", days=detail.get("days", 0))
    if kind == "callback":
        return _("Visited yesterday (%(services)s): ask how her skin feels",
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
    if kind == "relationship_touch":
        if detail.get("key"):
            return _("Key customer, no contact for %(days)d days", days=detail.get("days", 0))
        return _("No contact for %(days)d days", days=detail.get("days", 0))
    if kind == "satisfaction":
        return _("Satisfaction callback: ask for a score (1–5) and suggestions")
    if kind == "complaint_follow_up":
        from kq.labels import COMPLAINT_STEPS

        step = COMPLAINT_STEPS.get(detail.get("step"))
        if step:
            return _("Complaint: the next step is due — %(step)s", step=step[0])
        return _("Complaint: the next step is due")
    return _("Campaign message")
