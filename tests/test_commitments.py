"""Points, promises and complaints: rules at their boundaries, the checklist items they put
on staff lists, and who may touch what."""
from datetime import timedelta

import pytest

from kq.extensions import db
from kq.models import (Complaint, ComplaintStep, Customer, Gift, GiftHandout, PointsEntry,
                       Promise, Store, User)
from kq.models.engagement import COMPLAINT_STEPS
from kq.services.checklist import generate_day
from kq.services.gifts import create_gift
from kq.services.visits import record_visit
from tests.helpers import items, load

EN = {"Accept-Language": "en"}


def _earn(world, amount_yuan=6000):
    customer = load(Customer, world.customers["mine"])
    store = customer.store
    record_visit(customer, visited_at=store.local_now() - timedelta(hours=1),
                 amount_fen=amount_yuan * 100, services="补水")
    return load(Customer, world.customers["mine"]).points_balance


def _redeem(client, customer_id, **fields):
    data = {"action": "redeem", "r-kind": "redeem_service", "r-item": "补水护理",
            "r-price": "150", "r-points": "100"}
    data.update({f"r-{k}": v for k, v in fields.items()})
    return client.post(f"/customers/{customer_id}/points", data=data, headers=EN)


# Points -------------------------------------------------------------------------------------

def test_points_are_earned_at_the_store_rate_and_redeemed_for_a_service(app, login, world):
    with app.app_context():
        assert _earn(world) == 300  # 6,000 CNY at 5%
    client = login("beautician1")
    response = _redeem(client, world.customers["mine"], points="100", price="100")
    assert response.status_code == 302
    with app.app_context():
        assert load(Customer, world.customers["mine"]).points_balance == 200
        entry = db.session.scalar(db.select(PointsEntry).where(PointsEntry.points < 0))
        assert (entry.points, entry.reason, entry.price_fen) == (-100, "redeem_service", 10000)
        assert entry.note == "补水护理" and entry.staff_id == world.users["beautician1"]
    page = client.get(f"/customers/{world.customers['mine']}/points", headers=EN)
    assert "Service paid with points" in page.get_data(as_text=True)


