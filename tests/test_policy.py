"""Object rules (SPEC §1, §10; issue 17 findings 1 and 4): a phone search that reveals nothing,
duplicate numbers that name no colleague's customer, care notes and contacts only for her own
customers, visits she served herself today or yesterday, and the one helper that decides."""
import re
import uuid
from datetime import timedelta

import pytest

from kq import policy
from kq.extensions import db
from kq.models import AuditEvent, CareNote, Contact, Customer, PrepaidCard, Store, User, Visit
from kq.services.cards import sell_card
from kq.services.customers import refresh_search_keys
from tests.helpers import load

EN = {"Accept-Language": "en"}


def _keys(app):
    with app.app_context():
        for customer in db.session.scalars(db.select(Customer)):
            refresh_search_keys(customer)
        db.session.commit()


def _found(client, q):
    page = client.get("/customers/", query_string={"q": q}).get_data(as_text=True)
    return set(re.findall(r'href="/customers/(\d+)"', page))


def _events(app, action):
    with app.app_context():
        return db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.id)).all()


# Finding 1: phone search ---------------------------------------------------------------------

def test_a_beautician_cannot_recover_a_colleagues_number_by_prefix_searches(app, login, world):
    """The attack of the issue: 139****1111 is shown masked; searching prefixes one digit at a
    time must never single the colleague's customer out."""
    _keys(app)
    b1 = login("beautician1")
    colleague = str(world.customers["colleague"])
    for q in ("139", "1390", "13900", "1390000", "139000011", "1390000111", "3900001111",
              "1111", "01111", "1390.", "139-0000", "+86 1390000", "86139000011"):
        assert colleague not in _found(b1, q), q
    # Her own customer by any part of the number still.
    mine = str(world.customers["mine"])
    for q in ("138", "1381", "5678", "12345678", "138 1234"):
        assert mine in _found(b1, q), q
    # A colleague's customer by the whole number, or by name, pinyin, initials.
    for q in ("13900001111", "139 0000 1111", "+86 139 0000 1111", "王芳", "wf", "wangfang"):
        assert colleague in _found(b1, q), q
    # The manager and the owner search the whole store by any part.
    for who in ("manager", "owner"):
        assert colleague in _found(login(who), "1390"), who
        assert colleague in _found(login(who), "1111"), who
    # Another store's customer: not even by her whole number.
    assert str(world.customers["other_store"]) not in _found(b1, "13700002222")
    assert str(world.customers["other_store"]) not in _found(login("manager"), "13700002222")


def test_the_list_says_why_part_of_a_number_finds_only_her_own(app, login, world):
    hint = "Part of a number finds your own customers"
    page = lambda who, q: login(who).get("/customers/", query_string={"q": q},  # noqa: E731
                                         headers=EN).get_data(as_text=True)
    assert hint in page("beautician1", "1390")
    assert hint not in page("beautician1", "13900001111")
    assert hint not in page("beautician1", "wf")
    assert hint not in page("manager", "1390")


def test_a_colleagues_customer_is_found_by_wechat_id(app, login, world):
    with app.app_context():
        colleague = load(Customer, world.customers["colleague"])
        colleague.wechat_id = "wangfang_88"
        db.session.commit()
    _keys(app)
    assert str(world.customers["colleague"]) in _found(login("beautician1"), "wangfang_88")


def test_a_search_by_a_whole_number_is_audited_without_the_number(app, login, world):
    _keys(app)
    b1 = login("beautician1")
    _found(b1, "1390")  # a partial search is not a phone lookup
    assert _events(app, "search_phone") == []
    _found(b1, "139 0000 1111")
    events = _events(app, "search_phone")
    assert len(events) == 1
    event = events[0]
    assert event.user_id == world.users["beautician1"] and event.store_id == world.store1
    assert "13900001111" not in str(event.detail) and "139****1111" in str(event.detail)


def test_a_foreign_number_is_whole_with_or_without_its_plus(app, login, world):
    with app.app_context():
        load(Customer, world.customers["colleague"]).phone = "+85291234567"
        db.session.commit()
    _keys(app)
    b1, colleague = login("beautician1"), str(world.customers["colleague"])
    for q in ("9123", "852912", "9123 4567"):
        assert colleague not in _found(b1, q), q
    for q in ("+852 9123 4567", "85291234567"):
        assert colleague in _found(b1, q), q
    assert len(_events(app, "search_phone")) == 2


