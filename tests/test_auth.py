"""Sign-in, sign-out, throttling, session cookie and CSRF."""
import re

from kq.extensions import db
from kq.models import User


def test_login_page_in_chinese_by_default_and_english_for_english_browsers(client, world):
    zh = client.get("/login")
    assert zh.status_code == 200
    assert "登录" in zh.get_data(as_text=True)
    en = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Sign in" in en.get_data(as_text=True)
    hant = client.get("/login", headers={"Accept-Language": "zh-TW"})
    assert "登入" in hant.get_data(as_text=True)


def test_each_role_lands_on_its_home(login, world):
    for username, home in (("beautician1", "/tasks/today"), ("owner", "/tasks/today"),
                           ("manager", "/manager/")):
        client = login(username)
        response = client.get("/")
        assert response.status_code == 302
        assert response.headers["Location"].endswith(home)
        assert client.get(home).status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_answer(client, world):
    wrong = client.post("/login", data={"username": "beautician1", "password": "nope"},
                        headers={"Accept-Language": "en"})
    unknown = client.post("/login", data={"username": "nobody", "password": "nope"},
                          headers={"Accept-Language": "en"})
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        assert "Wrong username or password." in response.get_data(as_text=True)
    # CSRF tokens (form values and the meta tag) carry a timestamp: a second apart they differ.
    strip = lambda r: re.sub(r'(value|content)="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert strip(wrong) == strip(unknown)


def test_eleventh_failed_sign_in_in_a_minute_is_refused(client, world):
    # Ten names, so that the per-username limit (5) is not what answers.
    for attempt in range(10):
        response = client.post("/login", data={"username": f"guess{attempt}", "password": "bad"})
        assert response.status_code == 200, attempt
    response = client.post("/login", data={"username": "beautician1", "password": "bad"})
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert "登录失败次数过多" in response.get_data(as_text=True)
    # Even her right password waits: the form is not a way to test guesses while refused.
    right = client.post("/login", data={"username": "beautician1", "password": "secret-pass-1"},
                        headers={"Accept-Language": "en"})
    assert right.status_code == 429
    assert "Try again in 1 minute." in right.get_data(as_text=True)


def test_successful_sign_ins_do_not_count_towards_the_limit(app, world, login):
    for _ in range(12):
        login("beautician1")


def test_next_is_followed_only_when_local(client, world):
    ok = client.post("/login", data={"username": "beautician1", "password": "secret-pass-1",
                                     "next": "/customers/"})
    assert ok.headers["Location"] == "/customers/"
    client.post("/logout")
    evil = client.post("/login", data={"username": "beautician1", "password": "secret-pass-1",
                                       "next": "https://evil.example/"})
    assert evil.headers["Location"] == "/tasks/today"
    client.post("/logout")
    evil2 = client.post("/login", data={"username": "beautician1", "password": "secret-pass-1",
                                        "next": "//evil.example/x"})
    assert evil2.headers["Location"] == "/tasks/today"


def test_session_cookie_is_httponly_lax_and_lasts_a_working_day(app, client, world):
    response = client.post("/login", data={"username": "beautician1", "password": "secret-pass-1"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.permanent_session_lifetime.total_seconds() <= 12 * 3600
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))


def test_inactive_user_cannot_sign_in(app, client, world):
    with app.app_context():
        db.session.get(User, world.users["beautician2"]).active = False
        db.session.commit()
    response = client.post("/login", data={"username": "beautician2", "password": "secret-pass-1"})
    assert response.status_code == 200


def test_pages_need_sign_in(client, world):
    for path in ("/tasks/today", "/customers/", "/calls/", "/gifts/", "/manager/", "/more"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    api = client.get("/api/session")
    assert api.status_code == 401 and api.is_json


def test_sign_out_is_a_post(login, world):
    client = login("beautician1")
    assert client.get("/logout").status_code == 200  # a confirmation page, not a sign-out
    assert client.get("/tasks/today").status_code == 200
    client.post("/logout")
    assert client.get("/tasks/today").status_code == 302


def test_post_without_csrf_token_is_refused(make_app, world):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/login", data={"username": "beautician1", "password": "secret-pass-1"})
    assert response.status_code == 400
    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      page.get_data(as_text=True)).group(1)
    ok = client.post("/login", data={"username": "beautician1", "password": "secret-pass-1",
                                     "csrf_token": token})
    assert ok.status_code == 302
    # JSON posts need the token too (header X-CSRFToken), like forms.
    assert client.post("/lang", json={"locale": "en"}).status_code == 400


def test_passwords_are_hashed_with_argon2(app, world):
    with app.app_context():
        user = db.session.get(User, world.users["beautician1"])
        assert user.password_hash.startswith("$argon2id$")
        assert user.check_password("secret-pass-1") and not user.check_password("secret-pass-2")


def test_cli_create_user_applies_the_password_policy(app, world):
    runner = app.test_cli_runner()
    base = ["kq", "create-user", "--username", "newbie", "--name", "新人",
            "--store", str(world.store1), "--password"]
    for password, message in (("short-pw", "At least 10 characters."),
                              ("qwertyuiop", "one of the most common passwords"),
                              ("newbie-2026!", "cannot be or contain your username")):
        result = runner.invoke(args=base + [password])
        assert result.exit_code != 0 and message in result.output, password
    with app.app_context():
        assert db.session.scalar(db.select(User).where(User.username == "newbie")) is None
    assert runner.invoke(args=base + ["a-long-rare-phrase"]).exit_code == 0


def test_the_demo_accounts_keep_their_published_password(app):
    """demo1234 is a contract for outside checks: the demo loader sets it directly, outside
    the policy (which applies to passwords people choose in the app)."""
    from kq.demo import DEMO_PASSWORD
    from kq.passwords import password_problem

    assert DEMO_PASSWORD == "demo1234" and password_problem(DEMO_PASSWORD) is not None


def test_a_sign_in_starts_with_a_new_csrf_secret(make_app, world):
    """Signing in gives the session a new CSRF secret at once (the one from before signing in
    is gone with the rest of that session), so her pages' tokens are checked against it and
    a page does not change the session just to make one."""
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    with client.session_transaction() as session:
        before = session["csrf_token"]
    assert client.post("/login", data={"username": "beautician1", "password": "secret-pass-1",
                                       "csrf_token": token}).status_code == 302
    with client.session_transaction() as session:
        after = session["csrf_token"]
    assert after != before
    page = client.get("/tasks/today")
    with client.session_transaction() as session:
        assert session["csrf_token"] == after
    fresh = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))[1]
    assert client.post("/lang", data={"locale": "en", "csrf_token": token}).status_code == 400
    assert client.post("/lang", data={"locale": "en", "csrf_token": fresh}).status_code == 302


def test_templates_csrf_token_is_flask_wtfs(make_app, world):
    """Templates sign their CSRF token with a serializer kept per key (kq.csrf_token): the
    token Flask-WTF would make, checked by it, the one the page's forms carry."""
    from flask import g, render_template_string
    from flask_wtf.csrf import generate_csrf, validate_csrf

    app = make_app(WTF_CSRF_ENABLED=True)
    with app.test_request_context("/"):
        first = render_template_string("{{ csrf_token() }}")  # no secret yet: Flask-WTF's
        assert first == generate_csrf()
        validate_csrf(first)
        g.pop("csrf_token")
        token = render_template_string("{{ csrf_token() }}")
        assert token == g.csrf_token == generate_csrf() == render_template_string(
            "{{ csrf_token() }}")
        validate_csrf(token)
        g.pop("csrf_token")
        assert app.jinja_env.globals["csrf_token"]() == generate_csrf()
        validate_csrf(generate_csrf())
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    meta = re.search(r'name="csrf-token" content="([^"]+)"', page)[1]
    field = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    assert meta == field
    assert client.post("/lang", data={"locale": "en", "csrf_token": meta}).status_code == 302
