"""The OpenAPI description of /api/v1/register-extracts and /api/v1/contacts/{id} (correction,
erasure decisions): merged into the one document by api/openapi.py through
api/register_extracts.py."""

from __future__ import annotations

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
from kontaktcenter.cases.enums import ContactKind
from kontaktcenter.compliance import corrections, erasure, extracts, extracts_document
from kontaktcenter.compliance.extract_models import ErasureOutcome, ExtractStatus

MAX_CASES = 500
REFERENCE_MAX = 30


_ADMIN_ONLY = "Admin tokens only (else 403)."
_INT: Schema = {"type": "integer"}
_STR: Schema = {"type": "string"}
_NSTR: Schema = null_or(_STR)
_ID_MAX = 2**31 - 1
_ID = {"type": "integer", "minimum": 1, "maximum": _ID_MAX}
_REQUEST_ID = {
    "name": "request_id",
    "in": "path",
    "required": True,
    "schema": _ID,
    "description": "The request's id.",
}
_CONTACT_ID = {
    "name": "contact_id",
    "in": "path",
    "required": True,
    "schema": _ID,
    "description": "The contact's id.",
}
_WRITE = std("BadRequest", "Unauthorized", "Forbidden", "NotFound", "UnsupportedMediaType")
_WRITE |= std("Invalid")

PATHS: dict[str, Schema] = {
    "/register-extracts": {
        "get": {
            "operationId": "listRegisterExtracts",
            "summary": "Register extract requests, pending first (the most urgent first)",
            "description": f"{_ADMIN_ONLY} Then the others, newest first; at most 500.",
            "parameters": [query("status", enum(ExtractStatus), "Only this status.")],
            "responses": {"200": json_response(ref("RegisterExtractRequestList"), "Requests.")}
            | std("Unauthorized", "Forbidden", "Invalid"),
        },
        "post": {
            "operationId": "createRegisterExtract",
            "summary": "Log a person's request for a register extract (GDPR art. 15)",
            "description": f"{_ADMIN_ONLY} Give at least one identifier you have checked "
            "belongs to the person. Every contact matching one of them is covered (a contact "
            "with another personnummer than the one given is not). The request is due one "
            "month later, is logged, and blocks gallring of the contacts' cases until it is "
            "marked delivered. A person we hold nothing about still gets a request "
            "(`contact_ids` empty): the answer is that we hold no data.",
            "requestBody": body("NewRegisterExtract"),
            "responses": {
                "201": json_response(
                    ref("RegisterExtractRequest"),
                    "The request was logged.",
                    headers={
                        "Location": {
                            "description": "The extract.",
                            "required": True,
                            "schema": _STR,
                        }
                    },
                )
            }
            | std("BadRequest", "Unauthorized", "Forbidden", "UnsupportedMediaType", "Invalid"),
        },
    },
    "/register-extracts/{request_id}": {
        "parameters": [_REQUEST_ID],
        "get": {
            "operationId": "getRegisterExtract",
            "summary": "The register extract: everything we hold about the person",
            "description": f"{_ADMIN_ONLY} The same document as the download on the page "
            "(docs/register-extract.md); other people's data and secret parts are masked. "
            "Reading it is logged.",
            "responses": {"200": json_response(ref("RegisterExtract"), "The extract.")}
            | std("Unauthorized", "Forbidden", "NotFound"),
        },
    },
    "/register-extracts/{request_id}/delivered": {
        "parameters": [_REQUEST_ID],
        "post": {
            "operationId": "deliverRegisterExtract",
            "summary": "Mark the extract as handed over (gallring may go on)",
            "description": f"{_ADMIN_ONLY} 409 if the request is not pending.",
            "responses": {"200": json_response(ref("RegisterExtractRequest"), "Delivered.")}
            | std("Unauthorized", "Forbidden", "NotFound")
            | {"409": {"$ref": "#/components/responses/Conflict"}},
        },
    },
    "/register-extracts/{request_id}/withdrawn": {
        "parameters": [_REQUEST_ID],
        "post": {
            "operationId": "withdrawRegisterExtract",
            "summary": "The person withdrew the request (gallring may go on)",
            "description": f"{_ADMIN_ONLY} 409 if the request is not pending.",
            "responses": {"200": json_response(ref("RegisterExtractRequest"), "Withdrawn.")}
            | std("Unauthorized", "Forbidden", "NotFound")
            | {"409": {"$ref": "#/components/responses/Conflict"}},
        },
    },
    "/contacts/{contact_id}": {
        "parameters": [_CONTACT_ID],
        "patch": {
            "operationId": "correctContact",
            "summary": "Correct a contact's data (GDPR art. 16)",
            "description": f"{_ADMIN_ONLY} Only the fields given change; null or an empty "
            "string removes a value. The old and new values are logged (a personnummer "
            "masked) and every case of the contact gets a note naming the corrected fields. "
            "422 when nothing changes.",
            "requestBody": body("ContactCorrection"),
            "responses": {"200": json_response(ref("CorrectedContact"), "The contact now.")}
            | _WRITE,
        },
    },
    "/contacts/{contact_id}/erasure-decisions": {
        "parameters": [_CONTACT_ID],
        "get": {
            "operationId": "listErasureDecisions",
            "summary": "Decisions on the contact's requests for erasure, newest first",
            "description": _ADMIN_ONLY,
            "responses": {"200": json_response(ref("ErasureDecisionList"), "Decisions.")}
            | std("Unauthorized", "Forbidden", "NotFound"),
        },
        "post": {
            "operationId": "decideErasure",
            "summary": "Record a decision on a request for erasure (GDPR art. 17)",
            "description": f"{_ADMIN_ONLY} Allmänna handlingar may be destroyed only under a "
            "gallringsbeslut (2 kap. TF, arkivlagen; art. 17.3 b), so most requests are "
            "refused. The ground must fit the outcome: refusing grounds "
            f"{sorted(erasure.REFUSING_GROUNDS)}, granting grounds "
            f"{sorted(erasure.GRANTING_GROUNDS)}. A granted decision names closed cases of "
            "the contact (`cases`) and anonymises them at once, as gallring does.",
            "requestBody": body("NewErasureDecision"),
            "responses": {"201": json_response(ref("ErasureDecision"), "Recorded.")} | _WRITE,
        },
    },
}

