"""Bulk messages (SPEC §5): skips counted before sending, the outbox worked through on the phone
(a contact, once), quiet hours at their boundaries, a killed job rerun that texts nobody twice,
and the Yunpian adapter against a local fake server."""
import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from sqlalchemy import func, select

from kq.extensions import db
from kq.models import AuditEvent, Contact, Customer, Store, User
from kq.models.messaging import MessageBatch, OutboundMessage
from kq.services import ServiceError, messaging
from kq.services.messaging import providers
from kq.services.messaging.sending import send_batch
from tests.factories import CustomerFactory

EN = {"Accept-Language": "en"}
BODY = "{greeting}您好，好久不见，这周给您留了护理时间。—{staff}"


def _at(store, y, m, d, hh, mm):
    return datetime(y, m, d, hh, mm, tzinfo=store.tz).astimezone(timezone.utc)


@pytest.fixture
def dormant(app, world):
    """Store 1: dormant 200 days — 4 who may get it, 2 do-not-contact, 3 without consent,
    1 with a landline only; 1 dormant 100 days (outside 180+); the world's two customers are
    dormant but without consent."""
    with app.app_context():
        store = db.session.get(Store, world.store1)
        long_ago = store.local_now() - timedelta(days=200)
        b1, b2 = world.users["beautician1"], world.users["beautician2"]
        ok = [CustomerFactory(store_id=store.id, marketing_consent=True, last_visit_at=long_ago,
                              assigned_staff_id=staff) for staff in (b1, b1, b2, None)]
        for _ in range(2):
            CustomerFactory(store_id=store.id, marketing_consent=True, do_not_contact=True,
                            last_visit_at=long_ago)
        for _ in range(3):
            CustomerFactory(store_id=store.id, marketing_consent=False, last_visit_at=long_ago)
        CustomerFactory(store_id=store.id, marketing_consent=True, last_visit_at=long_ago,
                        phone="+861065529988")
        CustomerFactory(store_id=store.id, marketing_consent=True,
                        last_visit_at=store.local_now() - timedelta(days=100))
        db.session.commit()
        return [c.id for c in ok]


def _start(app, world, **kw):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        manager = db.session.get(User, world.users["manager"])
        batch = messaging.start_batch(store, by=manager, spec={"dormant_min_days": 180},
                                      body=kw.pop("body", BODY), **kw)
        db.session.commit()
        return batch.id


def test_skips_are_counted_before_sending_and_only_the_rest_is_queued(app, world, dormant):
    batch_id = _start(app, world)
    with app.app_context():
        batch = db.session.get(MessageBatch, batch_id)
        # 4 ok + 2 dnc + 3 no consent + 1 landline + the world's 2 (no consent) = 12
        assert (batch.total, batch.skipped_do_not_contact, batch.skipped_no_consent,
                batch.skipped_no_phone, batch.to_send) == (12, 2, 5, 1, 4)
        assert db.session.scalar(select(func.count(OutboundMessage.id))) == 0  # a draft
        messaging.confirm_batch(batch, by=db.session.get(User, world.users["manager"]),
                                background=False)
        db.session.expire_all()
        batch = db.session.get(MessageBatch, batch_id)
        assert batch.status == "done" and batch.queued == 4
        messages = db.session.scalars(select(OutboundMessage)).all()
        assert sorted(m.customer_id for m in messages) == sorted(dormant)
        # her beautician sends it, else the manager who made the batch; signed by the sender
        by_customer = {m.customer_id: m for m in messages}
        b1 = db.session.get(User, world.users["beautician1"])
        assert by_customer[dormant[0]].staff_id == b1.id
        assert by_customer[dormant[0]].body.endswith("—" + b1.display_name)
        assert by_customer[dormant[3]].staff_id == world.users["manager"]
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "bulk_message"))
        assert event.user_id == world.users["manager"]
        assert event.detail["count"] == 4 and event.detail["segment"] == {"dormant_min_days": 180}
        # confirming again queues nothing more
        messaging.confirm_batch(batch, background=False)
        assert send_batch(batch_id) is None
        assert db.session.scalar(select(func.count(OutboundMessage.id))) == 4


