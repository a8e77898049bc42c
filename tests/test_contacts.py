"""Logging outcomes: two taps, follow-ups, do-not-contact, replays, and who may log what."""
import re
import uuid
from datetime import timedelta

from kq.extensions import db
from kq.models import Contact, Customer, Store, Task
from kq.services.checklist import generate_day
from tests.helpers import at, items, load, sms_body


def _red_flag_world(app, world):
    """Make 'mine' dormant and generate today's list; returns (today, task id)."""
    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        customer = load(Customer, world.customers["mine"])
        customer.last_visit_at = at(today - timedelta(days=45))
        db.session.commit()
        generate_day(store, today)
        task = items(day=today, kind="red_flag", customer_id=customer.id)[0]
        return today, task.id


def _counts(page):
    done = re.search(r"<strong data-done>(\d+)</strong>", page).group(1)
    total = re.search(r"<span data-total>(\d+)</span>", page).group(1)
    return int(done), int(total)


def _form(world, task_id=None, **extra):
    data = {"customer_id": world.customers["mine"], "channel": "phone", "outcome": "no_answer",
            "client_id": str(uuid.uuid4()), "next": "/tasks/today"}
    if task_id:
        data["task_id"] = task_id
    data.update(extra)
    return data


def test_two_taps_log_closes_the_item_and_resets_the_quiet_clock(app, login, world):
    today, task_id = _red_flag_world(app, world)
    client = login("beautician1")
    assert _counts(client.get("/tasks/today").get_data(as_text=True)) == (0, 1)
    response = client.post("/calls/log", data=_form(world, task_id))
    assert response.status_code == 302 and response.headers["Location"] == "/tasks/today"
    with app.app_context():
        task = load(Task, task_id)
        assert task.status == "done" and task.done_at is not None
        contact = db.session.scalar(db.select(Contact))
        assert (contact.channel, contact.outcome, contact.task_id) == ("phone", "no_answer", task_id)
        customer = load(Customer, world.customers["mine"])
        assert customer.last_contact_at == contact.contacted_at
        store = load(Store, world.store1)
        generate_day(store, today + timedelta(days=1))
        assert items(day=today + timedelta(days=1), kind="red_flag",
                     customer_id=customer.id) == []
    assert _counts(client.get("/tasks/today").get_data(as_text=True)) == (1, 1)


def test_follow_up_date_puts_an_item_on_that_day(app, login, world):
    today, task_id = _red_flag_world(app, world)
    client = login("beautician1")
    later = today + timedelta(days=3)
    client.post("/calls/log", data=_form(world, task_id, outcome="reached",
                                         next_follow_up_on=later.isoformat(), satisfaction="4",
                                         notes="下周三再约"))
    with app.app_context():
        follow = items(day=later, kind="follow_up")
        assert len(follow) == 1 and follow[0].staff_id == world.users["beautician1"]
        contact = db.session.scalar(db.select(Contact))
        assert contact.satisfaction == 4 and contact.notes == "下周三再约"


def test_bad_input_is_refused_with_a_message_and_nothing_written(app, login, world):
    today, task_id = _red_flag_world(app, world)
    client = login("beautician1")
    past = client.post("/calls/log", data=_form(world, task_id, next_follow_up_on=today.isoformat()),
                       headers={"Accept-Language": "en"})
    assert past.status_code == 422
    assert "must be after today" in past.get_data(as_text=True)
    bad = client.post("/calls/log", data=_form(world, task_id, outcome="maybe", satisfaction="9",
                                               notes="x" * 1001))
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "请选择联系结果。" in text and "满意度是 1 到 5 分。" in text
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Contact.id))) == 0
        assert load(Task, task_id).status == "open"


def test_do_not_contact_takes_her_off_future_lists(app, login, world):
    today, task_id = _red_flag_world(app, world)
    client = login("beautician1")
    client.post("/calls/log", data=_form(world, task_id, outcome="do_not_contact"))
    with app.app_context():
        customer = load(Customer, world.customers["mine"])
        assert customer.do_not_contact and customer.status(load(Store, world.store1)) == \
            "do_not_contact"
        generate_day(load(Store, world.store1), today + timedelta(days=1))
        assert items(day=today + timedelta(days=1), customer_id=customer.id) == []


