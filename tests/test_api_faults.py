"""POST /api/contacts under faults: the same entry sent at once from several connections, and
every kind of bad input. One answer per outcome: 201 stored, 200 replayed, 404 not hers or not
there, 422 bad input — never a 500, never a second row."""
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest

from kq.extensions import db
from kq.models import Contact, Customer, Store, Task
from kq.services.checklist import generate_day
from tests.helpers import at, items, load

RACERS = 4
ROUNDS = 8


def _dormant_item(app, world):
    """'mine' dormant with a red flag today: logging her closes an item (the open-items step)."""
    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        load(Customer, world.customers["mine"]).last_visit_at = at(today - timedelta(days=45))
        db.session.commit()
        generate_day(store, today)
        return items(day=today, kind="red_flag", customer_id=world.customers["mine"])[0].id


def _count(app, model=Contact):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(model.id)))


@pytest.fixture
def app(make_app):
    """Errors answer as in production (a 500 page), not raised into the test."""
    return make_app(PROPAGATE_EXCEPTIONS=False)


def test_racing_first_sends_of_one_client_id_store_once_and_answer_201_then_200(app, login,
                                                                                world):
    task_id = _dormant_item(app, world)
    clients = [login("beautician1") for _ in range(RACERS)]
    outcomes = []
    for round_ in range(ROUNDS):
        body = {"customer_id": world.customers["mine"], "channel": "phone",
                "outcome": "no_answer", "client_id": str(uuid.uuid4()),
                "notes": f"round {round_}"}
        if round_ == 0:
            body["task_id"] = task_id
        if round_ % 2:
            body["next_follow_up_on"] = (
                _today(app, world) + timedelta(days=3 + round_)).isoformat()
        start = threading.Barrier(RACERS)
        answers = [None] * RACERS

        def send(i, body=body, start=start, answers=answers):
            start.wait(timeout=30)
            response = clients[i].post("/api/contacts", json=body)
            answers[i] = (response.status_code, response.get_json(silent=True))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(status for status, _json in answers)
        outcomes.append(statuses)
        assert statuses == [200] * (RACERS - 1) + [201], (round_, answers)
        ids = {json["contact"]["id"] for _status, json in answers}
        assert len(ids) == 1, answers
        assert [json["replayed"] for status, json in answers if status == 201] == [False]
        with app.app_context():
            stored = db.session.scalars(db.select(Contact).where(
                Contact.client_id == body["client_id"])).all()
            assert [c.id for c in stored] == list(ids)
            assert stored[0].notes == body["notes"]
    assert _count(app) == ROUNDS
    with app.app_context():
        assert load(Task, task_id).status == "done"
        # Each follow-up day got its one item, not one per racer.
        follow_ups = Counter(t.due_on for t in items(kind="follow_up"))
        assert sorted(follow_ups.values()) == [1] * (ROUNDS // 2)


def _today(app, world):
    with app.app_context():
        return load(Store, world.store1).today()


def _body(world, **fields):
    body = {"customer_id": world.customers["mine"], "channel": "phone", "outcome": "reached",
            "client_id": str(uuid.uuid4())}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not _DROP}


_DROP = object()
HUGE = 2 ** 63
BAD_FIELDS = [
    ("customer_id", HUGE), ("customer_id", 2 ** 64 + 5), ("customer_id", -1),
    ("customer_id", 0), ("customer_id", "abc"), ("customer_id", 1.5), ("customer_id", True),
    ("customer_id", [1]), ("customer_id", {"id": 1}), ("customer_id", "9" * 5000),
    ("customer_id", _DROP), ("customer_id", None), ("customer_id", "1e3"),
    ("task_id", HUGE), ("task_id", -5), ("task_id", "x"), ("task_id", [HUGE]),
    ("notes", "她说\x00好"), ("notes", "x" * 1_000_000), ("suggestions", "\x00"),
    ("notes", ["list", "of", "notes"]), ("notes", 12),
    ("client_id", "a\x00b"), ("client_id", "z" * 10_000), ("client_id", 123),
    ("client_id", "not-a-uuid"), ("client_id", {"uuid": "x"}),
    ("channel", 123), ("channel", "\x00"), ("channel", ["phone"]), ("outcome", None),
    ("outcome", "reached\x00"), ("satisfaction", HUGE), ("satisfaction", -HUGE),
    ("satisfaction", 3.5), ("satisfaction", "五"), ("satisfaction", True),
    ("next_follow_up_on", "9999-12-31"), ("next_follow_up_on", "0001-01-01"),
    ("next_follow_up_on", "2026-02-30"), ("next_follow_up_on", 20270101),
    ("next_follow_up_on", "x" * 100_000),
    ("contacted_at", "x" * 1000), ("contacted_at", 12),
]


def _chinese(text):
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _refused(response):
    """422 with a message in the user's language (Chinese by default), nothing else."""
    assert response.status_code == 422, (response.status_code, response.get_data()[:300])
    body = response.get_json()
    texts = [body.get("message") or ""] + [m for ms in (body.get("errors") or {}).values()
                                             for m in ms]
    assert any(_chinese(t) for t in texts), body
    return body


@pytest.mark.parametrize("field,value", BAD_FIELDS, ids=[
    f"{f}={str(v)[:12]!r}" if v is not _DROP else f"{f}=missing" for f, v in BAD_FIELDS])
