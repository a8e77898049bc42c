"""Configuration from environment variables; see .env.example for every one."""
import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
def _env(name, default):
    """A variable left empty (as in a copied .env.example) counts as not set."""
    return os.environ.get(name) or default


INSTANCE_DIR = Path(_env("KQ_INSTANCE_DIR", BASE_DIR / "instance"))


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _instance_secret():
    """The embedded default keeps a random key in instance/, made once; never a literal."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url():
    url = os.environ.get("DATABASE_URL")
    if not url:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{INSTANCE_DIR / 'keqing.db'}"
    # Heroku-style URLs name the driver "postgres://"; SQLAlchemy wants psycopg 3 explicitly.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    SECRET_KEY = None  # filled in __init__ so importing this module never touches disk
    SQLALCHEMY_DATABASE_URI = None
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # A working day, not Flask's 31 days; there is no long-lived remember-me cookie.
    PERMANENT_SESSION_LIFETIME = timedelta(hours=int(_env("KQ_SESSION_HOURS", "12")))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("KQ_HTTPS")
    REMEMBER_COOKIE_DURATION = timedelta(hours=12)
    # Idle lifetime above (renewed by each request); the absolute one ends a sign-in a working
    # day after it began, however busy (kq/auth.py).
    SESSION_ABSOLUTE_LIFETIME = timedelta(hours=int(_env("KQ_SESSION_ABSOLUTE_HOURS", "14")))
    WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session; the PWA replays after hours
    BABEL_DEFAULT_LOCALE = "zh_Hans"
    BABEL_DEFAULT_TIMEZONE = _env("KQ_TIMEZONE", "Asia/Shanghai")
    LANGUAGES = ("zh_Hans", "zh_Hant", "en")
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    # Flask-Limiter (no route uses it now; sign-in has kq/throttle.py): when Redis does not
    # answer it counts in memory, and any limiter error is logged and let through, never a 500.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    # Failed sign-ins per client IP, and per username from any IP (kq/throttle.py).
    LOGIN_LIMIT = _env("KQ_LOGIN_LIMIT", "10 per minute")
    LOGIN_USER_LIMIT = _env("KQ_LOGIN_USER_LIMIT", "5 per 15 minutes")
    # argon2id, RFC 9106 second recommended profile (64 MiB, t=3, p=4).
    ARGON2_PARAMS = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}
    MAX_CONTENT_LENGTH = 21 * 1024 * 1024  # a 20 MB spreadsheet and its form
    TESTING = False
    REPORTS_DIR = os.environ.get("KQ_REPORTS_DIR") or str(INSTANCE_DIR / "reports")
    REPORT_RETENTION_DAYS = int(_env("KQ_REPORT_RETENTION_DAYS", "7"))
    # Stores whose daily checklist and ledger run at once on PostgreSQL (SQLite: one by one).
    KQ_DAILY_WORKERS = max(1, int(_env("KQ_DAILY_WORKERS", "2")))
    # Uploaded spreadsheets while an import is previewed (owner-only files, kept ≤ 7 days).
    IMPORTS_DIR = os.environ.get("KQ_IMPORTS_DIR") or str(INSTANCE_DIR / "imports")

    def __init__(self):
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _instance_secret()
        self.SQLALCHEMY_DATABASE_URI = _database_url()
        if self.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            # The ping finds a server connection dropped while pooled (PostgreSQL); a SQLite
            # file has no server to drop it, and the ping was a statement on every request.
            self.SQLALCHEMY_ENGINE_OPTIONS = {**self.SQLALCHEMY_ENGINE_OPTIONS,
                                              "pool_pre_ping": False}
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"


class TestConfig(Config):
    __test__ = False  # not a pytest class
    TESTING = True
    WTF_CSRF_ENABLED = False  # tests of CSRF switch it back on explicitly
    REDIS_URL = None
    # Cheap hashing keeps the suite fast; production keeps the strong profile above.
    ARGON2_PARAMS = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}

    def __init__(self, database_url=None):
        import tempfile

        self.SECRET_KEY = "test-only-" + secrets.token_hex(8)
        self.REPORTS_DIR = tempfile.mkdtemp(prefix="kq-reports-")
        self.IMPORTS_DIR = tempfile.mkdtemp(prefix="kq-imports-")
        self.SQLALCHEMY_DATABASE_URI = database_url or "sqlite://"
        self.RATELIMIT_STORAGE_URI = "memory://"
