"""Campaigns (客情活动, SPEC §8).

A campaign is built as a draft — name, goal, phases, a target segment (kq.services.segments),
touches on set days and gifts to hold — and launched once: launching freezes the segment into
members (is_key and her beautician as they were) and reserves the gifts through the race-safe
gift service, all in one transaction; a gift short of stock refuses the launch and nothing is
reserved. From then on the daily run (kq.services.checklist.generate_day) asks `touch_items`
for the day's items: one per member for her beautician (one-to-one), one per key member for the
owner (in person), and a bulk message draft for the manager (store broadcast).

Figures (`figures`) read the members' contacts, sent messages, visits and gifts during the
campaign and the 30 days after it.
"""
import re
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from kq.extensions import db
from kq.models import (OWNER, Contact, Customer, Gift, GiftHandout, Store, User, Visit, utcnow)
from kq.models.campaign import (AUDIENCES, DRAFT, LAUNCHED, TOUCH_CHANNELS, TOUCH_WHO, Campaign,
                                CampaignGift, CampaignMember, CampaignPhase, CampaignTouch)
from kq.services import ServiceError

AFTER_DAYS = 30  # results are counted during the campaign and this many days after it
MAX_PHASES = 6
MAX_DAYS = 366  # a campaign's span
MAX_TEXT = 4000
# A channel's touch is logged as a contact of this channel.
CONTACT_CHANNELS = {"sms": ("sms",), "wechat": ("wechat_text", "wechat_voice"),
                    "phone": ("phone",), "voice": ("wechat_voice", "phone"),
                    "moments": ("moments",), "broadcast": ("broadcast", "sms")}
BULK = {"sms": "sms", "broadcast": "sms", "wechat": "wechat"}  # touch channel → batch channel


def _day(value, field, errors):
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        errors[field] = _l("Enter a date as YYYY-MM-DD.")
        return None


def _midnight(store, day):
    return datetime.combine(day, time.min, tzinfo=store.tz)


def _store(campaign):
    return db.session.get(Store, campaign.store_id)


def get(store, campaign_id):
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id,
                                                        Campaign.store_id == store.id))
    if campaign is None:
        raise LookupError("campaign")
    return campaign


def for_store(store):
    return db.session.scalars(select(Campaign).where(Campaign.store_id == store.id).order_by(
        Campaign.starts_on.desc().nulls_first(), Campaign.id.desc())).all()


# Editing -------------------------------------------------------------------------------------

def clean_segment(spec):
    """A segment spec checked by kq.services.segments; refusals as {field: message}."""
    from kq.services import segments

    try:
        return segments.clean(spec)
    except segments.SegmentError as error:
        raise ServiceError({f"segment_{field}": _l("Check this value.")
                            for field in error.errors}, code="invalid") from None


def save(store, campaign, *, name, goal, segment, phases, kickoff_notes="", review_notes="",
         by):
    """Create (campaign None) or update a campaign's header, segment and phases. After launch
    the segment is frozen: only the name, goal, notes and phases' names change."""
    errors = {}
    name = (name or "").strip()
    if not name or len(name) > 60:
        errors["name"] = _l("Give the campaign a name of at most 60 characters.")
    goal = (goal or "").strip()
    for field, text in (("goal", goal), ("kickoff_notes", kickoff_notes or ""),
                        ("review_notes", review_notes or "")):
        if len(text) > MAX_TEXT:
            errors[field] = _l("At most %(n)d characters.", n=MAX_TEXT)
    if db.session.scalar(select(Campaign.id).where(
            Campaign.store_id == store.id, func.lower(Campaign.name) == name.lower(),
            Campaign.id != (campaign.id if campaign else 0))):
        errors["name"] = _l("This store already has a campaign of that name.")
    cleaned_phases = []
    for i, (phase_name, start, end) in enumerate(phases or []):
        if not (phase_name or start or end):
            continue
        phase_name = (phase_name or "").strip() or str(_l("Phase %(n)d", n=i + 1))
        start = _day(start, f"phase_{i}", errors)
        end = _day(end, f"phase_{i}", errors)
        if start and end:
            if end < start:
                errors[f"phase_{i}"] = _l("A phase ends on or after its start.")
            elif (end - start).days > MAX_DAYS:
                errors[f"phase_{i}"] = _l("A phase lasts at most a year.")
            else:
                cleaned_phases.append((phase_name[:60], start, end))
    if not cleaned_phases and "phase_0" not in errors:
        errors["phase_0"] = _l("Give the campaign at least one phase with its dates.")
    if len(cleaned_phases) > MAX_PHASES:
        errors["phase_0"] = _l("At most %(n)d phases.", n=MAX_PHASES)
    launched = campaign is not None and campaign.launched
    spec = campaign.segment if launched else None
    if not launched:
        try:
            spec = clean_segment(segment)
        except ServiceError as error:
            errors.update(error.message)
    if cleaned_phases and not errors:
        span = (max(e for _n, _s, e in cleaned_phases)
                - min(s for _n, s, _e in cleaned_phases)).days
        if span > MAX_DAYS:
            errors["phase_0"] = _l("A campaign lasts at most a year.")
    if errors:
        db.session.rollback()
        raise ServiceError(errors, code="invalid")
    if campaign is None:
        campaign = Campaign(store_id=store.id, created_by_id=by.id, status=DRAFT)
        db.session.add(campaign)
    campaign.name, campaign.goal, campaign.segment = name, goal, spec
    campaign.kickoff_notes = (kickoff_notes or "").strip()
    campaign.review_notes = (review_notes or "").strip()
    campaign.phases = [CampaignPhase(name=n, starts_on=s, ends_on=e) for n, s, e in cleaned_phases]
    campaign.starts_on = min(s for _n, s, _e in cleaned_phases)
    campaign.ends_on = max(e for _n, _s, e in cleaned_phases)
    db.session.commit()
    return campaign


