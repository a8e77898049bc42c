"""Manage → Staff (add, edit, deactivate, reset), one's own password, and what a temporary
password or a closed account does at sign-in."""
import re

from sqlalchemy import select

from kq.extensions import db
from kq.models import AuditEvent, Customer, User
from kq.services import staff as service
from tests.conftest import PASSWORD
from tests.helpers import load

EN = {"Accept-Language": "en"}


def user_named(app, username):
    with app.app_context():
        return db.session.scalar(select(User).where(User.username == username))


def staff_events(app):
    with app.app_context():
        return [e.detail for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff").order_by(AuditEvent.id))]


def temporary_password_on(response):
    match = re.search(r'<code class="big-number">([^<]+)</code>', response.get_data(as_text=True))
    return match.group(1) if match else None


def add(client, **fields):
    data = {"username": "xiaolin", "display_name": "小林", "phone": "139 0000 1234",
            "role": "beautician", **fields}
    return client.post("/manager/staff/new", data=data, headers=EN)


def test_list_shows_the_stores_accounts_with_role_and_customers(app, login, world):
    page = login("manager").get("/manager/staff", headers=EN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("manager", "beautician1", "beautician2", "owner"):
        assert f'<span class="muted">{name}</span>' in html
    assert "manager2" not in html and "beautician7" not in html
    b1 = html[html.index("beautician1"):]
    assert "1 customers" in b1[:400] and "never signed in" in b1[:400]
    assert "last signed in" in html[html.index('<span class="muted">manager</span>'):][:600]


def test_add_a_beautician_shows_the_temporary_password_once(app, login, world):
    client = login("manager")
    response = add(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = temporary_password_on(response)
    assert password and len(password) >= 12
    with client.session_transaction() as session:  # not flashed into the cookie
        assert password not in repr(dict(session))
    user = user_named(app, "xiaolin")
    assert (user.store_id, user.role, user.display_name, user.phone, user.active,
            user.must_change_password) == (world.store1, "beautician", "小林", "+8613900001234",
                                           True, True)
    assert password not in user.password_hash
    # Shown once: the list, the edit page and the audit never carry it.
    for path in ("/manager/staff", f"/manager/staff/{user.id}"):
        assert password not in client.get(path).get_data(as_text=True)
    assert staff_events(app) == [{"op": "add", "username": "xiaolin", "role": "beautician"}]


def test_temporary_passwords_are_random_and_readable():
    seen = {service.temporary_password() for _ in range(200)}
    assert len(seen) == 200
    for p in seen:
        assert len(p) == 14 and re.fullmatch(r"[a-km-z2-9]{4}-[a-km-z2-9]{4}-[a-km-z2-9]{4}", p)
        assert not set(p) & set("01lo")


def test_username_rules_and_uniqueness(app, login, world):
    client = login("manager")
    for username, message in (("ab", "3 to 40 characters"), ("9lin", "starting with a letter"),
                              ("小林", "lowercase letters"), ("beautician7", "is taken"),
                              ("Beautician1", "is taken")):
        response = add(client, username=username)
        assert response.status_code == 422, username
        assert message in response.get_data(as_text=True), username
    bad = add(client, display_name=" ", phone="12", role="owner")
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Enter the name shown" in html and "valid mobile number" in html
    assert "Choose a role." in html  # a manager cannot make an owner
    assert user_named(app, "xiaolin") is None and staff_events(app) == []


def test_the_owner_may_add_an_owner_a_manager_may_not(app, login, world):
    assert add(login("manager"), role="owner").status_code == 422
    assert add(login("owner"), username="boss2", role="owner").status_code == 200
    assert user_named(app, "boss2").role == "owner"


def test_owner_adds_in_the_store_she_switched_to(app, login, world):
    owner = login("owner")
    owner.post("/store", data={"store_id": world.store2})
    assert add(owner, username="erdian").status_code == 200
    assert user_named(app, "erdian").store_id == world.store2


def test_new_account_must_choose_her_password_before_anything_else(app, login, world):
    password = temporary_password_on(add(login("manager")))
    client = app.test_client()
    signed_in = client.post("/login", data={"username": "xiaolin", "password": password,
                                            "next": "/customers/"})
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/account/password?next=/customers/"
    for path in ("/tasks/today", "/customers/", "/more"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/account/password"), path
    api = client.post("/api/contacts", json={})
    assert api.status_code == 401 and api.json["error"] == "password_change_required"
    assert client.get("/api/session").status_code == 200
    assert client.get("/account/password").status_code == 200
    changed = client.post("/account/password", data={
        "current": password, "new": "my-own-pass-9", "repeat": "my-own-pass-9",
        "next": "/customers/"})
    assert changed.status_code == 302 and changed.headers["Location"] == "/customers/"
    assert client.get("/tasks/today").status_code == 200  # still signed in
    assert not user_named(app, "xiaolin").must_change_password
    fresh = app.test_client().post("/login", data={"username": "xiaolin",
                                                   "password": "my-own-pass-9"})
    assert fresh.headers["Location"] == "/tasks/today"


def test_change_password_refusals(app, login, world):
    client = login("beautician1")
    cases = (
        ({"current": "wrong", "new": "another-pass", "repeat": "another-pass"},
         "That is not your current password."),
        ({"current": PASSWORD, "new": "nine-char", "repeat": "nine-char"},
         "At least 10 characters."),
        ({"current": PASSWORD, "new": "x" * 201, "repeat": "x" * 201}, "200"),
        ({"current": PASSWORD, "new": "another-pass", "repeat": "another-pasS"},
         "The two new passwords are not the same."),
        ({"current": PASSWORD, "new": "BEAUTICIAN1", "repeat": "BEAUTICIAN1"},
         "Your password cannot be or contain your username."),
        ({"current": PASSWORD, "new": "my-BEAUTICIAN1-pw", "repeat": "my-BEAUTICIAN1-pw"},
         "Your password cannot be or contain your username."),
        ({"current": PASSWORD, "new": "Password123", "repeat": "Password123"},
         "one of the most common passwords"),
        ({"current": PASSWORD, "new": "1234567890", "repeat": "1234567890"},
         "one of the most common passwords"),
        ({"current": PASSWORD, "new": PASSWORD, "repeat": PASSWORD},
         "different from the current one"),
    )
    for data, message in cases:
        response = client.post("/account/password", data=data, headers=EN)
        assert response.status_code == 422, message
        assert message in response.get_data(as_text=True), message
    zh = client.post("/account/password", data={"current": PASSWORD, "new": "password123",
                                                 "repeat": "password123"})
    assert zh.status_code == 422 and "常用密码" in zh.get_data(as_text=True)
    with app.app_context():
        assert load(User, world.users["beautician1"]).check_password(PASSWORD)
    # Exactly 10 characters is enough.
    ok = client.post("/account/password", data={"current": PASSWORD, "new": "ten-chars!",
                                                "repeat": "ten-chars!"})
    assert ok.status_code == 302
    with app.app_context():
        assert load(User, world.users["beautician1"]).check_password("ten-chars!")
    assert staff_events(app) == [{"op": "change_password", "username": "beautician1"}]


def test_the_common_password_list_is_shipped_with_its_source():
    from kq.passwords import COMMON_FILE, common_passwords, password_problem

    head = COMMON_FILE.read_text(encoding="utf-8").splitlines()[:3]
    assert any("zxcvbn" in line for line in head) and any("MIT" in line for line in head)
    assert len(common_passwords()) == 10000
    assert {"password", "123456", "qwertyuiop"} <= common_passwords()
    assert all(p == p.lower() for p in common_passwords())
    assert password_problem("a-long-and-rare-phrase", "xiaolin") is None
    # Temporary passwords the app makes pass the policy it asks of people.
    assert all(password_problem(service.temporary_password(), "xiaolin") is None
               for _ in range(50))


def test_an_owner_resets_a_managers_password_a_manager_does_not(app, login, world):
    manager = login("manager")
    other = world.users["manager"]
    with app.app_context():
        from kq.models import MANAGER

        second = User(store_id=world.store1, username="manager3", display_name="店长三",
                      role=MANAGER, password_hash="x")
        second.set_password(PASSWORD)
        db.session.add(second)
        db.session.commit()
        second_id = second.id
    page = manager.get(f"/manager/staff/{second_id}", headers=EN).get_data(as_text=True)
    assert "Only the owner resets a manager" in page
    assert f"/manager/staff/{second_id}/password" not in page
    assert manager.post(f"/manager/staff/{second_id}/password").status_code == 403
    assert not user_named(app, "manager3").must_change_password
    # The owner does, and the manager's open sign-in ends.
    response = login("owner").post(f"/manager/staff/{other}/password")
    assert response.status_code == 200 and temporary_password_on(response)
    assert user_named(app, "manager").must_change_password
    assert manager.get("/manager/").status_code == 302


def test_a_role_change_ends_her_sign_ins(app, login, world):
    with app.app_context():
        load(Customer, world.customers["colleague"]).assigned_staff_id = None
        db.session.commit()
    her = login("beautician2")
    assert her.get("/tasks/today").status_code == 200
    uid = world.users["beautician2"]
    login("manager").post(f"/manager/staff/{uid}", data={
        "display_name": "美容师二", "phone": "", "role": "manager"})
    assert user_named(app, "beautician2").role == "manager"
    assert her.get("/tasks/today").status_code == 302  # she signs in again, as a manager
    assert login("beautician2").get("/manager/").status_code == 200


def test_more_links_to_the_password_page(login, world):
    html = login("beautician1").get("/more", headers=EN).get_data(as_text=True)
    assert 'href="/account/password"' in html


def test_edit_name_phone_and_role(app, login, world):
    client = login("manager")
    uid = world.users["beautician2"]
    assert client.get(f"/manager/staff/{uid}").status_code == 200
    # She still has a customer: her role stays until they are handed over.
    refused = client.post(f"/manager/staff/{uid}", data={
        "display_name": "小王", "phone": "", "role": "manager"}, headers=EN)
    assert refused.status_code == 422
    assert "hand them over first" in refused.get_data(as_text=True)
    ok = client.post(f"/manager/staff/{uid}", data={
        "display_name": "小王", "phone": "13800001111", "role": "beautician"})
    assert ok.status_code == 302
    user = user_named(app, "beautician2")
    assert (user.display_name, user.phone, user.role) == ("小王", "+8613800001111", "beautician")
    event = staff_events(app)[-1]
    assert event["op"] == "edit" and event["changes"]["display_name"][1] == "小王"


def test_a_manager_cannot_change_her_own_role_or_touch_an_owner(app, login, world):
    client = login("manager")
    me = world.users["manager"]
    own = client.post(f"/manager/staff/{me}", data={"display_name": "店长", "phone": "",
                                                     "role": "beautician"}, headers=EN)
    assert own.status_code == 422 and "your own role" in own.get_data(as_text=True)
    assert client.post(f"/manager/staff/{me}/active", data={"active": "0"}).status_code == 422
    assert client.post(f"/manager/staff/{me}/password").status_code == 422
    owner = world.users["owner"]
    page = client.get(f"/manager/staff/{owner}", headers=EN)  # she may look, not change
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Only the owner changes an owner's account." in html
    assert 'name="display_name"' not in html and f"/manager/staff/{owner}/" not in html
    assert client.post(f"/manager/staff/{owner}", data={
        "display_name": "x", "phone": "", "role": "owner"}).status_code == 403
    assert client.post(f"/manager/staff/{owner}/active", data={"active": "0"}).status_code == 403
    assert client.post(f"/manager/staff/{owner}/password").status_code == 403
    assert user_named(app, "manager").role == "manager" and user_named(app, "owner").active
    assert staff_events(app) == []


def test_deactivate_is_refused_while_she_has_customers_then_allowed_after_handover(
        app, login, world):
    client = login("manager")
    uid = world.users["beautician1"]
    refused = client.post(f"/manager/staff/{uid}/active", data={"active": "0"}, headers=EN)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "still looks after 1 customers" in html and 'href="/manager/handover"' in html
    assert user_named(app, "beautician1").active
    handed = client.post("/manager/handover", data={"leaving": uid,
                                                    "staff": world.users["beautician2"]})
    assert handed.status_code == 302
    with app.app_context():
        assert load(Customer, world.customers["mine"]).assigned_staff_id == \
            world.users["beautician2"]
    assert client.post(f"/manager/staff/{uid}/active", data={"active": "0"}).status_code == 302
    assert not user_named(app, "beautician1").active
    assert staff_events(app)[-1] == {"op": "deactivate", "username": "beautician1"}
    # Closed: she cannot sign in, and is told so plainly once her password is right.
    right = app.test_client().post("/login", data={"username": "beautician1",
                                                   "password": PASSWORD}, headers=EN)
    assert right.status_code == 200
    assert "This account has been closed." in right.get_data(as_text=True)
    wrong = app.test_client().post("/login", data={"username": "beautician1",
                                                   "password": "nope"}, headers=EN)
    assert "Wrong username or password." in wrong.get_data(as_text=True)
    assert "closed" not in wrong.get_data(as_text=True)
    # Open again: she signs in as before.
    assert client.post(f"/manager/staff/{uid}/active", data={"active": "1"}).status_code == 302
    login("beautician1")
    assert staff_events(app)[-1] == {"op": "reactivate", "username": "beautician1"}


def test_a_closed_account_is_signed_out_at_once(app, login, world):
    with app.app_context():
        customer = load(Customer, world.customers["colleague"])
        customer.assigned_staff_id = None
        db.session.commit()
    her = login("beautician2")
    assert her.get("/tasks/today").status_code == 200
    login("manager").post(f"/manager/staff/{world.users['beautician2']}/active",
                          data={"active": "0"})
    assert her.get("/tasks/today").status_code == 302


def test_reset_password_shows_a_new_one_and_ends_her_other_sign_ins(app, login, world):
    her = login("beautician1")
    response = login("manager").post(f"/manager/staff/{world.users['beautician1']}/password")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = temporary_password_on(response)
    assert password and len(password) >= 12
    user = user_named(app, "beautician1")
    assert user.must_change_password
    assert her.get("/tasks/today").status_code == 302  # the old sign-in has ended
    again = app.test_client()
    assert again.post("/login", data={"username": "beautician1", "password": PASSWORD}) \
        .status_code == 200
    signed = again.post("/login", data={"username": "beautician1", "password": password})
    assert signed.headers["Location"].startswith("/account/password")
    assert staff_events(app) == [{"op": "reset_password", "username": "beautician1"}]


def test_beauticians_get_403_on_staff_pages(app, login, world):
    client = login("beautician1")
    uid = world.users["beautician2"]
    assert client.get("/manager/staff").status_code == 403
    assert client.get("/manager/staff/new").status_code == 403
    assert add(client).status_code == 403
    assert client.post(f"/manager/staff/{uid}/password").status_code == 403
    assert client.post(f"/manager/staff/{uid}/active", data={"active": "0"}).status_code == 403
    assert user_named(app, "xiaolin") is None and user_named(app, "beautician2").active


def test_manager2_cannot_see_or_change_store_1s_users(app, login, world):
    client = login("manager2")
    html = client.get("/manager/staff").get_data(as_text=True)
    assert "beautician7" in html and "beautician1" not in html
    uid = world.users["beautician1"]
    assert client.get(f"/manager/staff/{uid}").status_code == 404
    assert client.post(f"/manager/staff/{uid}", data={"display_name": "x", "phone": "",
                                                      "role": "beautician"}).status_code == 404
    assert client.post(f"/manager/staff/{uid}/active", data={"active": "0"}).status_code == 404
    assert client.post(f"/manager/staff/{uid}/password").status_code == 404
    user = user_named(app, "beautician1")
    assert user.active and user.display_name != "x" and not user.must_change_password
    assert staff_events(app) == []


def test_the_forms_carry_their_csrf_token(make_app, world):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()

    def token(path):
        html = client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)

    client.post("/login", data={"username": "manager", "password": PASSWORD,
                                "csrf_token": token("/login")})
    for path in ("/manager/settings", "/manager/staff/new", "/account/password",
                 f"/manager/staff/{world.users['beautician2']}"):
        assert token(path), path
    assert add(client).status_code == 400  # no token
    created = add(client, csrf_token=token("/manager/staff/new"))
    assert created.status_code == 200 and temporary_password_on(created)
