"""Server-side sign-ins (issue 17, finding 2): signing out, a password change or reset, closing
the account, a change of role and "sign out everywhere" end every copy of the cookie; a sign-in
lasts at most a working day however busy, and ends after the idle lifetime."""
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from kq.extensions import db
from kq.models import AuditEvent, Customer, User, UserSession
from tests.conftest import PASSWORD
from tests.helpers import load

EN = {"Accept-Language": "en"}
START = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai


def copy_of(app, client):
    """A second browser holding a copy of `client`'s session cookie (a stolen cookie)."""
    cookie = client.get_cookie("session")
    thief = app.test_client()
    thief.set_cookie("session", cookie.value, domain=cookie.domain or "localhost")
    return thief


def open_sign_ins(app, username):
    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.username == username))
        return db.session.scalar(select(func.count()).select_from(UserSession)
                                 .where(UserSession.user_id == uid))


def test_a_copied_cookie_opens_nothing_after_sign_out(app, login, world):
    her = login("beautician1")
    thief = copy_of(app, her)
    assert thief.get("/tasks/today").status_code == 200  # the copy works while she is in
    assert her.post("/logout").status_code == 302
    assert thief.get("/tasks/today").status_code == 302
    assert thief.get("/api/session").status_code == 401
    assert open_sign_ins(app, "beautician1") == 0


def test_signing_out_on_one_phone_leaves_her_other_sign_ins(app, login, world):
    phone, counter = login("beautician1"), login("beautician1")
    phone.post("/logout")
    assert phone.get("/tasks/today").status_code == 302
    assert counter.get("/tasks/today").status_code == 200


def test_sign_out_everywhere_ends_every_device_and_copy(app, login, world):
    phone, counter = login("beautician1"), login("beautician1")
    thief = copy_of(app, counter)
    other = login("beautician2")
    page = phone.get("/account/password", headers=EN).get_data(as_text=True)
    # data-logout: the page script clears the phone's kept pages and warns of unsent entries.
    assert 'action="/account/sign-out-everywhere" data-logout' in page
    done = phone.post("/account/sign-out-everywhere", headers=EN)
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert "You are signed out on every device." in phone.get("/login", headers=EN).get_data(
        as_text=True)
    for client in (phone, counter, thief):
        assert client.get("/tasks/today").status_code == 302
    assert other.get("/tasks/today").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "sign_out_everywhere")) == 1
    assert phone.get("/account/sign-out-everywhere").status_code == 405  # a GET never signs out


def test_changing_her_password_ends_her_other_sign_ins_not_this_one(app, login, world):
    here, elsewhere = login("beautician1"), login("beautician1")
    thief = copy_of(app, here)
    changed = here.post("/account/password", data={
        "current": PASSWORD, "new": "a-new-long-one", "repeat": "a-new-long-one"})
    assert changed.status_code == 302
    assert here.get("/tasks/today").status_code == 200
    assert elsewhere.get("/tasks/today").status_code == 302
    assert thief.get("/tasks/today").status_code == 302  # the copy was of the old sign-in
    assert open_sign_ins(app, "beautician1") == 1


def test_a_managers_reset_and_closing_the_account_end_every_copy(app, login, world):
    her = login("beautician1")
    thief = copy_of(app, her)
    login("manager").post(f"/manager/staff/{world.users['beautician1']}/password")
    assert her.get("/tasks/today").status_code == 302
    assert thief.get("/tasks/today").status_code == 302
    with app.app_context():
        load(Customer, world.customers["colleague"]).assigned_staff_id = None
        db.session.commit()
    two = login("beautician2")
    thief2 = copy_of(app, two)
    login("manager").post(f"/manager/staff/{world.users['beautician2']}/active",
                          data={"active": "0"})
    assert open_sign_ins(app, "beautician2") == 0
    # Even if the account were opened again, the old cookies stay dead.
    login("manager").post(f"/manager/staff/{world.users['beautician2']}/active",
                          data={"active": "1"})
    assert two.get("/tasks/today").status_code == 302
    assert thief2.get("/tasks/today").status_code == 302


