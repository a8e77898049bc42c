"""Customer cards: validation at its edges, duplicates, visits, care notes, classification,
search, masking and who may do what."""
import re
from datetime import timedelta

import pytest

from kq.extensions import db
from kq.models import (CareNote, Customer, PointsEntry, PrepaidCard, Store, User, Visit)
from kq.services.classify import band, decide_key, recompute_store, score
from kq.services.customers import refresh_search_keys
from tests.helpers import at, load


def _new(client, **fields):
    data = {"name": "梁小娟", "title": "小姐", "phone": "139 0000 2222"}
    data.update(fields)
    return client.post("/customers/new", data=data, headers={"Accept-Language": "en"})


def _count(model=Customer):
    return db.session.scalar(db.select(db.func.count(model.id)))


@pytest.mark.parametrize("raw", ["139 8765 4321", "+86-139-8765-4321", "0086 13987654321",
                                 "(+86) 139.8765.4321"])
def test_phone_forms_are_stored_one_way(app, login, world, raw):
    response = _new(login("beautician1"), phone=raw)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with app.app_context():
        customer = db.session.scalar(db.select(Customer).where(Customer.name == "梁小娟",
                                                               Customer.phone != "+8613812345678"))
        assert customer.phone == "+8613987654321"


@pytest.mark.parametrize("raw", ["12345", "138-abc-5678", "+86 123 4567 8901", "1" * 30])
def test_bad_phones_are_refused_with_a_message(app, login, world, raw):
    with app.app_context():
        before = _count()
    response = _new(login("beautician1"), phone=raw)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "valid mobile number" in text or "At most 25" in text
    with app.app_context():
        assert _count() == before


def test_foreign_mobile_numbers_are_accepted(app, login, world):
    assert _new(login("beautician1"), phone="+852 9123 4567").status_code == 302
    assert _new(login("beautician1"), phone="+1 415 555 2671", name="Anna").status_code == 302


def test_phone_or_wechat_is_required(login, world):
    response = _new(login("beautician1"), phone="")
    assert response.status_code == 422
    assert "mobile phone or a WeChat ID" in response.get_data(as_text=True)
    assert _new(login("beautician1"), phone="", wechat_id="lxj_88").status_code == 302


def test_duplicate_phone_offers_the_existing_card(app, login, world):
    manager = login("manager")
    with app.app_context():
        before = _count()
    response = _new(manager, name="梁晓娟", phone="+86 138 1234 5678")
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert f'href="/customers/{world.customers["mine"]}"' in text
    assert "already on a card" in text
    with app.app_context():
        assert _count() == before
    # Editing another card onto the same number is refused the same way, nothing changed.
    edit = manager.post(f"/customers/{world.customers['colleague']}/edit",
                        data={"name": "王芳", "phone": "13812345678"},
                        headers={"Accept-Language": "en"})
    assert edit.status_code == 409
    with app.app_context():
        assert load(Customer, world.customers["colleague"]).phone == "+8613900001111"


@pytest.mark.parametrize("month,day,year,ok", [
    (2, 29, "", True), (2, 29, "2024", True), (2, 29, "2023", False), (2, 30, "", False),
    (4, 31, "", False), (12, 31, "1990", True), (13, 1, "", False), (2, "", "", False),
    (1, 1, "2999", False)])
def test_birthdays_at_their_edges(login, world, month, day, year, ok):
    response = _new(login("beautician1"), birth_month=month, birth_day=day, birth_year=year)
    assert (response.status_code == 302) is ok, response.status_code


def test_length_limits_and_escaping(app, login, world):
    client = login("beautician1")
    too_long = _new(client, name="梁" * 41)
    assert too_long.status_code == 422 and "At most 40 characters" in too_long.get_data(
        as_text=True)
    ok = _new(client, notes="<script>alert(1)</script>", hobbies="<b>瑜伽</b>")
    assert ok.status_code == 302
    card = client.get(ok.headers["Location"]).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in card and "&lt;script&gt;" in card
    assert "<b>瑜伽</b>" not in card


