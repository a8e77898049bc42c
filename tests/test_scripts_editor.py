"""Manage → Scripts: the SMS rules refused on save for the longest name of the store, the live
preview (JSON, CSRF), spoken seconds, the seeded library, and who may see it."""
import re

from sqlalchemy import func, select

from kq import scripts
from kq.extensions import db
from kq.models import Customer, MessageTemplate, Store
from kq.models.messaging import CAMPAIGN_PHASES, MessageScript
from kq.services import messaging

EN = {"Accept-Language": "en"}


def _long_customer(app, world, greeting="欧阳小姐姐姐"):
    with app.app_context():
        c = Customer(store_id=world.store1, name="欧阳娜娜", surname="欧阳", title="小姐姐姐",
                     greeting_name=greeting, phone="+8613811112222")
        db.session.add(c)
        db.session.commit()
        store = db.session.get(Store, world.store1)
        return c.id, scripts.longest_values(store)


def _body_of_length(worst, total):
    fixed = len(worst["greeting"]) + len("您好—") + len(worst["staff"])
    return "{greeting}您好" + "，" * (total - fixed) + "—{staff}"


def _post(client, **fields):
    data = {"channel": "sms", "purpose": "custom", "locale": "zh_Hans", "name": "测试",
            "active": "1", **fields}
    return client.post("/manager/scripts/new", data=data, headers=EN)


def test_sms_over_the_limit_for_the_longest_name_is_refused(app, login, world):
    _id, worst = _long_customer(app, world)
    assert worst["greeting"] == "欧阳小姐姐姐"
    manager = login("manager")
    over = _post(manager, body=_body_of_length(worst, 71))
    assert over.status_code == 422
    text = over.get_data(as_text=True)
    assert "renders to 71 characters for 欧阳小姐姐姐" in text and "the limit is 70" in text
    ok = _post(manager, body=_body_of_length(worst, 70))
    assert ok.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(MessageScript.id))) == 1


def test_check_sms_uses_the_longest_names_of_the_segment_not_one_sample(app, world):
    _id, worst = _long_customer(app, world)
    with app.app_context():
        store = db.session.get(Store, world.store1)
        body = _body_of_length(worst, 70)[:-len("—{staff}")] + "，—{staff}"  # 71 for the longest
        problems = messaging.check_sms(body, store)
        assert problems and problems[0][0] == "too_long"
        assert problems[0][1]["offenders"] == ["欧阳小姐姐姐"]
        # a segment without her: the same text fits (梁小姐 is 3 characters shorter)
        others = select(Customer.id).where(Customer.store_id == store.id,
                                           Customer.greeting_name != "欧阳小姐姐姐")
        assert messaging.check_sms(body, store, others) == []


def test_a_text_starts_with_the_greeting_and_is_signed(app, login, world):
    manager = login("manager")
    r = _post(manager, body="您好{greeting}，想您了—{staff}")
    assert r.status_code == 422 and "begin with {greeting}" in r.get_data(as_text=True)
    r = _post(manager, body="{greeting}您好，想您了")
    assert r.status_code == 422 and "include {staff}" in r.get_data(as_text=True)
    r = _post(manager, body="{greeting}您好{oops}—{staff}")
    assert r.status_code == 422 and "{oops}" in r.get_data(as_text=True)
    # a WeChat message has no 70-character limit and no greeting rule
    r = _post(manager, channel="wechat", body="亲爱的{greeting}，" + "好" * 120 + "—{staff}")
    assert r.status_code == 302


def test_preview_renders_for_a_real_customer_and_counts_seconds(app, login, world):
    manager = login("manager")
    mine = world.customers["mine"]
    r = manager.post("/manager/scripts/preview", json={
        "channel": "sms", "body": "{greeting}您好，{store}想您了—{staff}", "customer_id": str(mine)},
        headers=EN)
    assert r.status_code == 200
    assert r.json["text"].startswith("梁小姐您好，一店想您了—")
    assert r.json["limit"] == 70 and r.json["length"] == len(r.json["text"])
    voice = manager.post("/manager/scripts/preview", json={
        "channel": "voice", "body": "一" * 100, "customer_id": str(mine)})
    assert voice.json["seconds"] == 25.0  # 100 characters at 4 a second
    other_store = manager.post("/manager/scripts/preview", json={
        "channel": "sms", "body": "x", "customer_id": str(world.customers["other_store"])})
    assert other_store.status_code == 404
    assert manager.post("/manager/scripts/preview", json={"channel": "fax", "body": "x"}
                        ).status_code == 422


