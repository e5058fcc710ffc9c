"""/api/v1: Diarium marking and hand-off (issue #15).

``PUT /cases/{reference}/diarium`` marks a case and/or stores the diarienummer the registrar's
system gave it (the answer to our webhook may carry it too); ``GET`` reads it back;
``GET /diaries`` lists the diarier and the departments each serves. The signing secret and the
endpoint are never shown here.
"""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.case_export import REFERENCE_PARAMETER, visible_case
from kontaktcenter.api.parsing import Fields, Query, json_object
from kontaktcenter.api.schemas import (
    TIME,
    Schema,
    enum,
    null_or,
    ref,
    request_body,
    strict,
    text,
)
from kontaktcenter.api.spec import body, json_response, query, std
from kontaktcenter.compliance import diarium
from kontaktcenter.compliance.diarium_models import Diarium, HandoffState, Marking
from kontaktcenter.compliance.diarium_settings import list_diaries
from kontaktcenter.core.extensions import db

JSON = dict[str, object]


def status_json(found: diarium.DiariumStatus) -> JSON:
    entry = found.entry
    return {
        "reference": found.case.reference,
        "marking": found.marking.value if found.marking else None,
        "state": found.state.value,
        "diarium": _diarium_ref(entry.diarium if entry else None),
        "diarienummer": found.diarienummer,
        "marked_at": entry.marked_at.isoformat() if entry else None,
        "sent_at": entry.sent_at.isoformat() if entry and entry.sent_at else None,
        "registered_at": (
            entry.registered_at.isoformat() if entry and entry.registered_at else None
        ),
    }


def _diarium_ref(found: Diarium | None) -> JSON | None:
    return {"id": found.id, "name": found.name} if found is not None else None


@bp.get("/cases/<reference>/diarium")
def get_case_diarium(reference: str) -> ResponseReturnValue:
    Query(set())
    case = visible_case(reference)
    return status_json(diarium.status(api_user(), case))


@bp.put("/cases/<reference>/diarium")
def put_case_diarium(reference: str) -> ResponseReturnValue:
    user = api_user()
    case = visible_case(reference)
    fields = Fields(json_object())
    marking = fields.enum("marking", Marking)
    number = fields.text("diarienummer", diarium.DIARIENUMMER_MAX)
    fields.finish()
    diarium.update(case, user, marking=marking, diarienummer=number)
    db.session.expire_all()
    return status_json(diarium.status(user, case))


@bp.get("/diaries")
def get_diaries() -> ResponseReturnValue:
    include_inactive = Query({"include_inactive"}).flag("include_inactive")
    diaries = [d for d in list_diaries() if d.active or include_inactive]
    return {
        "items": [
            {
                "id": d.id,
                "name": d.name,
                "active": d.active,
                "departments": [{"slug": x.slug, "name": x.name} for x in d.departments],
            }
            for d in diaries
        ]
    }


PATHS: dict[str, Schema] = {
    "/cases/{reference}/diarium": {
        "parameters": [REFERENCE_PARAMETER],
        "get": {
            "operationId": "getCaseDiarium",
            "summary": "The case's diarium marking, hand-off and diarienummer",
            "responses": {"200": json_response(ref("CaseDiarium"), "The case's diarium.")}
            | std("BadRequest", "Unauthorized", "NotFound", "Invalid"),
        },
        "put": {
            "operationId": "putCaseDiarium",
            "summary": "Mark the case for the diarium and/or store its diarienummer",
            "description": "For the first line while it holds the case, the owning "
            "department's handlers and managers, and admins; only users who may see the "
            "case's content (else 403). `register` (ska diarieföras) hands the case to the "
            "diarium serving its department through a signed webhook "
            "(docs/diarium-format.md). A `diarienummer` (sent by the registrar's system) "
            "implies `register`; a registered case keeps that marking (else 422).",
            "requestBody": body("CaseDiariumUpdate"),
            "responses": {"200": json_response(ref("CaseDiarium"), "The case's diarium.")}
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
    "/diaries": {
        "get": {
            "operationId": "listDiaries",
            "summary": "The diarier (one per nämnd) and the departments each serves",
            "parameters": [
                query(
                    "include_inactive",
                    {"type": "string", "enum": ["0", "1", "false", "true"], "default": "0"},
                    "Include inactive diarier too.",
                )
            ],
            "responses": {
                "200": json_response(
                    strict({"items": {"type": "array", "items": ref("Diarium")}}), "The diarier."
                )
            }
            | std("BadRequest", "Unauthorized", "Invalid"),
        }
    },
}

SCHEMAS: dict[str, Schema] = {
    "CaseDiarium": strict(
        {
            "reference": {"type": "string"},
            "marking": null_or(
                enum(
                    Marking,
                    "register: ska diarieföras; minor: av ringa "
                    "betydelse; kept_ordered: hålls ordnad.",
                )
            ),
            "state": enum(HandoffState),
            "diarium": null_or(strict({"id": {"type": "integer"}, "name": {"type": "string"}})),
            "diarienummer": null_or(text(diarium.DIARIENUMMER_MAX)),
            "marked_at": null_or(TIME),
            "sent_at": null_or(TIME),
            "registered_at": null_or(TIME),
        }
    ),
    "CaseDiariumUpdate": request_body(
        {
            "marking": enum(Marking),
            "diarienummer": text(diarium.DIARIENUMMER_MAX)
            | {"minLength": 1, "examples": ["BN 2024/123"]},
        },
        required=[],
    ),
    "Diarium": strict(
        {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "active": {"type": "boolean"},
            "departments": {"type": "array", "items": ref("SlugName")},
        }
    ),
}
