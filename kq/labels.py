"""Translatable names for the codes stored in the database."""
from flask_babel import lazy_gettext as _l

CHANNELS = {
    "phone": _l("Phone"), "wechat_text": _l("WeChat text"), "wechat_voice": _l("WeChat voice"),
    "sms": _l("SMS"), "in_person": _l("In person"), "moments": _l("Moments"),
    "broadcast": _l("Broadcast"),
}
# The four a beautician picks from on the checklist; the rest are on the full form.
QUICK_CHANNELS = ("phone", "wechat_text", "wechat_voice", "sms")
OUTCOMES = {
    "reached": _l("Reached"), "no_answer": _l("No answer"), "booked": _l("Booked"),
    "declined": _l("Declined"), "wrong_number": _l("Wrong number"),
    "do_not_contact": _l("Asked not to be contacted"),
}
QUICK_OUTCOMES = ("no_answer", "reached", "booked", "declined", "wrong_number")
KINDS = {
    "red_flag": _l("Red flag"), "callback": _l("Post-visit callback"),
    "birthday_prep": _l("Birthday tomorrow"), "birthday_call": _l("Birthday today"),
    "follow_up": _l("Follow-up"), "promise_due": _l("Promise due"),
    "gift_pickup": _l("Gift pickup"), "relationship_touch": _l("Keep in touch"),
    "satisfaction": _l("Satisfaction callback"), "campaign_touch": _l("Campaign"),
    "complaint_follow_up": _l("Complaint follow-up"),
}
ROLES = {"beautician": _l("Beautician"), "manager": _l("Manager"), "owner": _l("Owner")}
