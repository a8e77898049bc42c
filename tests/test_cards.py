"""Prepaid cards: every movement a row whose sums are the card, uses guarded at the last session
and the last fen and under concurrency, expiry and status, the key-customer rule, who may do
what, the pages, and the visit that pays from a balance."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kq.extensions import db
from kq.models import CardMove, Customer, PrepaidCard, Store, User, Visit
from kq.services import ServiceError
from kq.services import cards as service
from kq.services.classify import recompute_store
from tests.helpers import load

EN = {"Accept-Language": "en"}


def _sell(world, customer="mine", by="manager", **fields):
    values = {"name": "补水护理卡", "sessions": 10, "price_fen": 298000} | fields
    return service.sell_card(load(Customer, world.customers[customer]),
                             by=load(User, world.users[by]), **values)


def _sums(card_id):
    """(sessions left, balance) as the sums of the card's moves, and as the card says."""
    sessions, balance = db.session.execute(
        select(func.coalesce(func.sum(CardMove.sessions_delta), 0),
               func.coalesce(func.sum(CardMove.balance_delta_fen), 0))
        .where(CardMove.card_id == card_id)).one()
    db.session.expire_all()
    card = load(PrepaidCard, card_id)
    return (sessions, balance), (card.sessions_left, card.balance_fen)


def _kinds(card_id):
    return [m.kind for m in db.session.scalars(
        select(CardMove).where(CardMove.card_id == card_id).order_by(CardMove.id))]


def test_sale_top_up_use_and_refund_by_value(app, world):
    with app.app_context():
        manager = load(User, world.users["manager"])
        card = _sell(world, sessions=10, balance_fen=100000, price_fen=298000, note="双十一")
        assert (card.sessions_total, card.sessions_used, card.balance_fen, card.price_fen,
                card.status, card.sold_by_id) == (10, 0, 100000, 298000, "open", manager.id)
        sale = db.session.scalar(select(CardMove).where(CardMove.card_id == card.id))
        assert (sale.kind, sale.sessions_delta, sale.balance_delta_fen, sale.paid_fen,
                sale.staff_id, sale.note) == ("sale", 10, 100000, 298000, manager.id, "双十一")
        service.top_up(card, sessions=5, balance_fen=50000, paid_fen=40000, by=manager)
        service.use_card(card, sessions=1, by=manager)
        service.use_card(card, amount_fen=30000, by=manager)
        moves, held = _sums(card.id)
        assert moves == held == (14, 120000)
        card = load(PrepaidCard, card.id)
        assert (card.sessions_total, card.sessions_used) == (15, 1)
        assert service.paid_on(card) == 338000
        service.refund_card(card, refund_fen=100000, by=manager, note="搬家了")
        moves, held = _sums(card.id)
        assert moves == held == (0, 0)
        card = load(PrepaidCard, card.id)
        assert (card.status, card.sessions_total, card.sessions_used) == ("refunded", 1, 1)
        assert card.closed_at is not None
        assert service.paid_on(card) == 238000
        refund = db.session.scalars(select(CardMove).where(CardMove.kind == "refund")).one()
        assert (refund.sessions_delta, refund.balance_delta_fen, refund.paid_fen,
                refund.note) == (-14, -120000, -100000, "搬家了")
        assert _kinds(card.id) == ["sale", "top_up", "use", "use", "refund"]


def test_closed_and_refunded_cards_take_no_more_moves(app, world):
    with app.app_context():
        manager = load(User, world.users["manager"])
        card = _sell(world, sessions=3)
        service.close_card(card, by=manager, note="顾客要求停卡")
        assert _sums(card.id) == ((0, 0), (0, 0))
        card = load(PrepaidCard, card.id)
        for attempt in (lambda: service.use_card(card, sessions=1, by=manager),
                        lambda: service.top_up(card, sessions=1, by=manager),
                        lambda: service.close_card(card, by=manager, note="again"),
                        lambda: service.refund_card(card, refund_fen=0, by=manager, note="x")):
            with pytest.raises(ServiceError) as refused:
                attempt()
            assert refused.value.code == "closed"
        assert _kinds(card.id) == ["sale", "close"]
        # A refund gives back at most what was paid; a reason is required.
        other = _sell(world, sessions=2, price_fen=50000)
        with pytest.raises(ServiceError) as refused:
            service.refund_card(other, refund_fen=50001, by=manager, note="x")
        assert "refund" in refused.value.message
        with pytest.raises(ServiceError) as refused:
            service.refund_card(other, refund_fen=50000, by=manager, note=" ")
        assert "note" in refused.value.message
        # Closing a card that still holds sessions needs a reason.
        with pytest.raises(ServiceError) as refused:
            service.close_card(other, by=manager, note="")
        assert "note" in refused.value.message
        assert load(PrepaidCard, other.id).status == "open"


