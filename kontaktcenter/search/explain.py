"""PostgreSQL's estimate of a search's rows, from its plan (split from search/queries.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.visitors import InternalTraversal

from kontaktcenter.core.extensions import db


def estimated_rows(explained: Explain, params: dict[str, Any] | None = None) -> float:
    """PostgreSQL's estimate of a query's rows (its statistics of the most common lexemes):
    planning only, a fraction of a millisecond, where counting would read every match.
    `explained` is the query wrapped in :class:`Explain` (callers keep it, built once per
    shape, search/bound.py), its values in `params`."""
    plan = db.session.execute(explained, params or {}).scalar_one()
    return float(plan[0]["Plan"]["Plan Rows"])


def estimated_rows_each(
    explained: Explain, count: int, params: dict[str, Any] | None = None
) -> list[float] | None:
    """The estimates of several queries in one round trip: `explained` wraps the UNION ALL of
    `count` queries, whose plan has a branch per query, in order. None if the planner shaped
    it otherwise."""
    plan = db.session.execute(explained, params or {}).scalar_one()
    branches = plan[0]["Plan"].get("Plans", [])
    if plan[0]["Plan"].get("Node Type") != "Append" or len(branches) != count:
        return None
    return [float(branch["Plan Rows"]) for branch in branches]


class Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <select>`` as a cacheable statement (the select's structure is
    its cache key, its values stay bound parameters): compiling the search's SQL by hand cost
    more than the planning."""

    inherit_cache = True
    _traverse_internals = [("query", InternalTraversal.dp_clauseelement)]

    def __init__(self, query: sa.Select[Any] | sa.CompoundSelect) -> None:
        self.query = query

    @property
    def _all_selected_columns(self) -> tuple[()]:
        """No columns to match by name with a cached compilation: the plan is read by place."""
        return ()


@compiles(Explain)
def _compile_explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.query, **kw)