_MESSAGE_HEAD: dict[str, Schema] = {
    "id": _INT,
    "direction": _STR,
    "kind": _STR,
    "at": TIME,
}
_MESSAGE: Schema = strict(
    _MESSAGE_HEAD
    | {
        "from": _NSTR,
        "from_name": _NSTR,
        "to": {"type": "array", "items": _STR},
        "cc": {"type": "array", "items": _STR},
        "subject": _NSTR,
        "text": _NSTR,
        "attachments": {
            "type": "array",
            "items": strict({"filename": _STR, "content_type": _STR, "size": _INT}),
        },
    }
)
_OTHER_MESSAGE: Schema = {
    "oneOf": [
        strict(
            _MESSAGE["properties"]
            | {"case_reference": {"type": "null"}, "roles": {"type": "array", "items": _STR}}
        ),
        strict(
            _MESSAGE_HEAD
            | {
                "case_reference": _STR,
                "withheld": _STR,
                "roles": {"type": "array", "items": _STR},
            }
        ),
    ]
}

SCHEMAS: dict[str, Schema] = {
    "NewRegisterExtract": request_body(
        {
            "personnummer": text(20, "YYYYMMDD-NNNN (any usual form)."),
            "email": text(254),
            "phone": text(40),
            "note": text(extracts.NOTE_MAX, "How the person's identity was checked."),
        },
        [],
    ),
    "RegisterExtractRequest": strict(
        {
            "id": _INT,
            "reference": {"type": "string", "examples": ["RU-2026-000012"]},
            "status": enum(ExtractStatus),
            "requested_at": TIME,
            "due_on": {"type": "string", "format": "date"},
            "delivered_at": null_or(TIME),
            "identifiers": {
                "type": "object",
                "description": "What the person was found by; a personnummer masked.",
                "additionalProperties": _STR,
            },
            "contact_ids": {"type": "array", "items": _INT},
            "note": _STR,
        }
    ),
    "RegisterExtractRequestList": strict(
        {"items": {"type": "array", "items": ref("RegisterExtractRequest")}}
    ),
    "RegisterExtract": strict(
        {
            "format": {"const": extracts_document.FORMAT},
            "generated_at": TIME,
            "request": ref("RegisterExtractRequest"),
            "notes": {"type": "array", "items": _STR},
            "contacts": {
                "type": "array",
                "items": strict(
                    {
                        "id": _INT,
                        "kind": enum(ContactKind),
                        "name": _NSTR,
                        "phone": _NSTR,
                        "email": _NSTR,
                        "personnummer": _NSTR,
                        "organisation_number": _NSTR,
                        "created_at": TIME,
                    }
                ),
            },
            "cases": {
                "type": "array",
                "items": strict(
                    {
                        "reference": _STR,
                        "channel": _STR,
                        "status": _STR,
                        "outcome": _NSTR,
                        "received_at": TIME,
                        "closed_at": null_or(TIME),
                        "case_type": _NSTR,
                        "department": _NSTR,
                        "secret": {"type": "boolean"},
                        "secrecy_ground": _NSTR,
                        "secrecy_note": _NSTR,
                        "summary": _STR,
                        "resolution": _NSTR,
                        "referred_to": _NSTR,
                        "timeline": {
                            "type": "array",
                            "items": strict(
                                {
                                    "at": TIME,
                                    "kind": _STR,
                                    "label": _STR,
                                    "by": _NSTR,
                                    "text": _NSTR,
                                }
                            ),
                        },
                        "messages": {"type": "array", "items": _MESSAGE},
                    }
                ),
            },
            "other_messages": {"type": "array", "items": _OTHER_MESSAGE},
            "audit": {
                "type": "array",
                "items": strict(
                    {
                        "at": TIME,
                        "action": _STR,
                        "label": _STR,
                        "by": _NSTR,
                        "case_reference": _NSTR,
                    }
                ),
            },
        }
    ),
    "ContactCorrection": request_body(
        {
            "name": text(200),
            "phone": text(40),
            "email": text(254),
            "personnummer": text(20),
            "organisation_number": text(20),
            "reason": text(corrections.REASON_MAX, "Why the data is corrected (logged)."),
        },
        ["reason"],
    ),
    "CorrectedContact": strict(
        {
            "id": _INT,
            "kind": enum(ContactKind),
            "name": _NSTR,
            "phone": _NSTR,
            "email": _NSTR,
            "personnummer": _NSTR,
            "organisation_number": _NSTR,
        }
    ),
    "NewErasureDecision": request_body(
        {
            "outcome": enum(ErasureOutcome),
            "legal_ground": {"type": "string", "enum": sorted(erasure.LEGAL_GROUNDS)},
            "reason": text(erasure.REASON_MAX),
            "cases": {
                "type": "array",
                "items": {"type": "string", "maxLength": REFERENCE_MAX},
                "maxItems": MAX_CASES,
                "description": "References of the contact's cases the decision covers.",
            },
        },
        ["outcome", "legal_ground", "reason"],
    ),
    "ErasureDecision": strict(
        {
            "id": _INT,
            "contact_id": null_or(_INT),
            "outcome": enum(ErasureOutcome),
            "legal_ground": _STR,
            "legal_ground_label": _STR,
            "reason": _STR,
            "cases": {"type": "array", "items": _STR},
            "decided_at": TIME,
            "decided_by": _NSTR,
            "carried_out_at": null_or(TIME),
        }
    ),
    "ErasureDecisionList": strict({"items": {"type": "array", "items": ref("ErasureDecision")}}),
}
