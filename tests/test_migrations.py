"""Migrations are the source of truth: upgrade from empty works on SQLite and PostgreSQL, and
the models agree with the migrated schema (a model change without a migration fails here)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from kontaktcenter import create_app
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.extensions import db, include_name
from tests.conftest import postgres_url

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def _diff(url: str) -> list:
    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": include_name}
            )
            diff = compare_metadata(context, db.metadata)
        downgrade(directory=MIGRATIONS, revision="base")
        with db.engine.connect() as conn:
            left = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
        upgrade(directory=MIGRATIONS)  # and back up again: downgrade is not a one-way street
        db.engine.dispose()
    assert not left, f"downgrade left tables behind: {left}"
    return diff


def test_sqlite_migrations_match_models(tmp_path):
    assert _diff(f"sqlite:///{tmp_path / 'm.db'}") == []


@pytest.mark.postgres
def test_postgres_migrations_match_models():
    assert _diff(postgres_url("kontaktcenter_migrations")) == []


def test_sqlite_downgrade_and_upgrade_keep_the_data(tmp_path):
    """Batch operations rebuild tables that others refer to: nothing may be lost or cascaded."""
    from tests import factories

    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'd.db'}"})
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        org = factories.make_org()
        factories.make_case(org.agent, org.bygglov)
        from kontaktcenter.organisation import users

        users.create_token(org.agent, "API")
        counts = _counts()
        downgrade(directory=MIGRATIONS, revision="0010")
        assert _counts() == counts
        upgrade(directory=MIGRATIONS)
        assert _counts() == counts
        db.session.remove()
        db.engine.dispose()


def _counts() -> dict[str, int]:
    db.session.remove()
    with db.engine.connect() as conn:
        return {
            table: conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
            for table in ("users", "user_departments", "api_tokens", "cases", "activities")
        }


def test_postgres_stores_mail_compressed_with_lz4(app, db_session):
    """Migration 0029: raw messages and attachments (``blobs.data``) are compressed with LZ4,
    several times as fast as pglz to write and read (issue #16), and read back whole."""
    from kontaktcenter.channels.email import store as mail_store

    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("column compression is PostgreSQL's; SQLite stores blobs as they are")
    method = db.session.execute(
        sa.text(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = 'blobs'::regclass AND attname = 'data'"
        )
    ).scalar_one()
    assert method == "l"
    raw = ("Hej! Jag undrar över bygglovet för vår altan. " * 400).encode()
    [digest] = mail_store.store_many({mail_store.digest(raw): raw})
    db.session.flush()
    used = db.session.execute(
        sa.text("SELECT pg_column_compression(data) FROM blobs WHERE sha256 = :d"), {"d": digest}
    ).scalar_one()
    assert used == "lz4"
    assert mail_store.load(digest) == raw


@pytest.mark.postgres
def test_postgres_keeps_finer_statistics_of_contact_names():
    """Migration 0031: the planner's sample of contacts.name_lower is a thousand values, not the
    default hundred; with the default, a search by a common surname was estimated to match a
    few dozen people and checked the visibility of every one of thousands (issue #12)."""
    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": postgres_url("kontaktcenter_stats")})
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        target = db.session.execute(
            sa.text(
                "SELECT attstattarget FROM pg_attribute "
                "WHERE attrelid = 'contacts'::regclass AND attname = 'name_lower'"
            )
        ).scalar_one()
        db.session.remove()
        db.engine.dispose()
    assert target == 1000