def test_greeting_from_surname_and_title_and_compound_surnames(app, login, world):
    client = login("beautician1")
    _new(client, name="欧阳娜娜", title="女士", phone="13900003333")
    with app.app_context():
        customer = db.session.scalar(db.select(Customer).where(Customer.name == "欧阳娜娜"))
        assert (customer.surname, customer.greeting_name) == ("欧阳", "欧阳女士")
        # A beautician's new customer is hers.
        assert customer.assigned_staff_id == world.users["beautician1"]


def test_record_visit_with_points_and_a_prepaid_session(app, login, world):
    with app.app_context():
        card = PrepaidCard(store_id=world.store1, customer_id=world.customers["mine"],
                           name="补水卡", sessions_total=1)
        db.session.add(card)
        db.session.commit()
        card_id = card.id
        today = load(Store, world.store1).today()
    client = login("beautician1")
    url = f"/customers/{world.customers['mine']}/visits/new"
    form = {"visited_on": today.isoformat(), "visited_time": "15:30", "services": "补水护理",
            "amount": "6000.00", "staff_id": world.users["beautician1"], "prepaid_card_id": ""}
    assert client.post(url, data=form).status_code == 302
    assert client.post(url, data={**form, "amount": "0", "prepaid_card_id": card_id}
                       ).status_code == 302
    # The card is used up now; offering it again is refused, nothing written.
    refused = client.post(url, data={**form, "prepaid_card_id": card_id},
                          headers={"Accept-Language": "en"})
    assert refused.status_code == 422 and "no sessions left" in refused.get_data(as_text=True)
    future = client.post(url, data={**form, "visited_on": (today + timedelta(days=1)).isoformat()},
                         headers={"Accept-Language": "en"})
    assert future.status_code == 422 and "future" in future.get_data(as_text=True)
    negative = client.post(url, data={**form, "amount": "-5"})
    assert negative.status_code == 422
    with app.app_context():
        customer = load(Customer, world.customers["mine"])
        assert customer.visit_count == 2 and customer.total_spent_fen == 600000
        assert customer.points_balance == 300
        assert db.session.scalar(db.select(db.func.sum(PointsEntry.points))) == 300
        assert load(PrepaidCard, card_id).sessions_left == 0
        assert customer.last_visit_at.astimezone(at(today).tzinfo).hour == 15
        assert _count(Visit) == 2


def test_a_card_of_another_customer_cannot_be_used(app, login, world):
    with app.app_context():
        card = PrepaidCard(store_id=world.store1, customer_id=world.customers["colleague"],
                           name="别人的卡", sessions_total=5)
        db.session.add(card)
        db.session.commit()
        card_id = card.id
        today = load(Store, world.store1).today()
    response = login("manager").post(
        f"/customers/{world.customers['mine']}/visits/new",
        data={"visited_on": today.isoformat(), "services": "x", "amount": "0",
              "staff_id": world.users["beautician1"], "prepaid_card_id": card_id})
    assert response.status_code == 422
    with app.app_context():
        assert load(PrepaidCard, card_id).sessions_used == 0


def test_care_note_shows_on_top_of_the_card(app, login, world):
    client = login("beautician1")
    url = f"/customers/{world.customers['mine']}/care-notes/new"
    assert client.post(url, data={}).status_code == 422
    assert client.post(url, data={"service_done": "补水", "skin_condition": "两颊干燥",
                                  "feedback": "很舒服"}).status_code == 302
    card = client.get(f"/customers/{world.customers['mine']}").get_data(as_text=True)
    assert card.index("两颊干燥") < card.index("facts")
    with app.app_context():
        assert _count(CareNote) == 1


