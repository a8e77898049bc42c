"""Message scripts: rendering, the 70-character rule for every customer, and the editor."""
from kq import scripts
from kq.extensions import db
from kq.models import Customer, MessageTemplate, Store


def test_render_aliases_and_hrefs():
    values = {"greeting": "梁小姐", "staff": "小美", "store": "丽颜", "date": "3月8日", "gift": "面膜"}
    assert scripts.render("{称呼}好，{员工}", values) == "梁小姐好，小美"
    assert scripts.render("{greeting}{unknown}", values) == "梁小姐{unknown}"
    assert scripts.unknown_placeholders("{greeting}{oops}{员工}") == ["oops"]
    assert scripts.tel_href("+8613812345678") == "tel:13812345678"
    assert scripts.sms_href("+8613812345678", "梁小姐 好&") == \
        "sms:13812345678?&body=%E6%A2%81%E5%B0%8F%E5%A7%90%20%E5%A5%BD%26"
    assert scripts.sms_href(None, "x") is None


def test_every_default_text_keeps_the_rules(app, world):
    with app.app_context():
        store = db.session.get(Store, world.store1)
        for kind, body in scripts.DEFAULTS.items():
            assert scripts.check(body, store) == [], kind


def test_70_characters_for_the_longest_name_pass_71_are_refused(app, login, world):
    with app.app_context():
        db.session.add(Customer(store_id=world.store1, name="欧阳娜娜", surname="欧阳",
                                title="小姐姐姐", greeting_name="欧阳小姐姐姐"))
        db.session.commit()
        worst = scripts.longest_values(db.session.get(Store, world.store1))
    assert worst["greeting"] == "欧阳小姐姐姐"
    fixed = len(worst["greeting"]) + len("您好—") + len(worst["staff"])
    manager = login("manager")
    at_limit = "{greeting}您好" + "，" * (70 - fixed) + "—{staff}"
    over = "{greeting}您好" + "，" * (71 - fixed) + "—{staff}"
    response = manager.post("/manager/templates", data={"kind": "red_flag", "body": over},
                            headers={"Accept-Language": "en"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "renders to 71 characters for 欧阳小姐姐姐" in text and "the limit is 70" in text
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(MessageTemplate.id))) == 0
    ok = manager.post("/manager/templates", data={"kind": "red_flag", "body": at_limit})
    assert ok.status_code == 302


def test_unsigned_or_not_greeting_first_or_unknown_placeholder_refused(login, world):
    manager = login("manager")
    for body, message in (("您好—{staff}", "begin with {greeting}"),
                          ("{greeting}您好", "include {staff}"),
                          ("{greeting}{coupon}—{staff}", "Unknown placeholder: {coupon}"),
                          ("", "empty")):
        response = manager.post("/manager/templates", data={"kind": "callback", "body": body},
                                headers={"Accept-Language": "en"})
        assert response.status_code == 422 and message in response.get_data(as_text=True), body
    assert manager.post("/manager/templates", data={"kind": "nope", "body": "x"}).status_code == 400


def test_saved_text_is_used_and_can_be_reset(app, login, world):
    manager = login("manager")
    body = "{greeting}，好久不见，店里新到了补水面膜。—{staff}"
    assert manager.post("/manager/templates", data={"kind": "red_flag", "body": body}
                        ).status_code == 302
    with app.app_context():
        store = db.session.get(Store, world.store1)
        assert scripts.store_bodies(store)["red_flag"] == body
        assert scripts.store_bodies(db.session.get(Store, world.store2))["red_flag"] == \
            scripts.DEFAULTS["red_flag"]
    page = manager.get("/manager/templates").get_data(as_text=True)
    assert "新到了补水面膜" in page
    manager.post("/manager/templates", data={"kind": "red_flag", "action": "reset"})
    with app.app_context():
        assert scripts.store_bodies(db.session.get(Store, world.store1))["red_flag"] == \
            scripts.DEFAULTS["red_flag"]


def test_beauticians_cannot_edit_texts(login, world):
    client = login("beautician1")
    assert client.get("/manager/templates").status_code == 403
    assert client.post("/manager/templates", data={"kind": "red_flag", "body": "x"}
                       ).status_code == 403