def test_confirmation_screen_shows_the_counts(app, world, dormant, login):
    manager = login("manager")
    r = manager.post("/manager/bulk", data={"dormant_min_days": "180", "key": "all",
                                            "body": BODY}, headers=EN)
    assert r.status_code == 302
    page = manager.get(r.headers["Location"], headers=EN).get_data(as_text=True)
    for label, n in (("To send", 4), ("Skipped: do not contact", 2),
                     ("Skipped: no marketing consent", 5)):
        assert f"<dt>{label}</dt><dd>" in page and (f"<strong>{n}</strong>" in page
                                                   or f"{label}</dt><dd>{n}<" in page)
    assert "Send to 4 customers" in page
    count = manager.get("/manager/bulk/count?dormant_min_days=180").json
    assert (count["total"], count["to_send"], count["do_not_contact"], count["no_consent"]) == \
        (12, 4, 2, 5)
    batch_id = int(r.headers["Location"].rsplit("/", 1)[-1])
    assert manager.post(f"/manager/bulk/{batch_id}/confirm").status_code == 302
    with app.app_context():
        from kq.extensions import queue

        assert queue.wait()  # without Redis the job runs in a thread the request started
        assert db.session.get(MessageBatch, batch_id).status == "done"
    assert login("beautician1").get("/manager/bulk").status_code == 403


def test_a_text_over_the_limit_for_the_segments_longest_name_is_refused(app, world, dormant):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        CustomerFactory(store_id=store.id, greeting_name="司马小姐姐姐姐", marketing_consent=True,
                        last_visit_at=store.local_now() - timedelta(days=300))
        db.session.commit()
        manager = db.session.get(User, world.users["manager"])
        body = "{greeting}" + "好" * (70 - 7 - 1 - len(manager.display_name) + 1) + "—{staff}"
        with pytest.raises(ServiceError) as refused:
            messaging.start_batch(store, by=manager, spec={"dormant_min_days": 180}, body=body)
        assert refused.value.code == "too_long"
        assert refused.value.params["example"] == "司马小姐姐姐姐"
        db.session.rollback()
        # the same text to the recently-dormant segment, where she is not, fits
        batch = messaging.start_batch(store, by=manager,
                                      spec={"dormant_max_days": 150}, body=body)
        assert batch.total == 1


def test_outbox_sms_link_mark_sent_logs_one_contact(app, world, dormant, login):
    batch_id = _start(app, world)
    with app.app_context():
        messaging.confirm_batch(db.session.get(MessageBatch, batch_id), background=False)
        mine = db.session.scalars(select(OutboundMessage).where(
            OutboundMessage.staff_id == world.users["beautician1"])).all()
        theirs = db.session.scalar(select(OutboundMessage).where(
            OutboundMessage.staff_id == world.users["beautician2"]))
        store = db.session.get(Store, world.store1)
        quiet = messaging.in_quiet_hours(store)
    assert len(mine) == 2
    b1 = login("beautician1")
    page = b1.get("/calls/outbox", headers=EN).get_data(as_text=True)
    assert "2 waiting" in page
    if quiet:
        assert "wait until 09:00" in page and "sms:" not in page
    else:
        assert "sms:138" in page and "?&amp;body=" in page
    # her colleague's message is not hers to mark
    assert b1.post(f"/calls/outbox/{theirs.id}/sent").status_code == 404
    assert b1.post(f"/calls/outbox/{mine[0].id}/sent").status_code == 302
    assert b1.post(f"/calls/outbox/{mine[0].id}/sent").status_code == 302  # a double tap
    with app.app_context():
        contacts = db.session.scalars(select(Contact).where(
            Contact.customer_id == mine[0].customer_id)).all()
        assert len(contacts) == 1 and contacts[0].channel == "sms"
        message = db.session.get(OutboundMessage, mine[0].id)
        assert message.status == "sent" and message.contact_id == contacts[0].id
        assert db.session.get(Customer, mine[0].customer_id).last_contact_at is not None
        assert db.session.get(MessageBatch, batch_id).sent == 1
    assert "1 waiting" in b1.get("/calls/outbox", headers=EN).get_data(as_text=True)
    # the manager sees each staff member's outbox
    manager_page = login("manager").get("/calls/outbox", headers=EN).get_data(as_text=True)
    assert "1 waiting" in manager_page  # her own: the customer nobody looks after