def test_the_last_session_and_the_last_fen(app, world):
    with app.test_request_context(headers=EN):  # the refusal is read in English
        manager = load(User, world.users["manager"])
        card = _sell(world, sessions=2, balance_fen=5000)
        service.use_card(card, sessions=2, by=manager)
        with pytest.raises(ServiceError) as refused:
            service.use_card(card, sessions=1, by=manager)
        assert refused.value.code == "no_sessions"
        with pytest.raises(ServiceError) as refused:
            service.use_card(card, amount_fen=5001, by=manager)
        assert refused.value.code == "insufficient"
        assert "¥50" in str(refused.value.message)
        service.use_card(card, amount_fen=5000, by=manager)
        with pytest.raises(ServiceError) as refused:
            service.use_card(card, amount_fen=1, by=manager)
        assert refused.value.code == "insufficient"
        card = load(PrepaidCard, card.id)
        assert (card.sessions_left, card.balance_fen) == (0, 0)
        assert _sums(card.id) == ((0, 0), (0, 0))
        assert _kinds(card.id) == ["sale", "use", "use"]
        with pytest.raises(ServiceError) as refused:
            service.use_card(card, by=manager)
        assert refused.value.code == "invalid"


def test_a_card_is_usable_on_its_expiry_date_and_not_the_day_after(app, world):
    with app.app_context():
        manager = load(User, world.users["manager"])
        today = load(Store, world.store1).today()
        card = _sell(world, sessions=5, expires_on=today)
        assert card.is_usable(today)
        service.use_card(card, sessions=1, by=manager)
        card.expires_on = today - timedelta(days=1)  # as it will be tomorrow
        db.session.commit()
        assert not card.is_usable(today)
        for attempt in (lambda: service.use_card(card, sessions=1, by=manager),
                        lambda: service.top_up(card, sessions=1, by=manager)):
            with pytest.raises(ServiceError) as refused:
                attempt()
            assert refused.value.code == "expired"
        assert load(PrepaidCard, card.id).sessions_used == 1
        recompute_store(load(Store, world.store1))
        assert load(Customer, world.customers["mine"]).key_reason != "card"
        # An expired card can still be closed by a manager, without a reason.
        service.close_card(load(PrepaidCard, card.id), by=manager, note="")
        assert load(PrepaidCard, card.id).status == "closed"


def test_sale_is_validated_and_writes_nothing_when_refused(app, world):
    with app.app_context():
        today = load(Store, world.store1).today()
        cases = [({"name": ""}, "name"), ({"name": "卡" * 61}, "name"),
                 ({"sessions": 1000}, "sessions"), ({"sessions": -1}, "sessions"),
                 ({"sessions": 0, "balance_fen": 0}, "sessions"),
                 ({"balance_fen": 100_000_001}, "balance"), ({"price_fen": 100_000_001}, "price"),
                 ({"expires_on": today - timedelta(days=1)}, "expires_on"),
                 ({"note": "x" * 201}, "note")]
        for fields, field in cases:
            with pytest.raises(ServiceError) as refused:
                _sell(world, **fields)
            assert field in refused.value.message, fields
        # The edges themselves are fine.
        card = _sell(world, name="卡" * 60, sessions=999, balance_fen=100_000_000,
                     price_fen=100_000_000, expires_on=today)
        assert db.session.scalar(select(func.count(PrepaidCard.id))) == 1
        assert _sums(card.id) == ((999, 100_000_000), (999, 100_000_000))


def test_an_imported_card_takes_no_money_and_leaves_classifying_to_the_import(app, world):
    with app.app_context():
        today = load(Store, world.store1).today()
        card = _sell(world, kind="import", sessions=0, balance_fen=120000, price_fen=0,
                     expires_on=today - timedelta(days=3), commit=False)
        db.session.commit()
        move = db.session.scalars(select(CardMove)).one()
        assert (move.kind, move.balance_delta_fen, move.paid_fen) == ("import", 120000, 0)
        assert card.expires_on < today  # kept as the old system had it
        assert load(Customer, world.customers["mine"]).key_reason is None