@pytest.mark.parametrize("fields,message", [
    ({"points": "301", "price": "1000"}, "She has only 300 points"),
    ({"points": "101", "price": "100"}, "1 point pays 1 CNY: at most 100 points"),
    ({"kind": "redeem_product", "points": "51", "price": "100"}, "at most half in points"),
    ({"points": "0"}, "more than 0"),
    ({"points": "-5"}, "more than 0"),
    ({"points": "lots"}, "Not a valid integer"),
    ({"price": "0"}, "Enter the price"),
    ({"kind": "gift"}, "Choose a service or a product"),
    ({"item": ""}, "Name the service or product"),
])
def test_redeeming_is_refused_at_each_edge(app, login, world, fields, message):
    with app.app_context():
        _earn(world)
    response = _redeem(login("beautician1"), world.customers["mine"], **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert load(Customer, world.customers["mine"]).points_balance == 300
        assert db.session.scalar(db.select(db.func.count(PointsEntry.id))) == 1


def test_product_may_be_paid_exactly_half_in_points(app, login, world):
    with app.app_context():
        _earn(world)
    response = _redeem(login("beautician1"), world.customers["mine"], kind="redeem_product",
                       points="50", price="100")
    assert response.status_code == 302
    with app.app_context():
        assert load(Customer, world.customers["mine"]).points_balance == 250


def test_manager_corrects_points_but_never_below_zero(app, login, world):
    with app.app_context():
        _earn(world, 1000)  # 50 points
    url = f"/customers/{world.customers['mine']}/points"
    manager = login("manager")
    response = manager.post(url, data={"action": "adjust", "a-adjust_points": "-51",
                                       "a-adjust_note": "录错"}, headers=EN)
    assert response.status_code == 422 and "She has only 50 points" in response.get_data(
        as_text=True)
    response = manager.post(url, data={"action": "adjust", "a-adjust_points": "-50"}, headers=EN)
    assert response.status_code == 422 and "Say why" in response.get_data(as_text=True)
    assert manager.post(url, data={"action": "adjust", "a-adjust_points": "-50",
                                   "a-adjust_note": "录错"}).status_code == 302
    with app.app_context():
        assert load(Customer, world.customers["mine"]).points_balance == 0
    assert login("beautician1").post(url, data={"action": "adjust", "a-adjust_points": "10",
                                                "a-adjust_note": "x"}).status_code == 403


def test_points_of_other_staff_and_stores_are_refused(app, login, world):
    beautician = login("beautician1")
    assert _redeem(beautician, world.customers["colleague"]).status_code == 403
    assert _redeem(beautician, world.customers["other_store"]).status_code == 404
    assert beautician.get(f"/customers/{world.customers['other_store']}/points").status_code \
        == 404


# Promises -----------------------------------------------------------------------------------

def test_promise_due_today_is_on_the_list_and_kept_ticks_it_off(app, login, world):
    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        generate_day(store, today)
    client = login("beautician1")
    url = f"/customers/{world.customers['mine']}/promises/new"
    response = client.post(url, data={"what": "留一份精华小样", "due_on": today.isoformat()})
    assert response.status_code == 302
    assert "Promise due: 留一份精华小样" in client.get("/tasks/today", headers=EN).get_data(
        as_text=True)
    with app.app_context():
        promise = db.session.scalar(db.select(Promise))
        assert promise.staff_id == world.users["beautician1"]
    response = client.post(f"/customers/{world.customers['mine']}/promises/{promise.id}",
                           data={"outcome": "fulfilled", "next": "today"})
    assert response.status_code == 302 and response.location.endswith("/tasks/today")
    with app.app_context():
        assert load(Promise, promise.id).status == "fulfilled"
        assert items(kind="promise_due")[0].status == "done"


def test_promise_in_the_future_arrives_on_its_day(app, login, world):
    with app.app_context():
        today = load(Store, world.store1).today()
    due = today + timedelta(days=5)
    client = login("manager")
    assert client.post(f"/customers/{world.customers['mine']}/promises/new", data={
        "what": "周末帮她约双人护理", "due_on": due.isoformat(),
        "staff_id": str(world.users["beautician1"])}).status_code == 302
    with app.app_context():
        assert items(kind="promise_due") == []
        generate_day(load(Store, world.store1), due)
        [task] = items(kind="promise_due")
        assert (task.due_on, task.staff_id) == (due, world.users["beautician1"])


@pytest.mark.parametrize("fields,message", [
    ({"what": ""}, "Write what was promised"),
    ({"what": "x" * 201}, "At most 200"),
    ({"due_on": "yesterday"}, "Not a valid date"),
    ({"due_on": "PAST"}, "from today to a year ahead"),
])
def test_bad_promises_are_refused(app, login, world, fields, message):
    with app.app_context():
        today = load(Store, world.store1).today()
    data = {"what": "回电", "due_on": today.isoformat()}
    data.update(fields)
    if data["due_on"] == "PAST":
        data["due_on"] = (today - timedelta(days=1)).isoformat()
    response = login("beautician1").post(f"/customers/{world.customers['mine']}/promises/new",
                                         data=data, headers=EN)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Promise.id))) == 0


