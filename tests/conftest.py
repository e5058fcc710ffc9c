"""Test fixtures.

The database is chosen once per run: ``KONTAKTCENTER_TEST_DATABASE_URL`` if set; PostgreSQL on
127.0.0.1:5432 when ``CI=true`` (or ``KONTAKTCENTER_TEST_DB=postgres``); otherwise a SQLite file.
The schema is built by the Alembic migrations (the source of truth), once per run. Each test runs
inside an outer transaction; the code's own commits become savepoints and everything is rolled
back afterwards. Tests that need other processes or threads use ``committed_db`` instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy.orm import Session

from kontaktcenter import create_app
from kontaktcenter.config import TestConfig, normalise_database_url
from kontaktcenter.extensions import db
from tests import factories

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("KONTAKTCENTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def postgres_url(name: str) -> str:
    """A fresh PostgreSQL database `name` on the local server, or a failure/skip if unreachable."""
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            )
            if exists:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        message = f"PostgreSQL at 127.0.0.1:5432 is unreachable: {error}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    finally:
        engine.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def redis_url() -> str:
    """The local Redis (db 15, flushed), or a failure in CI / skip locally if unreachable."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        Redis.from_url(REDIS_URL).flushdb()
    except RedisConnectionError as error:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {error}", pytrace=False)
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {error}")
    return REDIS_URL


def _worker_suffix() -> str:
    return re.sub(r"\W", "", os.environ.get("PYTEST_XDIST_WORKER", "")) or "main"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    explicit = os.environ.get("KONTAKTCENTER_TEST_DATABASE_URL")
    if explicit:
        return normalise_database_url(explicit)
    if IN_CI or os.environ.get("KONTAKTCENTER_TEST_DB") == "postgres":
        return postgres_url(f"kontaktcenter_test_{_worker_suffix()}")
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app(
        TestConfig,
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")),
        },
    )
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    yield app
    with app.app_context():
        db.engine.dispose()


class _ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's session always picks its engine; in tests it must use our connection."""

    def get_bind(self, *args, **kwargs):  # type: ignore[override]
        return self.bind


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A per-test transaction, rolled back at the end; commits in the code become savepoints."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {
                "class_": _ConnectionBoundSession,
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
            }
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def committed_db(app: Flask) -> Iterator[None]:
    """Real commits (for tests with threads or processes); tables are emptied afterwards."""
    with app.app_context():
        yield
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


class RequestIsolatingClient(FlaskClient):
    """Each request starts as it would in production, although the test holds an app context
    (which Flask reuses for the request): no ``g`` left over (Flask-Login caches the user there),
    and no stale ORM state afterwards."""

    def open(self, *args, **kwargs):  # type: ignore[override]
        if has_app_context():
            for name in list(vars(g)):
                delattr(g, name)
        try:
            return super().open(*args, **kwargs)
        finally:
            if has_app_context():
                db.session.expire_all()


@pytest.fixture
def client(app: Flask, db_session: Session) -> FlaskClient:
    app.test_client_class = RequestIsolatingClient
    return app.test_client()


@pytest.fixture
def outbox(app: Flask, tmp_path: Path) -> Iterator[Path]:
    """Outgoing mail (acknowledgements, replies) as .eml files here: no SMTP_URL in tests."""
    app.config["OUTBOX_DIR"] = str(tmp_path)
    yield tmp_path
    app.config["OUTBOX_DIR"] = None


@pytest.fixture
def org(db_session: Session) -> factories.Org:
    return factories.make_org()


@pytest.fixture
def login(client: FlaskClient):
    def do_login(user, password: str = factories.PASSWORD) -> FlaskClient:
        with client.session_transaction() as session:
            session.clear()
        token = factories.csrf_token(client)
        response = client.post(
            "/login", data={"email": user.email, "password": password, "csrf_token": token}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return do_login