def _concurrently(app, n, work):
    """Run `work` in n threads at once, each with its own app context (and connection);
    returns how many succeeded and the refusals' codes."""
    barrier = threading.Barrier(n)
    done, refused = [], []

    def run():
        with app.app_context():
            barrier.wait()
            try:
                work()
                done.append(1)
            except ServiceError as error:
                refused.append(error.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return len(done), refused


def test_eight_phones_use_a_five_session_card_at_once(app, world):
    with app.app_context():
        card_id = _sell(world, sessions=5).id
        manager_id = world.users["manager"]

    def use():
        service.use_card(load(PrepaidCard, card_id), sessions=1, by=load(User, manager_id))

    done, refused = _concurrently(app, 8, use)
    assert done == 5 and sorted(refused) == ["no_sessions"] * 3
    with app.app_context():
        assert load(PrepaidCard, card_id).sessions_used == 5
        assert _kinds(card_id).count("use") == 5
        assert _sums(card_id) == ((0, 0), (0, 0))


def test_eight_phones_spend_a_balance_of_five_hundred_at_once(app, world):
    with app.app_context():
        card_id = _sell(world, sessions=0, balance_fen=50000).id
        manager_id = world.users["manager"]

    def use():
        service.use_card(load(PrepaidCard, card_id), amount_fen=10000, by=load(User, manager_id))

    done, refused = _concurrently(app, 8, use)
    assert done == 5 and sorted(refused) == ["insufficient"] * 3
    with app.app_context():
        assert load(PrepaidCard, card_id).balance_fen == 0
        assert _sums(card_id) == ((0, 0), (0, 0))


def test_a_use_racing_a_refund_is_never_lost(app, world):
    with app.app_context():
        card_id = _sell(world, sessions=10, balance_fen=0).id
        manager_id = world.users["manager"]
    calls = iter(range(100))

    def use_or_refund():
        card, manager = load(PrepaidCard, card_id), load(User, manager_id)
        if next(calls) == 0:
            service.refund_card(card, refund_fen=0, by=manager, note="退卡")
        else:
            service.use_card(card, sessions=1, by=manager)

    done, refused = _concurrently(app, 6, use_or_refund)
    assert done + len(refused) == 6
    assert set(refused) <= {"closed", "changed"}  # used after the refund, or refund too late
    with app.app_context():
        moves, held = _sums(card_id)
        assert moves == held
        card = load(PrepaidCard, card_id)
        if "changed" in refused:  # a use slipped in between: the refund is refused whole
            assert card.status == "open" and _kinds(card_id).count("use") == 5
        else:
            assert card.status == "refunded" and held == (0, 0)
            assert card.sessions_used == _kinds(card_id).count("use") == done - 1


def test_a_sale_makes_her_key_for_her_card_and_the_refund_takes_it_back(app, world):
    with app.app_context():
        manager = load(User, world.users["manager"])
        customer = load(Customer, world.customers["mine"])
        assert not customer.is_key
        card = _sell(world, sessions=3, price_fen=30000)
        customer = load(Customer, world.customers["mine"])
        assert (customer.is_key, customer.key_reason) == (True, "card")
        service.refund_card(card, refund_fen=30000, by=manager, note="不做了")
        customer = load(Customer, world.customers["mine"])
        assert (customer.is_key, customer.key_reason) == (False, None)
        # The whole-store run agrees: a refunded card holds nothing.
        recompute_store(load(Store, world.store1))
        assert load(Customer, world.customers["mine"]).key_reason != "card"


def test_who_may_sell_top_up_use_refund_and_close(app, login, world):
    with app.app_context():
        colleague_card = _sell(world, customer="colleague").id
        mine_card = _sell(world, customer="mine").id
        foreign = _sell(world, customer="other_store", by="manager2").id
        today = load(Store, world.store1).today()
    mine, colleague = world.customers["mine"], world.customers["colleague"]
    beautician = login("beautician1")
    sale = {"name": "肩颈疗程卡", "sessions": "10", "price": "1980"}
    visit = {"visited_on": today.isoformat(), "services": "肩颈", "amount": "0",
             "staff_id": world.users["beautician1"]}
    # Someone else's customer: no sale, no top-up; but a visit she served herself draws on
    # the customer's card, as at the till (SPEC §1).
    assert beautician.get(f"/customers/{colleague}/cards/new").status_code == 403
    assert beautician.post(f"/customers/{colleague}/cards/new", data=sale).status_code == 403
    assert beautician.post(f"/customers/{colleague}/cards/{colleague_card}/top-up",
                           data={"t-sessions": "1"}).status_code == 403
    assert beautician.post(f"/customers/{colleague}/visits/new",
                           data={**visit, "prepaid_card_id": colleague_card}).status_code == 302
    # Her own: yes; refunds and closing are the manager's.
    assert beautician.post(f"/customers/{mine}/cards/new", data=sale).status_code == 302
    assert beautician.post(f"/customers/{mine}/cards/{mine_card}/top-up",
                           data={"t-sessions": "2", "t-paid": "300"}).status_code == 302
    assert beautician.post(f"/customers/{mine}/cards/{mine_card}/refund",
                           data={"r-refund": "0", "r-note": "x"}).status_code == 403
    assert beautician.post(f"/customers/{mine}/cards/{mine_card}/close",
                           data={"c-note": "x"}).status_code == 403
    assert beautician.get(f"/customers/{colleague}/cards/{colleague_card}").status_code == 200
    # Another store's card, or a card under the wrong customer, does not exist here.
    manager = login("manager")
    other = world.customers["other_store"]
    assert manager.get(f"/customers/{other}/cards/{foreign}").status_code == 404
    assert manager.get(f"/customers/{mine}/cards/{foreign}").status_code == 404
    assert manager.get(f"/customers/{mine}/cards/{colleague_card}").status_code == 404
    assert manager.post(f"/customers/{other}/cards/{foreign}/refund",
                        data={"r-refund": "0", "r-note": "x"}).status_code == 404
    assert manager.post(f"/customers/{other}/cards/new", data=sale).status_code == 404
    assert manager.post(f"/customers/{mine}/cards/{mine_card}/refund",
                        data={"r-refund": "100", "r-note": "退款"}).status_code == 302
    assert manager.post(f"/customers/{colleague}/cards/{colleague_card}/close",
                        data={"c-note": "停卡"}).status_code == 302
    with app.app_context():
        assert load(PrepaidCard, foreign).status == "open"
        assert load(PrepaidCard, colleague_card).status == "closed"
        assert load(PrepaidCard, mine_card).status == "refunded"
        assert _kinds(mine_card) == ["sale", "top_up", "refund"]
        assert db.session.scalar(select(func.count(PrepaidCard.id)).where(
            PrepaidCard.customer_id == colleague)) == 1
        assert db.session.scalar(select(func.count(Visit.id))) == 1
        assert _kinds(colleague_card) == ["sale", "use", "close"]


def test_the_sale_page_refuses_bad_input_with_messages_and_sells(app, login, world):
    manager = login("manager")
    url = f"/customers/{world.customers['mine']}/cards/new"
    assert manager.get(url, headers=EN).status_code == 200
    bad = manager.post(url, data={"name": "", "sessions": "1000", "balance": "-1",
                                  "price": "abc", "expires_on": "2001-01-01"}, headers=EN)
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Give the card a name" in page and "from 0 to 999" in page
    nothing = manager.post(url, data={"name": "空卡", "sessions": "0", "balance": ""},
                           headers=EN)
    assert nothing.status_code == 422
    assert "Enter sessions, a balance, or both." in nothing.get_data(as_text=True)
    past = manager.post(url, data={"name": "旧卡", "sessions": "3", "expires_on": "2001-01-01"},
                        headers=EN)
    assert past.status_code == 422 and "cannot be in the past" in past.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(PrepaidCard.id))) == 0
        assert db.session.scalar(select(func.count(CardMove.id))) == 0
    sold = manager.post(url, data={"name": "储值卡", "sessions": "", "balance": "2000",
                                   "price": "1800", "note": "送 200"})
    assert sold.status_code == 302
    with app.app_context():
        card = db.session.scalars(select(PrepaidCard)).one()
        assert (card.balance_fen, card.price_fen, card.sessions_total) == (200000, 180000, 0)
        card_id = card.id
    detail = manager.get(f"/customers/{world.customers['mine']}", headers=EN)
    text = detail.get_data(as_text=True)
    assert "储值卡" in text and "balance ¥2,000" in text and "Sell a card" in text
    moves = manager.get(f"/customers/{world.customers['mine']}/cards/{card_id}", headers=EN)
    text = moves.get_data(as_text=True)
    assert moves.status_code == 200 and "Sold" in text and "paid ¥1,800" in text
    # A top-up with nothing in it, and a refund above what was paid: 422 on the card's page.
    url = f"/customers/{world.customers['mine']}/cards/{card_id}"
    empty = manager.post(url + "/top-up", data={"t-sessions": "0"}, headers=EN)
    assert empty.status_code == 422 and "Enter sessions, a balance, or both." in \
        empty.get_data(as_text=True)
    too_much = manager.post(url + "/refund", data={"r-refund": "2000.01", "r-note": "x"},
                            headers=EN)
    assert too_much.status_code == 422 and "At most ¥2,000" in too_much.get_data(as_text=True)
    with app.app_context():
        assert _kinds(card_id) == ["sale"] and load(PrepaidCard, card_id).status == "open"


