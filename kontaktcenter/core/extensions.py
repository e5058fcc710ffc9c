"""Flask extensions, created unbound and initialised in create_app()."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from flask import Flask, current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from limits.storage import Storage, storage_from_string
from limits.strategies import STRATEGIES, RateLimiter
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    from flask_sqlalchemy.model import Model as _FlaskModel

    # mypy takes no attribute (`db.Model`) as a base class (python/mypy#8603): to it, the models'
    # base is what db.Model is at run time, Base's body with Flask-SQLAlchemy's Model mixed in.
    class Model(Base, _FlaskModel):
        __abstract__ = True

else:
    Model = db.Model
# Schema objects a migration makes for one dialect only (full-text tables and their shadow
# tables, generated columns, trigram indexes): not mapped, so autogenerate and the model check
# leave them alone. Areas add the name prefixes in their models module.
UNMAPPED_PREFIXES: set[str] = set()


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return name is None or not name.startswith(tuple(UNMAPPED_PREFIXES))


migrate = Migrate(include_name=include_name)
login_manager = LoginManager()
csrf = CSRFProtect()
_LIMITER = "kontaktcenter.limiter"


class Throttles:
    """The counts of sign-in throttling (`organisation.login_throttle`): a `limits` strategy
    (RATELIMIT_STRATEGY, moving windows) over RATELIMIT_STORAGE_URI. The `limits` library
    directly, not Flask-Limiter around it: no route has a decorated limit, and Flask-Limiter's
    hooks looked for one on every request (~350 Python calls each, #16)."""

    def __init__(self, storage_uri: str, strategy: str) -> None:
        # A synchronous storage for a URI such as redis:// or memory:// (async+ ones are not).
        self.storage = cast(Storage, storage_from_string(storage_uri))
        self.limiter: RateLimiter = STRATEGIES[strategy](self.storage)

    def reset(self) -> None:
        """Forget every count (the tests)."""
        self.storage.reset()


def init_limiter(app: Flask) -> Throttles:
    """The throttles of `app`, counting in RATELIMIT_STORAGE_URI: by default REDIS_URL (shared by
    every process), else memory (per process, the embedded default). One per app, kept in
    ``app.extensions``, so two apps in one process (tests) never share counts or storage. The
    storage connects when first used: an unreachable Redis is found, and survived, then."""
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    throttles = Throttles(app.config["RATELIMIT_STORAGE_URI"], app.config["RATELIMIT_STRATEGY"])
    app.extensions[_LIMITER] = throttles
    return throttles


def limiter() -> Throttles:
    """The current app's throttles (see :func:`init_limiter`)."""
    found: Throttles = current_app.extensions[_LIMITER]
    return found


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zone type and hands back naive values; this decorator refuses naive input
    and always returns aware UTC, so comparisons never mix naive and aware values.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> Any:
        """On PostgreSQL none: every connection's TimeZone is UTC (:func:`_utc_sessions`), so
        psycopg already returns ``datetime.UTC`` values. Converting each one again cost a list
        page of 50 cases ~700 Python calls (#16)."""
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)


def utcnow() -> datetime:
    return datetime.now(UTC)


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection: object, connection_record: object) -> None:
    """SQLite (the embedded default): foreign keys on, WAL for concurrent readers, wait on locks,
    and let SQLAlchemy emit BEGIN itself so SAVEPOINTs work (the pysqlite driver's own
    transaction handling breaks them)."""
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@sa.event.listens_for(sa.engine.Engine, "connect")
def _utc_sessions(dbapi_connection: object, connection_record: object) -> None:
    """PostgreSQL: cursors whose description is made when read (``core.pg_cursor``), and the
    session's TimeZone is UTC whatever the server's default, so timestamps
    come back as UTC values (psycopg gives them ``datetime.UTC`` for a TimeZone of "UTC") and
    UTCDateTime need not convert them. Set per connection with SET, which poolers such as
    PgBouncer keep per client (a startup option they may refuse)."""
    if type(dbapi_connection).__module__.split(".")[0] != "psycopg":
        return
    import psycopg

    from kontaktcenter.core.pg_cursor import Cursor, RawCursor

    if dbapi_connection.cursor_factory is psycopg.Cursor:  # type: ignore[attr-defined]
        dbapi_connection.cursor_factory = Cursor  # type: ignore[attr-defined]
    elif dbapi_connection.cursor_factory is RawCursor:  # type: ignore[attr-defined]
        # (yield_per's named cursors: the same $n placeholders as every statement)
        dbapi_connection.server_cursor_factory = psycopg.RawServerCursor  # type: ignore[attr-defined]
    autocommit = dbapi_connection.autocommit  # type: ignore[attr-defined]
    dbapi_connection.autocommit = True  # type: ignore[attr-defined]
    try:
        dbapi_connection.execute("SET TIME ZONE 'UTC'")  # type: ignore[attr-defined]
    finally:
        dbapi_connection.autocommit = autocommit  # type: ignore[attr-defined]


