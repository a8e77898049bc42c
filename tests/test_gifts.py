"""Gift stock and handouts: guarded stock at its edges, the checklist item on the pickup day,
totals, who may do what, and 20 concurrent handouts of the last 5 gifts."""
import threading
from datetime import timedelta

import pytest

from kq.extensions import db
from kq.models import Gift, GiftHandout, GiftStockMove, Store, Task, User
from kq.services import ServiceError
from kq.services import gifts as service
from kq.services.checklist import generate_day
from tests.helpers import items, load

EN = {"Accept-Language": "en"}


def _gift(world, store="store1", quantity=5, name="玫瑰精油礼盒", face=19800, cost=2900):
    store_row = load(Store, getattr(world, store))
    manager = load(User, world.users["manager" if store == "store1" else "manager2"])
    return service.create_gift(store_row, name=name, face_value_fen=face, unit_cost_fen=cost,
                               quantity=quantity, by=manager)


def _give(client, customer_id, gift_id, **fields):
    data = {"gift_id": str(gift_id), "mode": "reserve"}
    data.update(fields)
    return client.post(f"/gifts/give/{customer_id}", data=data, headers=EN)


def test_manager_adds_a_gift_with_its_opening_stock(app, login, world):
    manager = login("manager")
    response = manager.post("/gifts/new", data={"name": "玫瑰精油礼盒", "face_value": "198",
                                                "unit_cost": "29", "quantity": "12"})
    assert response.status_code == 302
    with app.app_context():
        gift = db.session.scalar(db.select(Gift))
        assert (gift.face_value_fen, gift.unit_cost_fen, gift.quantity) == (19800, 2900, 12)
        move = db.session.scalar(db.select(GiftStockMove))
        assert (move.change, move.reason, move.staff_id) == (12, "initial", world.users["manager"])
    page = manager.get(f"/gifts/{gift.id}", headers=EN).get_data(as_text=True)
    assert "Opening stock" in page and "¥198" in page


@pytest.mark.parametrize("fields,message", [
    ({"quantity": "-1"}, "between 0 and 100,000"),
    ({"face_value": "-5"}, "amount from 0"),
    ({"name": ""}, "Give the gift a name"),
    ({"name": "x" * 61}, "At most 60"),
    ({"quantity": "many"}, "Not a valid integer"),
])
def test_bad_gift_input_is_refused_with_a_message(app, login, world, fields, message):
    data = {"name": "面膜", "face_value": "50", "unit_cost": "8", "quantity": "3"}
    data.update(fields)
    response = login("manager").post("/gifts/new", data=data, headers=EN)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Gift.id))) == 0


def test_duplicate_gift_name_in_a_store_is_refused(app, login, world):
    with app.app_context():
        _gift(world)
    response = login("manager").post("/gifts/new", data={
        "name": "玫瑰精油礼盒", "face_value": "1", "unit_cost": "1", "quantity": "1"}, headers=EN)
    assert response.status_code == 422
    assert "already has a gift of that name" in response.get_data(as_text=True)


def test_restocks_and_adjustments_are_recorded_and_cannot_undercut_reservations(app, login,
                                                                               world):
    with app.app_context():
        gift_id = _gift(world, quantity=3).id
    manager = login("manager")
    assert manager.post(f"/gifts/{gift_id}/stock", data={"change": "20", "reason": "restock"}
                        ).status_code == 302
    # An adjustment needs a reason; a restock cannot be negative; zero is no change.
    for data, message in (({"change": "-2", "reason": "damaged"}, "Say why"),
                          ({"change": "-2", "reason": "restock"}, "positive number"),
                          ({"change": "0", "reason": "adjust", "note": "x"}, "not 0")):
        response = manager.post(f"/gifts/{gift_id}/stock", data=data, headers=EN)
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert _give(manager, world.customers["mine"], gift_id).status_code == 302
    response = manager.post(f"/gifts/{gift_id}/stock", data={
        "change": "-23", "reason": "lost", "note": "盘点少了"}, headers=EN)
    assert response.status_code == 422
    assert "held for customers" in response.get_data(as_text=True)
    assert manager.post(f"/gifts/{gift_id}/stock", data={
        "change": "-22", "reason": "lost", "note": "盘点少了"}).status_code == 302
    with app.app_context():
        gift = load(Gift, gift_id)
        assert (gift.quantity, gift.reserved, gift.available) == (1, 1, 0)
        moves = db.session.scalars(db.select(GiftStockMove).order_by(GiftStockMove.id)).all()
        assert [(m.change, m.quantity_after, m.reason) for m in moves] == [
            (3, 3, "initial"), (20, 23, "restock"), (-22, 1, "lost")]
        assert moves[-1].note == "盘点少了" and moves[-1].staff_id == world.users["manager"]