def test_broken_promise_needs_a_note_and_settles_once(app, login, world):
    with app.app_context():
        today = load(Store, world.store1).today()
    client = login("beautician1")
    client.post(f"/customers/{world.customers['mine']}/promises/new",
                data={"what": "回电", "due_on": today.isoformat()})
    with app.app_context():
        promise_id = db.session.scalar(db.select(Promise.id))
    url = f"/customers/{world.customers['mine']}/promises/{promise_id}"
    page = client.post(url, data={"outcome": "broken"}, headers=EN, follow_redirects=True)
    assert "Say what happened" in page.get_data(as_text=True)
    with app.app_context():
        assert load(Promise, promise_id).status == "open"
    client.post(url, data={"outcome": "broken", "note": "那天请假了，已改约周六"})
    with app.app_context():
        assert load(Promise, promise_id).status == "broken"
    again = client.post(url, data={"outcome": "fulfilled"}, headers=EN, follow_redirects=True)
    assert "already settled" in again.get_data(as_text=True)
    # Another beautician's customer, another store's promise: refused.
    assert login("beautician2").post(url, data={"outcome": "fulfilled"}).status_code == 403
    assert login("manager2").post(url, data={"outcome": "fulfilled"}).status_code == 404


# Complaints ---------------------------------------------------------------------------------

def _open_complaint(client, world, **fields):
    data = {"channel": "in_person", "summary": "做完护理后脸上发红，觉得没有被重视"}
    data.update(fields)
    return client.post(f"/customers/{world.customers['mine']}/complaints/new", data=data,
                       headers=EN)


def test_a_complaint_walks_its_nine_steps(app, login, world):
    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        manager = load(User, world.users["manager"])
        gift_id = create_gift(store, name="面膜礼盒", face_value_fen=19800, unit_cost_fen=2900,
                              quantity=2, by=manager).id
    client = login("beautician1")
    response = _open_complaint(client, world, received_on=today.isoformat())
    assert response.status_code == 302
    with app.app_context():
        complaint = db.session.scalar(db.select(Complaint))
        assert complaint.status == "open" and complaint.next_step_due_on == today
        [task] = items(kind="complaint_follow_up")
        assert task.status == "open" and task.detail["step"] == "listen"
    url = f"/customers/{world.customers['mine']}/complaints/{complaint.id}"
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert "Record: Listen" in page and "do not interrupt" in page
    # Out of order is refused.
    response = client.post(url, data={"step": "apologise", "done_on": today.isoformat(),
                                      "next_due_on": today.isoformat()}, headers=EN)
    assert response.status_code == 422 and "taken in order" in response.get_data(as_text=True)
    for step in COMPLAINT_STEPS:
        data = {"step": step, "done_on": today.isoformat(), "note": f"{step} 已完成"}
        if step != COMPLAINT_STEPS[-1]:
            due = today if step in ("listen", "empathise") else today + timedelta(days=1)
            data["next_due_on"] = due.isoformat()
        if step == "compensate":
            data["gift_id"] = str(gift_id)
        response = client.post(url, data=data, headers=EN)
        assert response.status_code == 302, (step, response.get_data(as_text=True)[-3000:])
        if step == "empathise":
            with app.app_context():
                # The next step is due today, so the item is on her list again.
                [task] = items(kind="complaint_follow_up", day=today)
                assert task.status == "open" and task.detail["step"] == "apologise"
    with app.app_context():
        complaint = load(Complaint, complaint.id)
        assert complaint.status == "closed" and complaint.closed_at is not None
        assert [s.step for s in complaint.steps] == list(COMPLAINT_STEPS)
        assert complaint.gift_handout.gift_id == gift_id
        assert complaint.gift_handout.status == "reserved"
        assert load(Gift, gift_id).reserved == 1
        assert all(t.status == "done" for t in items(kind="complaint_follow_up"))
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert "Closed" in page and "Record:" not in page
    closed = client.post(url, data={"step": "follow_up", "done_on": today.isoformat()},
                         headers=EN)
    assert closed.status_code == 422 and "This complaint is closed" in closed.get_data(
        as_text=True)


