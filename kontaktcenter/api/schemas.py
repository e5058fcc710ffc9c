"""JSON Schemas (OpenAPI 3.1 = JSON Schema 2020-12) of what the API reads and writes.

Written by hand beside serializers.py and parsing.py; enum values come from the model enums so
the description cannot fall behind them. tests/test_api_openapi.py validates real responses.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from kontaktcenter.cases.actions import TEXT_MAX
from kontaktcenter.cases.enums import (
    ActivityKind,
    CaseStatus,
    Channel,
    ContactKind,
    Outcome,
    TransferKind,
)
from kontaktcenter.cases.services import SUMMARY_MAX
from kontaktcenter.channels.email.models import MailKind, MailStatus
from kontaktcenter.goals.models import GoalState, GoalTarget

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
TIME: Schema = {"type": "string", "format": "date-time"}
SLUG_PATTERN = "^[a-z0-9][a-z0-9_-]{0,59}$"
VERSION: Schema = {
    "type": "integer",
    "minimum": 1,
    "maximum": 2**31 - 1,
    "description": "The case's `version` you acted on: 409 if someone changed it since.",
}
REFERENCE_PATTERN = "^[Kk][Cc]-[0-9]{4}-[0-9]{1,12}$"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def values(enum_cls: type[StrEnum]) -> list[str]:
    return [member.value for member in enum_cls]


def enum(enum_cls: type[StrEnum], description: str | None = None) -> Schema:
    schema: Schema = {"type": "string", "enum": values(enum_cls)}
    if description:
        schema["description"] = description
    return schema


def null_or(schema: Schema) -> Schema:
    """The schema, or JSON null."""
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    result = dict(schema)
    result["type"] = [schema["type"], "null"]
    if "enum" in schema:
        result["enum"] = [*schema["enum"], None]
    return result


def request_body(properties: dict[str, Schema], required: list[str]) -> Schema:
    """A request body with these properties, the `required` ones present. An optional one may
    also be null, which the API reads as left out (api/parsing.Fields)."""
    return strict(
        {name: s if name in required else null_or(s) for name, s in properties.items()}, required
    )


def or_left_out(schema: Schema) -> Schema:
    """The schema, or null or an empty string: an optional field the API reads as left out."""
    return {"anyOf": [schema, {"type": ["string", "null"], "maxLength": 0}]}


def strict(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    """An object with exactly these properties (all present unless `required` says otherwise)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def text(max_length: int, description: str | None = None) -> Schema:
    schema: Schema = {"type": "string", "maxLength": max_length}
    if description:
        schema["description"] = description
    return schema


CASE_PROPERTIES: dict[str, Schema] = {
    "reference": {"type": "string", "examples": ["KC-2024-000123"]},
    "channel": enum(Channel),
    "status": enum(CaseStatus),
    "outcome": null_or(enum(Outcome, "How the first line dealt with the contact.")),
    "case_type": null_or(ref("SlugName")),
    "department": null_or(
        ref("SlugName") | {"description": "null: the case is with the contact center."}
    ),
    "assignee": null_or(ref("Assignee")),
    "contact": null_or(ref("Contact")),
    "summary": STRING,
    "resolution": null_or(STRING),
    "referred_to": null_or(STRING),
    "received_at": TIME,
    "created_at": TIME,
    "updated_at": TIME,
    "first_response_at": null_or(TIME),
    "due_at": null_or(
        TIME | {"description": "The nearest running promise; null when none is running."}
    ),
    "callback_due_at": null_or(TIME),
    "callback_done_at": null_or(TIME),
    "closed_at": null_or(TIME),
    "version": {
        "type": "integer",
        "minimum": 1,
        "description": "Send it back as `version` to act only on this version (else 409).",
    },
    "goals": {"type": "array", "items": ref("Goal")},
    # Secrecy (#15): another department's secret case shows its register fields only.
    "secret": {"type": "boolean", "description": "The case or its case type is secret (OSL)."},
    "secrecy_ground": null_or(STRING | {"description": "The OSL ground, e.g. `OSL 26:1`."}),
}

COUNT: Schema = {"type": "integer", "minimum": 0}
PERCENT: Schema = {
    "type": ["number", "null"],
    "description": "Percent with one decimal; null when nothing was counted.",
}
MINUTES: Schema = {"type": ["number", "null"], "description": "Minutes; null without answers."}

