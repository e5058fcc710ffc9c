"""The OpenAPI description of /api/v1/callbacks: merged into the one document by api/openapi.py
through api/callbacks.py."""

from __future__ import annotations

from kontaktcenter.api.schemas import TIME, Schema, enum, null_or, ref, request_body, strict, text
from kontaktcenter.api.spec import body, json_response, query, std
from kontaktcenter.callbacks.models import CallbackSource, CallbackStatus, Fallback
from kontaktcenter.cases.enums import CallbackResult

NUMBER_MAX = 64
QUEUE_MAX = 100
REFERENCE_MAX = 100
NAME_MAX = 200
NOTE_MAX = 500
WORKLIST_LIMIT = 200  # callbacks.worklist.LIMIT

_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_CALLBACK_ID = {
    "name": "callback_id",
    "in": "path",
    "required": True,
    "schema": _ID,
    "description": "The callback's id.",
}
_NTIME = null_or(TIME)
_NSTR = null_or({"type": "string"})
_WRITE = std("BadRequest", "Unauthorized", "Forbidden", "UnsupportedMediaType", "Invalid")
_NOT_INTEGRATION = (
    "A telephony integration token may only post callbacks (and call events): 403 here."
)

PATHS: dict[str, Schema] = {
    "/callbacks": {
        "post": {
            "operationId": "requestCallback",
            "summary": "Ask to be called back (the phone platform's queue callback, an e-service)",
            "description": "Makes a phone case in the contact center's first line (with the "
            "case type from `queue` or `case_type`, when given) and its callback on the "
            "worklist. The promise (`due_at`) is the slot's end, or for `asap` the case type's "
            "callback promise from the service goals. A telephony integration token posts as "
            "the platform's queue callback, any other token as an e-service. Idempotent per "
            "token user and `reference`: the same request again answers 200 with the callback "
            "it made or joined, and changes nothing (another requester's same `reference` is "
            "another request). The same number with a callback still waiting in the contact "
            "center's first line, on a case that is not secret and of the same or no case "
            "type, is added to that callback (200): a note on its case, and a slot ending "
            "before its promise becomes its slot and promise. Field errors answer 422 with "
            "`field` (`number`, `slot.from`, …). See docs/callbacks.md.",
            "requestBody": body("CallbackIn"),
            "responses": {
                "200": json_response(
                    ref("Callback"),
                    "Requested before (same token user and `reference`), or joined the "
                    "callback already waiting for the same number.",
                ),
                "201": json_response(ref("Callback"), "A new callback."),
            }
            | _WRITE,
        },
        "get": {
            "operationId": "listCallbacks",
            "summary": "The token user's waiting callbacks, most urgent first",
            "description": "The contact center's callbacks for an agent, manager or admin; a "
            "handler's departments' callbacks for a handler (`department` narrows it; another "
            f"department is refused with 422). Pending only, at most {WORKLIST_LIMIT}, by due "
            f"time, then slot. {_NOT_INTEGRATION}",
            "parameters": [
                query(
                    "department",
                    {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,59}$"},
                    "A department's slug: that department's worklist.",
                ),
            ],
            "responses": {"200": json_response(ref("CallbackList"), "The worklist.")}
            | std("BadRequest", "Unauthorized", "Forbidden", "Invalid"),
        },
    },
    "/callbacks/{callback_id}": {
        "parameters": [_CALLBACK_ID],
        "get": {
            "operationId": "getCallback",
            "summary": "One callback",
            "description": "404 when its case is not visible to the token's user. "
            + _NOT_INTEGRATION,
            "responses": {"200": json_response(ref("Callback"), "The callback.")}
            | std("BadRequest", "Unauthorized", "Forbidden", "NotFound"),
        },
    },
    "/callbacks/{callback_id}/attempts": {
        "parameters": [_CALLBACK_ID],
        "post": {
            "operationId": "recordCallbackAttempt",
            "summary": "Record an attempt to call back",
            "description": "`reached` closes the callback; `wrong_number` ends it at once; "
            "otherwise the case type's retry rules decide: the next attempt is allowed after "
            "the rule's gap, or the attempts are used up and the fallback (an e-mail, or a "
            "letter to send) applies. On the case's timeline. 403 for a role that may not "
            "record attempts on the case; 422 when the callback is closed. " + _NOT_INTEGRATION,
            "requestBody": body("CallbackAttemptIn"),
            "responses": {"201": json_response(ref("Callback"), "The callback after the attempt.")}
            | _WRITE
            | std("NotFound"),
        },
    },
}

_TIME_IN = TIME | {"description": "ISO 8601 with a time zone."}

SCHEMAS: dict[str, Schema] = {
    "CallbackIn": request_body(
        {
            "number": {
                "type": "string",
                "minLength": 1,
                "maxLength": NUMBER_MAX,
                "description": "Whom to call, in any Swedish or international format.",
            },
            "slot": {"type": "string"},  # replaced below: "asap" or {from, to}
            "queue": text(QUEUE_MAX, "The platform's queue (a phone queue's name): its case type."),
            "case_type": text(60, "A case type's slug (instead of `queue`)."),
            "reference": {
                "type": "string",
                "minLength": 1,
                "maxLength": REFERENCE_MAX,
                "pattern": r"\S",
                "description": "The requester's own id of the request: sent again with the "
                "same token, it makes no second callback and no second note.",
            },
            "name": text(NAME_MAX, "The caller's name, when known."),
            "note": text(NOTE_MAX, "What the call is about."),
        },
        ["number"],
    ),
    "CallbackAttemptIn": request_body(
        {"result": enum(CallbackResult), "note": text(NOTE_MAX)}, ["result"]
    ),
    "Callback": strict(
        {
            "id": {"type": "integer"},
            "case": {"type": "string", "description": "The case's reference."},
            "status": enum(CallbackStatus),
            "source": enum(CallbackSource),
            "reference": _NSTR | {"description": "The requester's reference."},
            "number": _NSTR
            | {"description": "E.164; null when the case's content is hidden from the token."},
            "case_type": _NSTR,
            "department": _NSTR
            | {"description": "The department's slug; null: the contact center."},
            "due_at": TIME | {"description": "The promise: call back by then."},
            "slot": {
                "oneOf": [
                    {"const": "asap"},
                    strict({"from": _NTIME, "to": _NTIME}),
                ]
            },
            "next_attempt_at": _NTIME
            | {"description": "Not before this time (the slot's start, or the retry gap)."},
            "attempts": {"type": "integer", "minimum": 0},
            "assigned_to": _NSTR | {"description": "The e-mail address of who has it."},
            "fallback": null_or(enum(Fallback)),
            "created_at": TIME,
            "closed_at": _NTIME,
        }
    ),
    "CallbackList": strict({"items": {"type": "array", "items": ref("Callback")}}),
}
SCHEMAS["CallbackIn"]["properties"]["slot"] = {
    "oneOf": [
        {"const": "asap", "description": "As soon as possible (the default)."},
        strict({"from": _TIME_IN, "to": _TIME_IN})
        | {"description": "Call between these times (both ends; at most 30 days ahead)."},
        {"type": "null", "description": "As `asap`."},
    ]
}