def test_a_visit_pays_from_a_balance_card(app, login, world):
    with app.app_context():
        card_id = _sell(world, sessions=2, balance_fen=50000, price_fen=45000).id
        today = load(Store, world.store1).today()
    client = login("beautician1")
    url = f"/customers/{world.customers['mine']}/visits/new"
    form = {"visited_on": today.isoformat(), "visited_time": "15:30", "services": "美白导入",
            "amount": "300", "staff_id": world.users["beautician1"],
            "prepaid_card_id": f"balance-{card_id}"}
    page = client.get(url, headers=EN).get_data(as_text=True)
    assert "one session (2 left)" in page and "from its balance (¥500 left)" in page
    assert client.post(url, data=form).status_code == 302
    too_much = client.post(url, data=form, headers=EN)
    assert too_much.status_code == 422
    assert "The card has only ¥200 left." in too_much.get_data(as_text=True)
    zero = client.post(url, data={**form, "amount": "0"}, headers=EN)
    assert zero.status_code == 422 and "amount to take" in zero.get_data(as_text=True)
    assert client.post(url, data={**form, "amount": "0", "prepaid_card_id": str(card_id)}
                       ).status_code == 302
    with app.app_context():
        card = load(PrepaidCard, card_id)
        assert (card.balance_fen, card.sessions_used) == (20000, 1)
        visits = db.session.scalars(select(Visit).order_by(Visit.id)).all()
        assert [(v.amount_fen, v.prepaid_card_id) for v in visits] == [(30000, card_id),
                                                                        (0, card_id)]
        uses = db.session.scalars(select(CardMove).where(CardMove.kind == "use")
                                  .order_by(CardMove.id)).all()
        assert [(m.sessions_delta, m.balance_delta_fen, m.visit_id, m.staff_id) for m in uses] \
            == [(0, -30000, visits[0].id, world.users["beautician1"]),
                (-1, 0, visits[1].id, world.users["beautician1"])]
        customer = load(Customer, world.customers["mine"])
        assert (customer.visit_count, customer.total_spent_fen) == (2, 30000)
        assert _sums(card_id) == ((1, 20000), (1, 20000))
    moves = client.get(f"/customers/{world.customers['mine']}/cards/{card_id}", headers=EN)
    assert "美白导入" in moves.get_data(as_text=True)


