"""The bulk-send job (kq.jobs.send_batch): render, queue, and — for a gateway — send.

Once per (batch, customer), whatever happens to the job:
1. Rendering inserts one OutboundMessage per eligible customer with INSERT … ON CONFLICT DO
   NOTHING on UNIQUE(batch_id, customer_id), a chunk per transaction: a rerun adds only what
   the killed run had not.
2. A gateway send claims its message first (status "sending", committed), then calls the
   provider, then records the answer. A rerun never sends a message it finds "sending" (the
   killed run may have handed it over already): it is marked failed with "interrupted", to be
   looked at, rather than risk texting her twice. Rate limits and network errors leave the
   message queued with a later next_attempt_at (MAX_ATTEMPTS in all).
3. Quiet hours (21:00–09:00 store time): a gateway batch stops and waits until 09:00 (RQ's
   scheduler with Redis; a timer thread in-process). The outbox gets its messages at once; its
   page tells staff to wait."""
import threading
from datetime import timedelta

from sqlalchemy import select, update

from kq.extensions import db
from kq.models import Customer, Store, utcnow
from kq.models.messaging import MessageBatch, OutboundMessage
from kq.services import messaging
from kq.services.checklist import insert_ignoring_duplicates
from kq.services.messaging.providers import get_provider

CHUNK = 1000
MAX_ATTEMPTS = 3
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15))


def _progress(batch_id):
    counts = {status: 0 for status in ("queued", "sending", "sent", "failed", "skipped")}
    from sqlalchemy import func

    for status, n in db.session.execute(select(OutboundMessage.status, func.count())
                                        .where(OutboundMessage.batch_id == batch_id)
                                        .group_by(OutboundMessage.status)):
        counts[status] = n
    return counts


def _save_counts(batch):
    counts = _progress(batch.id)
    batch.queued = counts["queued"] + counts["sending"] + counts["sent"] + counts["failed"]
    batch.sent, batch.failed = counts["sent"], counts["failed"]
    return counts


def render_messages(batch, store):
    """Step 1: every eligible customer's message, once. Returns how many this call added."""
    values = (batch.segment or {}).get("values") or {}
    staff = messaging.store_staff(store)
    ids = messaging.batch_ids(batch).scalar_subquery()
    done = select(OutboundMessage.customer_id).where(OutboundMessage.batch_id == batch.id)
    query = (select(Customer.id, Customer.greeting_name, Customer.assigned_staff_id)
             .where(Customer.store_id == store.id, Customer.id.in_(ids),
                    messaging.eligible_clause(batch.channel), Customer.id.not_in(done))
             .order_by(Customer.id))
    added, last_id = 0, 0
    from kq import scripts

    fixed = messaging.values_for(None, staff=None, store=store, gift=values.get("gift"),
                                 date=values.get("date"), pickup_date=values.get("pickup_date"))
    # The text is filled in once per sender; only the greeting differs per customer.
    marker = "\x00greeting\x00"
    per_sender = {}
    fallback = staff.get(batch.created_by_id)
    while True:
        customers = db.session.execute(query.where(Customer.id > last_id).limit(CHUNK)).all()
        if not customers:
            break
        now = utcnow()
        rows = []
        for customer_id, greeting, assigned in customers:
            sender = staff.get(assigned) if assigned else None
            sender = sender or fallback
            key = sender.id if sender else None
            template = per_sender.get(key)
            if template is None:
                template = per_sender[key] = scripts.render(batch.body, {
                    **fixed, "greeting": marker,
                    "staff": sender.display_name if sender else ""})
            rows.append({"store_id": store.id, "batch_id": batch.id,
                         "customer_id": customer_id, "staff_id": key,
                         "body": template.replace(marker, greeting), "status": "queued",
                         "attempts": 0, "created_at": now})
        last_id = customers[-1][0]
        added += insert_ignoring_duplicates(OutboundMessage, rows, ("batch_id", "customer_id"))
        _save_counts(batch)
        db.session.commit()
    return added


