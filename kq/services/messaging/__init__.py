"""Scripts and bulk messages (SPEC §5).

render()       a script filled in for one customer ({greeting} {staff} {store} {gift} {date}
               {pickup_date}).
check_sms()    the rules a text keeps, checked against the longest names of the customers it
               targets (not one sample): greeting first, signed by the sender, ≤ the store's
               text limit.
start_batch()  a draft bulk send to a segment (or a list of customers) with its counts: to send,
               skipped do-not-contact, skipped without marketing consent, skipped without a
               mobile. Adds and flushes; the caller commits.
confirm_batch() confirms a draft (audit event "bulk_message") and queues kq.jobs.send_batch.
The job (kq.services.messaging.sending) renders one OutboundMessage per customer — unique per
(batch, customer), so a rerun adds nothing twice — and hands them to the provider: the outbox
(staff send them from their phones) or an SMS gateway (never during quiet hours, 21:00–09:00
store time)."""
from datetime import date as date_cls
from datetime import datetime, time, timedelta

from sqlalchemy import and_, case, func, not_, or_, select

from kq import scripts
from kq.extensions import db
from kq.models import Customer, User, utcnow
from kq.models.messaging import SCRIPT_CHANNELS, MessageBatch, MessageScript
from kq.services import ServiceError
from kq.services import segments as seg
from kq.services.messaging.providers import configured_name

QUIET_START = time(21, 0)  # store time: nothing is sent from 21:00 …
QUIET_END = time(9, 0)  # … until 09:00
BULK_CHANNELS = ("sms", "wechat")
MAX_BODY = 500
LONGEST_NAMES = 5  # how many of the segment's longest greeting names a text is checked on


# ---- rendering ---------------------------------------------------------------------------

def _as_day(value):
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date_cls):
        return value
    return date_cls.fromisoformat(str(value)[:10])


def values_for(customer, *, staff, store, gift=None, date=None, pickup_date=None):
    day = _as_day(date) or store.today()
    pickup = _as_day(pickup_date)
    return {
        "greeting": customer.greeting_name if customer is not None else "",
        "staff": staff.display_name if staff is not None else "",
        "store": scripts.store_signature(store),
        "gift": gift or "",
        "date": scripts.customer_date(day),
        "pickup_date": scripts.customer_date(pickup) if pickup else "",
    }


def render(body, customer, *, staff, store, gift=None, date=None, pickup_date=None):
    """The text as this customer would get it from this staff member."""
    return scripts.render(body, values_for(customer, staff=staff, store=store, gift=gift,
                                           date=date, pickup_date=pickup_date))


def speaking_seconds(text, chars_per_second=None):
    """Seconds to say a text aloud at the stated rate (scripts.SPEAKING_RATE chars/s)."""
    rate = chars_per_second or scripts.SPEAKING_RATE
    return round(len(text or "") / rate, 1)


# ---- the SMS rules -----------------------------------------------------------------------

def _customer_ids(store, customers):
    """customers: None (every customer of the store), a segment spec dict, a list of ids, or a
    SELECT of Customer / of customer ids."""
    if customers is None:
        return seg.segment_ids(store, {})
    if isinstance(customers, dict):
        return seg.segment_ids(store, customers)
    if isinstance(customers, (list, tuple, set, frozenset)):
        return select(Customer.id).where(Customer.store_id == store.id,
                                         Customer.id.in_(list(customers)))
    names = [c.get("name") for c in customers.column_descriptions]
    if names != ["id"]:
        customers = customers.with_only_columns(Customer.id).order_by(None)
    return customers


def longest_greetings(store, customers=None, limit=LONGEST_NAMES):
    ids = _customer_ids(store, customers)
    rows = db.session.execute(
        select(Customer.greeting_name).where(Customer.id.in_(ids.scalar_subquery()
                                                             if hasattr(ids, "scalar_subquery")
                                                             else ids))
        .group_by(Customer.greeting_name)
        .order_by(func.length(Customer.greeting_name).desc(), Customer.greeting_name)
        .limit(limit)).scalars().all()
    return rows


def check_sms(body, store, customers=None, *, gift=None, pickup_date=None):
    """Problems with an SMS text as (code, params) pairs; [] when it may be sent to every one of
    `customers` (None: any customer of the store). Codes: empty, unknown, greeting_first,
    unsigned, too_long (params: length, limit, example — the longest greeting name —, and
    offenders: the greeting names that render over the limit)."""
    body = (body or "").strip()
    if not body:
        return [("empty", {})]
    problems = [p for p in scripts.check_rules(body)]
    worst = scripts.longest_values(store)
    if gift:
        worst["gift"] = gift
    if pickup_date:
        worst["pickup_date"] = scripts.customer_date(_as_day(pickup_date))
    lengths = _sms_lengths(body, store, customers, worst)
    longest = max(lengths.values())
    offenders = [name for name, length in lengths.items() if length > store.text_limit]
    if offenders:
        problems.append(("too_long", {"length": longest, "limit": store.text_limit,
                                      "example": offenders[0], "offenders": offenders}))
    return problems