def save_notes(campaign, *, kickoff_notes, review_notes):
    """The meetings' notes: written before, during and after a campaign."""
    kickoff_notes, review_notes = (kickoff_notes or "").strip(), (review_notes or "").strip()
    if len(kickoff_notes) > MAX_TEXT or len(review_notes) > MAX_TEXT:
        raise ServiceError(_l("At most %(n)d characters.", n=MAX_TEXT), code="invalid")
    campaign.kickoff_notes, campaign.review_notes = kickoff_notes, review_notes
    db.session.commit()
    return campaign


def _script(store, script_id):
    if not script_id:
        return None
    from kq.models.messaging import MessageScript

    try:
        script_id = int(script_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(select(MessageScript).where(MessageScript.id == script_id,
                                                         MessageScript.store_id == store.id))


def touch_text(touch):
    """The template a touch sends: its script's text, else its own."""
    if touch.script is not None:
        return touch.script.body
    return touch.body or ""


def add_touch(store, campaign, *, day, channel, who, audience, script_id=None, body="",
              history=False):
    """A touch on one day. Launched campaigns take new touches from today on. `history`: a
    campaign recorded after the fact (the demo's running example), whose early days are past."""
    errors = {}
    day = _day(day, "day", errors)
    today = store.today()
    if channel not in TOUCH_CHANNELS:
        errors["channel"] = _l("Choose a channel.")
    if who not in TOUCH_WHO:
        errors["who"] = _l("Choose who makes this touch.")
    if audience not in AUDIENCES:
        errors["audience"] = _l("Choose who gets it.")
    if who == "owner":
        audience = "key"  # the owner sees the key customers in person
    if who == "broadcast" and channel not in BULK:
        errors["channel"] = _l("A store broadcast goes out as a text or a WeChat message.")
    script = _script(store, script_id)
    if script_id and script is None:
        errors["script_id"] = _l("Choose one of this store's scripts.")
    body = (body or "").strip()
    if script is None and not body:
        errors["body"] = _l("Choose a script or write the text.")
    if len(body) > 500:
        errors["body"] = _l("At most %(n)d characters.", n=500)
    if day is not None and campaign.starts_on and not (
            campaign.starts_on <= day <= campaign.ends_on + timedelta(days=AFTER_DAYS)):
        errors["day"] = _l("Choose a day between the campaign's start and 30 days after its end.")
    elif day is not None and campaign.launched and day < today and not history:
        errors["day"] = _l("The campaign is running: add touches from today on.")
    elif day is not None and day < today and not history:
        errors["day"] = _l("Choose today or a later day.")
    if not errors and channel in ("sms", "broadcast"):
        problems = _sms_problems(store, campaign, script.body if script else body, audience)
        if problems:
            errors["body"] = problems[0]
    if errors:
        raise ServiceError(errors, code="invalid")
    touch = CampaignTouch(campaign_id=campaign.id, store_id=store.id, day=day, channel=channel,
                          who=who, audience=audience, script_id=script.id if script else None,
                          body="" if script else body)
    db.session.add(touch)
    if campaign.launched and day == today:
        db.session.flush()
        _catch_up_today(store, campaign, today, by=None)
    db.session.commit()
    return touch


def _sms_problems(store, campaign, body, audience):
    """The SMS rules (greeting first, signed, ≤ the limit for the longest names it targets)."""
    from kq.scripts import problem_text
    from kq.services.messaging import check_sms

    pickup = min((g.pickup_after for g in campaign.gifts if g.pickup_after), default=None)
    gift = next((g.gift.name for g in campaign.gifts), None)
    problems = check_sms(body, store, _target_ids(store, campaign, audience), gift=gift,
                         pickup_date=pickup)
    return [problem_text(code, params) for code, params in problems]


def _target_ids(store, campaign, audience):
    """SELECT of the customer ids a touch goes to: the members (launched) or the segment."""
    if campaign.launched:
        query = select(CampaignMember.customer_id).where(
            CampaignMember.campaign_id == campaign.id)
        if audience == "key":
            query = query.where(CampaignMember.is_key.is_(True))
        return query
    from kq.services import segments

    spec = dict(campaign.segment or {})
    if audience == "key":
        spec["key"] = "key" if spec.get("key") in (None, "all", "key") else spec["key"]
    return segments.segment_ids(store, spec)


def remove_touch(store, campaign, touch_id):
    touch = db.session.scalar(select(CampaignTouch).where(
        CampaignTouch.id == touch_id, CampaignTouch.campaign_id == campaign.id))
    if touch is None:
        raise LookupError("touch")
    if campaign.launched and (touch.day <= store.today() or touch.batch_id):
        raise ServiceError(_l("This touch has already been made; it stays in the record."),
                           code="touch_made")
    db.session.delete(touch)
    db.session.commit()


def add_gift(store, campaign, *, gift_id, audience, pickup_after):
    errors = {}
    if campaign.launched:
        raise ServiceError(_l("The campaign is running: its gifts were reserved at launch."),
                           code="launched")
    try:
        gift = db.session.scalar(select(Gift).where(Gift.id == int(gift_id),
                                                    Gift.store_id == store.id))
    except (TypeError, ValueError):
        gift = None
    if gift is None:
        errors["gift_id"] = _l("Choose one of this store's gifts.")
    if audience not in AUDIENCES:
        errors["audience"] = _l("Choose who gets it.")
    pickup = _day(pickup_after, "pickup_after", errors) if pickup_after else None
    if pickup is not None and not store.today() <= pickup <= store.today() + timedelta(days=366):
        errors["pickup_after"] = _l("Choose a pickup date from today to a year ahead.")
    if errors:
        raise ServiceError(errors, code="invalid")
    row = CampaignGift(campaign_id=campaign.id, gift_id=gift.id, audience=audience,
                       pickup_after=pickup)
    db.session.add(row)
    db.session.commit()
    return row


def remove_gift(campaign, row_id):
    if campaign.launched:
        raise ServiceError(_l("The campaign is running: its gifts were reserved at launch."),
                           code="launched")
    row = db.session.scalar(select(CampaignGift).where(CampaignGift.id == row_id,
                                                       CampaignGift.campaign_id == campaign.id))
    if row is None:
        raise LookupError("gift")
    db.session.delete(row)
    db.session.commit()


def delete(campaign):
    if campaign.launched:
        raise ServiceError(_l("A launched campaign stays in the record."), code="launched")
    db.session.delete(campaign)
    db.session.commit()


# The segment and launching -------------------------------------------------------------------

def counts(store, campaign):
    """{"total", "key", "general"}: the frozen members once launched, else the live segment."""
    if campaign.launched:
        total, key = db.session.execute(select(
            func.count(CampaignMember.id),
            func.coalesce(func.sum(case((CampaignMember.is_key.is_(True), 1), else_=0)), 0))
            .where(CampaignMember.campaign_id == campaign.id)).one()
        return {"total": int(total), "key": int(key or 0), "general": int(total) - int(key or 0)}
    from kq.services import segments

    return segments.segment_counts(store, campaign.segment or {})


def gift_needs(store, campaign, segment_counts=None):
    """Each gift of the campaign: how many it needs (its audience's size), how many are free on
    the shelf, and the shortfall. Gifts asked for twice count together."""
    segment_counts = segment_counts or counts(store, campaign)
    rows, by_gift = [], {}
    for row in campaign.gifts:
        needed = segment_counts["key"] if row.audience == "key" else segment_counts["total"]
        by_gift[row.gift_id] = by_gift.get(row.gift_id, 0) + needed
        rows.append({"row": row, "gift": row.gift, "needed": needed})
    for r in rows:
        total_needed = by_gift[r["gift"].id]
        free = r["gift"].available if r["gift"].active else 0
        r.update(available=free, total_needed=total_needed,
                 short=0 if campaign.launched else max(0, total_needed - free))
    return rows


def launch(store, campaign, *, by, history=False):
    """Freeze the segment and reserve the gifts, in one transaction; refused (nothing written)
    when a gift is short of stock, the campaign has no phases, or it has ended."""
    from kq.services import segments
    from kq.services.gifts import reserve

    if campaign.launched:
        raise ServiceError(_l("This campaign is already launched."), code="launched")
    today = store.today()
    if campaign.ends_on is None or campaign.ends_on < today:
        raise ServiceError(_l("This campaign has ended: change its phases first."), code="ended")
    customers = db.session.execute(
        segments.segment_query(store, campaign.segment or {}, today)
        .with_only_columns(Customer.id, Customer.is_key, Customer.assigned_staff_id,
                           Customer.last_visit_at, Customer.created_at)).all()
    if not customers:
        raise ServiceError(_l("The segment has no customers."), code="empty")
    past = [] if history else sorted(t.day for t in campaign.touches if t.day < today)
    if past:
        raise ServiceError({"day": _l("A touch is on %(date)s, which has passed: remove it "
                                      "(and add it again from today on) before launching.",
                                      date=past[0].isoformat())}, code="past_touch")
    segment_counts = {"total": len(customers), "key": sum(1 for c in customers if c.is_key)}
    segment_counts["general"] = segment_counts["total"] - segment_counts["key"]
    short = [r for r in gift_needs(store, campaign, segment_counts) if r["short"]]
    if short:
        db.session.rollback()
        raise ServiceError(_l("Not enough %(gift)s: %(needed)d needed, %(available)d free. "
                              "Restock it or give it to the key customers only.",
                              gift=short[0]["gift"].name, needed=short[0]["total_needed"],
                              available=short[0]["available"]), code="short")
    members = []
    for c in customers:
        since = c.last_visit_at or c.created_at
        members.append({"campaign_id": campaign.id, "store_id": store.id, "customer_id": c.id,
                        "is_key": bool(c.is_key), "staff_id": c.assigned_staff_id,
                        "dormant_at_launch": store.days_since(since, today)
                        >= store.dormant_after_days})
    db.session.execute(CampaignMember.__table__.insert(), members)
    staff = {u.id: u for u in db.session.scalars(select(User).where(
        User.store_id == store.id, User.active.is_(True)))}
    try:
        for row in campaign.gifts:
            for c in customers:
                if row.audience == "key" and not c.is_key:
                    continue
                reserve(store, customer_id=c.id, gift_id=row.gift_id,
                        staff=staff.get(c.assigned_staff_id, by), by=by,
                        pickup_after=row.pickup_after if row.pickup_after
                        and row.pickup_after > today else None,
                        campaign=campaign.name, campaign_id=campaign.id, commit=False)
    except ServiceError:
        db.session.rollback()  # reserve() rolled back already; nothing of the launch remains
        raise
    campaign.status, campaign.launched_at, campaign.launched_by_id = LAUNCHED, utcnow(), by.id
    _catch_up_today(store, campaign, today, by)
    from kq.services.audit import audit

    audit("campaign_launch", store_id=store.id, user=by, detail={
        "campaign_id": campaign.id, "name": campaign.name, "members": len(members),
        "key": segment_counts["key"]})
    db.session.commit()
    return campaign


def _catch_up_today(store, campaign, day, by):
    """Launched after today's lists were built: put the campaign's touches for today on them
    now, in the launch's transaction, as the daily run would have (the same rows, inserted
    ON CONFLICT DO NOTHING, and the broadcast drafted once), so a later run adds nothing."""
    from kq.models import Task
    from kq.services.checklist import UNIQUE, day_generated, insert_ignoring_duplicates

    db.session.flush()
    if not due_touches(store, day, campaign) or not day_generated(store, day):
        return
    draft_broadcasts(store, day, by=by, campaign=campaign)
    people = db.session.execute(select(User.id, User.role).where(
        User.active.is_(True), (User.store_id == store.id) | (User.role == OWNER))).all()
    staff_ids = {s for s, _role in people}
    owners = sorted(s for s, role in people if role == OWNER)
    rows, seen = [], set()
    for staff_id, customer_id, detail in touch_items(store, day, owners, campaign=campaign):
        if staff_id in staff_ids and (staff_id, customer_id) not in seen:
            seen.add((staff_id, customer_id))
            rows.append({"store_id": store.id, "staff_id": staff_id, "customer_id": customer_id,
                         "kind": "campaign_touch", "due_on": day, "status": "open",
                         "detail": detail})
    insert_ignoring_duplicates(Task, rows, UNIQUE)


# The daily run -------------------------------------------------------------------------------

_PICKUP = re.compile(r"\{(pickup_date|取货日期|领取日期)\}")


def _prefilled(store, campaign, touch):
    """The touch's text with the campaign's own values in (gift, pickup date); the customer's
    greeting, the sender's name, the store and the date are filled in on her phone."""
    from kq import scripts

    text = touch_text(touch)
    gift = next((g for g in campaign.gifts), None)
    if gift is not None:
        text = re.sub(r"\{(gift|礼品)\}", gift.gift.name, text)
        if gift.pickup_after:
            text = _PICKUP.sub(scripts.customer_date(gift.pickup_after), text)
    return _PICKUP.sub("", text)


def due_touches(store, day, campaign=None):
    query = (select(CampaignTouch).join(Campaign, Campaign.id == CampaignTouch.campaign_id)
             .where(CampaignTouch.store_id == store.id, CampaignTouch.day == day,
                    Campaign.status == LAUNCHED))
    if campaign is not None:
        query = query.where(Campaign.id == campaign.id)
    return db.session.scalars(query.order_by(CampaignTouch.id)).all()


def touch_items(store, day, owner_ids, campaign=None):
    """The day's campaign items as (staff_id, customer_id, detail): for one-to-one touches one
    per member for her beautician (as assigned now, else as at launch), for the owner's touches
    one per key member for each owner. Members who may no longer get marketing (consent
    withdrawn, do-not-contact, deleted) are left out."""
    from flask import has_request_context

    from kq.services.privacy import marketable_clause

    if not has_request_context() and campaign is None:
        draft_broadcasts(store, day)  # the daily run; a page that makes the day writes no batch
    out = []
    for touch in due_touches(store, day, campaign):
        if touch.who == "broadcast":
            continue
        campaign = touch.campaign
        query = (select(CampaignMember.customer_id, CampaignMember.staff_id,
                        Customer.assigned_staff_id)
                 .join(Customer, Customer.id == CampaignMember.customer_id)
                 .where(CampaignMember.campaign_id == campaign.id, marketable_clause())
                 .order_by(CampaignMember.customer_id))
        if touch.audience == "key" or touch.who == "owner":
            query = query.where(CampaignMember.is_key.is_(True))
        detail = {"campaign_id": campaign.id, "campaign": campaign.name, "touch_id": touch.id,
                  "channel": touch.channel, "script": _prefilled(store, campaign, touch)}
        for customer_id, launch_staff, assigned in db.session.execute(query):
            if touch.who == "owner":
                for owner_id in owner_ids:
                    out.append((owner_id, customer_id, {**detail, "key": True}))
            else:
                out.append((assigned or launch_staff, customer_id, dict(detail)))
    return out


def draft_broadcasts(store, day, by=None, campaign=None):
    """The day's store broadcasts as bulk message drafts for the manager to confirm (one per
    touch, made once: the touch keeps its batch). Returns the batches made."""
    from kq.models import MANAGER
    from kq.services.messaging import start_batch

    made = []
    for touch in due_touches(store, day, campaign):
        if touch.who != "broadcast" or touch.batch_id is not None:
            continue
        sender = by or db.session.scalar(select(User).where(
            User.store_id == store.id, User.role == MANAGER, User.active.is_(True))
            .order_by(User.id).limit(1)) or db.session.scalar(
            select(User).where(User.role == OWNER, User.active.is_(True)).order_by(User.id)
            .limit(1))
        ids = db.session.scalars(_target_ids(store, touch.campaign, touch.audience)).all()
        gift = next((g for g in touch.campaign.gifts), None)
        try:  # start_batch refuses before it adds anything
            batch = start_batch(store, by=sender, customer_ids=ids, script=touch.script,
                                body=None if touch.script else touch.body,
                                channel=BULK[touch.channel], source=("campaign_touch", touch.id),
                                gift=gift.gift.name if gift else None, date=day,
                                pickup_date=gift.pickup_after if gift else None)
        except (ServiceError, LookupError):
            continue  # its text breaks a rule now: the manager sees it undone on the page
        touch.batch_id = batch.id
        made.append(batch)
    return made


# Figures ---------------------------------------------------------------------------------------

def window(campaign):
    """(first day, last day) results are counted over: the campaign and 30 days after."""
    return campaign.starts_on, campaign.ends_on + timedelta(days=AFTER_DAYS)


def _sent_messages(store, campaign, start, end):
    """{customer_id: first sent instant} of the campaign's bulk messages (if messaging exists)."""
    try:
        from kq.models.messaging import MessageBatch, OutboundMessage
    except ImportError:  # pragma: no cover
        return {}
    touch_ids = select(CampaignTouch.id).where(CampaignTouch.campaign_id == campaign.id)
    return dict(db.session.execute(
        select(OutboundMessage.customer_id, func.min(OutboundMessage.sent_at))
        .join(MessageBatch, MessageBatch.id == OutboundMessage.batch_id)
        .where(OutboundMessage.store_id == store.id, OutboundMessage.status == "sent",
               MessageBatch.source_type == "campaign_touch",
               MessageBatch.source_id.in_(touch_ids),
               OutboundMessage.sent_at >= _midnight(store, start),
               OutboundMessage.sent_at < _midnight(store, end + timedelta(days=1))
               ).group_by(OutboundMessage.customer_id)).all())


def figures(store, campaign, today=None):
    """What the campaign page and its printed review show. Everything counts members (the
    frozen segment); "staff" is her beautician at launch."""
    today = today or store.today()
    empty = {"members": 0, "key": 0, "general": 0, "notified": 0, "missing": [], "replied": 0,
             "booked": 0, "visited": 0, "visits": 0, "revenue_fen": 0, "reactivated": 0,
             "dormant": 0, "gifts": _gift_totals(store, campaign), "staff": [], "coverage": 0.0}
    if not campaign.launched or campaign.starts_on is None:
        return empty
    start, last = window(campaign)
    end = min(last, today)
    campaign_end = min(campaign.ends_on, today)
    members = db.session.execute(
        select(CampaignMember, Customer).join(Customer, Customer.id == CampaignMember.customer_id)
        .where(CampaignMember.campaign_id == campaign.id)
        .order_by(CampaignMember.is_key.desc(), Customer.id)).all()
    ids = select(CampaignMember.customer_id).where(CampaignMember.campaign_id == campaign.id)
    lo, hi = _midnight(store, start), _midnight(store, end + timedelta(days=1))
    notify_hi = _midnight(store, campaign_end + timedelta(days=1))
    contacts = db.session.execute(
        select(Contact.customer_id, Contact.outcome, Contact.contacted_at)
        .where(Contact.store_id == store.id, Contact.customer_id.in_(ids),
               Contact.contacted_at >= lo, Contact.contacted_at < hi)).all()
    notified, replied, booked = set(), set(), set()
    for customer_id, outcome, moment in contacts:
        if moment < notify_hi and outcome not in ("wrong_number",):
            notified.add(customer_id)
        if outcome in ("reached", "booked"):
            replied.add(customer_id)
        if outcome == "booked":
            booked.add(customer_id)
    notified |= {c for c, moment in _sent_messages(store, campaign, start, campaign_end).items()
                 if moment is not None}
    visits = db.session.execute(
        select(Visit.customer_id, func.count(Visit.id), func.sum(Visit.amount_fen))
        .where(Visit.store_id == store.id, Visit.customer_id.in_(ids), Visit.imported.is_(False),
               Visit.visited_at >= lo, Visit.visited_at < hi).group_by(Visit.customer_id)).all()
    visited = {c: (n, fen or 0) for c, n, fen in visits}
    staff_names = {u.id: u.display_name for u in db.session.scalars(
        select(User).where(User.store_id == store.id))}
    per_staff, missing = {}, []
    out = dict(empty, members=len(members), gifts=_gift_totals(store, campaign))
    for member, customer in members:
        row = per_staff.setdefault(member.staff_id, {
            "staff_id": member.staff_id, "name": staff_names.get(member.staff_id),
            "members": 0, "key": 0, "notified": 0, "replied": 0, "booked": 0, "visited": 0,
            "reactivated": 0})
        cid = customer.id
        n, fen = visited.get(cid, (0, 0))
        flags = {"members": 1, "key": int(member.is_key), "notified": int(cid in notified),
                 "replied": int(cid in replied), "booked": int(cid in booked),
                 "visited": int(n > 0), "reactivated": int(n > 0 and member.dormant_at_launch)}
        for k, v in flags.items():
            row[k] += v
            if k != "members":
                out[k] += v
        out["visits"] += n
        out["revenue_fen"] += fen
        out["dormant"] += int(member.dormant_at_launch)
        if cid not in notified:
            missing.append({"customer": customer, "is_key": member.is_key,
                            "staff": staff_names.get(member.staff_id)})
    out["general"] = out["members"] - out["key"]
    out["missing"] = missing
    out["coverage"] = 100.0 * out["notified"] / out["members"] if out["members"] else 0.0
    out["staff"] = sorted(per_staff.values(), key=lambda r: (r["name"] is None, r["name"] or ""))
    return out


def _gift_totals(store, campaign):
    rows = db.session.execute(
        select(GiftHandout.status, func.count(GiftHandout.id),
               func.sum(func.coalesce(GiftHandout.face_value_fen, Gift.face_value_fen)),
               func.sum(func.coalesce(GiftHandout.unit_cost_fen, Gift.unit_cost_fen)))
        .join(Gift, Gift.id == GiftHandout.gift_id)
        .where(GiftHandout.store_id == store.id, GiftHandout.campaign_id == campaign.id)
        .group_by(GiftHandout.status)).all()
    totals = {s: {"count": int(n), "value_fen": int(v or 0), "cost_fen": int(c or 0)}
              for s, n, v, c in rows}
    zero = {"count": 0, "value_fen": 0, "cost_fen": 0}
    return {"reserved": totals.get("reserved", zero), "handed_out": totals.get("handed_out", zero),
            "cancelled": totals.get("cancelled", zero)}


def touch_progress(store, campaign, today=None):
    """Each touch with its state: upcoming, due today, made (items done/all, or its batch)."""
    from kq.models import Task

    today = today or store.today()
    touch_id = Task.detail["touch_id"].as_integer().label("touch_id")
    done = dict(((t, s), n) for t, s, n in db.session.execute(
        select(touch_id, Task.status, func.count(Task.id))
        .where(Task.store_id == store.id, Task.kind == "campaign_touch",
               Task.due_on >= campaign.starts_on if campaign.starts_on else True)
        .group_by(touch_id, Task.status)))  # by the label: PostgreSQL binds the key twice
    rows = []
    for touch in campaign.touches:
        state = "upcoming" if touch.day > today else ("today" if touch.day == today else "past")
        rows.append({"touch": touch, "state": state, "done": done.get((touch.id, "done"), 0),
                     "count": done.get((touch.id, "done"), 0) + done.get((touch.id, "open"), 0),
                     "text": touch_text(touch)})
    return rows


# The printed review ----------------------------------------------------------------------------

def review_params(store, raw):
    """What the printed review of a campaign needs: a launched campaign of this store."""
    value = str(raw.get("campaign") or "")
    campaign = None
    if value.isdigit() and len(value) < 10:
        campaign = db.session.scalar(select(Campaign).where(
            Campaign.id == int(value), Campaign.store_id == store.id))
    if campaign is None or not campaign.launched:
        raise ServiceError({"campaign": _l("Choose a launched campaign of this store.")},
                           code="invalid")
    return {"campaign": campaign.id, "date": store.today().isoformat()}


def review_data(store, campaign_id):
    """The printed review's context: the page's figures, touches and notes."""
    from kq.blueprints.manager.campaigns import labels
    from kq.services import segments

    campaign = get(store, campaign_id)
    names = {u.id: u.display_name for u in db.session.scalars(
        select(User).where(User.store_id == store.id))}
    size = counts(store, campaign)
    return {"campaign": campaign, "size": size, "numbers": figures(store, campaign),
            "progress": touch_progress(store, campaign), "labels": labels(),
            "describe": segments.describe(campaign.segment or {}, names),
            "window": window(campaign), "today": store.today()}