def test_a_cookie_from_before_server_side_sign_ins_is_refused(app, world):
    """An old cookie (Flask-Login's keys alone, as before this change) signs no one in."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(world.users["beautician1"])
        session["_fresh"] = True
    assert client.get("/tasks/today").status_code == 302


def test_a_sign_in_lasts_at_most_the_absolute_lifetime_however_busy(app, login, world):
    assert app.config["SESSION_ABSOLUTE_LIFETIME"] == timedelta(hours=14)
    with freeze_time(START) as clock:
        her = login("beautician1")
        api = login("beautician1")
        # Busy all day: a page every hour keeps the idle lifetime fresh.
        for _hour in range(13):
            clock.tick(timedelta(hours=1))
            assert her.get("/tasks/today").status_code == 200
            assert api.get("/api/session").status_code == 200
        clock.tick(timedelta(minutes=59, seconds=59))  # 13:59:59 after signing in
        assert her.get("/tasks/today").status_code == 200
        assert api.get("/api/session").status_code == 200
        clock.tick(timedelta(seconds=2))  # 14:00:01
        assert her.get("/tasks/today").status_code == 302
        api_after = api.get("/api/session")
        assert api_after.status_code == 401 and api_after.json["error"] == "unauthorized"
        # Signing in again starts a new working day.
        assert login("beautician1").get("/tasks/today").status_code == 200


def test_an_idle_sign_in_ends_after_the_idle_lifetime(app, login, world):
    idle = app.permanent_session_lifetime
    with freeze_time(START) as clock:
        early, late = login("beautician1"), login("beautician1")
        clock.tick(idle - timedelta(seconds=1))
        assert early.get("/tasks/today").status_code == 200
        clock.tick(timedelta(seconds=2))
        assert late.get("/tasks/today").status_code == 302


def test_the_lifetimes_and_limits_come_from_the_environment(monkeypatch):
    import importlib

    import kq.config

    monkeypatch.setenv("KQ_SESSION_ABSOLUTE_HOURS", "10")
    monkeypatch.setenv("KQ_LOGIN_USER_LIMIT", "3 per hour")
    config = importlib.reload(kq.config)
    try:
        assert config.Config.SESSION_ABSOLUTE_LIFETIME == timedelta(hours=10)
        assert config.Config.LOGIN_USER_LIMIT == "3 per hour"
        monkeypatch.setenv("KQ_SESSION_ABSOLUTE_HOURS", "")  # left empty: the default
        monkeypatch.setenv("KQ_LOGIN_USER_LIMIT", "")
        config = importlib.reload(kq.config)
        assert config.Config.SESSION_ABSOLUTE_LIFETIME == timedelta(hours=14)
        assert config.Config.LOGIN_USER_LIMIT == "5 per 15 minutes"
    finally:
        monkeypatch.undo()
        importlib.reload(kq.config)


def test_sign_ins_are_audited(app, client, world):
    client.post("/login", data={"username": "beautician1", "password": "wrong-one"})
    client.post("/login", data={"username": "nobody", "password": "wrong-one"})
    client.post("/login", data={"username": "beautician1", "password": PASSWORD})
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(("sign_in", "sign_in_failed"))).order_by(AuditEvent.id)).all()
        assert [(e.action, e.store_id, e.target_id, e.detail) for e in events] == [
            ("sign_in_failed", world.store1, world.users["beautician1"],
             {"username": "beautician1", "reason": "password"}),
            ("sign_in_failed", None, None, {"username": "nobody", "reason": "password"}),
            ("sign_in", world.store1, world.users["beautician1"], None),
        ]
        assert events[-1].user_id == world.users["beautician1"]
        assert all(e.ip == "127.0.0.1" for e in events)


def test_switching_store_renews_the_owners_sign_in(app, login, world):
    with freeze_time(START) as clock:
        owner = login("owner")
        before = copy_of(app, owner)
        clock.tick(timedelta(hours=1))
        assert owner.post("/store", data={"store_id": world.store2}).status_code == 302
        assert owner.get("/manager/").status_code == 200
        assert before.get("/manager/").status_code == 302  # a copy from before is dead
        assert open_sign_ins(app, "owner") == 1
        with app.app_context():  # the absolute lifetime still counts from signing in
            assert db.session.scalar(select(UserSession.created_at)) == START
        clock.tick(timedelta(hours=13, seconds=1))
        assert owner.get("/manager/").status_code == 302


def test_the_session_cookie_says_exactly_what_the_session_holds(app):
    """The cookie serializer remembers payloads it wrote and read (kq.SessionInterface): each
    still says exactly what its session holds, and signature and age are checked every time."""
    from itsdangerous import BadSignature, SignatureExpired

    serializer = app.session_interface.get_signing_serializer(app)
    assert serializer is app.session_interface.get_signing_serializer(app)
    for data in ({"a": True}, {"a": 1}, {"a": "1"}, {"a": None}, {"a": 1.0}, {"a": [1]},
                 {"a": 1, "b": "x"}, {"b": "x", "a": 1}, {}):
        for _twice in range(2):
            back = serializer.loads(serializer.dumps(data), max_age=60)
            assert back == data
            assert {k: type(v) for k, v in back.items()} == {k: type(v) for k, v in data.items()}
    listed = {"a": [1]}
    serializer.dumps(listed)
    listed["a"].append(2)
    assert serializer.loads(serializer.dumps(listed)) == {"a": [1, 2]}
    read = serializer.loads(serializer.dumps({"a": 1}))
    read["a"] = 2  # what a request changes is its own copy
    assert serializer.loads(serializer.dumps({"a": 1})) == {"a": 1}
    signed = serializer.dumps({"a": 1})
    with pytest.raises(BadSignature):
        serializer.loads(signed[:-3] + ("AAA" if not signed.endswith("AAA") else "BBB"))
    with freeze_time(datetime.now(timezone.utc) + timedelta(hours=1)):
        with pytest.raises(SignatureExpired):
            serializer.loads(signed, max_age=60)