def test_preview_needs_the_csrf_token(make_app, world):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "manager", "password": "secret-pass-1",
                                "csrf_token": token})
    body = {"channel": "sms", "body": "{greeting}—{staff}"}
    assert client.post("/manager/scripts/preview", json=body).status_code == 400
    page = client.get("/manager/scripts/new").get_data(as_text=True)
    fresh = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert client.post("/manager/scripts/preview", json=body,
                       headers={"X-CSRFToken": fresh}).status_code == 200


def test_the_editor_states_the_speaking_rate(app, login, world):
    page = login("manager").get("/manager/scripts/new?channel=voice", headers=EN)
    text = page.get_data(as_text=True)
    assert "at 4 characters a second; keep a voice message within 24 seconds" in text


def test_use_on_today_sets_the_checklist_text(app, login, world):
    manager = login("manager")
    body = "{greeting}您好，这周给您留了时间，等您回家。—{staff}"
    assert _post(manager, purpose="red_flag", body=body, today="1").status_code == 302
    with app.app_context():
        store = db.session.get(Store, world.store1)
        assert scripts.store_bodies(store)["red_flag"] == body
    refused = _post(manager, channel="wechat", purpose="red_flag", body=body, today="1")
    assert refused.status_code == 422


def test_seeded_library_every_kind_and_phase_three_languages_idempotent(app, world):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        added = scripts.seed_scripts(store, commit=True)
        assert added > 0
        assert scripts.seed_scripts(store, commit=True) == 0
        rows = db.session.scalars(select(MessageScript).where(
            MessageScript.store_id == store.id)).all()
        purposes = {(r.purpose, r.locale) for r in rows if r.channel == "sms"}
        for purpose in list(scripts.DEFAULTS) + list(CAMPAIGN_PHASES):
            for locale in ("zh_Hans", "zh_Hant", "en"):
                assert (purpose, locale) in purposes, (purpose, locale)
        for r in rows:
            if r.channel == "sms":
                assert messaging.check_sms(r.body, store) == [], (r.locale, r.purpose, r.body)
        assert {r.channel for r in rows} == {"sms", "wechat", "phone", "moments", "broadcast",
                                             "voice"}
        hant = next(r for r in rows if r.locale == "zh_Hant" and r.purpose == "red_flag"
                    and r.channel == "sms")
        assert "這週" in hant.body
        # another store's library is its own
        assert db.session.scalar(select(func.count(MessageScript.id)).where(
            MessageScript.store_id == world.store2)) == 0


def test_scripts_pages_are_for_managers(app, login, world):
    with app.app_context():
        scripts.seed_scripts(db.session.get(Store, world.store1), commit=True)
        other = db.session.get(Store, world.store2)
        scripts.seed_scripts(other, commit=True)
        other_id = db.session.scalar(select(MessageScript.id).where(
            MessageScript.store_id == other.id).limit(1))
    beautician = login("beautician1")
    assert beautician.get("/manager/scripts").status_code == 403
    manager = login("manager")
    page = manager.get("/manager/scripts?channel=voice", headers=EN)
    assert page.status_code == 200 and "Voice message" in page.get_data(as_text=True)
    assert manager.get(f"/manager/scripts/{other_id}").status_code == 404
    assert manager.post(f"/manager/scripts/{other_id}", data={"body": "x"}).status_code == 404
    # Today's texts are one tap away and still work
    assert manager.get("/manager/templates").status_code == 200


def test_the_counter_shows_the_servers_worst_case_and_each_message_once(app, login, world):
    """The live counter counts what the server refuses on (the longest name of the store and
    the longest sender), not the previewed customer; on a refusal 'Not saved' and the limit
    message are each shown once."""
    _id, worst = _long_customer(app, world)
    manager = login("manager")
    body = _body_of_length(worst, 71)
    mine = world.customers["mine"]  # 梁小姐: shorter than the longest name
    r = manager.post("/manager/scripts/preview", json={
        "channel": "sms", "body": body, "customer_id": str(mine)}, headers=EN)
    assert r.json["worst"] == 71 and r.json["over"] is True
    assert r.json["length"] == len(r.json["text"]) < 71
    ok = manager.post("/manager/scripts/preview", json={
        "channel": "sms", "body": _body_of_length(worst, 70), "customer_id": str(mine)})
    assert ok.json["worst"] == 70 and ok.json["over"] is False
    refused = _post(manager, body=body)
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert text.count("Not saved") == 1
    assert text.count("renders to 71 characters") == 1
    assert re.search(r'id="length"[^>]*>71</span>/70', text)