def test_reserved_gift_is_on_the_list_and_handing_it_out_takes_one_from_stock(app, login,
                                                                              world):
    with app.app_context():
        gift_id = _gift(world, quantity=5).id
        generate_day(load(Store, world.store1), load(Store, world.store1).today())
    beautician = login("beautician1")
    assert _give(beautician, world.customers["mine"], gift_id, campaign="双十一").status_code == 302
    today_page = beautician.get("/tasks/today", headers=EN).get_data(as_text=True)
    assert "Gift ready to collect: 玫瑰精油礼盒" in today_page
    with app.app_context():
        handout = db.session.scalar(db.select(GiftHandout))
        assert handout.staff_id == world.users["beautician1"] and handout.campaign == "双十一"
        assert (load(Gift, gift_id).quantity, load(Gift, gift_id).reserved) == (5, 1)
        task = items(kind="gift_pickup")[0]
        assert task.detail["handout_id"] == handout.id and task.status == "open"
    response = beautician.post(f"/gifts/handouts/{handout.id}/hand-out",
                               data={"next": "/tasks/today"})
    assert response.status_code == 302 and response.location.endswith("/tasks/today")
    with app.app_context():
        gift = load(Gift, gift_id)
        assert (gift.quantity, gift.reserved) == (4, 0)
        handout = load(GiftHandout, handout.id)
        assert handout.status == "handed_out" and handout.face_value_fen == 19800
        assert handout.handed_out_by_id == world.users["beautician1"]
        assert items(kind="gift_pickup")[0].status == "done"
    # Handing out the same reservation again changes nothing.
    again = beautician.post(f"/gifts/handouts/{handout.id}/hand-out", headers=EN,
                            follow_redirects=True)
    assert "already handed out or cancelled" in again.get_data(as_text=True)
    with app.app_context():
        assert load(Gift, gift_id).quantity == 4


def test_pickup_date_puts_the_gift_on_that_days_list_not_before(app, login, world):
    with app.app_context():
        gift_id = _gift(world).id
        store = load(Store, world.store1)
        today = store.today()
    beautician = login("beautician1")
    pickup = today + timedelta(days=3)
    assert _give(beautician, world.customers["mine"], gift_id,
                 pickup_after=pickup.isoformat()).status_code == 302
    with app.app_context():
        assert items(kind="gift_pickup") == []
        generate_day(load(Store, world.store1), pickup - timedelta(days=1))
        assert items(kind="gift_pickup") == []
        generate_day(load(Store, world.store1), pickup)
        [task] = items(kind="gift_pickup")
        assert task.due_on == pickup and task.staff_id == world.users["beautician1"]
    response = _give(beautician, world.customers["mine"], gift_id,
                     pickup_after=(today - timedelta(days=1)).isoformat())
    assert response.status_code == 422
    assert "from today to a year ahead" in response.get_data(as_text=True)


def test_the_last_gift_in_stock(app, world):
    with app.app_context():
        store, manager = load(Store, world.store1), load(User, world.users["manager"])
        gift = _gift(world, quantity=1)
        mine, colleague = world.customers["mine"], world.customers["colleague"]
        handout = service.reserve(store, customer_id=mine, gift_id=gift.id, staff=manager,
                                  by=manager)
        with pytest.raises(ServiceError) as refused:
            service.reserve(store, customer_id=colleague, gift_id=gift.id, staff=manager,
                            by=manager)
        assert refused.value.code == "out_of_stock"
        with pytest.raises(ServiceError):
            service.hand_out_now(store, customer_id=colleague, gift_id=gift.id, by=manager)
        service.cancel(store, handout.id, by=manager)
        assert items(kind="gift_pickup") == []  # the cancelled reservation leaves the list
        service.hand_out_now(store, customer_id=colleague, gift_id=gift.id, by=manager)
        gift = load(Gift, gift.id)
        assert (gift.quantity, gift.reserved) == (0, 0)
        with pytest.raises(ServiceError) as twice:
            service.cancel(store, handout.id, by=manager)
        assert twice.value.code == "not_reserved"