@pytest.mark.parametrize("hhmm,quiet", [((20, 59), False), ((21, 0), True), ((8, 59), True),
                                        ((9, 0), False), ((0, 0), True), ((12, 0), False)])
def test_quiet_hours_boundaries(app, world, hhmm, quiet):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        moment = _at(store, 2026, 3, 10, *hhmm)
        assert messaging.in_quiet_hours(store, moment) is quiet
        until = messaging.quiet_until(store, moment)
        if quiet:
            day = 10 if hhmm[0] < 9 else 11
            assert until == _at(store, 2026, 3, day, 9, 0)
        else:
            assert until is None


class CountingProvider:
    """Counts sends per message. die_inside: after `die_after` sends, the next one is handed
    over and the worker is killed before the answer is stored."""

    name, sends = "counting", True

    def __init__(self, die_after=None, die_inside=False):
        self.calls = []
        self.die_after = die_after
        self.die_inside = die_inside

    def send(self, message, phone):
        self.calls.append(message.id)
        if self.die_inside and len(self.calls) == self.die_after + 1:
            raise KeyboardInterrupt("killed while the gateway had it")
        return providers.Result("ok", ref=f"r{message.id}")


def killed_between_messages(moment, after_sends):
    """A clock for the job that kills it at the start of message after_sends + 1 (the job reads
    the time once before each message and once for each sent_at)."""
    reads = []

    def now():
        reads.append(1)
        if len(reads) == 2 * after_sends + 1:
            raise KeyboardInterrupt("killed between two messages")
        return moment

    return now


def _many(app, world, n):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        when = store.local_now() - timedelta(days=200)
        for _ in range(n):
            CustomerFactory(store_id=store.id, marketing_consent=True, last_visit_at=when)
        db.session.commit()


def _confirmed(app, world, provider="yunpian"):
    batch_id = _start(app, world, provider=provider)
    with app.app_context():
        batch = db.session.get(MessageBatch, batch_id)
        batch.status = "confirmed"  # confirmed; the job is run by the test
        db.session.commit()
    return batch_id


@pytest.mark.parametrize("die_inside", [False, True])
def test_a_killed_job_rerun_sends_each_message_once(app, world, die_inside):
    _many(app, world, 10)
    batch_id = _confirmed(app, world)
    noon = lambda: _at(db.session.get(Store, world.store1), 2026, 3, 10, 12, 0)  # noqa: E731
    with app.app_context():
        first = CountingProvider(die_after=4, die_inside=die_inside)
        clock = noon if die_inside else killed_between_messages(noon(), 4)
        with pytest.raises(KeyboardInterrupt):
            send_batch(batch_id, now_fn=clock, provider=first)
        assert len(first.calls) == (5 if die_inside else 4)
        db.session.rollback()
        second = CountingProvider()
        send_batch(batch_id, now_fn=noon, provider=second)
        every = first.calls + second.calls
        assert len(every) == len(set(every))  # nobody texted twice
        sent = db.session.scalar(select(func.count(OutboundMessage.id)).where(
            OutboundMessage.status == "sent"))
        batch = db.session.get(MessageBatch, batch_id)
        assert batch.status == "done"
        if die_inside:
            # the one in flight when it died is not sent again: failed, to be looked at
            assert len(every) == 10 and sent == 9 and batch.failed == 1
        else:
            assert len(every) == 10 and sent == 10 and batch.sent == 10