def test_same_client_id_twice_stores_one_contact(app, login, world):
    _today, task_id = _red_flag_world(app, world)
    client = login("beautician1")
    data = _form(world, task_id)
    assert client.post("/calls/log", data=data).status_code == 302
    assert client.post("/calls/log", data=data).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Contact.id))) == 1


def test_json_api_answers_201_then_200_with_the_original(app, login, world):
    _today, task_id = _red_flag_world(app, world)
    client = login("beautician1")
    body = _form(world, task_id)
    body["customer_id"] = int(body["customer_id"])
    first = client.post("/api/contacts", json=body)
    assert first.status_code == 201 and first.json["replayed"] is False
    again = client.post("/api/contacts", json=body)
    assert again.status_code == 200 and again.json["replayed"] is True
    assert again.json["contact"]["id"] == first.json["contact"]["id"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Contact.id))) == 1


def test_a_rating_is_kept_only_when_she_spoke_with_her(app, login, world):
    """Finding 2: a "no answer" was stored with a 4/5 satisfaction and suggestions. A
    satisfaction and suggestions come from a customer she spoke with (reached, booked); for any
    other outcome they are dropped, not refused (an entry queued offline by an older page must
    still be stored: the attempt is the fact), and the note stays."""
    _today, task_id = _red_flag_world(app, world)
    client = login("beautician1")
    for outcome in ("no_answer", "wrong_number", "declined", "do_not_contact"):
        body = {**_form(world, outcome=outcome), "satisfaction": 4, "suggestions": "多做面部",
                "notes": f"试过 {outcome}"}
        body["customer_id"] = int(body["customer_id"])
        assert client.post("/api/contacts", json=body).status_code == 201
    page = client.post("/calls/log", data=_form(world, task_id, outcome="no_answer",
                                                satisfaction="5", suggestions="更早开门"))
    assert page.status_code == 302
    for outcome in ("reached", "booked"):
        assert client.post("/calls/log", data=_form(world, outcome=outcome, satisfaction="4",
                                                    suggestions="很好")).status_code == 302
    with app.app_context():
        stored = {(c.outcome, c.satisfaction, c.suggestions, c.notes)
                  for c in db.session.scalars(db.select(Contact))}
    assert stored == {("no_answer", None, None, "试过 no_answer"),
                      ("wrong_number", None, None, "试过 wrong_number"),
                      ("declined", None, None, "试过 declined"),
                      ("do_not_contact", None, None, "试过 do_not_contact"),
                      ("no_answer", None, None, None),
                      ("reached", 4, "很好", None), ("booked", 4, "很好", None)}


def test_json_api_422_with_field_errors_and_for_non_json(app, login, world):
    client = login("beautician1")
    bad = client.post("/api/contacts", json={"customer_id": world.customers["mine"],
                                             "channel": "pigeon", "outcome": "reached",
                                             "satisfaction": 9, "client_id": str(uuid.uuid4())},
                      headers={"Accept-Language": "en"})
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"channel", "satisfaction"}
    assert "1 to 5" in bad.json["errors"]["satisfaction"][0]
    assert client.post("/api/contacts", data="x", content_type="text/plain").status_code == 422
    assert client.post("/api/contacts", json=[1, 2]).status_code == 422
    nulls = client.post("/api/contacts", json={"customer_id": None, "channel": None})
    assert nulls.status_code == 422
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Contact.id))) == 0


def test_api_needs_the_csrf_token(make_app, world):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "beautician1", "password": "secret-pass-1",
                                "csrf_token": token})
    body = {"customer_id": world.customers["mine"], "channel": "phone", "outcome": "reached",
            "client_id": str(uuid.uuid4())}
    assert client.post("/api/contacts", json=body).status_code == 400
    fresh = client.get("/api/session").json["csrf_token"]
    assert client.post("/api/contacts", json=body, headers={"X-CSRFToken": fresh}).status_code == 201


