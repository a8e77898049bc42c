"""Which database a test run uses: SQLite by default, PostgreSQL when KQ_TEST_DB=postgresql."""
import os
import uuid

import sqlalchemy as sa

KIND = os.environ.get("KQ_TEST_DB", "sqlite")


def postgres_base_url():
    url = os.environ.get("KQ_TEST_DATABASE_URL")
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def fresh_postgres_schema(prefix="kq_test"):
    """A new empty schema in the test database; the URL pins search_path to it."""
    base = postgres_base_url()
    schema = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        # Schemas of earlier runs that died before cleaning up; a run still going (another
        # process on this machine) keeps its own.
        stale = conn.execute(sa.text(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"), {"p": f"{prefix}_%"}).scalars()
        for name in list(stale):
            if _alive(name, prefix):
                continue
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", schema


def _alive(schema, prefix):
    pid = schema[len(prefix) + 1:].split("_")[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_postgres_schema(schema):
    engine = sa.create_engine(postgres_base_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()
