"""SQLite tuning and write-transaction control shared by every engine the app creates."""
import contextlib
import contextvars
import sqlite3

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

_write_intent = contextvars.ContextVar("kq_write_intent", default=None)


def wants_write():
    """Requests that change data, CLI commands and jobs take SQLite's write lock up front."""
    value = _write_intent.get()
    if value is not None:
        return value
    if has_request_context():
        return request.method not in ("GET", "HEAD", "OPTIONS")
    return True


@contextlib.contextmanager
def write_intent():
    """For a GET that must write (e.g. generating a day on first view): end the read first."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


@contextlib.contextmanager
def read_intent():
    """For a long read outside a request (an import's preview job): a deferred BEGIN, so that
    it holds no write lock while it reads."""
    token = _write_intent.set(False)
    try:
        yield
    finally:
        _write_intent.reset(token)


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, _record):
    if hasattr(dbapi_connection, "prepare_threshold"):
        # psycopg 3 prepares a statement on the server after its fifth run, and PostgreSQL
        # may then keep one generic plan for it. The daily run fills the ledger and the day's
        # items from nothing on the same connection: a plan made while the table was empty (a
        # sequential scan matching each row against thousands of keys) stayed on as it grew to
        # 180,000 rows, and a chain's ledger run took 300 s instead of 15. Every statement is
        # planned for its own values, as with psycopg 2; planning ours costs a fraction of a ms.
        dbapi_connection.prepare_threshold = None
        return
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # We issue BEGIN ourselves (below); pysqlite's own deferred BEGIN is switched off.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _on_begin(conn):
    if conn.dialect.name == "sqlite":
        # A deferred BEGIN that later writes fails with "database is locked" under load.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if wants_write() else "BEGIN")
