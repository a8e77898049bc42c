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

# SPEC §2: personality and buying psychology, each with its one-line hint for staff.
PERSONALITY = {
    "impulsive": (_l("Impulsive"), _l("Decides on the spot: show the result, offer it now.")),
    "passive": (_l("Passive / hesitant"), _l("Needs reassurance: one clear suggestion, no pressure.")),
    "novelty": (_l("Novelty-seeking"), _l("Loves the new: tell her first about new treatments.")),
    "comparing": (_l("Comparing"), _l("Weighs options: give facts and honest comparisons.")),
    "trying": (_l("Trying"), _l("Wants to test first: offer a trial session.")),
    "partner": (_l("Partner / group"), _l("Comes with friends: win the group's leader.")),
    "independent": (_l("Independent"), _l("Decides alone: respect her space, keep it brief.")),
}
BUYING = {
    "vanity": (_l("Vanity"), _l("Likes to be admired: praise the result, offer the premium.")),
    "belonging": (_l("Belonging"), _l("Wants to be one of us: member events, personal care.")),
    "fearful": (_l("Fearful"), _l("Afraid of being sold to: make friends first, sell later.")),
    "comparing": (_l("Keeping up"), _l("Measures herself against others: show what peers choose.")),
}
TITLES = ("小姐", "女士", "姐", "太太", "先生", "哥", "老师")
GENDERS = {"F": _l("Female"), "M": _l("Male")}
SKIN_TYPES = {"dry": _l("Dry"), "oily": _l("Oily"), "combination": _l("Combination"),
              "normal": _l("Normal"), "sensitive": _l("Sensitive")}
SOURCES = {"walk_in": _l("Walk-in"), "referral": _l("Referral"),
           "trial_card": _l("Acquisition / trial card"), "online": _l("Online")}
TIERS = {"A": _l("A · emotional bond"), "B": _l("B · results of products and service"),
         "C": _l("C · small benefits")}
BANDS = {"high": _l("High frequency (key)"), "medium": _l("Fairly high (potential)"),
         "low": _l("Low (follow up on frequency)"), "none": _l("No visit in the window")}
STATUSES = {"active": _l("Active"), "dormant": _l("Dormant"),
            "do_not_contact": _l("Do not contact"), "deleted": _l("Deleted")}
KEY_REASONS = {
    "override": _l("Set by hand"),
    "card": _l("Holds a prepaid card"),
    "spend": _l("Spent more than the store's key amount"),
    "score": _l("In the store's top share by score"),
}

# SPEC §8: the nine steps of handling a complaint, each with its one line of guidance.
COMPLAINT_STEPS = {
    "listen": (_l("Listen"), _l("Let her say it all; do not interrupt or argue.")),
    "empathise": (_l("Empathise"), _l("Show you understand how she feels.")),
    "apologise": (_l("Apologise"), _l("Say sorry for how it made her feel, sincerely.")),
    "analyse": (_l("Analyse"), _l("Find out what really went wrong and why.")),
    "explain": (_l("Explain"), _l("Tell her plainly what happened, without excuses.")),
    "resolve": (_l("Resolve"), _l("Agree the fix with her and do it.")),
    "compensate": (_l("Compensate"), _l("Make it up to her, with a gift if fitting.")),
    "confirm": (_l("Confirm satisfaction"), _l("Ask whether she is satisfied now.")),
    "follow_up": (_l("Follow up"), _l("Check in again later; win back her trust.")),
}

# SPEC §6: why a dormant customer left, and what kind of win-back she needs.
CHURN_REASONS = {
    "unprofessional": _l("We were not professional enough"),
    "relationship": _l("Poor relationship (birthday forgotten, no call for months, calls only "
                       "to sell)"),
    "no_results": _l("Paid but saw no results"),
    "oversold": _l("Too much selling"),
    "other": _l("Other (untidy shop, her beautician left, new owners)"),
}
REACTIVATION = {
    "card_unused": _l("Prepaid card not used up"),
    "well_off_used": _l("Well-off, card used up"),
    "poor_unwilling": _l("Not well-off, card used up, does not want to return"),
    "poor_willing": _l("Not well-off, card used up, willing"),
    "neglected": _l("Lost through our neglect"),
}
REACTIVATION_OFFERS = {
    "card_unused": _l("One service free, as often as she likes, for a month."),
    "well_off_used": _l("One free service a month for a year; learn her preferences before "
                        "offering more."),
    "poor_unwilling": _l("Keep her name and phone only; do not contact; managed "
                                 "separately."),
    "poor_willing": _l("The year-long free-service offer; a special-price card."),
    "neglected": _l("Apologise first; 4 free sessions, one a week; no selling on the first 2 "
                    "visits; then a trial package (e.g. 398 CNY for 6 services)."),
}