def test_key_score_top_share_store_rule_override_and_bands(app, world):
    with app.app_context():
        store = load(Store, world.store1)
        spenders = []
        for i in range(10):
            customer = Customer(store_id=store.id, name=f"顾客{i}", greeting_name="顾客",
                                total_spent_fen=i * 5000, visit_count=i, approx_age=40)
            db.session.add(customer)
            spenders.append(customer)
        db.session.flush()
        db.session.add(PrepaidCard(store_id=store.id, customer_id=spenders[0].id, name="卡",
                                   sessions_total=3))
        spenders[1].key_override, spenders[1].key_override_reason = True, "老板的朋友"
        spenders[9].key_override = False
        for day in range(6):
            db.session.add(Visit(store_id=store.id, customer_id=spenders[2].id,
                                 visited_at=at(store.today() - timedelta(days=day * 10))))
        db.session.commit()
        result = recompute_store(store)
        ids = {c.id: c for c in spenders}
        db.session.expire_all()
        key = {c.id for c in db.session.scalars(db.select(Customer).where(
            Customer.store_id == store.id, Customer.is_key.is_(True)))}
        assert spenders[0].id in key and load(Customer, spenders[0].id).key_reason == "card"
        assert spenders[1].id in key and load(Customer, spenders[1].id).key_reason == "override"
        assert spenders[9].id not in key  # overridden to general despite the top score
        assert result["threshold"] is not None
        assert load(Customer, spenders[8].id).key_reason == "score"
        assert load(Customer, spenders[2].id).visit_band == "high"
        assert load(Customer, spenders[3].id).visit_band == "none"
        assert len(ids) == 10
    assert band(6, store) == "high" and band(5, store) == "medium" and band(3, store) == "medium"
    assert band(2, store) == "low" and band(0, store) == "none"
    assert decide_key(0, 90, False, 50001, None, store) == (True, "spend")
    assert decide_key(0, 90, False, 50000, None, store) == (False, None)
    assert score(0, 0, 0, None, None) < score(1_000_000, 24, 3, 40, 5) == 100