def _defer(batch, when):
    """Run the batch again at `when` (aware UTC)."""
    from flask import current_app

    from kq.extensions import queue

    batch.not_before = when
    db.session.commit()
    rq_queue = current_app.extensions["kq_queue"]["queue"]
    if rq_queue is not None:
        try:
            rq_queue.enqueue_at(when, "kq.jobs.send_batch", batch.id,
                                job_id=f"kq-bulk-{batch.id}-{when:%Y%m%d%H%M}")
            return "scheduled"
        except Exception:  # noqa: BLE001 - Redis down: fall back to a timer in this process
            current_app.logger.warning("Redis unavailable; batch %s waits in-process", batch.id)
    if current_app.config.get("TESTING"):
        return "deferred"  # tests call send_batch again themselves
    app = current_app._get_current_object()
    delay = max(0.0, (when - utcnow()).total_seconds())
    timer = threading.Timer(delay, _run_later, args=(app, batch.id))
    timer.daemon = True
    timer.start()
    del queue
    return "timer"


def _run_later(app, batch_id):
    with app.app_context():
        try:
            send_batch(batch_id)
        except Exception:  # noqa: BLE001
            app.logger.exception("bulk batch %s failed", batch_id)


def _send_due(batch, store, provider, now_fn):
    """Step 2: hand each due queued message to the gateway, one at a time."""
    while True:
        now = now_fn()
        if messaging.in_quiet_hours(store, now):
            return messaging.quiet_until(store, now)
        message = db.session.scalars(
            select(OutboundMessage).where(
                OutboundMessage.batch_id == batch.id, OutboundMessage.status == "queued",
                (OutboundMessage.next_attempt_at.is_(None))
                | (OutboundMessage.next_attempt_at <= now))
            .order_by(OutboundMessage.id).limit(1)).first()
        if message is None:
            later = db.session.scalar(
                select(OutboundMessage.next_attempt_at).where(
                    OutboundMessage.batch_id == batch.id, OutboundMessage.status == "queued")
                .order_by(OutboundMessage.next_attempt_at).limit(1))
            return later
        # Claim it: once this commit is made the message is never handed over again.
        claimed = db.session.execute(
            update(OutboundMessage).where(OutboundMessage.id == message.id,
                                          OutboundMessage.status == "queued")
            .values(status="sending", attempts=OutboundMessage.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        if not claimed:
            continue
        db.session.refresh(message)
        customer = db.session.get(Customer, message.customer_id)
        result = provider.send(message, _mobile(customer.phone))
        message.last_error = result.error
        if result.ok:
            message.status, message.provider_ref, message.sent_at = "sent", result.ref, now_fn()
        elif result.status == "retry" and message.attempts < MAX_ATTEMPTS:
            message.status = "queued"
            message.next_attempt_at = now_fn() + RETRY_AFTER[min(message.attempts,
                                                                 len(RETRY_AFTER)) - 1]
        else:
            message.status = "failed"
        _save_counts(batch)
        db.session.commit()


def _mobile(phone):
    from kq.masking import national

    if phone and phone.startswith("+86"):
        return national(phone)
    return phone


def send_batch(batch_id, now_fn=None, provider=None):
    """The job. Safe to run again at any point: returns the batch's progress."""
    now_fn = now_fn or utcnow
    batch = db.session.get(MessageBatch, batch_id)
    if batch is None or batch.status not in ("confirmed", "running"):
        return None
    store = db.session.get(Store, batch.store_id)
    # A previous run killed between its claim and the provider's answer: never resend.
    interrupted = db.session.execute(
        update(OutboundMessage).where(OutboundMessage.batch_id == batch.id,
                                      OutboundMessage.status == "sending")
        .values(status="failed", last_error="interrupted; not sent again to avoid a double")
        .execution_options(synchronize_session=False)).rowcount
    batch.status = "running"
    db.session.commit()
    try:
        render_messages(batch, store)
        provider = provider or get_provider(batch.provider)
        if provider.sends:
            wait_until = _send_due(batch, store, provider, now_fn)
            if wait_until is not None:
                _save_counts(batch)
                _defer(batch, wait_until)
                return _progress(batch.id)
        counts = _save_counts(batch)
        batch.status = "done"
        batch.finished_at = now_fn()
        batch.not_before = None
        db.session.commit()
        del interrupted
        return counts
    except Exception as e:
        db.session.rollback()
        batch = db.session.get(MessageBatch, batch_id)
        batch.error = str(e)[:500]
        batch.status = "failed"
        db.session.commit()
        raise