def test_totals_per_month_and_campaign(app, login, world):
    with app.app_context():
        store, manager = load(Store, world.store1), load(User, world.users["manager"])
        rose = _gift(world, quantity=10)
        mask = _gift(world, quantity=10, name="面膜", face=5000, cost=800)
        for gift, campaign in ((rose, "双十一"), (rose, "双十一"), (mask, None)):
            service.hand_out_now(store, customer_id=world.customers["mine"], gift_id=gift.id,
                                 by=manager, campaign=campaign)
        month = store.today().strftime("%Y-%m")
        rows, total = service.totals(store, by="month")
        assert rows == [{"key": month, "count": 3, "value_fen": 44600, "cost_fen": 6600}]
        rows, total = service.totals(store, by="campaign")
        assert {r["key"]: (r["count"], r["value_fen"], r["cost_fen"]) for r in rows} == {
            "": (1, 5000, 800), "双十一": (2, 39600, 5800)}
        assert total == {"count": 3, "value_fen": 44600, "cost_fen": 6600}
    page = login("manager").get("/gifts/totals?by=campaign", headers=EN).get_data(as_text=True)
    assert "双十一" in page and "¥396" in page and "¥446" in page


def test_other_stores_and_other_staff_are_refused(app, login, world):
    with app.app_context():
        foreign = _gift(world, store="store2")
        mine_gift = _gift(world)
        store2, manager2 = load(Store, world.store2), load(User, world.users["manager2"])
        foreign_handout = service.reserve(store2, customer_id=world.customers["other_store"],
                                          gift_id=foreign.id, staff=manager2, by=manager2)
        foreign_id, foreign_handout_id, mine_gift_id = foreign.id, foreign_handout.id, mine_gift.id
    beautician = login("beautician1")
    # A gift of another store cannot be given; its page and its handouts do not exist here.
    response = _give(beautician, world.customers["mine"], foreign_id)
    assert response.status_code == 422
    assert "this store&#39;s gifts" in response.get_data(as_text=True)
    assert beautician.get(f"/gifts/{foreign_id}").status_code == 404
    assert beautician.post(f"/gifts/handouts/{foreign_handout_id}/hand-out").status_code == 404
    assert _give(beautician, world.customers["other_store"], mine_gift_id).status_code == 404
    # A colleague's customer is hers to treat; stock is the manager's.
    assert _give(beautician, world.customers["colleague"], mine_gift_id).status_code == 403
    assert beautician.get("/gifts/new").status_code == 403
    assert beautician.post(f"/gifts/{mine_gift_id}/stock",
                           data={"change": "5", "reason": "restock"}).status_code == 403
    assert beautician.post(f"/gifts/{mine_gift_id}", data={"name": "x"}).status_code == 403
    assert beautician.get("/gifts/totals").status_code == 403
    manager = login("manager")
    assert _give(manager, world.customers["colleague"], mine_gift_id).status_code == 302
    with app.app_context():
        handout_id = db.session.scalar(db.select(GiftHandout.id).where(
            GiftHandout.customer_id == world.customers["colleague"]))
    assert beautician.post(f"/gifts/handouts/{handout_id}/cancel").status_code == 403
    with app.app_context():
        assert load(Gift, foreign_id).quantity == 5 and load(Gift, foreign_id).reserved == 1


def test_twenty_concurrent_handouts_of_the_last_five(app, login, world):
    """Real threads, each its own signed-in client and database connection."""
    with app.app_context():
        gift_id = _gift(world, quantity=5).id
    clients = [login("manager") for _ in range(20)]
    barrier = threading.Barrier(20)
    answers = []

    def attempt(client):
        barrier.wait()
        response = _give(client, world.customers["mine"], gift_id, mode="now")
        answers.append((response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    codes = sorted(code for code, _ in answers)
    assert codes == [302] * 5 + [422] * 15
    assert all("Out of stock: no 玫瑰精油礼盒 left" in text for code, text in answers
               if code == 422)
    with app.app_context():
        assert load(Gift, gift_id).quantity == 0
        assert db.session.scalar(db.select(db.func.count(GiftHandout.id)).where(
            GiftHandout.status == "handed_out")) == 5


def test_gift_pages_render(app, login, world):
    with app.app_context():
        gift_id = _gift(world).id
    for user in ("manager", "beautician1"):
        client = login(user)
        for url in ("/gifts/", f"/gifts/{gift_id}", f"/gifts/give/{world.customers['mine']}"):
            assert client.get(url).status_code == 200, (user, url)
    assert login("manager").get("/gifts/totals").status_code == 200
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Task.id))) >= 0
