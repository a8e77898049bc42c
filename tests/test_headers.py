"""Response headers and file modes (issue 17, finding 6): Permissions-Policy and COOP on every
page, HSTS and secure cookies with KQ_HTTPS=1, nothing a signed-in user sees kept by a cache
(unless the view chose its own revalidated caching), the client's address read through
KQ_PROXY_FIX trusted proxies, no "Server: gunicorn", and files created 0600 / folders 0700."""
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from flask import request

from kq import create_app
from kq.config import TestConfig
from kq.extensions import db

ROOT = Path(__file__).resolve().parent.parent
# Pages that hold nothing personal and may be cached as their views say.
NOT_PERSONAL = {"static", "core.manifest", "core.service_worker", "core.offline",
                "core.healthz"}


def test_every_page_switches_off_browser_features_and_keeps_its_window_to_itself(
        app, login, world, client):
    for response in (client.get("/login"), login("manager").get("/customers/")):
        policy = response.headers["Permissions-Policy"]
        for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
            assert feature in policy
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS


def test_with_https_hsts_is_sent_and_cookies_are_secure(make_app, world):
    env = {**os.environ, "KQ_HTTPS": "1"}
    secure = subprocess.run([sys.executable, "-c", "from kq.config import Config; "
                             "print(Config.SESSION_COOKIE_SECURE)"],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert secure.stdout.strip() == "True"
    app = make_app(SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    response = client.get("/login", base_url="https://keqing.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    signed_in = client.post("/login", base_url="https://keqing.test", data={
        "username": "manager", "password": "secret-pass-1"})
    assert signed_in.status_code == 302
    assert "Secure" in signed_in.headers["Set-Cookie"]


def _get_routes(app, ids):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_PERSONAL \
                or rule.endpoint.startswith("auth."):
            continue
        params = re.findall(r"<(?:\w+:)?(\w+)>", rule.rule)
        if any(p not in ids for p in params):
            continue
        yield rule.endpoint, re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]),
                                    rule.rule)


@pytest.mark.parametrize("username", ["manager", "beautician1"])
def test_nothing_a_signed_in_user_is_shown_is_kept_by_a_cache(app, login, world, username):
    """Every GET page and JSON answer: no-store, or revalidated and private (Today)."""
    client = login(username)
    ids = {"customer_id": world.customers["mine"], "user_id": world.users["beautician1"],
           "day": "2026-01-05"}
    seen = 0
    for endpoint, path in _get_routes(app, ids):
        response = client.get(path)
        cache = response.headers.get("Cache-Control", "")
        assert "no-store" in cache or ("private" in cache and "no-cache" in cache), \
            (endpoint, response.status_code, cache)
        seen += 1
    assert seen > 20
    assert client.get("/api/session").headers["Cache-Control"] == "no-store"


def test_signed_out_pages_and_static_files_keep_their_own_caching(app, login, world, client):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    signed_in = login("manager")
    assert "no-cache" in signed_in.get("/sw.js").headers["Cache-Control"]  # the view's own
    static = signed_in.get("/static/css/app.css")
    assert "no-store" not in static.headers.get("Cache-Control", "")


@pytest.mark.parametrize("proxies,expected", [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_the_client_address_comes_through_trusted_proxies_only(make_app, proxies, expected):
    app = make_app(PROXY_FIX=proxies)
    app.add_url_rule("/_address", "address", lambda: f"{request.remote_addr} {request.scheme}")
    response = app.test_client().get("/_address", headers={
        "X-Forwarded-For": "198.51.100.1, 203.0.113.9", "X-Forwarded-Proto": "https"})
    assert response.get_data(as_text=True) == f"{expected} {'https' if proxies else 'http'}"


def _private(path):
    mode = stat.S_IMODE(path.stat().st_mode)
    return mode & 0o077 == 0, oct(mode)


def test_a_fresh_sqlite_database_and_its_journal_are_the_owners_only(tmp_path):
    os.umask(0o022)  # as a shell leaves it: the factory must set its own
    app = create_app(TestConfig(f"sqlite:///{tmp_path / 'fresh.db'}"))
    with app.app_context():
        db.create_all()
        db.session.execute(db.text("CREATE TABLE scratch (x TEXT)"))
        db.session.execute(db.text("INSERT INTO scratch VALUES ('13812345678')"))
        db.session.commit()
        files = sorted(tmp_path.glob("fresh.db*"))
        assert {f.name for f in files} >= {"fresh.db"}
        for path in files:
            assert _private(path)[0], (path.name, _private(path)[1])
        db.engine.dispose()


def test_a_printed_pdf_and_its_folder_are_the_owners_only(make_app, login, world):
    from kq.extensions import queue
    from kq.models import Report
    from kq.services.printing import path_of

    os.umask(0o022)
    app = make_app()
    client = login("manager", client=app.test_client())
    response = client.post("/reports/", data={"kind": "card",
                                              "customer": str(world.customers["mine"])})
    assert response.status_code == 303
    with app.app_context():
        assert queue.wait(60)
        report = db.session.scalar(db.select(Report).order_by(Report.id.desc()))
        assert report.status == "done"
        pdf = path_of(report)
    assert _private(pdf)[0], _private(pdf)[1]
    assert stat.S_IMODE(pdf.parent.stat().st_mode) == 0o700


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_as_the_procfile_runs_it_does_not_name_itself(tmp_path):
    """A real server with the repository's gunicorn.conf.py (as the Procfile starts it); its
    database, made by the first request, is the owner's only."""
    procfile = (ROOT / "Procfile").read_text()
    assert re.search(r"^web: gunicorn -c gunicorn\.conf\.py ", procfile, re.MULTILINE)
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KQ_", "REDIS_URL", "DATABASE_URL"))}
    env.update(KQ_INSTANCE_DIR=str(tmp_path), SECRET_KEY="headers-test-" + os.urandom(8).hex())
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "app:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True, umask=0o022)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            try:
                response = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start")
                time.sleep(0.2)
        assert "gunicorn" not in response.headers.get("Server", "").lower()
        assert response.headers["Permissions-Policy"]
        database = tmp_path / "keqing.db"
        assert database.exists()
        assert _private(database)[0], _private(database)[1]
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("entry", ["import app", "import kq.worker"])
def test_the_web_app_cli_and_worker_entry_points_set_the_private_umask(entry):
    """`flask --app app …` (the CLI) and gunicorn import app.py; rq imports kq.worker."""
    result = subprocess.run(
        [sys.executable, "-c", f"import os; os.umask(0o022); {entry}; print(oct(os.umask(0)))"],
        cwd=ROOT, env={**os.environ, "SECRET_KEY": "umask-test",
                       "DATABASE_URL": "sqlite://"}, capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "0o77"
