"""Search's SQL built once per shape, its values bound when it runs (issues #12, #16).

A search runs a handful of statements whose shapes repeat (which filters are set, whose
access rule, whether there are words, people, a cursor) while their values change. Built anew
for every request, they cost a fifth of a search page's CPU: constructing the statement, and
SQLAlchemy walking it to find its cached compilation. Here each shape's statement is built
once per process with bind parameters, and a request only supplies the values: the statement
object is the same, so SQLAlchemy's cache key for it is computed once too.

Each piece of a search's WHERE clause is a :class:`Conditions`: the clauses, the values of
their parameters, and a key that names the shape. Two Conditions with equal keys have the same
clauses; a statement built from Conditions is cached under their keys (:func:`once`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa

from kontaktcenter.cases import access
from kontaktcenter.core.extensions import db

_T = TypeVar("_T")


def dialect() -> str:
    return db.session.get_bind().dialect.name


def once(key: tuple[object, ...], build: Callable[[], _T]) -> _T:
    """The statement or clause `build()` makes for `key`, once per process and dialect."""
    return access.built(("search", dialect(), *key), build)


@dataclass(frozen=True, slots=True)
class Conditions:
    """WHERE clauses with bind parameters, their values, and the key of their shape."""

    key: tuple[object, ...]
    clauses: tuple[sa.ColumnElement[bool], ...]
    params: dict[str, Any] = field(default_factory=dict)

    def plus(
        self,
        key: tuple[object, ...],
        build: Callable[[], Sequence[sa.ColumnElement[bool]]],
        **params: Any,
    ) -> Conditions:
        """These and the clauses `build()` makes (named `key` within these), with more
        values. `build` runs once per shape."""
        whole = (*self.key, *key)
        clauses = once(("conditions", *whole), lambda: (*self.clauses, *build()))
        return Conditions(whole, clauses, {**self.params, **params})


def among(column: Any, name: str) -> sa.ColumnElement[bool]:
    """`column` is one of the ids in parameter `name` (a list). On PostgreSQL ``= ANY(:name)``:
    one array parameter, so the statement is the same for any number of ids and psycopg keeps
    it prepared; elsewhere an expanding IN."""
    if dialect() == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=_INT_ARRAY))
    return column.in_(sa.bindparam(name, expanding=True))


_INT_ARRAY = sa.ARRAY(sa.Integer())


def tsquery() -> sa.ColumnElement[Any]:
    """PostgreSQL: the words' query, from parameter ``tsq`` (search.words sets it)."""
    return sa.func.to_tsquery("simple", sa.bindparam("tsq", type_=sa.String))