def test_the_gateway_waits_for_nine_in_the_morning(app, world):
    _many(app, world, 3)
    batch_id = _confirmed(app, world)
    with app.app_context():
        store = db.session.get(Store, world.store1)
        provider = CountingProvider()
        send_batch(batch_id, now_fn=lambda: _at(store, 2026, 3, 10, 21, 0), provider=provider)
        batch = db.session.get(MessageBatch, batch_id)
        assert provider.calls == [] and batch.status == "running"
        assert batch.not_before == _at(store, 2026, 3, 11, 9, 0)
        assert batch.queued == 3  # rendered and waiting
        send_batch(batch_id, now_fn=lambda: _at(store, 2026, 3, 11, 8, 59), provider=provider)
        assert provider.calls == []
        send_batch(batch_id, now_fn=lambda: _at(store, 2026, 3, 11, 9, 0), provider=provider)
        assert len(provider.calls) == 3
        assert db.session.get(MessageBatch, batch_id).status == "done"


class FakeYunpian(BaseHTTPRequestHandler):
    """A local stand-in for sms.yunpian.com: answers from a script per mobile."""

    script = {}  # mobile → list of (http status, json answer), one per call
    received = []

    def do_POST(self):  # noqa: N802
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        mobile = form["mobile"][0]
        type(self).received.append((mobile, form["apikey"][0], form["text"][0]))
        answers = type(self).script.get(mobile) or [(200, {"code": 0, "sid": 1})]
        status, answer = answers.pop(0) if len(answers) > 1 else answers[0]
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_yunpian(monkeypatch):
    FakeYunpian.script, FakeYunpian.received = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeYunpian)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("KQ_SMS_PROVIDER", "yunpian")
    monkeypatch.setenv("KQ_YUNPIAN_APIKEY", "test-key")
    monkeypatch.setenv("KQ_YUNPIAN_URL",
                       f"http://127.0.0.1:{server.server_address[1]}/v2/sms/single_send.json")
    yield FakeYunpian
    server.shutdown()


def test_yunpian_success_rate_limit_and_failure(app, world, fake_yunpian):
    _many(app, world, 4)
    with app.app_context():
        phones = [c.phone[3:] for c in db.session.scalars(select(Customer).where(
            Customer.marketing_consent.is_(True)).order_by(Customer.id))]
    rate_limited, server_error, refused, fine = phones
    fake_yunpian.script = {
        rate_limited: [(200, {"code": 33, "msg": "超过频率"}), (200, {"code": 0, "sid": 7})],
        server_error: [(502, {}), (200, {"code": 0, "sid": 8})],
        refused: [(200, {"code": 2, "msg": "请求参数格式错误"})],
    }
    batch_id = _start(app, world)  # provider from the environment
    with app.app_context():
        store = db.session.get(Store, world.store1)
        batch = db.session.get(MessageBatch, batch_id)
        assert batch.provider == "yunpian"
        batch.status = "confirmed"
        db.session.commit()
        noon = _at(store, 2026, 3, 10, 12, 0)
        send_batch(batch_id, now_fn=lambda: noon)
        by_phone = {m.customer.phone[3:]: m for m in db.session.scalars(select(OutboundMessage))}
        assert by_phone[fine].status == "sent" and by_phone[fine].provider_ref == "1"
        assert by_phone[refused].status == "failed" and "2:" in by_phone[refused].last_error
        for later in (rate_limited, server_error):
            assert by_phone[later].status == "queued" and by_phone[later].attempts == 1
        assert db.session.get(MessageBatch, batch_id).status == "running"  # retries pending
        # a rerun before the retry time sends nothing more
        send_batch(batch_id, now_fn=lambda: noon + timedelta(seconds=30))
        assert len(fake_yunpian.received) == 4
        send_batch(batch_id, now_fn=lambda: noon + timedelta(minutes=2))
        db.session.expire_all()
        batch = db.session.get(MessageBatch, batch_id)
        assert batch.status == "done" and batch.sent == 3 and batch.failed == 1
        # each number got one text that the gateway accepted; the refused one was not retried
        mobiles = [m for m, _key, _text in fake_yunpian.received]
        assert mobiles.count(fine) == 1 and mobiles.count(refused) == 1
        assert mobiles.count(rate_limited) == 2 and mobiles.count(server_error) == 2
        assert all(key == "test-key" for _m, key, _t in fake_yunpian.received)
        assert fake_yunpian.received[0][2].startswith("梁小姐您好")
        # and a rerun after the end sends nothing
        batch.status = "confirmed"
        db.session.commit()
        send_batch(batch_id, now_fn=lambda: noon + timedelta(hours=1))
        assert len(fake_yunpian.received) == 6