def engine_options(uri: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """The options the app's engine for `uri` is made with. On PostgreSQL through psycopg:
    PostgreSQL's own ``$1`` placeholders, which psycopg's raw cursors pass on as they are.
    With SQLAlchemy's default ``%(name)s`` style psycopg rewrites every statement with a
    regular expression, and caches the result only for short ones: a batch INSERT of a
    hundred rows cost ~18 ms each time (issue #16). A configured ``paramstyle`` or
    ``cursor_factory`` (such as ``ClientCursor`` for PgBouncer) is kept as it is."""
    if not uri or sa.engine.make_url(uri).drivername != "postgresql+psycopg":
        return options
    connect_args = options.get("connect_args", {})
    if "paramstyle" in options or "cursor_factory" in connect_args:
        return options
    from kontaktcenter.core.pg_cursor import RawCursor

    return options | {
        "paramstyle": "numeric_dollar",
        "connect_args": connect_args | {"cursor_factory": RawCursor},
    }


def configure_sqlite(engine: sa.engine.Engine, immediate: bool) -> None:
    """Let SQLAlchemy emit BEGIN itself (so SAVEPOINTs work). With `immediate`, every transaction
    takes the write lock up front: a web request and a background job thread then wait for each
    other (busy_timeout) instead of one failing with "database is locked" when both read and
    then write. The embedded default uses it; the test suite does not, because its threads hold
    read transactions open."""
    statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.engine.Connection) -> None:
        conn.exec_driver_sql(statement)


def forget_on_flush(key: str, *models: type) -> None:
    """Drop the value cached in ``flask.g[key]`` whenever an instance of `models` is written:
    a per-request cache of configuration that stays right after the request changes it."""
    import itertools

    from flask import g, has_app_context

    @sa.event.listens_for(sa.orm.Session, "after_flush")
    def _forget(session: sa.orm.Session, _context: object) -> None:
        if has_app_context() and key in g:
            changed = itertools.chain(session.new, session.dirty, session.deleted)
            if any(isinstance(obj, models) for obj in changed):
                g.pop(key, None)


def str_enum(enum_cls: type[StrEnum], length: int = 20) -> sa.Enum:
    """A portable enum column storing the value (not the name), without a native DB type."""
    return sa.Enum(
        enum_cls,
        values_callable=lambda e: [m.value for m in e],
        native_enum=False,
        create_constraint=False,
        length=length,
        validate_strings=True,
    )


def upsert(model: type[Any], session: Any = None) -> Any:
    """``INSERT … ON CONFLICT`` for the session's database: PostgreSQL and SQLite both have it,
    spelt alike, but SQLAlchemy builds it per dialect. `model` is a mapped class."""
    session = session if session is not None else db.session
    table = cast(sa.Table, model.__table__)
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def read_rows(statement: sa.Executable, params: dict[str, Any]) -> sa.CursorResult[Any]:
    """Run a SELECT of columns (no entities) on the session's connection, in its transaction,
    without the ORM's execution path: ~90 Python calls less a statement (#16). No autoflush:
    for what is committed or flushed, never objects still pending in this session."""
    return db.session.connection().execute(statement, params)
