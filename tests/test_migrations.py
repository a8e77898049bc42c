"""`flask db upgrade` on an empty database gives exactly the models' schema."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from kq import create_app
from kq.config import TestConfig
from kq.extensions import db
from kq.models.base import render_item  # noqa: F401 - the comparison uses the same types
from tests import dbs


def _upgrade_and_compare(url):
    app = create_app(TestConfig(url))
    with app.app_context():
        upgrade(directory="migrations")
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    return diff


def test_upgrade_on_empty_sqlite_matches_models(tmp_path):
    assert _upgrade_and_compare(f"sqlite:///{tmp_path / 'fresh.db'}") == []


@pytest.mark.skipif(not dbs.postgres_base_url(), reason="KQ_TEST_DATABASE_URL not set")
def test_upgrade_on_empty_postgresql_matches_models():
    url, schema = dbs.fresh_postgres_schema("kq_migtest")
    try:
        assert _upgrade_and_compare(url) == []
    finally:
        dbs.drop_postgres_schema(schema)
