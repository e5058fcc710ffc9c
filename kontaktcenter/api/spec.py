"""Building blocks for the OpenAPI document: shared responses and small constructors.

Route modules that describe their own operations (``PATHS`` and ``SCHEMAS`` at module level,
merged by openapi.py) build them from these, so the document stays one consistent contract.
"""

from __future__ import annotations

from typing import Any

from kontaktcenter.api.schemas import Schema, ref


def error_response(description: str, headers: dict[str, Any] | None = None) -> Schema:
    response: Schema = {
        "description": description,
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


RESPONSES: dict[str, Schema] = {
    "BadRequest": error_response(
        "The body is not JSON, or not a JSON object; or a query parameter or the body holds a "
        "NUL character (`%00`, `\\u0000`), which any operation refuses (`field` names it)."
    ),
    "Unauthorized": error_response(
        "No token, or an unknown or revoked token, or the token's user is inactive.",
        {
            "WWW-Authenticate": {
                "description": 'Bearer realm="kontaktcenter"',
                "required": True,
                "schema": {"type": "string"},
            }
        },
    ),
    "Forbidden": error_response(
        "The token's role may not do this, or the token belongs to a telephony integration "
        "account, which may only post call events, call statistics and callback requests."
    ),
    "NotFound": error_response("No such case, or not visible to the token's user."),
    "Conflict": error_response("The case changed since `version`: reload it and try again."),
    "UnsupportedMediaType": error_response("The body must be sent as application/json."),
    "Invalid": error_response("A field or parameter is missing, of the wrong type or not allowed."),
}


def std(*names: str) -> dict[str, Schema]:
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "Conflict": "409",
        "UnsupportedMediaType": "415",
        "Invalid": "422",
    }
    return {codes[name]: {"$ref": f"#/components/responses/{name}"} for name in names}


def json_response(schema: Schema, description: str, **extra: Any) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}} | extra


def body(name: str) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


def query(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
        "allowEmptyValue": True,  # `?department=` is the same as leaving it out
    }
