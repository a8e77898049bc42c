"""Personal information (PIPL, SPEC §10): marketing consent, who may be messaged, the
access-request export of one customer and delete-by-anonymising."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_

from kq.models import Customer, utcnow
from kq.services import ServiceError
from kq.services.audit import audit

# How consent was given; stored as the key.
CONSENT_SOURCES = {
    "in_store_paper": _l("In store, on paper"),
    "verbal": _l("Verbally (in store or by phone)"),
    "wechat": _l("By WeChat"),
    "online_form": _l("Online form"),
    "imported": _l("Imported from an earlier record"),
}


def may_market(customer) -> bool:
    """Whether bulk and campaign messages may go to her now: consent given and not withdrawn,
    not do-not-contact, not deleted. One-to-one service contacts do not ask this."""
    return bool(customer.marketing_consent and not customer.do_not_contact
                and customer.deleted_at is None)


def marketable_clause():
    """may_market() as a SQL condition on Customer, for segment queries."""
    return and_(Customer.marketing_consent.is_(True), Customer.do_not_contact.is_(False),
                Customer.deleted_at.is_(None))


def set_consent(customer, given, source=None, *, at=None, user=None):
    """Record her choice on the card (no commit: part of the caller's one transaction).
    Giving consent needs a source; a change is an audit event, so the history is kept."""
    given = bool(given)
    if given and source not in CONSENT_SOURCES:
        raise ServiceError(_l("Say how she gave her consent."), field="consent_source",
                           code="consent_source")
    if given == bool(customer.marketing_consent) and (not given or source == customer.consent_source):
        return False
    at = at or utcnow()
    if given:
        customer.marketing_consent = True
        customer.consent_at = at
        customer.consent_source = source  # an earlier withdrawal date stays: it is history
        action = "consent_given"
    elif customer.marketing_consent:
        customer.marketing_consent = False
        customer.consent_withdrawn_at = at
        action = "consent_withdrawn"
    else:
        return False
    if customer.id is not None:
        audit(action, target=customer, user=user, detail={"source": source} if given else None)
    return True