def test_a_duplicate_number_names_no_colleagues_customer(app, login, world):
    data = {"name": "新顾客", "title": "小姐", "phone": "139 0000 1111"}
    b1 = login("beautician1")
    response = b1.post("/customers/new", data=data, headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "A customer with this phone already exists — ask the manager." in page
    colleague = world.customers["colleague"]
    assert f"/customers/{colleague}" not in page and "王芳" not in page
    # Her own customer's number: she may open that card.
    own = b1.post("/customers/new", data={**data, "phone": "138 1234 5678"}, headers=EN)
    assert own.status_code == 409
    assert f'/customers/{world.customers["mine"]}"' in own.get_data(as_text=True)
    # The manager gets the link to the card.
    manager = login("manager").post("/customers/new", data=data, headers=EN)
    assert manager.status_code == 409
    assert f'/customers/{colleague}"' in manager.get_data(as_text=True)
    events = _events(app, "duplicate_phone")
    assert [(e.user_id, e.target_id) for e in events] == [
        (world.users["beautician1"], colleague), (world.users["beautician1"], world.customers["mine"]),
        (world.users["manager"], colleague)]
    assert all("13900001111" not in str(e.detail) for e in events)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Customer.id))) == 3


def test_editing_her_card_to_a_colleagues_number_names_no_one(app, login, world):
    b1 = login("beautician1")
    response = b1.post(f"/customers/{world.customers['mine']}/edit",
                       data={"name": "梁小娟", "title": "小姐", "phone": "13900001111"},
                       headers=EN)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "ask the manager" in page and "王芳" not in page
    with app.app_context():
        assert load(Customer, world.customers["mine"]).phone == "+8613812345678"


# Finding 4: care notes, visits, contacts --------------------------------------------------------

def _today(app, world):
    with app.app_context():
        return load(Store, world.store1).today()


def test_care_notes_only_for_her_own_customers(app, login, world):
    b1 = login("beautician1")
    note = {"feedback": "皮肤好多了"}
    colleague = world.customers["colleague"]
    assert b1.get(f"/customers/{colleague}/care-notes/new").status_code == 403
    assert b1.post(f"/customers/{colleague}/care-notes/new", data=note).status_code == 403
    assert b1.post(f"/customers/{world.customers['mine']}/care-notes/new",
                   data=note).status_code == 302
    assert login("manager").post(f"/customers/{colleague}/care-notes/new",
                                 data=note).status_code == 302
    assert login("manager2").post(f"/customers/{colleague}/care-notes/new",
                                  data=note).status_code == 404
    with app.app_context():
        notes = db.session.scalars(db.select(CareNote).order_by(CareNote.id)).all()
        assert [(n.customer_id, n.staff_id) for n in notes] == [
            (world.customers["mine"], world.users["beautician1"]),
            (colleague, world.users["manager"])]


def _visit(client, customer_id, day, staff_id, **extra):
    data = {"visited_on": day.isoformat(), "visited_time": "15:00", "services": "补水",
            "amount": "300", "staff_id": str(staff_id), **extra}
    return client.post(f"/customers/{customer_id}/visits/new", data=data, headers=EN)


def test_a_beautician_records_her_own_visits_today_or_yesterday_for_any_customer(app, login,
                                                                                 world):
    today = _today(app, world)
    b1, me = login("beautician1"), world.users["beautician1"]
    colleague = world.customers["colleague"]
    # Another beautician as "served by": refused on the field.
    response = _visit(b1, colleague, today, world.users["beautician2"])
    assert response.status_code == 422
    assert "You record the visits you served yourself." in response.get_data(as_text=True)
    # Two days back: refused; the day before yesterday is the manager's.
    response = _visit(b1, colleague, today - timedelta(days=2), me)
    assert response.status_code == 422
    assert "today or yesterday" in response.get_data(as_text=True)
    assert _visit(b1, colleague, today + timedelta(days=1), me).status_code == 422
    # Today and yesterday, served by herself, for a colleague's customer: recorded.
    assert _visit(b1, colleague, today, me).status_code == 302
    assert _visit(b1, colleague, today - timedelta(days=1), me).status_code == 302
    # Served by left out: herself.
    assert _visit(b1, colleague, today, "").status_code == 302
    with app.app_context():
        visits = db.session.scalars(db.select(Visit).order_by(Visit.id)).all()
        assert [(v.customer_id, v.staff_id, v.recorded_by_id) for v in visits] == [
            (colleague, me, me)] * 3


def test_a_manager_names_any_staff_and_back_dates(app, login, world):
    today = _today(app, world)
    manager = login("manager")
    b2 = world.users["beautician2"]
    assert _visit(manager, world.customers["mine"], today - timedelta(days=40), b2
                  ).status_code == 302
    # Not another store's beautician, not a future day.
    assert _visit(manager, world.customers["mine"], today, world.users["beautician7"]
                  ).status_code == 422
    assert _visit(manager, world.customers["mine"], today + timedelta(days=1), b2
                  ).status_code == 422
    assert _visit(login("owner"), world.customers["colleague"], today - timedelta(days=9), b2
                  ).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Visit.id))) == 2