def test_no_logging_for_a_colleagues_or_another_stores_customer(app, login, world):
    _today, task_id = _red_flag_world(app, world)
    client = login("beautician2")
    # beautician2 may not close beautician1's item, nor log for her customer: a customer of
    # the store who is not hers is refused (403, the policy); another store's is not there.
    assert client.post("/calls/log", data=_form(world, task_id)).status_code == 403
    other = _form(world)
    other["customer_id"] = world.customers["other_store"]
    assert client.post("/calls/log", data=other).status_code == 404
    api = client.post("/api/contacts", json={**_form(world), "customer_id": world.customers["mine"]})
    assert api.status_code == 403
    assert client.get(f"/calls/log?customer_id={world.customers['mine']}").status_code == 403
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Contact.id))) == 0
    # The manager may log for any customer of her store.
    manager = login("manager")
    assert manager.post("/calls/log", data=_form(world)).status_code == 302


def test_checklist_page_callbacks_before_red_flags_with_call_and_message_links(app, login,
                                                                             world):
    today, _task_id = _red_flag_world(app, world)
    with app.app_context():
        from kq.services.visits import record_visit
        from kq.models import User

        other = Customer(store_id=world.store1, name="张敏", surname="张", title="女士",
                         greeting_name="张女士", phone="+8613611112222",
                         assigned_staff_id=world.users["beautician1"])
        db.session.add(other)
        db.session.flush()
        record_visit(other, visited_at=at(today - timedelta(days=1), 15),
                     staff=db.session.get(User, world.users["beautician1"]))
        db.session.execute(db.delete(Task))  # regenerate with the new visit
        db.session.execute(db.text("DELETE FROM checklist_runs"))
        db.session.commit()
    page = login("beautician1").get("/tasks/today").get_data(as_text=True)
    assert page.index("张女士") < page.index("梁小姐")  # what can't wait before red flags
    assert 'href="tel:13812345678"' in page
    assert 'href="sms:13812345678"' in page  # the page's script adds the text (app.js)
    body = sms_body(page, "13812345678")
    with app.app_context():
        from kq.models import User

        signature = db.session.get(User, world.users["beautician1"]).display_name
    assert body.startswith("梁小姐") and body.endswith("—" + signature) and len(body) <= 70


def test_past_days_viewable_future_not_and_only_her_own(app, login, world):
    today, _task_id = _red_flag_world(app, world)
    mine = login("beautician1")
    assert mine.get(f"/tasks/{(today - timedelta(days=3)).isoformat()}").status_code == 200
    assert mine.get(f"/tasks/{(today + timedelta(days=1)).isoformat()}").status_code == 404
    assert mine.get("/tasks/not-a-date").status_code == 404
    theirs = login("beautician2").get("/tasks/today").get_data(as_text=True)
    assert "13812345678" not in theirs


def test_contact_log_filters(app, login, world):
    _today, task_id = _red_flag_world(app, world)
    b1 = login("beautician1")
    b1.post("/calls/log", data=_form(world, task_id, outcome="booked", channel="wechat_text"))
    b1.post("/calls/log", data=_form(world, outcome="no_answer"))
    page = b1.get("/calls/?period=today").get_data(as_text=True)
    assert page.count('class="row"') == 2
    assert b1.get("/calls/?outcome=booked").get_data(as_text=True).count('class="row"') == 1
    assert b1.get("/calls/?channel=sms").get_data(as_text=True).count('class="row"') == 0
    assert b1.get("/calls/?period=range&from=2020-01-01&to=2020-01-31").get_data(
        as_text=True).count('class="row"') == 0
    # Another beautician's log does not show hers; the manager can see everyone's.
    assert login("beautician2").get("/calls/").get_data(as_text=True).count('class="row"') == 0
    assert login("manager").get(f"/calls/?staff_id={world.users['beautician1']}").get_data(
        as_text=True).count('class="row"') == 2