def test_demo_and_bench_cards_are_the_sums_of_their_moves(app):
    from kq.benchdata import fill
    from kq.demo import load_demo

    with app.app_context():
        load_demo(customers=60)
        fill(customers=60, visits=300, staff=2, stores=1, log=lambda *_: None)
        rows = db.session.execute(
            select(PrepaidCard.id, PrepaidCard.sessions_total - PrepaidCard.sessions_used,
                   PrepaidCard.balance_fen, func.sum(CardMove.sessions_delta),
                   func.sum(CardMove.balance_delta_fen),
                   func.sum(CardMove.paid_fen), PrepaidCard.price_fen)
            .outerjoin(CardMove, CardMove.card_id == PrepaidCard.id)
            .group_by(PrepaidCard.id)).all()
        assert len(rows) > 10
        assert all(r[1] == r[3] and r[2] == r[4] and r[5] == r[6] > 0 for r in rows), rows
        assert db.session.scalar(select(func.count(CardMove.id)).where(
            CardMove.kind == "use", CardMove.visit_id.is_not(None))) > 0


@pytest.mark.parametrize("field,value", [("sessions", "1" + "0" * 400), ("sessions", "1e400"),
                                         ("balance", "sNaN"), ("price", "NaN"),
                                         ("balance", "Infinity"), ("balance", "1e400"),
                                         ("balance", "1" + "0" * 400)])
def test_card_forms_refuse_numbers_python_cannot_compare(app, login, world, field, value):
    client = login("manager")
    data = {"name": "年卡", "sessions": "5", "balance": "", "price": "100"}
    data[field] = value
    response = client.post(f"/customers/{world.customers['mine']}/cards/new", data=data)
    assert response.status_code == 422
