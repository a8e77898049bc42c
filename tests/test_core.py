"""Health check, PWA files, error pages and language choice."""
import json

from kq.extensions import db
from kq.models import User


def test_healthz_reports_database_and_inline_queue(client, world):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": True, "queue": "inline",
                             "queue_reachable": True}


def test_healthz_reports_redis_queue(make_app, redis_url):
    app = make_app(REDIS_URL=redis_url)
    body = app.test_client().get("/healthz").json
    assert body["queue"] == "redis" and body["queue_reachable"] is True


def test_manifest_and_service_worker(client):
    manifest = client.get("/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.mimetype == "application/manifest+json"
    data = json.loads(manifest.data)
    assert data["short_name"] == "客情" and data["start_url"] == "/tasks/today"
    assert data["display"] == "standalone"
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in data["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in data["icons"]:
        assert client.get(icon["src"]).status_code == 200
    sw = client.get("/sw.js")
    assert sw.status_code == 200 and sw.mimetype == "application/javascript"
    assert "no-cache" in sw.headers["Cache-Control"]


def test_error_pages_speak_the_users_language(login, world):
    client = login("beautician1")
    assert "找不到页面" in client.get("/customers/999999").get_data(as_text=True)
    assert "无权访问" in client.get("/manager/").get_data(as_text=True)
    client.post("/lang", data={"locale": "en"})
    assert "Not found" in client.get("/customers/999999").get_data(as_text=True)
    client.post("/lang", data={"locale": "zh_Hant"})
    assert "找不到頁面" in client.get("/customers/999999").get_data(as_text=True)


def test_language_choice_is_kept_on_the_user(app, login, world):
    client = login("beautician1")
    client.post("/lang", data={"locale": "en", "next": "https://evil.example/"})
    with app.app_context():
        assert db.session.get(User, world.users["beautician1"]).locale == "en"
    fresh = login("beautician1")  # a new phone, no session: the account remembers
    assert "Today" in fresh.get("/tasks/today").get_data(as_text=True)
    assert client.post("/lang", data={"locale": "xx"}).status_code == 302


def test_security_headers(client):
    response = client.get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_variables_left_empty_in_a_copied_env_file_take_their_defaults(monkeypatch):
    import importlib

    import kq.config

    for name in ("KQ_INSTANCE_DIR", "KQ_SESSION_HOURS", "KQ_TIMEZONE", "KQ_LOGIN_LIMIT",
                 "KQ_REPORT_RETENTION_DAYS"):
        monkeypatch.setenv(name, "")
    config = importlib.reload(kq.config)
    try:
        assert config.INSTANCE_DIR == config.BASE_DIR / "instance"
        assert config.Config.PERMANENT_SESSION_LIFETIME.total_seconds() == 12 * 3600
        assert config.Config.REPORT_RETENTION_DAYS == 7
        assert config.Config.BABEL_DEFAULT_TIMEZONE == "Asia/Shanghai"
    finally:
        monkeypatch.undo()
        importlib.reload(kq.config)


def test_pooled_connections_are_pinged_only_where_a_server_can_drop_them(monkeypatch):
    """PostgreSQL connections are pinged as they leave the pool (a restarted server dropped
    them); a SQLite file's are not, a statement saved on every request."""
    from kq.config import Config

    monkeypatch.setenv("SECRET_KEY", "test-only")
    monkeypatch.setenv("DATABASE_URL", "postgresql://kq@db/kq")
    assert Config().SQLALCHEMY_ENGINE_OPTIONS["pool_pre_ping"] is True
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/kq-test-ping.db")
    assert Config().SQLALCHEMY_ENGINE_OPTIONS["pool_pre_ping"] is False
    assert Config.SQLALCHEMY_ENGINE_OPTIONS == {"pool_pre_ping": True}  # the class keeps it
