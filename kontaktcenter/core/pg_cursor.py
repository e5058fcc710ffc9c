"""psycopg cursors whose ``description`` is built when it is read, not when it is asked for
(issue #16).

psycopg answers ``cursor.description`` with a new list of ``Column`` objects each time, every
column's name decoded and its type looked up: ~10 Python calls a column. SQLAlchemy asks for it
after every statement, but for a statement it has run before it keeps the result's metadata
and only checks that there is a description. A case page reads ~110 columns in its
statements: ~1,100 calls for lists nobody reads. Here the list is made the first time an item
or its length is read, from the result it describes, with psycopg's own ``Column``.

Set on each PostgreSQL connection that has psycopg's default cursor class (``core.extensions``:
a configured ``cursor_factory``, such as ``ClientCursor`` for PgBouncer, is kept); server-side
cursors keep psycopg's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import pq

# What makes psycopg give a description (its BaseCursor.description): columns, or a status
# saying the statement returned rows ("SELECT ;" has none).
_ROWS = frozenset(
    getattr(pq.ExecStatus, name)
    for name in ("TUPLES_OK", "SINGLE_TUPLE", "TUPLES_CHUNK")
    if hasattr(pq.ExecStatus, name)
)


class _Described:
    """What psycopg's ``Column`` reads of a cursor: the result the description was asked for
    (not the cursor's next one), and the connection's encoding and type adapters, read when
    the description is first used (they stay the connection's)."""

    __slots__ = ("_encoding", "adapters", "pgresult")

    def __init__(self, cursor: psycopg.Cursor[Any], result: pq.abc.PGresult) -> None:
        self.pgresult = result
        self._encoding = cursor._encoding
        self.adapters = cursor.adapters


class Description(Sequence[psycopg.Column]):
    """``cursor.description`` as psycopg gives it, made on first use."""

    __slots__ = ("_columns", "_cursor", "_result")

    def __init__(self, cursor: psycopg.Cursor[Any], result: pq.abc.PGresult) -> None:
        self._cursor = cursor
        self._result = result
        self._columns: list[psycopg.Column] | None = None

    def _made(self) -> list[psycopg.Column]:
        if self._columns is None:
            described: Any = _Described(self._cursor, self._result)
            self._columns = [psycopg.Column(described, i) for i in range(self._result.nfields)]
            self._cursor = None  # type: ignore[assignment]
        return self._columns

    def __len__(self) -> int:
        return self._result.nfields

    def __getitem__(self, index: Any) -> Any:
        return self._made()[index]

    def __iter__(self) -> Iterator[psycopg.Column]:
        return iter(self._made())

    def __eq__(self, other: object) -> bool:
        return list(self) == (list(other) if isinstance(other, Sequence) else other)

    __hash__ = None  # type: ignore[assignment]  # a list's equality: not hashable

    def __repr__(self) -> str:
        return repr(self._made())


def _description(cursor: psycopg.Cursor[Any]) -> Description | None:
    result = cursor.pgresult
    if result and (result.nfields or result.status in _ROWS):
        return Description(cursor, result)
    return None


class Cursor(psycopg.Cursor[Any]):
    """psycopg's client-side cursor with :class:`Description`."""

    description = property(_description)


class RawCursor(psycopg.RawCursor[Any]):
    """psycopg's client-side cursor for PostgreSQL's own $1 placeholders, with
    :class:`Description`."""

    description = property(_description)