def _sms_lengths(body, store, customers, worst):
    names = longest_greetings(store, customers) or [worst["greeting"]]
    return {name: len(scripts.render(body, {**worst, "greeting": name})) for name in names}


def sms_worst_length(body, store, customers=None):
    """The length check_sms() judges a text by: rendered for the longest greeting names (of
    `customers`, None: the store) and the longest sender, gift and dates — the number the
    editor's counter shows, so the counter and a refusal agree."""
    body = (body or "").strip()
    if not body:
        return 0
    return max(_sms_lengths(body, store, customers, scripts.longest_values(store)).values())


# ---- quiet hours -------------------------------------------------------------------------

def in_quiet_hours(store, moment=None):
    local = (moment or utcnow()).astimezone(store.tz).time()
    return local >= QUIET_START or local < QUIET_END


def quiet_until(store, moment=None):
    """When sending may start again: the next 09:00 store time (aware UTC); None when not quiet."""
    moment = moment or utcnow()
    if not in_quiet_hours(store, moment):
        return None
    local = moment.astimezone(store.tz)
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    from datetime import timezone

    return datetime.combine(day, QUIET_END, tzinfo=store.tz).astimezone(timezone.utc)


# ---- batches -----------------------------------------------------------------------------

def _consent_clause():
    """SQL: the customer may get marketing (consent given, not withdrawn). H4's privacy
    service decides when it exists."""
    try:
        from kq.services.privacy import marketable_clause  # type: ignore
    except ImportError:
        return Customer.marketing_consent.is_(True)
    return marketable_clause()


def _no_mobile_clause():
    phone = Customer.phone
    return or_(phone.is_(None), phone == "",
               and_(phone.like("+86%"), or_(not_(phone.like("+861%")), func.length(phone) != 14)))


def count_skips(store, ids_select, channel):
    """{"total", "do_not_contact", "no_consent", "no_phone", "to_send"} for the customers."""
    dnc = Customer.do_not_contact.is_(True)
    consent = _consent_clause()
    no_phone = _no_mobile_clause() if channel == "sms" else None
    columns = [func.count(Customer.id),
               func.coalesce(func.sum(case((dnc, 1), else_=0)), 0),
               func.coalesce(func.sum(case((and_(~dnc, ~consent), 1), else_=0)), 0)]
    if no_phone is not None:
        columns.append(func.coalesce(func.sum(case((and_(~dnc, consent, no_phone), 1),
                                                   else_=0)), 0))
    row = db.session.execute(select(*columns).where(
        Customer.store_id == store.id, Customer.deleted_at.is_(None),
        Customer.id.in_(ids_select))).one()
    total, skipped_dnc, skipped_consent = (int(v or 0) for v in row[:3])
    skipped_phone = int(row[3] or 0) if no_phone is not None else 0
    return {"total": total, "do_not_contact": skipped_dnc, "no_consent": skipped_consent,
            "no_phone": skipped_phone,
            "to_send": total - skipped_dnc - skipped_consent - skipped_phone}


def eligible_clause(channel):
    """SQL: a customer of the batch who gets the message."""
    clauses = [Customer.deleted_at.is_(None), Customer.do_not_contact.is_(False),
               _consent_clause()]
    if channel == "sms":
        clauses.append(~_no_mobile_clause())
    return and_(*clauses)


def batch_ids(batch):
    """SELECT of the customer ids a batch was made for (its frozen list or its segment)."""
    from kq.models import Store

    store = db.session.get(Store, batch.store_id)
    segment = batch.segment or {}
    if "customer_ids" in segment:
        return select(Customer.id).where(Customer.store_id == store.id,
                                         Customer.id.in_(segment["customer_ids"]))
    return seg.segment_ids(store, segment.get("spec") or {})