def test_yunpian_network_down_is_retried_later(app, world, monkeypatch):
    monkeypatch.setenv("KQ_YUNPIAN_APIKEY", "k")
    monkeypatch.setenv("KQ_YUNPIAN_URL", "http://127.0.0.1:9/nothing-listens-here")
    provider = providers.get_provider("yunpian")

    class M:
        id, body = 1, "x"

    assert provider.send(M(), "13800000000").status == "retry"
    monkeypatch.delenv("KQ_YUNPIAN_APIKEY")
    with pytest.raises(RuntimeError):
        providers.get_provider("yunpian")


def test_a_closed_account_hands_her_customers_messages_to_the_sender(app, world, dormant):
    with app.app_context():
        db.session.get(User, world.users["beautician2"]).active = False
        db.session.commit()
    batch_id = _start(app, world)
    with app.app_context():
        messaging.confirm_batch(db.session.get(MessageBatch, batch_id), background=False)
        staff = {m.customer_id: m.staff_id for m in db.session.scalars(select(OutboundMessage))}
        assert staff[dormant[2]] == world.users["manager"]
        assert staff[dormant[0]] == world.users["beautician1"]


def test_the_bulk_form_refuses_a_bad_text_or_segment_with_422(app, world, dormant, login):
    manager = login("manager")
    unsigned = manager.post("/manager/bulk", data={"dormant_min_days": "180",
                                                   "body": "{greeting}您好"}, headers=EN)
    assert unsigned.status_code == 422 and "include {staff}" in unsigned.get_data(as_text=True)
    bad = manager.post("/manager/bulk", data={"dormant_min_days": "200",
                                              "dormant_max_days": "100", "body": BODY},
                       headers=EN)
    assert bad.status_code == 422
    assert "must not be below the least" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(MessageBatch.id))) == 0
    assert manager.get("/manager/bulk/count?dormant_min_days=x").status_code == 422


@pytest.mark.parametrize("quiet", [True, False])
def test_outbox_in_quiet_hours_no_sms_link_but_sent_may_be_marked(app, world, dormant, login,
                                                                  monkeypatch, quiet):
    """In quiet hours the outbox opens no SMS app (the Message button waits until 09:00), but
    Sent stays a plain form she may submit: she may have sent it before 21:00 and be marking it
    late; the server accepts it (a contact, once) whatever the hour."""
    batch_id = _start(app, world)
    with app.app_context():
        messaging.confirm_batch(db.session.get(MessageBatch, batch_id), background=False)
        mine = db.session.scalars(select(OutboundMessage).where(
            OutboundMessage.staff_id == world.users["beautician1"])
            .order_by(OutboundMessage.id)).all()
    monkeypatch.setattr(messaging, "in_quiet_hours", lambda store, moment=None: quiet)
    b1 = login("beautician1")
    page = b1.get("/calls/outbox", headers=EN).get_data(as_text=True)
    sent_buttons = page.count(">Sent</button>")
    assert sent_buttons == 2 and "disabled" not in page.split('id="m')[1].split("Skip")[0] \
        .split("/sent")[1]
    if quiet:
        assert "sms:" not in page and "Wait until 09:00" in page
        assert page.count("Sent it before 21:00? Mark it sent.") == 1
    else:
        assert "sms:138" in page and "Sent it before 21:00?" not in page
    assert b1.post(f"/calls/outbox/{mine[0].id}/sent").status_code == 302
    with app.app_context():
        assert db.session.get(OutboundMessage, mine[0].id).status == "sent"
        assert db.session.scalar(select(func.count(Contact.id)).where(
            Contact.customer_id == mine[0].customer_id)) == 1