def test_override_needs_a_reason(login, world):
    client = login("manager")
    response = client.post(f"/customers/{world.customers['mine']}/edit",
                           data={"name": "梁小娟", "phone": "13812345678", "key_override": "key"},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 422 and "Say why" in response.get_data(as_text=True)
    ok = client.post(f"/customers/{world.customers['mine']}/edit",
                     data={"name": "梁小娟", "phone": "13812345678", "key_override": "key",
                           "key_override_reason": "带来三位朋友"})
    assert ok.status_code == 302
    card = client.get(f"/customers/{world.customers['mine']}").get_data(as_text=True)
    assert "带来三位朋友" in card


def _search(client, q):
    page = client.get("/customers/", query_string={"q": q}).get_data(as_text=True)
    return re.findall(r'href="/customers/(\d+)"', page)


def test_search_by_pinyin_initials_full_pinyin_name_and_phone(app, login, world):
    with app.app_context():
        for customer in db.session.scalars(db.select(Customer)):
            refresh_search_keys(customer)
        db.session.commit()
    client = login("beautician1")
    mine = str(world.customers["mine"])
    for q in ("lxj", "LXJ", "liangxiaojuan", "liang xiao", "xiaojuan", "梁小娟", "小娟",
              "5678", "138 1234", "+86 138 1234 5678", "13812345678"):
        assert mine in _search(client, q), q
    assert mine not in _search(client, "wf")
    assert str(world.customers["colleague"]) in _search(client, "wf")
    assert _search(client, "zm") == []  # 赵敏 is in the other store
    assert _search(client, "9999") == []


def test_search_by_the_greeting_name_shown_on_today(app, login, world):
    with app.app_context():
        mine = load(Customer, world.customers["mine"])
        mine.surname, mine.title, mine.greeting_name = "梁", "女士", "娟姐"
        for customer in db.session.scalars(db.select(Customer)):
            refresh_search_keys(customer)
        db.session.commit()
    client = login("beautician1")
    found = str(world.customers["mine"])
    for q in ("娟姐", "梁女士", "梁女", "梁小娟"):
        assert found in _search(client, q), q
    assert found not in _search(client, "女士")  # a title alone finds nobody in particular
    assert str(world.customers["colleague"]) in _search(client, "王小姐")


def test_list_masks_numbers_except_her_own(app, login, world):
    page = login("beautician1").get("/customers/?staff=all").get_data(as_text=True)
    assert "13812345678" in page and "139****1111" in page and "13900001111" not in page
    manager = login("manager").get("/customers/").get_data(as_text=True)
    assert "138****5678" in manager and "13812345678" not in manager


def test_filters(app, login, world):
    with app.app_context():
        mine = load(Customer, world.customers["mine"])
        mine.last_visit_at = at(load(Store, world.store1).today() - timedelta(days=200))
        colleague = load(Customer, world.customers["colleague"])
        colleague.last_visit_at = at(load(Store, world.store1).today() - timedelta(days=3))
        colleague.is_key = True
        from kq.services.customers import set_tags

        set_tags(colleague, ["每月4次"])
        db.session.commit()
    client = login("manager")
    get = lambda **args: set(re.findall(r'href="/customers/(\d+)"',  # noqa: E731
                                        client.get("/customers/", query_string=args)
                                        .get_data(as_text=True)))
    m, c = str(world.customers["mine"]), str(world.customers["colleague"])
    assert get(status="dormant") == {m} and get(status="active") == {c}
    assert get(window="180") == {m} and get(window="365") == set()
    assert get(days="100") == {m}
    assert get(key="key") == {c} and get(key="general") == {m}
    assert get(tag="每月4次") == {c}
    assert get(staff=str(world.users["beautician1"])) == {m}
    assert get(staff="none") == set()
    assert get(sort="recent", status="") == {m, c}


def test_cross_store_404_and_cross_staff_edit_403(app, login, world):
    b1 = login("beautician1")
    other = world.customers["other_store"]
    for path in (f"/customers/{other}", f"/customers/{other}/edit",
                 f"/customers/{other}/visits/new", f"/customers/{other}/care-notes/new"):
        assert b1.get(path).status_code == 404, path
    colleague = world.customers["colleague"]
    assert b1.get(f"/customers/{colleague}/edit").status_code == 403
    assert b1.post(f"/customers/{colleague}/edit", data={"name": "改名"}).status_code == 403
    with app.app_context():
        assert load(Customer, colleague).name == "王芳"
    assert b1.get(f"/customers/{world.customers['mine']}/edit").status_code == 200


def test_cli_recompute(app, world):
    result = app.test_cli_runner().invoke(args=["kq", "customers", "recompute", "--search-keys"])
    assert result.exit_code == 0 and "key" in result.output
    with app.app_context():
        from kq.models import CustomerSearchKey

        assert _count(CustomerSearchKey) > 0
        assert load(Store, world.store1).key_score_threshold is not None
    assert app.test_cli_runner().invoke(
        args=["kq", "customers", "recompute", "--store", "999"]).exit_code != 0


def test_manager_assigns_from_the_form(app, login, world):
    client = login("manager")
    response = _new(client, phone="13900004444", assigned_staff_id=world.users["beautician2"])
    assert response.status_code == 302
    with app.app_context():
        customer = db.session.scalar(db.select(Customer).where(Customer.phone == "+8613900004444"))
        assert customer.assigned_staff_id == world.users["beautician2"]
        assert db.session.get(User, world.users["beautician2"]).store_id == customer.store_id


def test_duplicate_page_still_says_new_customer(login, world):
    page = _new(login("manager"), phone="13812345678").get_data(as_text=True)
    assert "<title>New customer" in page


def test_a_landline_keeps_its_zero_is_called_not_texted_and_is_found_as_written(app, login,
                                                                                world):
    from kq.extensions import db
    from kq.models import Customer
    from kq.services.customers import refresh_search_keys

    with app.app_context():
        mine = db.session.get(Customer, world.customers["mine"])
        mine.phone = "+861065529988"
        refresh_search_keys(mine)
        db.session.commit()
    client = login("beautician1")
    page = client.get(f"/customers/{world.customers['mine']}").get_data(as_text=True)
    assert 'href="tel:01065529988"' in page and "sms:" not in page
    found = client.get("/customers/?q=010-65529988").get_data(as_text=True)
    assert f"/customers/{world.customers['mine']}" in found
    masked = login("beautician2").get(f"/customers/{world.customers['mine']}")
    assert "010****9988" in masked.get_data(as_text=True)


def _ids(client, **args):
    page = client.get("/customers/", query_string=args).get_data(as_text=True)
    return set(re.findall(r'href="/customers/(\d+)"', page)), page


def test_the_customers_tab_opens_on_her_own_customers_with_a_toggle_for_the_store(app, login,
                                                                                   world):
    """Issue 15 finding 4: the tab opened on every customer of the store, mostly other staff's.
    A beautician now starts on hers; one tap shows the whole store; a manager starts on the
    store. Searching by name finds anyone in the store (a walk-in is rarely hers)."""
    with app.app_context():
        for customer in db.session.scalars(db.select(Customer)):
            refresh_search_keys(customer)
        db.session.commit()
    m, c = str(world.customers["mine"]), str(world.customers["colleague"])
    b1 = login("beautician1")
    shown, page = _ids(b1)
    assert shown == {m}
    assert 'href="/customers/?staff=all"' in page and 'aria-current="page"' in page
    assert _ids(b1, staff="all")[0] == {m, c}
    assert _ids(b1, staff="me")[0] == {m}
    assert _ids(b1, q="王芳")[0] == {c}  # a search covers the store unless she chose "mine"
    assert _ids(b1, q="王芳", staff="me")[0] == set()
    # The toggle keeps her filters, and the filters keep the toggle.
    _, dormant = _ids(b1, status="dormant", staff="all")
    assert re.search(r'href="/customers/\?(status=dormant&amp;staff=me|staff=me&amp;status=dormant)"',
                     dormant)
    assert '<option value="all" selected' in dormant
    assert _ids(login("manager"))[0] == {m, c}
    assert b1.get("/customers/?staff=99999999999").status_code == 200  # beyond any id: nobody
    assert _ids(login("manager"), staff="me")[0] == set()
    # Export follows the same list (hers, or for a manager the store).
    csv = b1.get("/customers/?format=csv").get_data(as_text=True)
    assert "梁小娟" in csv and "王芳" not in csv
    csv = login("manager").get("/customers/?format=csv").get_data(as_text=True)
    assert "梁小娟" in csv and "王芳" in csv


def _back(page):
    found = re.search(r'<a class="topbar-back" href="([^"]*)" aria-label="([^"]+)"', page)
    return found and (found.group(1).replace("&amp;", "&"), found.group(2))


def test_every_page_below_a_tab_has_a_back_control_to_its_parent(app, login, world):
    """Issue 15 finding 4: installed on an iPhone (display: standalone) there is no browser
    back; only the bottom tabs got her out of a card. Every page below a tab now has a "‹" in
    its header: a card back to the list she opened it from (else Customers), a card's own
    pages back to the card, other pages to their list or their tab."""
    mine = world.customers["mine"]
    card = f"/customers/{mine}"
    b1 = login("beautician1")
    get = lambda path, **headers: b1.get(path, headers={  # noqa: E731
        "Accept-Language": "en", **headers}).get_data(as_text=True)
    for root in ("/tasks/today", "/customers/", "/calls/", "/more"):
        assert _back(get(root)) is None, root
    assert _back(get(card)) == ("/customers/", "Back")
    local = "http://localhost"
    for came_from in ("/tasks/today", "/customers/?status=dormant&page=2", "/calls/",
                      f"/customers/{world.customers['colleague']}", "/gifts/"):
        assert _back(get(card, Referer=local + came_from))[0] == came_from, came_from
    for elsewhere in ("https://evil.example/customers/", local + card + "/visits/new",
                      local + card, local + "/login", local + "/nowhere"):
        assert _back(get(card, Referer=elsewhere))[0] == "/customers/", elsewhere
    for sub in ("/visits/new", "/care-notes/new", "/promises/new", "/complaints/new", "/points",
                "/edit", "/cards/new"):
        assert _back(get(card + sub))[0] == card, sub
    assert _back(get(f"/gifts/give/{mine}"))[0] == card
    assert _back(get(f"/calls/log?customer_id={mine}"))[0] == card
    assert _back(get("/customers/new"))[0] == "/customers/"
    assert _back(get("/gifts/"))[0] == "/more"
    assert _back(get("/account/password"))[0] == "/more"
    manager = login("manager")
    assert _back(manager.get("/manager/").get_data(as_text=True)) is None
    assert _back(manager.get("/manager/staff").get_data(as_text=True))[0] == "/manager/"
    assert _back(manager.get("/reports/").get_data(as_text=True))[0] == "/manager/"
    zh = b1.get(card, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert _back(zh)[1] == "返回"


def _text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_the_card_reads_as_a_record_in_one_date_format(app, login, world):
    """Issue 15 finding 10: the visit list was headed 到店次数 (a count), the points line read
    "积分 3 积分", and one card mixed 2026年10月28日, 2026/11/15 13:02 and 11月13日."""
    from kq.models import Complaint, Contact

    with app.app_context():
        store = load(Store, world.store1)
        mine = load(Customer, world.customers["mine"])
        b1 = load(User, world.users["beautician1"])
        mine.birth_month, mine.birth_day, mine.points_balance = 11, 13, 3
        seen = at(store.today() - timedelta(days=9), 15, 5)
        db.session.add_all([
            Visit(store_id=store.id, customer_id=mine.id, staff_id=b1.id, visited_at=seen,
                  services="补水护理", amount_fen=36800),
            CareNote(store_id=store.id, customer_id=mine.id, staff_id=b1.id,
                     service_done="补水", created_at=seen),
            CareNote(store_id=store.id, customer_id=mine.id, staff_id=b1.id,
                     service_done="清洁", created_at=seen - timedelta(days=30)),
            Contact(store_id=store.id, customer_id=mine.id, staff_id=b1.id, client_id="c-1",
                    channel="phone", outcome="booked", contacted_at=seen),
            Complaint(store_id=store.id, customer_id=mine.id, staff_id=b1.id, received_at=seen,
                      channel="phone", summary="等太久"),
        ])
        mine.last_visit_at = seen
        db.session.commit()
        day = store.local_date(seen)
    client = login("beautician1")
    card = f"/customers/{world.customers['mine']}"
    zh = client.get(card, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "<h3>到店记录</h3>" in zh and "到店次数</h3>" not in zh
    points = [li for li in re.findall(r"<li>(.*?)</li>", zh, re.S) if '/points"' in li]
    assert [_text(li) for li in points] == ["3 积分 ›"]
    text = _text(zh)
    assert not re.search(r"\d{4}/\d{1,2}/\d{1,2}|\d{1,2}/\d{1,2}/\d{2}\b", text), text
    dates = set(re.findall(r"\d{4}年\d{1,2}月\d{1,2}日", text))
    assert dates == {f"{d.year}年{d.month}月{d.day}日" for d in (day, day - timedelta(days=30))}
    assert "生日 11月13日" in text  # no year known: month and day, the same style
    assert f"{day.year}年{day.month}月{day.day}日 15:05" in text  # a contact keeps its time
    en = _text(client.get(card, headers={"Accept-Language": "en"}).get_data(as_text=True))
    assert not re.search(r"\d{1,2}/\d{1,2}(/\d{2})?\b", en), en
    assert "Birthday Nov 13" in en and "Visit history" in en


def test_the_login_bar_names_the_app_once(client):
    """Issue 15 finding 10: in Chinese the sign-in bar read "客情 客情"."""
    for language, name in (("zh-CN", "客情"), ("zh-TW", "客情"), ("en", "Keqing 客情")):
        page = client.get("/login", headers={"Accept-Language": language}).get_data(as_text=True)
        bar = re.search(r'<header class="topbar">(.*?)</header>', page, re.S).group(1)
        assert _text(bar) == name, (language, _text(bar))
