"""Sign-in throttling (issue 17, finding 3): per IP and per username, counted where every worker
sees it (Redis when it answers, else the database), failing open rather than answering 500, and
holding across the workers of a real gunicorn server."""
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from freezegun import freeze_time
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from kq.extensions import db
from kq.models import SignInAttempt
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
EN = {"Accept-Language": "en"}
START = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def attempt(client, username, password="wrong-password", ip="10.0.0.1"):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip}, headers=EN)


def attempts_stored(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SignInAttempt))


def test_the_eleventh_failure_from_one_ip_is_refused_other_ips_go_on(app, world):
    client = app.test_client()
    with freeze_time(START) as clock:
        for n in range(10):
            assert attempt(client, f"guess{n}").status_code == 200, n
            clock.tick(timedelta(seconds=1))
        refused = attempt(client, "beautician1", PASSWORD)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "50"  # the first failure leaves at 60 s
        assert "Try again in 1 minute." in refused.get_data(as_text=True)
        assert attempt(client, "beautician1", PASSWORD, ip="10.0.0.2").status_code == 302
        clock.tick(timedelta(seconds=49, microseconds=999_000))  # 59.999 s after the first
        assert attempt(client, "beautician1", PASSWORD).status_code == 429
        clock.tick(timedelta(milliseconds=1))  # 60 s: the first failure has left the window
        assert attempt(client, "beautician1", PASSWORD).status_code == 302


def test_one_name_is_not_guessed_from_many_ips_and_the_salon_wifi_stays_open(app, world):
    client = app.test_client()
    with freeze_time(START) as clock:
        for n in range(5):  # an attacker spreading guesses over five addresses
            assert attempt(client, "beautician1", ip=f"203.0.113.{n}").status_code == 200
        refused = attempt(client, "beautician1", PASSWORD, ip="192.168.1.20")
        assert refused.status_code == 429
        assert "Try again in 15 minutes." in refused.get_data(as_text=True)
        # Her colleagues on the salon's Wi-Fi sign in as ever.
        assert attempt(client, "beautician2", PASSWORD, ip="192.168.1.20").status_code == 302
        assert attempt(client, "manager", PASSWORD, ip="203.0.113.0").status_code == 302
        clock.tick(timedelta(minutes=14, seconds=59))
        assert attempt(client, "beautician1", PASSWORD, ip="192.168.1.20").status_code == 429
        clock.tick(timedelta(seconds=1))
        assert attempt(client, "beautician1", PASSWORD, ip="192.168.1.20").status_code == 302


def test_the_refusal_is_in_her_language(app, world):
    client = app.test_client()
    for n in range(5):
        attempt(client, "beautician1", ip=f"203.0.113.{n}")
    page = client.post("/login", data={"username": "beautician1", "password": PASSWORD})
    assert page.status_code == 429
    assert "登录失败次数过多，请 15 分钟后再试。" in page.get_data(as_text=True)


def test_her_right_password_clears_the_failures_against_her_name(app, world):
    client = app.test_client()
    for _ in range(4):
        assert attempt(client, "beautician1").status_code == 200
    assert attempt(client, "beautician1", PASSWORD).status_code == 302
    for n in range(4):
        assert attempt(app.test_client(), "beautician1", ip="10.0.0.9").status_code == 200, n


def test_old_attempt_rows_are_pruned(app, world):
    client = app.test_client()
    with freeze_time(START) as clock:
        attempt(client, "guess")
        clock.tick(timedelta(days=1, seconds=1))
        attempt(client, "guess2")
    assert attempts_stored(app) == 1