def start_batch(store, *, by, spec=None, customer_ids=None, script=None, body=None,
                channel=None, source=None, gift=None, date=None, pickup_date=None,
                provider=None):
    """A draft batch with its counts. `source` is (source_type, source_id), e.g.
    ("campaign_touch", 12). Raises ServiceError (field, code) for a bad segment or text."""
    if script is not None:
        if script.store_id != store.id:
            raise LookupError("script")
        body = body or script.body
        channel = channel or ("sms" if script.channel == "sms" else script.channel)
    channel = channel or "sms"
    if channel not in BULK_CHANNELS:
        raise ServiceError("channel_not_bulk", field="channel")
    body = (body or "").strip()
    if not body:
        raise ServiceError("empty", field="body")
    if len(body) > MAX_BODY:
        raise ServiceError("too_long_body", field="body")
    if customer_ids is not None:
        ids = sorted({int(i) for i in customer_ids})
        segment = {"customer_ids": ids}
        ids_select = select(Customer.id).where(Customer.store_id == store.id,
                                               Customer.id.in_(ids))
    else:
        try:
            cleaned = seg.clean(spec or {})
        except seg.SegmentError as e:
            field = next(iter(e.errors))
            raise ServiceError(e.errors[field], field=field) from None
        segment = {"spec": cleaned}
        ids_select = seg.segment_ids(store, cleaned)
    unknown = scripts.unknown_placeholders(body)
    if unknown:
        raise ServiceError("unknown", field="body")
    if channel == "sms":
        problems = check_sms(body, store, ids_select, gift=gift, pickup_date=pickup_date)
        if problems:
            code, params = problems[0]
            error = ServiceError(code, field="body")
            error.params = params
            raise error
    counts = count_skips(store, ids_select, channel)
    batch = MessageBatch(
        store_id=store.id, created_by_id=by.id if by is not None else None,
        script_id=script.id if script is not None else None, channel=channel,
        provider=provider or (configured_name() if channel == "sms" else "outbox"),
        body=body, segment={**segment, "values": {
            "gift": gift or None, "date": _iso(date), "pickup_date": _iso(pickup_date)}},
        source_type=source[0] if source else None, source_id=source[1] if source else None,
        status="draft", total=counts["total"],
        skipped_do_not_contact=counts["do_not_contact"],
        skipped_no_consent=counts["no_consent"], skipped_no_phone=counts["no_phone"])
    db.session.add(batch)
    db.session.flush()
    return batch


def _iso(value):
    day = _as_day(value)
    return day.isoformat() if day else None


def confirm_batch(batch, *, by=None, background=True):
    """Confirm a draft: audit it, commit, queue the send job. Returns the job id. A batch
    already confirmed is not queued again (returns its job id)."""
    from kq.extensions import queue
    from kq.services.audit import audit

    if batch.status != "draft":
        return batch.job_id
    batch.status = "confirmed"
    batch.confirmed_at = utcnow()
    batch.job_id = f"kq-bulk-{batch.id}"
    segment = batch.segment or {}
    audit("bulk_message", store_id=batch.store_id, target=batch, user=by, detail={
        "batch_id": batch.id, "channel": batch.channel, "provider": batch.provider,
        "segment": segment.get("spec") if "spec" in segment
        else {"customers": len(segment.get("customer_ids", []))},
        "source": [batch.source_type, batch.source_id] if batch.source_type else None,
        "count": batch.to_send, "skipped_do_not_contact": batch.skipped_do_not_contact,
        "skipped_no_consent": batch.skipped_no_consent})
    batch_id, job_id = batch.id, batch.job_id
    db.session.commit()
    # Nothing of this session is read again before the job runs (on SQLite a read here would
    # begin a transaction the in-process job then waits behind).
    return queue.enqueue("kq.jobs.send_batch", batch_id, job_id=job_id, background=background)


def store_scripts(store, channel=None, purpose=None, locale=None, active_only=True):
    query = select(MessageScript).where(MessageScript.store_id == store.id)
    if channel:
        query = query.where(MessageScript.channel == channel)
    if purpose:
        query = query.where(MessageScript.purpose == purpose)
    if locale:
        query = query.where(MessageScript.locale == locale)
    if active_only:
        query = query.where(MessageScript.active.is_(True))
    return db.session.scalars(query.order_by(MessageScript.channel, MessageScript.purpose,
                                             MessageScript.locale, MessageScript.id)).all()


def sender_for(customer, by_id, staff_by_id):
    """Who sends it from the outbox: her assigned beautician (an active user of the store), else
    the one who made the batch. staff_by_id: store_staff()."""
    staff = staff_by_id.get(customer.assigned_staff_id) if customer.assigned_staff_id else None
    return staff or staff_by_id.get(by_id)


def store_staff(store):
    return {u.id: u for u in db.session.scalars(select(User).where(
        or_(User.store_id == store.id, User.role == "owner"), User.active.is_(True)))}


__all__ = ["render", "check_sms", "start_batch", "confirm_batch", "in_quiet_hours",
           "quiet_until", "speaking_seconds", "count_skips", "SCRIPT_CHANNELS"]
