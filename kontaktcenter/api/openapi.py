"""GET /api/v1/openapi.json: the API's OpenAPI 3.1 description, written by hand.

It is the contract with telephony platforms and e-services. tests/test_api_openapi.py checks that
every route is described (and nothing else), and validates real responses against the schemas.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from flask.typing import ResponseReturnValue

from kontaktcenter.api import (
    audit,
    callbacks,
    calls,
    case_export,
    diarium,
    register_extracts,
    reports,
    retention,
    secrecy,
)
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.cases import MAX_LIMIT
from kontaktcenter.api.schemas import (
    REFERENCE_PATTERN,
    SCHEMAS,
    SLUG_PATTERN,
    Schema,
    enum,
    ref,
)
from kontaktcenter.api.spec import RESPONSES
from kontaktcenter.api.spec import body as _body
from kontaktcenter.api.spec import json_response as _json
from kontaktcenter.api.spec import query as _query
from kontaktcenter.api.spec import std as _std
from kontaktcenter.cases.enums import CaseStatus, Channel

# Route modules that describe their own operations: each has PATHS and SCHEMAS.
PARTS = (
    secrecy,
    audit,
    retention,
    register_extracts,
    case_export,
    diarium,
    calls,
    callbacks,
    reports,
)

DESCRIPTION = """\
Kontaktcenter's integration API for telephony platforms, e-services and mail gateways.

**Authentication.** Every request except this document needs `Authorization: Bearer <token>`.
A token acts as its user, with that user's role and departments: a handler's token sees only
the cases of the handler's departments. Another department's case is reported as missing (404).

**Errors** are always `{"error": {"code", "message", "field"?}}`; `message` is Swedish and safe
to show a user, `field` names the field or parameter at fault (`contact.phone`, `cursor`).
Request bodies are JSON objects; unknown fields and unknown query parameters are rejected (422).
An optional query parameter left empty (`?department=`), like an optional body field that is
`null`, is the same as leaving it out.

**Times** are ISO 8601 with offset, returned in UTC (`+00:00`).