def test_bad_field_is_refused_422_with_a_translated_message(app, login, world, field, value):
    client = login("beautician1")
    response = client.post("/api/contacts", json=_body(world, **{field: value}))
    body = _refused(response)
    if body.get("errors"):
        assert field in body["errors"], body
    assert _count(app) == 0


@pytest.mark.parametrize("raw", [
    b'{"customer_id": 1, "channel": "phone", "outcome": "reached", "notes": "\\ud800"}',
    b'{"customer_id": 1, "channel": "phone", "outcome": "reached", "suggestions": "a\\udfffb"}',
    b'{"customer_id": 1, "channel": "\\ud83d", "outcome": "reached"}',
    b'{"customer_id": 1, "channel": "phone", "outcome": "reached", "client_id": "\\udc00"}',
    b'{"customer_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"a": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001,
    b"[" * 200_000,
    b'{"customer_id": 1, "notes": "\xff\xfe"}',
    b'{"customer_id": 1e999999, "channel": "phone", "outcome": "reached"}',
    b'{"customer_id": NaN, "channel": "phone", "outcome": "reached"}',
    b'{"customer_id": ' + b"9" * 5000 + b', "channel": "phone", "outcome": "reached"}',
    b"not json", b"", b"[1, 2]", b'"a string"', b"null",
], ids=["lone-high-surrogate", "lone-low-surrogate", "surrogate-channel", "surrogate-client-id",
        "deep-arrays", "deep-objects", "unclosed", "invalid-utf8", "huge-float", "nan",
        "5000-digit-int", "not-json", "empty", "a-list", "a-string", "null"])
def test_malformed_body_is_refused_422_with_a_translated_message(app, login, world, raw):
    client = login("beautician1")
    raw = raw.replace(b'"customer_id": 1,', f'"customer_id": {world.customers["mine"]},'.encode())
    response = client.post("/api/contacts", data=raw, content_type="application/json")
    _refused(response)
    assert _count(app) == 0


def test_an_oversized_body_is_refused_without_reading_it_all(app, login, world):
    client = login("beautician1")
    body = _body(world, padding="p" * (2 * 1024 * 1024))
    _refused(client.post("/api/contacts", json=body))
    assert _count(app) == 0


def test_unknown_customer_or_item_is_404_and_a_good_entry_after_bad_ones_is_stored(app, login,
                                                                                   world):
    task_id = _dormant_item(app, world)
    client = login("beautician1")
    for body in (_body(world, customer_id=world.customers["mine"] + 10_000),
                 _body(world, customer_id=world.customers["other_store"]),
                 _body(world, task_id=task_id + 10_000)):
        response = client.post("/api/contacts", json=body)
        assert response.status_code == 404, body
        assert _chinese(response.get_json()["message"])
    # A colleague's customer is in the store but not hers: refused for good (policy).
    for body in (_body(world, customer_id=world.customers["colleague"]),
                 _body(world, customer_id=world.customers["colleague"], task_id=task_id)):
        response = client.post("/api/contacts", json=body)
        assert response.status_code == 403, body
        assert _chinese(response.get_json()["message"])
    good = _body(world, task_id=task_id, notes="她说下周来")
    assert client.post("/api/contacts", json=good).status_code == 201
    assert client.post("/api/contacts", json=good).status_code == 200
    assert _count(app) == 1


def test_a_replay_is_200_even_when_its_follow_up_day_has_since_passed(app, login, world):
    client = login("beautician1")
    tomorrow = _today(app, world) + timedelta(days=1)
    body = _body(world, next_follow_up_on=tomorrow.isoformat())
    first = client.post("/api/contacts", json=body)
    assert first.status_code == 201
    with app.app_context():  # a day later, the phone sends the same entry again
        contact = db.session.scalar(db.select(Contact))
        contact.next_follow_up_on = tomorrow - timedelta(days=1)
        db.session.commit()
    again = client.post("/api/contacts", json=body)
    assert again.status_code == 200 and again.get_json()["contact"]["id"] == \
        first.get_json()["contact"]["id"]


def test_the_page_form_refuses_a_nul_in_the_note_with_422(app, login, world):
    client = login("beautician1")
    response = client.post("/calls/log", data={
        "customer_id": world.customers["mine"], "channel": "phone", "outcome": "reached",
        "client_id": str(uuid.uuid4()), "notes": "a\x00b"}, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert _count(app) == 0
    nul_id = client.post("/calls/log", data={
        "customer_id": world.customers["mine"], "channel": "phone", "outcome": "reached",
        "client_id": "a\x00b"})
    assert nul_id.status_code == 422
    assert _count(app) == 0


@pytest.mark.parametrize("ident", [str(2 ** 31), str(HUGE), "9" * 30])
def test_pages_answer_404_for_ids_no_row_can_have(app, login, world, ident):
    client = login("beautician1")
    assert client.get(f"/customers/{ident}").status_code == 404
    assert client.get(f"/calls/log?customer_id={ident}").status_code == 404
    assert client.post("/calls/log", data={"customer_id": ident, "channel": "phone",
                                           "outcome": "reached"}).status_code == 404
    assert _count(app) == 0
