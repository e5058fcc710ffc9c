"""/api/v1: call events from the telephony platform (issue #14).

``POST /calls/events``: `ringing`, `answered`, `transferred`, `ended` or `abandoned` for the
platform's call id. Only the token of a telephony integration user may post (see
channels/phone/integration.py). Idempotent per call id and event: a repeat answers 200 with
``duplicate: true`` and changes nothing; a new event answers 201. docs/call-events.md is the
reference, with curl examples and how two platforms' webhooks map onto this contract.

``POST /calls/statistics``: the platform's per-call statistics as CSV (the integration's token
or an admin's), all or nothing; docs/phone-statistics.md is the reference.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user, api_user_is_integration
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.parsing import Fields, UnsupportedMediaType, json_object
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
from kontaktcenter.api.spec import body, error_response, json_response, std
from kontaktcenter.channels.phone import call_events, integration, stats_import
from kontaktcenter.channels.phone.models import Call, CallEventKind, CallState
from kontaktcenter.core.errors import Forbidden, ValidationError
from kontaktcenter.core.roles import Role

CALL_ID_MAX = 100
NUMBER_MAX = 64
QUEUE_MAX = 100
WAIT_MAX = 86_400
NOT_INTEGRATION = (
    "Den här nyckeln får inte rapportera samtal: använd nyckeln för telefoniintegrationen."
)


@bp.post("/calls/events")
def post_call_event() -> ResponseReturnValue:
    if not api_user_is_integration():
        raise Forbidden(NOT_INTEGRATION)
    fields = Fields(json_object())
    platform_call_id = fields.text("call_id", CALL_ID_MAX, required=True) or ""
    if not platform_call_id.strip():
        raise ValidationError("Ange plattformens samtals-id.", "call_id")
    kind = fields.enum("event", CallEventKind, required=True)
    assert kind is not None
    at = fields.datetime("time")
    caller_given = "caller" in fields.data
    caller = fields.text("caller", NUMBER_MAX)
    called = fields.text("called", NUMBER_MAX)
    queue = fields.text("queue", QUEUE_MAX)
    agent_email = fields.text("agent_email", 254)
    agent_id = fields.text("agent_id", CALL_ID_MAX)
    wait = fields.integer("queue_wait_seconds", minimum=0, maximum=WAIT_MAX)
    fields.finish()
    recorded = call_events.record(
        call_events.EventData(
            platform_call_id=platform_call_id,
            kind=kind,
            at=at,
            caller=caller,
            caller_given=caller_given,
            called=called,
            queue=queue,
            agent=integration.agent_for(agent_email, agent_id),
            queue_wait_seconds=wait,
        )
    )
    result = {
        "call": call_json(recorded.call),
        "event": {"id": recorded.event.id, "event": recorded.event.kind.value},
        "duplicate": recorded.duplicate,
        "screen_pop": recorded.popped is not None,
    }
    return result, 200 if recorded.duplicate else 201


CSV_TYPES = ("text/csv", "text/plain", "application/csv")


@bp.post("/calls/statistics")
def post_call_statistics() -> ResponseReturnValue:
    user = api_user()
    if not (user.role == Role.ADMIN or api_user_is_integration()):
        raise Forbidden(
            "Samtalsstatistik lämnas in av telefoniintegrationen eller en administratör."
        )
    if request.mimetype not in CSV_TYPES:
        raise UnsupportedMediaType("Skicka statistiken som CSV (Content-Type: text/csv).")
    try:
        stats_import.check_size(request.content_length or 0)  # before reading the body
        result = stats_import.import_statistics(request.get_data(cache=False))
    except stats_import.ImportRejected as rejected:
        errors = [{"line": e.line, "field": e.field, "message": e.message} for e in rejected.errors]
        error = {"code": "invalid", "message": rejected.message, "field": "file"}
        return {"error": error, "errors": errors, "error_count": rejected.total}, 422
    return {
        "rows": result.rows,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "unknown_agents": result.unknown_agents,
    }


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def call_json(call: Call) -> dict[str, Any]:
    return {
        "id": call.id,
        "call_id": call.platform_call_id,
        "state": call.state.value,
        "caller": call.caller_e164 or call.caller_raw,
        "caller_hidden": call.caller_hidden,
        "called": call.called_number,
        "queue": call.queue,
        "agent": call.agent.email if call.agent else None,
        "transferred_to": call.transferred_to.email if call.transferred_to else None,
        "ringing_at": _time(call.ringing_at),
        "answered_at": _time(call.answered_at),
        "transferred_at": _time(call.transferred_at),
        "ended_at": _time(call.ended_at),
        "abandoned_at": _time(call.abandoned_at),
        "queue_wait_seconds": call.queue_wait_seconds,
        "talk_seconds": call.talk_seconds,
        "case": call.case.reference if call.case else None,
    }


_NULLABLE_TIME = null_or(TIME)
_SECONDS: Schema = {"type": ["integer", "null"], "minimum": 0}

PATHS: dict[str, Schema] = {
    "/calls/events": {
        "post": {
            "operationId": "postCallEvent",
            "summary": "Report a call event from the telephony platform",
            "description": "Only a telephony integration user's token may post (others: 403). "
            "Idempotent per `call_id` and `event`: a repeat changes nothing and answers 200 "
            "with `duplicate: true` (the first one wins); a new event answers 201. Events may "
            "come in any order: the call is computed from the set of its events. Numbers are "
            "normalised to E.164 (default region SE); a missing, empty or withheld caller "
            "(`anonymous`, `private`, …) is a hidden number. An `answered` or `transferred` "
            "event naming a known agent (by `agent_email`, else by `agent_id` mapped with "
            "`flask calls map-agent`) pops the call up in that agent's browser while the "
            "call is going on. An agent nobody knows is kept as no agent. See "
            "docs/call-events.md.",
            "requestBody": body("CallEventIn"),
            "responses": {
                "200": json_response(ref("CallEventResult"), "A duplicate: nothing changed."),
                "201": json_response(ref("CallEventResult"), "The event was recorded."),
            }
            | std("BadRequest", "Unauthorized", "Forbidden", "UnsupportedMediaType", "Invalid"),
        }
    }
}

PATHS["/calls/statistics"] = {
    "post": {
        "operationId": "postCallStatistics",
        "summary": "Import per-call statistics from the telephony platform (CSV)",
        "description": "The platform's statistics export as `text/csv`: one row per call with "
        "call id, start time, queue, caller, waited seconds, answered/abandoned, talk seconds "
        "and agent (e-mail or platform agent id). Swedish and English header names are "
        "recognised, `;` or `,`, UTF-8 (with or without BOM) or Windows-1252; a time without "
        "an offset is Europe/Stockholm time. All or nothing: any bad row refuses the whole "
        "file (422 with every error and its line), also a file that is not UTF-8 or "
        "Windows-1252 text (UTF-16: save it as UTF-8). Calls are upserted by call id: a call "
        "known from its events keeps their values; the file's are kept beside them and the "
        "report uses them where the events have none, and a corrected file replaces them "
        "(`updated`). "
        f"Importing the same file again changes nothing. At most {stats_import.MAX_ROWS} rows "
        f"and {stats_import.MAX_BYTES // 2**20} MB. The telephony integration's token or an "
        "admin's. See docs/phone-statistics.md.",
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        "responses": {
            "200": json_response(ref("CallStatisticsResult"), "The file was imported."),
            "422": error_response("The file was refused: every error, with its line.")
            | {"content": {"application/json": {"schema": ref("CallStatisticsRejected")}}},
        }
        | std("BadRequest", "Unauthorized", "Forbidden", "UnsupportedMediaType"),
    }
}

SCHEMAS: dict[str, Schema] = {
    "CallStatisticsResult": strict(
        {
            "rows": {"type": "integer", "minimum": 1},
            "created": {"type": "integer", "minimum": 0, "description": "Calls not known before."},
            "updated": {
                "type": "integer",
                "minimum": 0,
                "description": "Known calls (from events or an earlier file) that changed.",
            },
            "unchanged": {"type": "integer", "minimum": 0},
            "unknown_agents": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Agents named in the file that match no user (kept as text).",
            },
        }
    ),
    "CallStatisticsRejected": strict(
        {
            "error": strict(
                {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                }
            ),
            "errors": {
                "type": "array",
                "items": strict(
                    {
                        "line": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Line in the file (header = 1); 0: the whole file.",
                        },
                        "field": null_or({"type": "string"}),
                        "message": {"type": "string"},
                    }
                ),
            },
            "error_count": {"type": "integer", "minimum": 1},
        }
    ),
    "CallEventIn": request_body(
        {
            "call_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": CALL_ID_MAX,
                "pattern": r"\S",
                "description": "The platform's id of the call (the same in all its events).",
            },
            "event": enum(CallEventKind),
            "time": TIME
            | {"description": "When it happened, with a time zone; default: when it arrived."},
            "caller": text(
                NUMBER_MAX,
                "The caller's number in any format (`070-123 45 67`, `+4670…`, "
                "`sip:+4670…@pbx`); null, empty or `anonymous`: a hidden number.",
            ),
            "called": text(NUMBER_MAX, "Which of our numbers was called."),
            "queue": text(QUEUE_MAX, "The platform's queue."),
            "agent_email": text(254, "The agent's e-mail address (their user account)."),
            "agent_id": text(CALL_ID_MAX, "The platform's agent id (mapped to a user)."),
            "queue_wait_seconds": {"type": "integer", "minimum": 0, "maximum": WAIT_MAX},
        },
        ["call_id", "event"],
    ),
    "Call": strict(
        {
            "id": {"type": "integer"},
            "call_id": {"type": "string"},
            "state": enum(CallState),
            "caller": null_or({"type": "string"}),
            "caller_hidden": {"type": "boolean"},
            "called": null_or({"type": "string"}),
            "queue": null_or({"type": "string"}),
            "agent": null_or({"type": "string"}),
            "transferred_to": null_or({"type": "string"}),
            "ringing_at": _NULLABLE_TIME,
            "answered_at": _NULLABLE_TIME,
            "transferred_at": _NULLABLE_TIME,
            "ended_at": _NULLABLE_TIME,
            "abandoned_at": _NULLABLE_TIME,
            "queue_wait_seconds": _SECONDS,
            "talk_seconds": _SECONDS,
            "case": null_or({"type": "string", "description": "The case logged from the call."}),
        }
    ),
    "CallEventResult": strict(
        {
            "call": ref("Call"),
            "event": strict({"id": {"type": "integer"}, "event": enum(CallEventKind)}),
            "duplicate": {"type": "boolean"},
            "screen_pop": {
                "type": "boolean",
                "description": "An agent's browser was told to open the call.",
            },
        }
    ),
}
