"""core.pg_cursor: the description made when read is psycopg's own, for the result it was
asked for; every PostgreSQL connection the app makes uses it (#16)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from kontaktcenter import create_app
from kontaktcenter.core.config import TestConfig
from kontaktcenter.core.extensions import db, engine_options
from kontaktcenter.core.pg_cursor import Cursor, Description, RawCursor
from tests.conftest import IN_CI, PG_ADMIN_URL


def _reachable(engine: sa.engine.Engine) -> sa.engine.Engine:
    """`engine` once it has connected; a failure in CI, a skip locally, if it cannot."""
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as error:
        engine.dispose()
        message = f"PostgreSQL at 127.0.0.1:5432 is unreachable: {error}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return engine


@pytest.fixture(params=["pyformat", "numeric_dollar"])
def engine(request) -> Iterator[sa.engine.Engine]:
    """An engine on the local PostgreSQL (the app's connect hooks apply to every engine): with
    SQLAlchemy's default placeholders, and with the app's (PostgreSQL's own, raw cursors)."""
    options = {} if request.param == "pyformat" else engine_options(PG_ADMIN_URL, {})
    engine = _reachable(sa.create_engine(PG_ADMIN_URL, **options))
    yield engine
    engine.dispose()


def _psycopgs(cursor: psycopg.Cursor) -> list[tuple] | None:
    """The description as psycopg's own cursor class makes it, as plain tuples."""
    made = psycopg.Cursor.description.fget(cursor)  # type: ignore[attr-defined]
    return None if made is None else [tuple(column) for column in made]


STATEMENTS = [
    "SELECT 1 AS one, 'två'::text AS \"två\", now() AS at, NULL::numeric(10, 2) AS amount",
    "SELECT ARRAY[1, 2] AS ids, '{}'::jsonb AS data, 'x'::varchar(12) AS v",
    "SELECT",  # rows without columns: a description, empty
    "CREATE TEMPORARY TABLE t (id serial PRIMARY KEY, name text)",
    "INSERT INTO t (name) VALUES ('a')",  # no rows: no description
    "INSERT INTO t (name) VALUES ('b') RETURNING id, name",
    "UPDATE t SET name = 'c' WHERE id = 1",
    "SELECT id, name FROM t WHERE false",  # no rows, but columns
]


def test_the_description_is_psycopgs_own(engine):
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        cursor = raw.cursor()
        raw_placeholders = engine.dialect.paramstyle == "numeric_dollar"
        assert type(cursor) is (RawCursor if raw_placeholders else Cursor)
        for statement in STATEMENTS:
            cursor.execute(statement)
            expected = _psycopgs(cursor)
            made = cursor.description
            if expected is None:
                assert made is None, statement
                continue
            assert isinstance(made, Description)
            assert len(made) == len(expected), statement
            assert [tuple(column) for column in made] == expected, statement
            assert [(c.name, c.type_code) for c in made] == [e[:2] for e in expected]
            assert list(made) == made[:] and made == made[:]
            if expected:
                assert made[0][0] == expected[0][0] and made[-1].name == expected[-1][0]


def test_a_description_read_late_describes_its_own_result(engine):
    """Made on first use, from the result it was asked for: not the cursor's next one."""
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute("SELECT 1 AS first_column, 2 AS second_column")
        first = cursor.description
        cursor.execute("SELECT 'x' AS other")
        assert first is not None and len(first) == 2
        assert [c.name for c in first] == ["first_column", "second_column"]
        assert first[0].type_code == first[1].type_code == 23  # int4
        assert [c.name for c in cursor.description] == ["other"]


def test_a_configured_cursor_class_is_kept():
    """connect_args={"cursor_factory": psycopg.ClientCursor} (PgBouncer's transaction mode)
    keeps its class."""
    configured = {"cursor_factory": psycopg.ClientCursor}
    engine = _reachable(sa.create_engine(PG_ADMIN_URL, connect_args=configured))
    try:
        with engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()
            assert type(cursor) is psycopg.ClientCursor
            assert conn.execute(sa.text("SELECT 1 AS one")).one().one == 1
    finally:
        engine.dispose()


def test_sqlalchemy_results_read_through_it(engine):
    """The first run of a statement builds SQLAlchemy's result metadata from the description
    (names, by position and by name); a later run of the same statement reuses it."""
    statement = sa.select(
        sa.literal(1).label("n"), sa.literal("två").label("text"), sa.func.now().label("at")
    )
    with engine.connect() as conn:
        for _ in range(2):
            row = conn.execute(statement).one()
            assert row.n == 1 and row.text == "två" and row._mapping["at"] is not None
        textual = conn.execute(sa.text("SELECT 7 AS seven, 'sju' AS name")).one()
        assert textual._asdict() == {"seven": 7, "name": "sju"}
        assert conn.execute(sa.text("SELECT 1 WHERE false")).first() is None
        assert conn.execute(sa.text("SET LOCAL work_mem = '8MB'")).returns_rows is False


def test_the_app_passes_postgresqls_own_placeholders_to_raw_cursors():
    """The app's engine on PostgreSQL writes $1 placeholders, which psycopg sends as they are:
    with %(name)s it parsed every statement with a regular expression (18 ms for a batch
    INSERT of 100 rows, uncached for long statements). Made without connecting."""
    app = create_app(TestConfig, {"SQLALCHEMY_DATABASE_URI": PG_ADMIN_URL})
    with app.app_context():
        assert db.engine.dialect.paramstyle == "numeric_dollar"
        statement = sa.select(sa.literal_column("1")).where(sa.bindparam("a") == "b")
        assert "$1" in str(statement.compile(db.engine))
    options = engine_options(PG_ADMIN_URL, {"pool_pre_ping": True})
    assert options == {
        "pool_pre_ping": True,
        "paramstyle": "numeric_dollar",
        "connect_args": {"cursor_factory": RawCursor},
    }


@pytest.mark.parametrize(
    ("uri", "options"),
    [
        ("sqlite:///x.db", {}),
        ("postgresql+psycopg2://u@h/db", {}),  # another driver: its own style
        (PG_ADMIN_URL, {"paramstyle": "format"}),  # configured: kept
        (PG_ADMIN_URL, {"connect_args": {"cursor_factory": psycopg.ClientCursor}}),  # PgBouncer
    ],
)
def test_other_databases_and_configured_choices_keep_their_placeholders(uri, options):
    assert engine_options(uri, options) == options


def test_statements_with_every_kind_of_parameter_run_with_raw_placeholders(engine):
    """What SQLAlchemy sends: IN lists expanded at run time, a batch INSERT of many rows with
    RETURNING (insertmanyvalues), % in literals and LIKE patterns, and yield_per's named
    (server-side) cursor."""
    table = sa.Table(
        "placeholder_check",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("data", sa.JSON),
        prefixes=["TEMPORARY"],
    )
    with engine.connect() as conn:
        table.create(conn)
        rows = [{"name": f"n{i} 50%", "data": {"i": i}} for i in range(300)]
        inserted = conn.execute(
            sa.insert(table).returning(table.c.id, table.c.name, sort_by_parameter_order=True),
            rows,
        ).all()
        assert [row.name for row in inserted] == [row["name"] for row in rows]
        picked = conn.execute(
            sa.select(table.c.name)
            .where(table.c.id.in_([inserted[0].id, inserted[7].id]))
            .where(table.c.name.like("%50\\%", escape="\\"))
            .order_by(table.c.id)
        ).scalars()
        assert list(picked) == ["n0 50%", "n7 50%"]
        assert conn.execute(sa.text("SELECT 'a%' || :b AS c"), {"b": "%"}).scalar() == "a%%"
        streamed = conn.execute(
            sa.select(table.c.data).where(table.c.id >= sa.bindparam("after")).order_by(table.c.id),
            {"after": inserted[-3].id},
            execution_options={"yield_per": 1},
        ).scalars()
        assert [data["i"] for data in streamed] == [297, 298, 299]