def test_behind_a_proxy_each_phone_counts_apart_and_a_forged_header_does_not_help(make_app,
                                                                                  world):
    behind = make_app(PROXY_FIX=1).test_client()
    for n in range(10):
        assert behind.post("/login", data={"username": f"guess{n}", "password": "x"},
                           headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 200
    assert behind.post("/login", data={"username": "beautician1", "password": PASSWORD},
                       headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 429
    assert behind.post("/login", data={"username": "beautician1", "password": PASSWORD},
                       headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 302
    # Without a trusted proxy the header is the client's own word, and is not taken: a new
    # made-up address with each guess still counts as the one address it comes from.
    direct = make_app().test_client()
    for n in range(10):
        assert direct.post("/login", data={"username": f"guess{n}", "password": "x"},
                           headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code == 200
    assert direct.post("/login", data={"username": "beautician2", "password": PASSWORD},
                       headers={"X-Forwarded-For": "192.0.2.99"}).status_code == 429


def test_redis_counts_when_it_answers(make_app, world, redis_url):
    from redis import Redis

    server = Redis.from_url(redis_url)
    for key in server.scan_iter("kq:signin:*"):
        server.delete(key)
    app = make_app(REDIS_URL=redis_url)
    client = app.test_client()
    for n in range(10):
        assert attempt(client, f"guess{n}").status_code == 200
    assert attempt(client, "beautician1", PASSWORD).status_code == 429
    assert attempts_stored(app) == 0  # counted in Redis, not the database
    assert server.zcard("kq:signin:ip:10.0.0.1") == 10


def test_redis_down_counts_in_the_database_with_a_warning(make_app, world, caplog):
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="kq.throttle"):
        assert attempt(client, "beautician1", PASSWORD).status_code == 302
        for n in range(10):
            assert attempt(client, f"guess{n}").status_code == 200
        assert attempt(client, "beautician2", PASSWORD).status_code == 429
    assert "Redis did not answer" in caplog.text
    assert attempts_stored(app) == 11


def test_with_no_store_answering_sign_in_goes_on(app, world, monkeypatch, caplog):
    import kq.throttle

    def broken(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("database is away"))

    monkeypatch.setattr(kq.throttle, "_db_wait", broken)
    with caplog.at_level(logging.WARNING, logger="kq.throttle"):
        assert attempt(app.test_client(), "beautician1", PASSWORD).status_code == 302
    assert "letting the attempt through" in caplog.text


# A real server: two gunicorn workers on the test database.

class Server:
    def __init__(self, database_url, redis_url, tmp_path, **extra_env):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KQ_", "REDIS_URL", "DATABASE_URL"))}
        env.update(DATABASE_URL=database_url, SECRET_KEY="throttle-test-" + os.urandom(8).hex(),
                   KQ_INSTANCE_DIR=str(tmp_path), KQ_LOGIN_USER_LIMIT="100 per minute")
        if redis_url:
            env["REDIS_URL"] = redis_url
        env.update(extra_env)
        self.log = tmp_path / "access.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind",
             f"127.0.0.1:{self.port}", "--access-logfile", str(self.log),
             "--access-logformat", "%(p)s %(s)s %(U)s", "app:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            assert self.process.poll() is None, self.process.stderr.read().decode()[-2000:]
            try:
                if requests.get(self.base + "/healthz", timeout=30).status_code in (200, 503):
                    break
            except requests.RequestException:  # not listening yet, or busy starting
                pass
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not start")
            time.sleep(0.2)

    def sign_in(self, username, password, **headers):
        """A fresh browser: the form (with its CSRF token), then the POST."""
        browser = requests.Session()
        browser.headers.update(headers)
        page = browser.get(self.base + "/login", timeout=30)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        return browser.post(self.base + "/login", timeout=30, allow_redirects=False, data={
            "username": username, "password": password, "csrf_token": token})

    def workers_that_answered_logins(self, status="429"):
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return {line.split()[0] for line in lines if line.endswith(" /login")
                and line.split()[1] == status}

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


@pytest.fixture
def server(world, database_url, tmp_path, request):
    started = []

    def start(redis_url=None, **extra_env):
        started.append(Server(database_url, redis_url, tmp_path, **extra_env))
        return started[-1]

    yield start
    for s in started:
        s.stop()


@pytest.mark.parametrize("store", ["database", "redis", "redis stopped"])
def test_the_limit_holds_across_two_gunicorn_workers(server, store, request):
    redis_url = None
    if store == "redis":
        redis_url = request.getfixturevalue("redis_url")
        from redis import Redis

        client = Redis.from_url(redis_url)
        for key in client.scan_iter("kq:signin:*"):
            client.delete(key)
    elif store == "redis stopped":
        redis_url = f"redis://127.0.0.1:{_free_port()}/0"
    live = server(redis_url)
    # Sign-in works whatever the store (no 500 with Redis stopped).
    assert live.sign_in("beautician1", PASSWORD).status_code == 302
    # Ten failures two at a time, so that both workers are busy and both answer.
    answers = []
    for _ in range(5):
        pair = [threading.Thread(target=lambda: answers.append(
            live.sign_in("manager", "not-her-password").status_code)) for _ in range(2)]
        for t in pair:
            t.start()
        for t in pair:
            t.join()
    assert answers == [200] * 10
    # The 11th and after are refused by whichever worker answers: ask, two at a time, until
    # both workers have refused (so one refused on failures the other one counted).
    refusals = []
    for _ in range(30):
        pair = [threading.Thread(target=lambda: refusals.append(
            live.sign_in("manager", PASSWORD).status_code)) for _ in range(2)]
        for t in pair:
            t.start()
        for t in pair:
            t.join()
        if len(live.workers_that_answered_logins("429")) == 2:
            break
    assert set(refusals) == {429}
    assert len(live.workers_that_answered_logins("429")) == 2


def test_behind_one_proxy_the_server_counts_by_x_forwarded_for(server):
    live = server(KQ_PROXY_FIX="1")
    phone = {"X-Forwarded-For": "198.51.100.7"}
    for n in range(10):
        assert live.sign_in(f"guess{n}", "not-a-password", **phone).status_code == 200
    assert live.sign_in("beautician1", PASSWORD, **phone).status_code == 429
    other_phone = {"X-Forwarded-For": "198.51.100.8"}
    assert live.sign_in("beautician1", PASSWORD, **other_phone).status_code == 302


def test_limits_are_checked_without_a_check_before_every_request():
    """kq.extensions.EveryRequestLimiter skips Flask-Limiter's before-request check while no
    limit applies to every request (none does in Keqing): a view's own limit still answers
    429, and an application-wide limit brings the check back."""
    from flask import Blueprint, Flask
    from flask_limiter.util import get_remote_address

    from kq.extensions import EveryRequestLimiter, limiter

    def make(**kwargs):
        app = Flask(__name__)
        app.config.update(RATELIMIT_STORAGE_URI="memory://")
        lim = EveryRequestLimiter(key_func=get_remote_address, **kwargs)
        bp = Blueprint("limited", __name__)

        @app.route("/view")
        @lim.limit("1 per day")
        def view():
            return "ok"

        @app.route("/inner")
        def inner():
            with lim.limit("1 per day"):
                return "ok"

        @app.route("/free")
        def free():
            return "ok"

        @bp.route("/bp")
        def in_blueprint():
            return "ok"

        lim.limit("1 per day")(bp)
        app.register_blueprint(bp)
        lim.init_app(app)
        return app, lim

    app, lim = make()
    client = app.test_client()
    for path in ("/view", "/inner", "/bp"):
        assert [client.get(path).status_code for _ in range(2)] == [200, 429], path
    assert {client.get("/free").status_code for _ in range(3)} == {200}
    app, lim = make(application_limits=["2 per day"])
    assert lim.limits_every_request()
    client = app.test_client()
    assert [client.get("/free").status_code for _ in range(3)] == [200, 200, 429]
    assert not limiter.limits_every_request()  # Keqing's own: nothing limits every request
