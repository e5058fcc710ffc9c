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

The rule that keeps this safe: a build uses nothing its key does not name (whose access rule,
which filters are set, ...); every value a request brings is a parameter. With
SEARCH_CHECK_SHAPES (on in the tests) every cache hit builds the statement again and compares
the two, structure and embedded values, so a build that reads something its key leaves out
fails the test that meets it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa

from kontaktcenter.core.extensions import db

_T = TypeVar("_T")

# Per process: (dialect, *key) -> statement or clauses. The shapes in use are a few hundred
# per access key (by_name alone has up to ~800 by its words' alternatives); the bound is for
# the case they are not, and then the store starts again.
_built: dict[tuple[object, ...], Any] = {}
_BUILT_MAX = 8192

#: Build again on every cache hit and compare (SEARCH_CHECK_SHAPES, set by search.init_app).
CHECK_SHAPES = False


def dialect() -> str:
    return db.session.get_bind().dialect.name


def once(key: tuple[object, ...], build: Callable[[], _T]) -> _T:
    """The statement or clauses `build()` makes for `key`, once per process and dialect."""
    full = (dialect(), *key)
    found = _built.get(full)
    if found is None:
        if len(_built) >= _BUILT_MAX:
            _built.clear()
        found = _built.setdefault(full, build())
    elif CHECK_SHAPES:
        fresh = build()
        if _fingerprint(fresh) != _fingerprint(found):
            raise AssertionError(f"search statement {full!r} differs from its cached shape")
    return found  # what build() made for this key


def _fingerprint(built: Any) -> Any:
    """The SQL a statement makes and the values embedded in it, or those of each clause of a
    tuple. (Not SQLAlchemy's cache key: a shared clause's key records whether it was last
    compiled by the ORM.)"""
    if isinstance(built, tuple):
        return tuple(_fingerprint(part) for part in built)
    compiled = built.compile(dialect=db.session.get_bind().dialect)
    return str(compiled), sorted((name, repr(value)) for name, value in compiled.params.items())


def merged(*params: dict[str, Any]) -> dict[str, Any]:
    """The parameters of several Conditions of one statement: a name may appear in more than
    one (the filters, on the cases and on the index) only with the same value."""
    into: dict[str, Any] = {}
    for part in params:
        for name, value in part.items():
            if name in into and into[name] != value:
                raise ValueError(f"parameter {name!r} has two values in one statement")
            into[name] = value
    return into


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