SCHEMAS: dict[str, Schema] = {
    "Goal": strict(
        {
            "target": enum(GoalTarget),
            "due_at": TIME,
            "met_at": null_or(TIME),
            "state": enum(GoalState),
            "business_minutes": {
                "type": "integer",
                "minimum": 0,
                "description": "Time used in the goal's business clock (opening hours for "
                "working-day goals), pauses excluded; so far, or until met.",
            },
            "calendar_minutes": {
                "type": "integer",
                "minimum": 0,
                "description": "Real time used, pauses excluded.",
            },
            "breached_at": null_or(TIME | {"description": "When the sweep recorded the breach."}),
            "definition": strict(
                {
                    "amount": {"type": "integer"},
                    "unit": {
                        "type": "string",
                        "enum": [
                            "working_days",
                            "working_day_hours",
                            "opening_hours",
                            "calendar_hours",
                        ],
                    },
                }
            ),
        }
    ),
    "Message": strict(
        {
            "id": {"type": "integer"},
            "direction": {"type": "string", "enum": ["inbound", "outbound"]},
            "kind": enum(MailKind),
            "status": enum(MailStatus),
            "message_id": null_or(STRING),
            "from": null_or(STRING),
            "to": {"type": "array", "items": STRING},
            "subject": STRING,
            "received_at": null_or(TIME),
            "created_at": TIME,
            "sent_at": null_or(TIME),
            "text": STRING,
            "reason": null_or(STRING | {"description": "Why a delivery failed."}),
            "attachments": {
                "type": "array",
                "items": strict(
                    {"filename": STRING, "content_type": STRING, "size": {"type": "integer"}}
                ),
            },
        }
    ),
    "NewReply": request_body(
        {"body": text(20000) | {"minLength": 1}, "version": VERSION}, required=["body"]
    ),
    "InboundResult": strict(
        {
            "reference": null_or(STRING),
            "result": {"type": "string", "enum": ["created", "joined", "duplicate", "rejected"]},
            "reason": null_or(STRING),
        }
    ),
    "InboundAccepted": strict(
        {
            "result": {"type": "string", "enum": ["accepted"]},
            "id": {
                "type": "integer",
                "description": "The stored message's id; it keeps it when it is filed.",
            },
            "reference": {"type": "null", "description": "Not known until it is filed."},
            "reason": STRING,
        }
    ),
    "WorkingDay": strict(
        {
            "date": {"type": "string", "format": "date"},
            "working_day": {"type": "boolean"},
            "reason": null_or(STRING | {"description": "Why it is not a working day (Swedish)."}),
            "opening_hours": {
                "type": "array",
                "items": {"type": "string", "examples": ["08:00-17:00"]},
            },
        }
    ),
    "WorkingDayList": strict(
        {"items": {"type": "array", "items": ref("WorkingDay")}, "next": {"type": "null"}}
    ),
    "Error": strict(
        {
            "error": strict(
                {
                    "code": {
                        "type": "string",
                        "description": (
                            "bad_request, unauthorized, forbidden, not_found, conflict, "
                            "unsupported_media_type, invalid, method_not_allowed"
                        ),
                    },
                    "message": {"type": "string", "description": "Safe to show a user."},
                    "field": {
                        "type": "string",
                        "description": "The field or parameter at fault, e.g. `contact.phone`.",
                    },
                },
                required=["code", "message"],
            )
        }
    ),
    "SlugName": strict({"slug": STRING, "name": STRING}),
    "Person": strict({"name": STRING}),
    "Assignee": strict({"name": STRING, "email": STRING}),
    "Contact": strict(
        {
            "kind": enum(ContactKind),
            "name": null_or(STRING),
            "phone": null_or(STRING | {"description": "As entered."}),
            "phone_e164": null_or(STRING | {"examples": ["+46701234567"]}),
            "email": null_or(STRING),
            "organisation_number": null_or(STRING),
            "personnummer": null_or(
                {
                    "type": "string",
                    "pattern": "^[0-9]{8}-\\*{4}$",
                    "description": "Masked: birth date only (YYYYMMDD-****).",
                }
            ),
        }
    ),
    "TimelineEntry": strict(
        {
            "kind": enum(ActivityKind),
            "label": {"type": "string", "description": "The kind in Swedish, for display."},
            "at": TIME,
            "by": null_or(ref("Person")),
            "text": null_or(STRING),
            "data": {"type": "object", "description": "Details; keys depend on the kind."},
        }
    ),
    "CaseSummary": strict(CASE_PROPERTIES)
    | {
        "description": "A case as listed: without its timeline, and with any valid "
        "personnummer or samordningsnummer in `summary`, `resolution` and `referred_to` "
        "masked (`19811218-****`). `GET /cases/{reference}` shows the text whole."
    },
    "Case": strict(
        CASE_PROPERTIES
        | {
            "timeline": {"type": "array", "items": ref("TimelineEntry")},
            "messages": {"type": "array", "items": ref("Message")},
        }
    )
    | {"description": "A case with its timeline, oldest entry first."},
    "CaseList": strict(
        {
            "items": {"type": "array", "items": ref("CaseSummary")},
            "next": null_or(STRING | {"description": "Pass as `cursor` for the next page."}),
        }
    ),
    "SearchResult": strict(
        {
            "query": strict(
                {
                    "kind": {
                        "type": "string",
                        "enum": [
                            "empty",
                            "reference",
                            "phone",
                            "email",
                            "personnummer",
                            "organisation_number",
                            "text",
                        ],
                        "description": "What the text was taken for.",
                    },
                    "text": STRING | {"description": "As typed; a personnummer masked."},
                }
            ),
            "order": {
                "type": "string",
                "enum": ["relevance", "newest"],
                "description": "How `items` are sorted: best match first, or newest first "
                "(identifiers, filters only, and words that match more cases than the server's "
                "SEARCH_RANK_LIMIT).",
            },
            "case": null_or(ref("CaseSummary"))
            | {"description": "The case a reference names, if the user may see it."},
            "contacts": {
                "type": "array",
                "items": strict(
                    {
                        "contact": ref("Contact"),
                        "similarity": {
                            "type": ["number", "null"],
                            "description": "Trigram similarity of the name (name searches).",
                        },
                    }
                ),
                "description": "People and businesses (at most 10), only those with a case "
                "the user may see.",
            },
            "items": {
                "type": "array",
                "items": strict(
                    {
                        "case": ref("CaseSummary"),
                        "score": {
                            "type": ["number", "null"],
                            "description": "Relevance, higher first; null when listed newest "
                            "first (identifiers, filters only).",
                        },
                        "snippet": {
                            "type": "array",
                            "items": strict({"text": STRING, "match": {"type": "boolean"}}),
                            "description": "Text around the first match; `match` marks the "
                            "words that matched, a personnummer in it masked. Plain text: "
                            "escape it when showing it.",
                        },
                    }
                ),
            },
            "next": null_or(STRING | {"description": "Pass as `cursor` for the next page."}),
        }
    ),
    "SearchRequest": strict(
        {  # every field is optional, as in GET /search
            "q": or_left_out(text(200)),
            "channel": or_left_out(enum(Channel)),
            "status": or_left_out({"type": "string", "enum": ["open", "closed"]}),
            "department": or_left_out(text(200)),
            "case_type": or_left_out(text(200)),
            "from": or_left_out({"type": "string", "format": "date"}),
            "to": or_left_out({"type": "string", "format": "date"}),
            "limit": null_or({"type": "integer", "minimum": 1, "maximum": 100}),
            "cursor": or_left_out(text(200)),
        },
        required=[],
    ),
    "Department": strict(
        {
            "slug": STRING,
            "name": STRING,
            "contact_email": null_or(STRING),
            "phone_hours": null_or(STRING),
            "active": {"type": "boolean"},
        }
    ),
    "DepartmentList": strict(
        {"items": {"type": "array", "items": ref("Department")}, "next": {"type": "null"}}
    ),
    "CaseType": strict(
        {
            "slug": STRING,
            "name": STRING,
            "department": ref("SlugName"),
            "direct_number": null_or(STRING),
            "direct_number_answered_by": null_or(STRING),
            "direct_number_hours": null_or(STRING),
            "guidance": null_or(STRING),
            "callback_promise_hours": {"type": "integer"},
            "active": {"type": "boolean"},
        }
    ),
    "CaseTypeList": strict(
        {"items": {"type": "array", "items": ref("CaseType")}, "next": {"type": "null"}}
    ),
    "NewContact": request_body(
        {
            "name": text(200),
            "phone": text(40, "Any Swedish or international format."),
            "email": text(254),
            "organisation_number": text(20, "Makes the contact a business."),
            "personnummer": text(20, "Validated; stored, but only ever returned masked."),
            "kind": enum(ContactKind) | {"default": "citizen"},
        },
        required=[],
    )
    | {"description": "An existing contact with the same phone number or e-mail is reused."},
    "NewCase": request_body(
        {
            "channel": enum(Channel),
            "summary": text(SUMMARY_MAX) | {"minLength": 1},
            "case_type": text(60, "A case type slug (GET /case-types).")
            | {"pattern": SLUG_PATTERN},
            "outcome": enum(
                Outcome,
                "Required for phone and visit. handed_off, routed and callback send the case "
                "to the case type's department (case_type required); answered, handed_off and "
                "referred close it at once.",
            ),
            "contact": ref("NewContact"),
            "received_at": TIME
            | {"description": "When the contact came in; with offset. Default: now."},
            "transfer": enum(TransferKind, "handed_off: warm (default) or cold."),
            "handed_to": text(120, "handed_off: who took the call."),
            "referred_to": text(200, "referred (required): the other authority."),
            "callback_note": text(500, "callback: preferred time, what to call about."),
            "note": text(TEXT_MAX, "An internal note on the timeline."),
        },
        required=["channel", "summary"],
    ),
    "NewNote": request_body(
        {
            "text": text(TEXT_MAX) | {"minLength": 1},
            "version": VERSION,
        },
        required=["text"],
    ),
    "CloseCase": request_body(
        {
            "resolution": text(SUMMARY_MAX) | {"minLength": 1},
            "version": VERSION,
        },
        required=["resolution"],
    ),
}
