"""Message scripts (话术, SPEC §5): default texts per checklist kind, rendering, and the rules a
text must keep — it starts with the greeting name, is signed by the sender, and renders to at
most the store's text limit (70) for every customer it could go to."""
import re
from urllib.parse import quote

from sqlalchemy import func, select

from kq.extensions import db
from kq.masking import can_text, national
from kq.models import Customer, MessageTemplate, User
from kq.models.engagement import Gift

DEFAULTS = {
    "red_flag": "{greeting}您好，好久不见，很想您！这周给您留了护理时间，方便时回我一下。—{staff}",
    "callback": "{greeting}您好，昨天护理后皮肤感觉怎么样？有任何不适随时告诉我。—{staff}",
    "birthday_prep": "{greeting}您好，明天是您的生日，店里为您准备了一份小礼物，记得来取哦。—{staff}",
    "birthday_call": "{greeting}，祝您生日快乐！店里为您准备了生日礼物，我可以给您送过去。—{staff}",
    "follow_up": "{greeting}您好，上次和您约好今天再联系，最近方便来店里坐坐吗？—{staff}",
    "promise_due": "{greeting}您好，之前答应您的事已经准备好了，方便时来店里看看。—{staff}",
    "gift_pickup": "{greeting}您好，为您预留的{gift}已经可以领取了，欢迎来店。—{staff}",
    "relationship_touch": "{greeting}您好，最近天气变化大，注意补水保湿，有需要随时找我。—{staff}",
    "satisfaction": "{greeting}您好，请为最近的护理打个分（1-5分），有建议也请告诉我。—{staff}",
    "campaign_touch": "{greeting}您好，{store}近期有会员活动，回复我了解详情。—{staff}",
    "complaint_follow_up": "{greeting}您好，上次的问题我们一直在跟进，想听听您现在的感受。—{staff}",
}
PLACEHOLDERS = ("greeting", "staff", "store", "date", "gift", "pickup_date")
ALIASES = {"称呼": "greeting", "员工": "staff", "门店": "store", "日期": "date", "礼品": "gift",
           "领取日期": "pickup_date"}
# Voice and phone scripts: seconds = characters ÷ this rate. About 4 Chinese characters a
# second is a calm speaking pace (radio reads 4-5); the store's voice limit is 24 seconds.
SPEAKING_RATE = 4
_FIELD = re.compile(r"\{([^{}]*)\}")
LONGEST_DATE = "12月31日"


def customer_date(day):
    return f"{day.month}月{day.day}日"


def render(body, values):
    return _FIELD.sub(lambda m: str(values.get(ALIASES.get(m[1], m[1]), m[0])), body)


def unknown_placeholders(body):
    return sorted({m for m in _FIELD.findall(body) if ALIASES.get(m, m) not in PLACEHOLDERS})


def _uses(body, name):
    return any(ALIASES.get(m, m) == name for m in _FIELD.findall(body))


def store_bodies(store):
    """kind → text for this store's SMS: its own edits over the defaults."""
    rows = db.session.execute(select(MessageTemplate.kind, MessageTemplate.body).where(
        MessageTemplate.store_id == store.id, MessageTemplate.channel == "sms"))
    return {**DEFAULTS, **dict(rows.all())}


def store_signature(store):
    """How the store names itself in messages ({store}): its signature, else its name."""
    return (store.signature or "").strip() or store.name


def longest_values(store):
    """The longest value each placeholder can take in this store: the worst case for the limit."""
    longest = lambda column, *where: db.session.scalar(  # noqa: E731
        select(column).where(*where).order_by(func.length(column).desc(), column).limit(1)) or ""
    return {
        "greeting": longest(Customer.greeting_name, Customer.store_id == store.id,
                            Customer.deleted_at.is_(None)),
        "staff": longest(User.display_name, User.store_id == store.id, User.active.is_(True)),
        "store": store_signature(store),
        "date": LONGEST_DATE,
        "gift": longest(Gift.name, Gift.store_id == store.id, Gift.active.is_(True)),
        "pickup_date": LONGEST_DATE,
    }


def check_rules(body):
    """The rules a text keeps whatever its length: known placeholders, the greeting name first
    (surname + title), signed by the sender ({staff})."""
    problems = []
    unknown = unknown_placeholders(body)
    if unknown:
        problems.append(("unknown", {"names": "、".join("{" + u + "}" for u in unknown)}))
    if not (body.startswith("{greeting}") or body.startswith("{称呼}")):
        problems.append(("greeting_first", {}))
    if not _uses(body, "staff"):
        problems.append(("unsigned", {}))
    return problems


def problem_text(code, params):
    """A problem of check()/check_sms() in the user's language."""
    from flask_babel import gettext as _

    text = {
        "empty": lambda p: _("The text is empty."),
        "unknown": lambda p: _("Unknown placeholder: %(names)s.", names=p["names"]),
        "greeting_first": lambda p: _("A text starts with the customer's name: begin with "
                                      "{greeting}."),
        "unsigned": lambda p: _("A text is signed by the sender: include {staff}."),
        "too_long": lambda p: _("It renders to %(length)d characters for %(example)s; the limit "
                                "is %(limit)d.", length=p["length"], example=p["example"],
                                limit=p["limit"]),
    }
    return text[code](params) if code in text else code


def check(body, store):
    """Problems with a text template as (code, params) pairs; empty when it may be saved."""
    body = (body or "").strip()
    if not body:
        return [("empty", {})]
    problems = check_rules(body)
    worst = longest_values(store)
    length = len(render(body, worst))
    if length > store.text_limit:
        problems.append(("too_long", {"length": length, "limit": store.text_limit,
                                      "example": worst["greeting"]}))
    return problems


def message_for(body, customer, staff, store, day, gift=""):
    return render(body, {"greeting": customer.greeting_name, "staff": staff.display_name,
                         "store": store_signature(store), "date": customer_date(day),
                         "gift": gift or ""})


def tel_href(phone):
    return f"tel:{national(phone)}" if phone else None


def sms_href(phone, text):
    """`sms:NUMBER?&body=…` opens the SMS app prefilled on both iOS and Android."""
    if not can_text(phone):
        return None  # a landline can be called, not texted
    return sms_link(phone, quote(text, safe=""))


def sms_link(phone, quoted_body):
    return f"sms:{national(phone)}?&body={quoted_body}"


def seed_scripts(store, commit=False):
    """The seeded library (kq/services/messaging/library.py) for a store, in zh-Hans, zh-Hant
    and en. Idempotent: a (channel, purpose, locale, name) the store already has — edited or
    switched off — is left alone. Returns how many scripts it added."""
    from kq.models.messaging import MessageScript
    from kq.services.messaging.library import LIBRARY, name_in

    have = set(db.session.execute(select(
        MessageScript.channel, MessageScript.purpose, MessageScript.locale,
        MessageScript.name).where(MessageScript.store_id == store.id)).all())
    added = 0
    for channel, purpose, bodies, english in LIBRARY:
        for locale, body in bodies.items():
            name = name_in(english, locale)
            if (channel, purpose, locale, name) in have:
                continue
            db.session.add(MessageScript(store_id=store.id, channel=channel, purpose=purpose,
                                         locale=locale, name=name, body=body, active=True))
            added += 1
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return added
