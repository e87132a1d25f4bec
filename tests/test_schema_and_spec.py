"""Migrations build the schema the models describe; the committed OpenAPI document matches the code."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from backend import migrate
from backend.cli import render_openapi
from backend.db import make_engine
from backend.models import Base

ROOT = Path(__file__).resolve().parents[1]


def _schema_drift(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    return diff, revision


def test_migrations_upgrade_an_empty_database_to_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(url)
    diff, revision = _schema_drift(url)
    assert diff == [], "models and migrations disagree; generate a migration"
    assert revision == [migrate.current_head(url)]


def test_the_test_database_was_built_by_the_migrations(database_url):
    """The suite runs on the migrated schema (SQLite or PostgreSQL), never on create_all."""
    diff, revision = _schema_drift(database_url)
    assert diff == []
    assert revision == [migrate.current_head(database_url)]
    engine = make_engine(database_url)
    assert {"users", "stations", "technicians", "audit_entries"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_committed_openapi_matches_the_code():
    committed = (ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8")
    assert committed == render_openapi(), "openapi/openapi.json is stale: run `onsite openapi` and commit it"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'pragma.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
