"""Test fixtures.

The database is chosen once per run: ``KONTAKTCENTER_TEST_DATABASE_URL`` if set; PostgreSQL on
127.0.0.1:5432 when ``CI=true`` (or ``KONTAKTCENTER_TEST_DB=postgres``); otherwise a SQLite file.
The PostgreSQL and Redis servers may be shared with other runs (other CI jobs, other checkouts):
every database this run creates and its RQ queue are named with the run's own ``RUN_ID``, and at
the end of the session it drops those databases and deletes its queue's Redis keys, nothing else.
The schema is built by the Alembic migrations (the source of truth), once per run. Each test runs
inside an outer transaction; the code's own commits become savepoints and everything is rolled
back afterwards. Tests that need other processes or threads use ``committed_db`` instead.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy.orm import Session

from kontaktcenter import create_app
from kontaktcenter.core.config import TestConfig, normalise_database_url
from kontaktcenter.core.extensions import db
from tests import factories

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("KONTAKTCENTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _worker_suffix() -> str:
    return re.sub(r"\W", "", os.environ.get("PYTEST_XDIST_WORKER", "")) or "main"


# Made once per pytest process (each xdist worker is one): names this run's databases and queue.
RUN_ID = f"{uuid.uuid4().hex[:10]}_{_worker_suffix()}"
JOB_QUEUE = f"kontaktcenter_test_{RUN_ID}"  # the app's RQ queue (JOB_QUEUE) in this run
_run_databases: list[str] = []  # created by postgres_url(), dropped at the end of the session
_run_redis_urls: set[str] = set()  # handed out by redis_url(): clean this run's keys there


def postgres_url(name: str) -> str:
    """A new, empty PostgreSQL database on the local server named `name` plus this run's id
    (dropped at the end of the session), or a failure in CI / skip locally if unreachable."""
    name = f"{name}_{RUN_ID}"
    assert len(name) <= 63, f"PostgreSQL truncates identifiers over 63 bytes: {name}"
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            )
            if exists:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        if name not in _run_databases:
            _run_databases.append(name)
    except sa.exc.OperationalError as error:
        message = f"PostgreSQL at 127.0.0.1:5432 is unreachable: {error}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    finally:
        engine.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@contextmanager
def threaded_postgres_app(name: str, threads: int = 8) -> Iterator[Flask]:
    """An app on a PostgreSQL database of its own (`name`), migrated, with the factories'
    organisation: for tests whose threads commit for real (savepoints cannot show races)."""
    app = create_app(
        TestConfig,
        {
            "SQLALCHEMY_DATABASE_URI": postgres_url(name),
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": threads + 2},
        },
    )
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
        factories.make_org()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def run_in_threads(app: Flask, work, n: int = 8) -> list:
    """`work(i)` in `n` threads started together (a barrier), each in its own app context and
    session; their results in order. Any exception in a thread fails the test."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                results[i] = work(i)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def redis_url() -> str:
    """The local Redis (db 15), or a failure in CI / skip locally if unreachable.

    Other runs may use the same db at the same time: it is never flushed. Use only this run's
    queue (``JOB_QUEUE``, set as the app's ``JOB_QUEUE``); its keys go at the end of the session.
    """
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        with Redis.from_url(REDIS_URL) as connection:
            connection.ping()
    except RedisConnectionError as error:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {error}", pytrace=False)
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {error}")
    _run_redis_urls.add(REDIS_URL)
    return REDIS_URL


def drop_run_databases() -> None:
    """Drop the databases postgres_url() created in this run (and only those)."""
    if not _run_databases:
        return
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            while _run_databases:
                name = _run_databases[-1]
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                _run_databases.pop()
    finally:
        engine.dispose()


def delete_run_redis_keys(url: str, queue: str = JOB_QUEUE) -> int:
    """Delete what RQ keeps in Redis for this run's `queue`, and nothing of other runs: the keys
    that name the queue (the queue, its registries and locks), the jobs that came from it with
    their results and executions, the workers that served only it, and its entries in RQ's shared
    sets. Returns the number of keys deleted."""
    from redis import Redis
    from rq import Queue, Worker
    from rq.job import Job

    job_prefix = Job.redis_job_namespace_prefix  # "rq:job:"
    worker_prefix = Worker.redis_worker_namespace_prefix  # "rq:worker:"
    rq_prefix = job_prefix.removesuffix("job:")  # "rq:", or RQ_KEY_PREFIX
    with Redis.from_url(url) as redis:
        keys = [key.decode() for key in redis.scan_iter(match=f"{rq_prefix}*", count=1000)]
        job_ids = {
            key.removeprefix(job_prefix)
            for key in keys
            if key.startswith(job_prefix)
            and ":" not in key.removeprefix(job_prefix)
            and redis.type(key) == b"hash"
            and redis.hget(key, "origin") == queue.encode()
        }
        workers = {
            key
            for key in keys
            if key.startswith(worker_prefix)
            and redis.type(key) == b"hash"
            and redis.hget(key, "queues") == queue.encode()
        }

        def of_our_jobs(key: str) -> bool:  # rq:job:<id>[:...], rq:results:<id>, rq:executions:<id>
            parts = key.removeprefix(rq_prefix).split(":")
            return len(parts) > 1 and parts[1] in job_ids  # job ids have no ":"

        ours = workers | {key for key in keys if queue in key or of_our_jobs(key)}
        with redis.pipeline() as pipe:
            pipe.srem(Queue.redis_queues_keys, Queue.redis_queue_namespace_prefix + queue)
            if workers:
                pipe.srem(Worker.redis_workers_keys, *workers)
            if ours:
                pipe.delete(*ours)
            pipe.execute()
    return len(ours)


@pytest.fixture(scope="session", autouse=True)
def _clean_up_this_run() -> Iterator[None]:
    """First set up, so last torn down: after the apps and their engines are gone, drop this
    run's PostgreSQL databases and delete its Redis keys."""
    yield
    try:
        drop_run_databases()
    finally:
        for url in sorted(_run_redis_urls):
            delete_run_redis_keys(url)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    explicit = os.environ.get("KONTAKTCENTER_TEST_DATABASE_URL")
    if explicit:
        return normalise_database_url(explicit)
    if IN_CI or os.environ.get("KONTAKTCENTER_TEST_DB") == "postgres":
        return postgres_url("kontaktcenter_test")
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app(
        TestConfig,
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")),
            "JOB_QUEUE": JOB_QUEUE,
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


@contextmanager
def rolled_back_session(app: Flask) -> Iterator[Session]:
    """A transaction on `app`'s database, rolled back at the end; commits in the code become
    savepoints. For the suite's database and for tests with a database of their own."""
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
def db_session(app: Flask) -> Iterator[Session]:
    """A per-test transaction, rolled back at the end; commits in the code become savepoints."""
    with rolled_back_session(app) as session:
        yield session


@pytest.fixture
def committed_db(app: Flask) -> Iterator[None]:
    """Real commits (for tests with threads or processes); tables are emptied afterwards."""
    with app.app_context():
        yield
        db.session.remove()
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # The audit log's triggers refuse deletes (migration 0017); tests connect as a
                # superuser, who may switch triggers off for this transaction only.
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
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