def test_complaint_step_due_later_arrives_on_that_day(app, login, world):
    with app.app_context():
        today = load(Store, world.store1).today()
    client = login("beautician1")
    _open_complaint(client, world, received_on=today.isoformat())
    with app.app_context():
        complaint_id = db.session.scalar(db.select(Complaint.id))
    due = today + timedelta(days=2)
    client.post(f"/customers/{world.customers['mine']}/complaints/{complaint_id}",
                data={"step": "listen", "done_on": today.isoformat(),
                      "next_due_on": due.isoformat()})
    with app.app_context():
        assert [t.status for t in items(kind="complaint_follow_up")] == ["done"]
        generate_day(load(Store, world.store1), due)
        assert [t.due_on for t in items(kind="complaint_follow_up", day=due)] == [due]


@pytest.mark.parametrize("fields,message", [
    ({"summary": ""}, "Write what she complained about"),
    ({"channel": "pigeon"}, "Choose how the complaint came in"),
    ({"received_on": "FUTURE"}, "not in the future"),
])
def test_bad_complaints_are_refused(app, login, world, fields, message):
    with app.app_context():
        today = load(Store, world.store1).today()
    data = {"received_on": today.isoformat(), **fields}
    if data["received_on"] == "FUTURE":
        data["received_on"] = (today + timedelta(days=1)).isoformat()
    response = _open_complaint(login("beautician1"), world, **data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Complaint.id))) == 0


def test_compensation_with_a_gift_out_of_stock_writes_nothing(app, login, world):
    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        gift_id = create_gift(store, name="护手霜", face_value_fen=6800, unit_cost_fen=1200,
                              quantity=0, by=load(User, world.users["manager"])).id
    client = login("beautician1")
    _open_complaint(client, world, received_on=today.isoformat())
    with app.app_context():
        complaint_id = db.session.scalar(db.select(Complaint.id))
    url = f"/customers/{world.customers['mine']}/complaints/{complaint_id}"
    for step in COMPLAINT_STEPS[:6]:
        client.post(url, data={"step": step, "done_on": today.isoformat(),
                               "next_due_on": today.isoformat()})
    response = client.post(url, data={"step": "compensate", "done_on": today.isoformat(),
                                      "next_due_on": today.isoformat(),
                                      "gift_id": str(gift_id)}, headers=EN)
    assert response.status_code == 422 and "Out of stock" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(ComplaintStep.id))) == 6
        assert db.session.scalar(db.select(db.func.count(GiftHandout.id))) == 0


def test_complaint_text_is_escaped_and_access_is_scoped(app, login, world):
    with app.app_context():
        today = load(Store, world.store1).today()
    client = login("beautician1")
    _open_complaint(client, world, received_on=today.isoformat(),
                    summary="<script>alert(1)</script>")
    with app.app_context():
        complaint_id = db.session.scalar(db.select(Complaint.id))
    url = f"/customers/{world.customers['mine']}/complaints/{complaint_id}"
    page = client.get(url).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    manager_page = login("manager").get("/manager/complaints", headers=EN)
    assert manager_page.status_code == 200 and "&lt;script&gt;" in manager_page.get_data(
        as_text=True)
    assert client.get("/manager/complaints").status_code == 403
    other = login("beautician2")
    assert other.post(url, data={"step": "listen", "done_on": today.isoformat(),
                                 "next_due_on": today.isoformat()}).status_code == 403
    assert other.post(f"/customers/{world.customers['mine']}/complaints/new",
                      data={"channel": "phone", "summary": "x"}).status_code == 403
    assert login("manager2").get(url).status_code == 404


def test_card_shows_gifts_promises_points_and_open_complaints(app, login, world):
    with app.app_context():
        today = load(Store, world.store1).today()
        _earn(world)
    client = login("beautician1")
    client.post(f"/customers/{world.customers['mine']}/promises/new",
                data={"what": "留一份精华小样", "due_on": today.isoformat()})
    _open_complaint(client, world, received_on=today.isoformat())
    page = client.get(f"/customers/{world.customers['mine']}", headers=EN).get_data(as_text=True)
    assert "留一份精华小样" in page and "300 points" in page
    assert "Open complaint" in page and "Next step: Listen" in page