**Paging.** `GET /cases` returns `{"items", "next"}`, newest received first; pass `next` as
`cursor` to get the following page, until `next` is null. Cursors are opaque.
"""

TIME_PARAMETER = (
    "ISO 8601 date (`2024-05-01`: the start of that day in Europe/Stockholm) or date-time "
    "(with offset; without one it is Europe/Stockholm local time). Encode `+` as `%2B`."
)


SLUG: Schema = {"type": "string", "pattern": SLUG_PATTERN}
INCLUDE_INACTIVE = _query(
    "include_inactive",
    {"type": "string", "enum": ["0", "1", "false", "true"], "default": "0"},
    "Include inactive entries too.",
)
REFERENCE = {
    "name": "reference",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": REFERENCE_PATTERN},
    "description": "The case reference, e.g. KC-2024-000123 (case-insensitive).",
}
LIST_PARAMETERS = [
    _query("channel", enum(Channel), "Only this channel."),
    _query("status", enum(CaseStatus), "Only this status (default: all, closed too)."),
    _query("department", SLUG, "Only cases with this department (slug)."),
    _query("case_type", SLUG, "Only cases of this case type (slug)."),
    _query("received_from", {"type": "string"}, "Received at or after. " + TIME_PARAMETER),
    _query(
        "received_to",
        {"type": "string"},
        "Received before (exclusive: `received_from=2024-05-01&received_to=2024-05-02` is "
        "1 May). " + TIME_PARAMETER,
    ),
    _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        "Page size; default: the server's API_PAGE_SIZE (50).",
    ),
    _query("cursor", {"type": "string"}, "`next` of the previous page."),
]

CASE_WRITE_ERRORS = _std(
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "UnsupportedMediaType",
    "Invalid",
)

PATHS: dict[str, Schema] = {
    "/cases": {
        "get": {
            "operationId": "listCases",
            "summary": "List visible cases, newest received first",
            "description": "Items leave out the timeline: GET the case for it.",
            "parameters": LIST_PARAMETERS,
            "responses": {"200": _json(ref("CaseList"), "A page of cases.")}
            | _std("Unauthorized", "Invalid"),
        },
        "post": {
            "operationId": "createCase",
            "summary": "Register a contact as a case, with its outcome",
            "description": "Roles agent and admin only.",
            "requestBody": _body("NewCase"),
            "responses": {
                "201": _json(
                    ref("Case"),
                    "The case was registered.",
                    headers={
                        "Location": {
                            "description": "The case's URL.",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    },
                )
            }
            | _std("BadRequest", "Unauthorized", "Forbidden", "UnsupportedMediaType", "Invalid"),
        },
    },
    "/cases/{reference}": {
        "parameters": [REFERENCE],
        "get": {
            "operationId": "getCase",
            "summary": "A case with its timeline",
            "responses": {"200": _json(ref("Case"), "The case.")}
            | _std("Unauthorized", "NotFound"),
        },
    },
    "/cases/{reference}/notes": {
        "parameters": [REFERENCE],
        "post": {
            "operationId": "addNote",
            "summary": "Add an internal note to the case's timeline",
            "requestBody": _body("NewNote"),
            "responses": {"201": _json(ref("Case"), "The case, with the note last.")}
            | CASE_WRITE_ERRORS,
        },
    },
    "/cases/{reference}/close": {
        "parameters": [REFERENCE],
        "post": {
            "operationId": "closeCase",
            "summary": "Close the case with a resolution",
            "description": "Roles agent, handler (own departments) and admin.",
            "requestBody": _body("CloseCase"),
            "responses": {"200": _json(ref("Case"), "The closed case.")} | CASE_WRITE_ERRORS,
        },
    },
    "/cases/{reference}/replies": {
        "parameters": [REFERENCE],
        "post": {
            "operationId": "replyToCase",
            "summary": "Answer the citizen by e-mail",
            "description": "Queued and delivered in the background; the first answer sets the "
            "case's first response. Threads in the citizen's mail program (our Message-ID, "
            "In-Reply-To, the reference in the subject). Roles agent, handler (own "
            "departments) and admin; the contact needs an e-mail address (else 422).",
            "requestBody": _body("NewReply"),
            "responses": {"201": _json(ref("Case"), "The case, with the reply in `messages`.")}
            | CASE_WRITE_ERRORS,
        },
    },
    "/inbound/email": {
        "post": {
            "operationId": "receiveEmail",
            "summary": "Hand in one raw e-mail (mail gateways)",
            "description": "The body is the message exactly as received. It becomes a case, "
            "joins the case it belongs to, is recognised as a duplicate (the same Message-ID "
            "and the same content: the same message delivered again, whatever the servers on "
            "the way added), or is kept but rejected with a reason (auto-replies to nothing, "
            "bounces of unknown mail, unreadable messages). A different message that reuses a "
            "Message-ID is filed, not dropped. A message larger than the server's "
            "`MAIL_ASYNC_BYTES` (5 MB by default) is stored at once, before it is read, and "
            "answered `202` with its `id`; a background job files it (a message the job cannot "
            "file after three tries is kept for an administrator, never lost). So is any "
            "message sent with `Prefer: respond-async` (RFC 7240; answered with "
            "`Preference-Applied: respond-async`): the answer comes as soon as the message is "
            "stored, and the job files the messages stored meanwhile together, a batch per "
            "transaction, each as of when it arrived. Do not retry a 2xx. Roles agent and "
            "admin.",
            "parameters": [
                {
                    "name": "Prefer",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "`respond-async`: store the message and answer `202` at "
                    "once; it is filed in the background (for gateways handing in many).",
                }
            ],
            "requestBody": {
                "required": True,
                # Any bytes, the message as received, but not none (400).
                "content": {"message/rfc822": {"schema": {"minLength": 1}}},
            },
            "responses": {
                "201": _json(ref("InboundResult"), "A new case was created."),
                "200": _json(ref("InboundResult"), "Joined, duplicate or rejected (kept)."),
                "202": _json(
                    ref("InboundAccepted"),
                    "A large message, or one sent with `Prefer: respond-async`, stored and "
                    "filed in the background.",
                )
                | {
                    "headers": {
                        "Preference-Applied": {
                            "description": "`respond-async` when the request preferred it.",
                            "schema": {"type": "string"},
                        }
                    }
                },
            }
            | _std("BadRequest", "Unauthorized", "Forbidden", "UnsupportedMediaType"),
        },
    },
    "/calendar/working-days": {
        "get": {
            "operationId": "listWorkingDays",
            "summary": "Working days in a date range, and why the other days are not",
            "description": "Swedish public holidays (Lag 1989:253), midsommarafton, julafton "
            "and nyårsafton, weekends, and the organisation's closure and shortened days. At "
            "most 366 days.",
            "parameters": [
                _query("from", {"type": "string", "format": "date"}, "First day (inclusive).")
                | {"required": True},
                _query("to", {"type": "string", "format": "date"}, "Last day (inclusive).")
                | {"required": True},
            ],
            "responses": {"200": _json(ref("WorkingDayList"), "One item per day.")}
            | _std("Unauthorized", "Invalid"),
        },
    },
    "/search": {
        "get": {
            "operationId": "search",
            "summary": "Find a case or a person: reference, identifier, name or words",
            "description": "`q` is a case reference (`KC-2026-000303`, `kc 2026 303`, "
            "`2026-303`), a phone number in any Swedish form, an e-mail address, an "
            "organisation number, or words: names (misspellings too, by trigram similarity) "
            "and words of summaries, notes, e-mail subjects and bodies (Swedish stems, each "
            "word must match, as a prefix: `bygglovet` finds `bygglov` and "
            "`bygglovsansökan`). Without `q`, the filters list cases newest first. A handler "
            "finds only their departments' cases, and only people with such a case. Send a "
            "personnummer with POST, never in a URL. Looking a person up by an identifier is "
            "recorded in the audit trail.",
            "parameters": [
                _query("q", {"type": "string", "maxLength": 200}, "What to look for."),
                _query("channel", enum(Channel), "Only this channel."),
                _query(
                    "status",
                    {"type": "string", "enum": ["open", "closed"]},
                    "Only open or only closed cases (default: both).",
                ),
                _query("department", SLUG, "Only cases with this department (slug)."),
                _query("case_type", SLUG, "Only cases of this case type (slug)."),
                _query("from", {"type": "string", "format": "date"}, "Received on or after."),
                _query("to", {"type": "string", "format": "date"}, "Received on or before."),
                _query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": 100},
                    "Page size; default: the server's API_PAGE_SIZE (50).",
                ),
                _query("cursor", {"type": "string"}, "`next` of the previous page."),
            ],
            "responses": {"200": _json(ref("SearchResult"), "People and a page of cases.")}
            | _std("Unauthorized", "Invalid"),
        },
        "post": {
            "operationId": "searchByBody",
            "summary": "The same search with the query in the body (for a personnummer)",
            "requestBody": _body("SearchRequest"),
            "responses": {"200": _json(ref("SearchResult"), "People and a page of cases.")}
            | _std("BadRequest", "Unauthorized", "UnsupportedMediaType", "Invalid"),
        },
    },
    "/case-types": {
        "get": {
            "operationId": "listCaseTypes",
            "summary": "Case types with their departments and direct numbers",
            "parameters": [INCLUDE_INACTIVE],
            "responses": {"200": _json(ref("CaseTypeList"), "All case types, by name.")}
            | _std("Unauthorized", "Invalid"),
        },
    },
    "/departments": {
        "get": {
            "operationId": "listDepartments",
            "summary": "Departments (förvaltningar)",
            "parameters": [INCLUDE_INACTIVE],
            "responses": {"200": _json(ref("DepartmentList"), "All departments, by name.")}
            | _std("Unauthorized", "Invalid"),
        },
    },
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 document.")},
        },
    },
}


def _refusing_nul(paths: dict[str, Schema]) -> dict[str, Schema]:
    """Every operation answers 400 to a NUL character in its query string (checked before any
    route, core/security.py) and in a JSON body (api/parsing.py), and every authenticated one
    403 to a telephony integration account's token (api/auth.py)."""
    for operations in paths.values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                bad_request = {"$ref": "#/components/responses/BadRequest"}
                operation["responses"].setdefault("400", bad_request)
                if operation.get("security") != []:  # an integration account's token: 403
                    forbidden = {"$ref": "#/components/responses/Forbidden"}
                    operation["responses"].setdefault("403", forbidden)
    return paths


def _merged(name: str, own: dict[str, Schema]) -> dict[str, Schema]:
    merged = copy.deepcopy(own)
    for part in PARTS:
        for key, value in getattr(part, name).items():
            assert key not in merged, f"{key} is described twice"
            merged[key] = value
    return merged


@cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kontaktcenter API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": _refusing_nul(_merged("PATHS", PATHS)),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (kc_…), created by an administrator.",
                }
            },
            "schemas": _merged("SCHEMAS", SCHEMAS),
            "responses": RESPONSES,
        },
    }


def document() -> dict[str, Any]:
    """A fresh copy: callers may change it without touching the served one."""
    return copy.deepcopy(_document())


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return _document()
