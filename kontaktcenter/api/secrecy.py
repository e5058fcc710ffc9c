"""/api/v1: Secrecy on case types and cases (issue #15).

``GET /secrecy-grounds`` lists the OSL provisions a case or case type may be made secret under
(``cases.secrecy.GROUNDS``); ``PUT /cases/{reference}/secrecy`` sets or clears a case's own
ground, with the rules of the case page (``cases.access``: the owning department's handlers,
the first line while it holds the case). A case's JSON says ``secret`` and ``secrecy_ground``.
``GET``/``PUT /case-types/{slug}/secrecy`` read and (admins) set a case type's ground.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.cases import REFERENCE
from kontaktcenter.api.parsing import SLUG, Fields, Query, json_object
from kontaktcenter.api.schemas import (
    REFERENCE_PATTERN,
    SLUG_PATTERN,
    STRING,
    Schema,
    null_or,
    ref,
    request_body,
    strict,
)
from kontaktcenter.api.serializers import case_json
from kontaktcenter.api.spec import body, json_response, std
from kontaktcenter.cases import access, secrecy
from kontaktcenter.core.errors import Forbidden, NotFound, ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import secrecy_grounds
from kontaktcenter.organisation.models import CaseType

GROUND_MAX = 20


@bp.get("/secrecy-grounds")
def list_secrecy_grounds() -> ResponseReturnValue:
    Query(set())
    items = [{"code": code, "label": label} for code, label in secrecy.GROUNDS.items()]
    return {"items": items}


@bp.put("/cases/<reference>/secrecy")
def put_case_secrecy(reference: str) -> ResponseReturnValue:
    user = api_user()
    if not REFERENCE.fullmatch(reference):
        raise NotFound(access.NOT_FOUND)
    case = access.get_visible_case(user, reference=reference)
    fields = Fields(json_object())
    if "ground" not in fields.data:
        fields.text("ground", GROUND_MAX, required=True)  # says it is missing
    ground = fields.text("ground", GROUND_MAX)
    version = fields.integer("version", minimum=1)
    fields.finish()
    secrecy.set_secrecy(case, user, ground, version)
    return case_json(case, timeline=True, viewer=user)


@bp.get("/case-types/<slug>/secrecy")
def get_case_type_secrecy(slug: str) -> ResponseReturnValue:
    Query(set())
    return _case_type_json(_case_type(slug))


@bp.put("/case-types/<slug>/secrecy")
def put_case_type_secrecy(slug: str) -> ResponseReturnValue:
    user = api_user()
    if user.role != Role.ADMIN:
        raise Forbidden("Bara administratörer ändrar ärendetypers sekretess.")
    case_type = _case_type(slug)
    fields = Fields(json_object())
    if "ground" not in fields.data:
        fields.text("ground", GROUND_MAX, required=True)
    ground = fields.text("ground", GROUND_MAX)
    fields.finish()
    try:
        secrecy_grounds.set_case_type_secrecy(case_type, user, ground)
    except ValidationError as error:
        error.field = "ground"
        raise
    return _case_type_json(case_type)


def _case_type(slug: str) -> CaseType:
    found = None
    if SLUG.fullmatch(slug):
        found = db.session.scalars(sa.select(CaseType).where(CaseType.slug == slug)).first()
    if found is None:
        raise NotFound("Ärendetypen finns inte.")
    return found


def _case_type_json(case_type: CaseType) -> dict[str, object]:
    return {"slug": case_type.slug, "secrecy_ground": case_type.secrecy_ground}


_REFERENCE_PARAMETER: Schema = {
    "name": "reference",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": REFERENCE_PATTERN},
    "description": "The case reference, e.g. KC-2024-000123 (case-insensitive).",
}

_GROUND: Schema = {
    "type": "string",
    "enum": list(secrecy.GROUNDS),
    "description": "A code of GET /secrecy-grounds; null clears it.",
}
_SLUG_PARAMETER: Schema = {
    "name": "slug",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": SLUG_PATTERN},
    "description": "The case type's slug (GET /case-types).",
}

PATHS: dict[str, Schema] = {
    "/secrecy-grounds": {
        "get": {
            "operationId": "listSecrecyGrounds",
            "summary": "The OSL provisions a case or case type may be made secret under",
            "responses": {
                "200": json_response(ref("SecrecyGroundList"), "Every ground, in list order.")
            }
            | std("Unauthorized", "Invalid"),
        }
    },
    "/case-types/{slug}/secrecy": {
        "parameters": [_SLUG_PARAMETER],
        "get": {
            "operationId": "getCaseTypeSecrecy",
            "summary": "A case type's secrecy: every case of the type is secret under it",
            "responses": {"200": json_response(ref("CaseTypeSecrecy"), "The case type's ground.")}
            | std("Unauthorized", "NotFound", "Invalid"),
        },
        "put": {
            "operationId": "setCaseTypeSecrecy",
            "summary": "Make every case of a type secret under a ground, or none (admins)",
            "description": "Logged in the audit log. A case's own ground is kept either way.",
            "requestBody": body("SecrecyChangeOfType"),
            "responses": {"200": json_response(ref("CaseTypeSecrecy"), "The case type's ground.")}
            | std(
                "BadRequest",
                "Unauthorized",
                "Forbidden",
                "NotFound",
                "UnsupportedMediaType",
                "Invalid",
            ),
        },
    },
    "/cases/{reference}/secrecy": {
        "parameters": [_REFERENCE_PARAMETER],
        "put": {
            "operationId": "setCaseSecrecy",
            "summary": "Make a case secret under a ground, or clear its own ground",
            "description": "Allowed to the owning department's handlers, and to the first "
            "line (agents) while the contact center holds the case; admins as on the case "
            "page. `ground: null` clears the case's own ground: a case type's secrecy stays. "
            "Recorded on the timeline and in the audit log. Once a secret case is routed, only "
            "its department sees its content: others get its register fields (reference, "
            "received_at, department, case_type) and `secret: true`.",
            "requestBody": body("SecrecyChange"),
            "responses": {"200": json_response(ref("Case"), "The case, as the caller sees it.")}
            | std(
                "BadRequest",
                "Unauthorized",
                "Forbidden",
                "NotFound",
                "Conflict",
                "UnsupportedMediaType",
                "Invalid",
            ),
        },
    },
}

SCHEMAS: dict[str, Schema] = {
    "SecrecyGround": strict(
        {
            "code": STRING | {"description": "As stored and shown, e.g. `OSL 26:1`."},
            "label": STRING | {"description": "The provision in Swedish, for display."},
        }
    ),
    "SecrecyGroundList": strict(
        {"items": {"type": "array", "items": ref("SecrecyGround")}},
    ),
    "CaseTypeSecrecy": strict(
        {"slug": STRING, "secrecy_ground": null_or(STRING)},
    ),
    "SecrecyChangeOfType": request_body({"ground": null_or(_GROUND)}, ["ground"]),
    "SecrecyChange": request_body(
        {
            "ground": null_or(_GROUND),
            "version": {
                "type": "integer",
                "minimum": 1,
                "description": "The case's version you read: a newer one answers 409.",
            },
        },
        ["ground"],
    ),
}