def test_the_visit_form_fixes_served_by_for_a_beautician(app, login, world):
    today = _today(app, world)
    page = login("beautician1").get(f"/customers/{world.customers['colleague']}/visits/new",
                                    headers=EN).get_data(as_text=True)
    assert '<select' not in page.split('name="staff_id"')[0].rsplit("<div", 1)[-1]
    assert f'name="staff_id" value="{world.users["beautician1"]}"' in page
    assert f'min="{(today - timedelta(days=1)).isoformat()}"' in page
    assert f'max="{today.isoformat()}"' in page
    manager = login("manager").get(f"/customers/{world.customers['colleague']}/visits/new",
                                   headers=EN).get_data(as_text=True)
    assert '<select class="input" id="staff_id"' in manager or 'id="staff_id"' in manager
    assert f'min="{(today - timedelta(days=1)).isoformat()}"' not in manager


def test_a_beautician_draws_on_a_colleagues_customers_card_at_her_visit(app, login, world):
    today = _today(app, world)
    with app.app_context():
        card_id = sell_card(load(Customer, world.customers["colleague"]), name="十次卡",
                            sessions=3, price_fen=100000,
                            by=load(User, world.users["manager"])).id
    b1 = login("beautician1")
    response = _visit(b1, world.customers["colleague"], today, world.users["beautician1"],
                      prepaid_card_id=str(card_id), amount="0")
    assert response.status_code == 302
    with app.app_context():
        assert load(PrepaidCard, card_id).sessions_left == 2


def _contact(world, customer="mine"):
    return {"customer_id": world.customers[customer], "channel": "phone", "outcome": "reached",
            "client_id": str(uuid.uuid4())}


def test_the_api_refuses_a_colleagues_customer_for_good_with_a_message(app, login, world):
    b1 = login("beautician1")
    response = b1.post("/api/contacts", json=_contact(world, "colleague"), headers=EN)
    # 403 is permanent for the outbox (kq/static/js/outbox.js): kept and shown, not retried.
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "not_assigned"
    assert "not assigned to you" in body["message"]
    assert b1.post("/api/contacts", json=_contact(world, "other_store")).status_code == 404
    assert b1.post("/api/contacts", json=_contact(world, "mine")).status_code == 201
    owner = login("owner")
    assert owner.post("/api/contacts", json=_contact(world, "colleague")).status_code == 201
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Contact.id))) == 2


def test_the_contact_page_refuses_a_colleagues_customer(app, login, world):
    b1 = login("beautician1")
    colleague = world.customers["colleague"]
    assert b1.get(f"/calls/log?customer_id={colleague}").status_code == 403
    data = {**_contact(world, "colleague"), "next": "/tasks/today"}
    assert b1.post("/calls/log", data=data).status_code == 403
    assert b1.get(f"/calls/log?customer_id={world.customers['other_store']}").status_code == 404


# The helper itself ------------------------------------------------------------------------------

@pytest.mark.parametrize("action, own, colleague, manager", [
    (policy.VIEW, True, True, True),
    (policy.VIEW_CONTACT, True, False, True),
    (policy.REVEAL_PHONE, False, False, True),
    (policy.LOG_CONTACT, True, False, True),
    (policy.CARE_NOTE, True, False, True),
    (policy.ACT_FOR, True, False, True),
    (policy.EDIT, True, False, True),
    (policy.RECORD_VISIT, True, True, True),
    (policy.USE_CARD, True, True, True),
    (policy.MANAGE, False, False, True),
])
def test_can_answers_the_table(app, world, action, own, colleague, manager):
    with app.app_context():
        b1 = load(User, world.users["beautician1"])
        mine = load(Customer, world.customers["mine"])
        theirs = load(Customer, world.customers["colleague"])
        other = load(Customer, world.customers["other_store"])
        assert policy.can(b1, action, mine) is own
        assert policy.can(b1, action, theirs) is colleague
        for name in ("manager", "owner"):
            assert policy.can(load(User, world.users[name]), action, theirs) is manager
        # Another store: never, except for the owner of every store.
        assert policy.can(load(User, world.users["manager"]), action, other) is False
        assert policy.can(b1, action, other) is False
        with pytest.raises(ValueError):
            policy.can(b1, "fly", mine)


def test_visit_rules_at_the_day_boundaries(app, world):
    with app.app_context():
        store = load(Store, world.store1)
        today = store.today()
        b1, b2 = load(User, world.users["beautician1"]), load(User, world.users["beautician2"])
        manager = load(User, world.users["manager"])
        customer = load(Customer, world.customers["colleague"])
        ok = lambda user, staff, day: policy.can(  # noqa: E731
            user, policy.RECORD_VISIT, customer, served_by=staff, visited_on=day, today=today)
        assert ok(b1, b1, today) and ok(b1, b1, today - timedelta(days=1))
        assert not ok(b1, b1, today - timedelta(days=2))
        assert not ok(b1, b1, today + timedelta(days=1))
        assert not ok(b1, b2, today)
        assert ok(manager, b2, today - timedelta(days=400))
        assert not ok(manager, b2, today + timedelta(days=1))
        b2.active = False
        assert not ok(manager, b2, today)
