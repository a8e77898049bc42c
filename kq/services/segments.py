"""Customer segments (SPEC §5, §8): a small dict that names a group of a store's customers — for
a bulk message or a campaign — turned into one SQL query.

Spec keys (all optional; an empty spec is every customer of the store):
  tiers            ["A", "B"]           customer tier, any of
  key              "key" | "general" | "all"
  status           "active" | "dormant" | "do_not_contact"
                   (active/dormant by days since the last visit against the store's dormant
                   threshold; a do-not-contact customer still counts in them, so a bulk send
                   can show her as skipped)
  tags             ["VIP", ...]         any of
  dormant_min_days 180                  at least this many days since the last visit
  dormant_max_days 365                  at most this many
  staff_ids        [3, 4]               assigned to any of
Days count on the store's calendar from the last visit (or joining, if she never came),
as Customer.days_since_visit does. Deleted customers are never in a segment."""
from datetime import datetime, time, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import case, func, select

from kq.extensions import db
from kq.models import Customer, CustomerTag

TIERS = ("A", "B", "C")
KEYS = ("all", "key", "general")
STATUSES = ("active", "dormant", "do_not_contact")
MAX_DAYS = 36500


class SegmentError(ValueError):
    """A spec that names nothing sensible; .errors maps field → message code."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def _int_list(values):
    out = []
    for v in values or ():
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            raise SegmentError({"staff_ids": "invalid"}) from None
    return out


def clean(spec):
    """The spec with its values checked and normalised; raises SegmentError."""
    spec = dict(spec or {})
    out, errors = {}, {}
    tiers = [t for t in (spec.get("tiers") or []) if t]
    if any(t not in TIERS for t in tiers):
        errors["tiers"] = "invalid"
    elif tiers:
        out["tiers"] = sorted(set(tiers))
    key = spec.get("key") or "all"
    if key not in KEYS:
        errors["key"] = "invalid"
    elif key != "all":
        out["key"] = key
    status = spec.get("status") or ""
    if status and status not in STATUSES:
        errors["status"] = "invalid"
    elif status:
        out["status"] = status
    tags = sorted({str(t).strip()[:30] for t in (spec.get("tags") or []) if str(t).strip()})
    if tags:
        out["tags"] = tags
    for field in ("dormant_min_days", "dormant_max_days"):
        value = spec.get(field)
        if value in (None, ""):
            continue
        try:
            value = int(value)
        except (TypeError, ValueError):
            errors[field] = "invalid"
            continue
        if not 0 <= value <= MAX_DAYS:
            errors[field] = "invalid"
        else:
            out[field] = value
    if ("dormant_min_days" in out and "dormant_max_days" in out
            and out["dormant_min_days"] > out["dormant_max_days"]):
        errors["dormant_max_days"] = "below_min"
    try:
        staff = sorted(set(_int_list(spec.get("staff_ids"))))
    except SegmentError as e:
        errors.update(e.errors)
        staff = []
    if staff:
        out["staff_ids"] = staff
    if errors:
        raise SegmentError(errors)
    return out


def _day_start(store, day):
    return datetime.combine(day, time.min, tzinfo=store.tz)


def conditions(store, spec, today=None):
    """The WHERE clauses of a spec for this store (spec already cleaned or not)."""
    spec = clean(spec)
    today = today or store.today()
    since = func.coalesce(Customer.last_visit_at, Customer.created_at)
    where = [Customer.store_id == store.id, Customer.deleted_at.is_(None)]
    if "tiers" in spec:
        where.append(Customer.tier.in_(spec["tiers"]))
    if spec.get("key") == "key":
        where.append(Customer.is_key.is_(True))
    elif spec.get("key") == "general":
        where.append(Customer.is_key.is_(False))
    # "n days since" ≥ d  ⇔  the local date of `since` ≤ today − d  ⇔  since < start of (today − d + 1)
    def at_least(days):
        return since < _day_start(store, today - timedelta(days=days - 1))

    def at_most(days):
        return since >= _day_start(store, today - timedelta(days=days))

    status = spec.get("status")
    if status == "dormant":
        where.append(at_least(store.dormant_after_days))
    elif status == "active":
        where.append(~at_least(store.dormant_after_days))
    elif status == "do_not_contact":
        where.append(Customer.do_not_contact.is_(True))
    if "dormant_min_days" in spec:
        where.append(at_least(spec["dormant_min_days"]))
    if "dormant_max_days" in spec:
        where.append(at_most(spec["dormant_max_days"]))
    if "tags" in spec:
        where.append(Customer.id.in_(select(CustomerTag.customer_id).where(
            CustomerTag.store_id == store.id, CustomerTag.name.in_(spec["tags"]))))
    if "staff_ids" in spec:
        where.append(Customer.assigned_staff_id.in_(spec["staff_ids"]))
    return where


def segment_query(store, spec, today=None):
    """SELECT Customer of the segment, store-scoped, never deleted customers, ordered by id."""
    return select(Customer).where(*conditions(store, spec, today)).order_by(Customer.id)


def segment_ids(store, spec, today=None):
    return select(Customer.id).where(*conditions(store, spec, today))


def segment_counts(store, spec, today=None):
    """{"total", "key", "general"} in one query."""
    row = db.session.execute(select(
        func.count(Customer.id),
        func.coalesce(func.sum(case((Customer.is_key.is_(True), 1), else_=0)), 0),
    ).where(*conditions(store, spec, today))).one()
    total, key = int(row[0] or 0), int(row[1] or 0)
    return {"total": total, "key": key, "general": total - key}


def describe(spec, staff_names=None):
    """The spec in words for people, in the current language ("dormant 180+ days, key")."""
    spec = clean(spec)
    parts = []
    if spec.get("key") == "key":
        parts.append(_("key customers"))
    elif spec.get("key") == "general":
        parts.append(_("general customers"))
    if "tiers" in spec:
        parts.append(_("tier %(tiers)s", tiers="/".join(spec["tiers"])))
    status = spec.get("status")
    if status:
        parts.append({"active": _("active"), "dormant": _("dormant"),
                      "do_not_contact": _("do not contact")}[status])
    lo, hi = spec.get("dormant_min_days"), spec.get("dormant_max_days")
    if lo is not None and hi is not None:
        parts.append(_("%(min)d–%(max)d days since the last visit", min=lo, max=hi))
    elif lo is not None:
        parts.append(ngettext("%(num)d+ day since the last visit",
                              "%(num)d+ days since the last visit", lo))
    elif hi is not None:
        parts.append(ngettext("visited within %(num)d day", "visited within %(num)d days", hi))
    if "tags" in spec:
        parts.append(_("tagged %(tags)s", tags="、".join(spec["tags"])))
    if "staff_ids" in spec:
        names = [(staff_names or {}).get(i, f"#{i}") for i in spec["staff_ids"]]
        parts.append(_("assigned to %(names)s", names="、".join(names)))
    return ", ".join(parts) if parts else _("all customers")
