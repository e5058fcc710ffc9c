"""The catalog an integration needs to register cases: case types and departments."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.parsing import Query
from kontaktcenter.api.serializers import case_type_json, department_json
from kontaktcenter.organisation import queries


@bp.get("/case-types")
def case_types() -> ResponseReturnValue:
    query = Query({"include_inactive"})
    items = queries.case_types(include_inactive=query.flag("include_inactive"))
    return {"items": [case_type_json(t) for t in items], "next": None}


@bp.get("/departments")
def departments() -> ResponseReturnValue:
    query = Query({"include_inactive"})
    items = queries.departments(include_inactive=query.flag("include_inactive"))
    return {"items": [department_json(d) for d in items], "next": None}
