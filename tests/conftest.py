"""Fixtures: the app on a real database (SQLite file, or PostgreSQL), a private Redis, clients."""
import os
import shutil
import socket
import subprocess
import time

import pytest

from kq import create_app
from kq.config import TestConfig
from kq.extensions import db
from tests import dbs
from tests.factories import World, build_world

PASSWORD = "secret-pass-1"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if dbs.KIND == "postgresql":
        if not dbs.postgres_base_url():
            pytest.exit("KQ_TEST_DB=postgresql needs KQ_TEST_DATABASE_URL", returncode=2)
        url, schema = dbs.fresh_postgres_schema()
        yield url
        dbs.drop_postgres_schema(schema)
    else:
        # A file, not :memory:, so that threads and processes in tests share it.
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'kq-test.db'}"


@pytest.fixture(scope="session")
def _schema(database_url):
    app = create_app(TestConfig(database_url))
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()


def _clean(app):
    with app.app_context():
        db.session.remove()
        tables = list(reversed(db.metadata.sorted_tables))
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            else:
                for table in tables:
                    conn.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def make_app(database_url, _schema):
    """Build apps on the test database (with config overrides); tables are emptied after."""
    apps = []

    def factory(**overrides):
        config = TestConfig(database_url)
        for key, value in overrides.items():
            setattr(config, key, value)
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    if apps:
        _clean(apps[0])
        for app in apps[1:]:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def world(app) -> World:
    """Two stores with a manager, beauticians, an owner and customers; see factories.py."""
    with app.app_context():
        return build_world(PASSWORD)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login(app):
    """login("beautician1") → a test client signed in as that user."""

    def sign_in(username, password=PASSWORD, client=None, **headers):
        client = client or app.test_client()
        response = client.post("/login", data={"username": username, "password": password},
                               headers=headers)
        assert response.status_code == 302, f"sign-in as {username} failed"
        return client

    return sign_in


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url):
    from redis import Redis

    try:
        return Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis: KQ_TEST_REDIS_URL, else a private redis-server on a free port, else skip."""
    url = os.environ.get("KQ_TEST_REDIS_URL")
    if url and _answers(url):
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no Redis: install redis-server or set KQ_TEST_REDIS_URL")
    port = _free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if _answers(url):
            break
        time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)
