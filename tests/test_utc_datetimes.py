"""Every timestamp read back is aware UTC (`core.extensions.UTCDateTime`), on both databases.

On PostgreSQL the type converts nothing (#16: ~700 Python calls per API list page): each
connection sets its session's TimeZone to UTC, and psycopg then returns ``datetime.UTC``
values. The database here defaults to Stockholm time, so only that setting makes it hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from kontaktcenter import create_app
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.extensions import UTCDateTime, db
from tests.conftest import PG_ADMIN_URL, postgres_url

WRITTEN = datetime(2026, 6, 19, 22, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))


def _round_trip(url: str) -> tuple[datetime, str | None]:
    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": url})
    table = sa.Table("stamps", sa.MetaData(), sa.Column("at", UTCDateTime()))
    with app.app_context():
        try:
            table.create(db.engine)
            db.session.execute(table.insert(), {"at": WRITTEN})
            read = db.session.scalar(sa.select(table.c.at))
            zone = (
                db.session.scalar(sa.text("SHOW TIME ZONE"))
                if db.engine.dialect.name == "postgresql"
                else None
            )
            db.session.rollback()
        finally:
            db.engine.dispose()
    return read, zone


@pytest.mark.postgres
def test_postgres_returns_utc_whatever_the_servers_time_zone():
    url = postgres_url("kontaktcenter_utc")
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET timezone TO 'Europe/Stockholm'"))
    admin.dispose()
    read, zone = _round_trip(url)
    assert zone == "UTC"
    assert read.tzinfo is UTC
    assert read == WRITTEN
    assert read.isoformat() == "2026-06-19T20:30:05.123456+00:00"


def test_sqlite_returns_utc(tmp_path):
    read, _ = _round_trip(f"sqlite:///{tmp_path / 'stamps.db'}")
    assert read.tzinfo is UTC
    assert read == WRITTEN
