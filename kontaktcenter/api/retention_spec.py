"""/api/v1: the OpenAPI description of the gallring routes (api/retention.py)."""

from __future__ import annotations

from kontaktcenter.api.schemas import REFERENCE_PATTERN, TIME, Schema, enum, null_or, ref, strict
from kontaktcenter.api.schemas import request_body as strict_body
from kontaktcenter.api.spec import body, json_response, query, std
from kontaktcenter.compliance.retention import TRIGGERS
from kontaktcenter.compliance.retention_holds import REASON_MAX
from kontaktcenter.compliance.retention_models import SKIP_REASONS, RetentionMode, RunState
from kontaktcenter.compliance.retention_rules import MAX_MONTHS

MAX_LIMIT = 100

# --- the contract ----------------------------------------------------------------------------

_ID = {
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
}
_RULE_ID = {"name": "rule_id", **_ID, "description": "The rule's id."}
_RUN_ID = {"name": "run_id", **_ID, "description": "The run's id."}
_REFERENCE = {
    "name": "reference",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": REFERENCE_PATTERN},
    "description": "The case reference, e.g. KC-2024-000123 (case-insensitive).",
}
_ADMIN = "Admin tokens only."

SCHEMAS: dict[str, Schema] = {
    "RetentionRule": strict(
        {
            "id": {"type": "integer"},
            "case_type": null_or(ref("SlugName")),
            "mode": enum(
                RetentionMode,
                "`months` after closure, or `inactual` (vid "
                "inaktualitet: only once the case is declared no longer current).",
            ),
            "months": null_or({"type": "integer", "minimum": 1, "maximum": MAX_MONTHS}),
            "decision_name": {"type": "string"},
            "decision_date": {"type": "string", "format": "date"},
            "decision_reference": null_or({"type": "string"}),
            "active": {"type": "boolean"},
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "RetentionRuleList": strict({"items": {"type": "array", "items": ref("RetentionRule")}}),
    "RetentionRuleInput": strict_body(
        {
            "case_type": {
                "type": "string",
                "maxLength": 60,
                "description": "A case type's slug; null: the default rule.",
            },
            "mode": enum(RetentionMode),
            "months": {"type": "integer", "minimum": 1, "maximum": MAX_MONTHS},
            "decision_name": {"type": "string", "maxLength": 200, "minLength": 1},
            "decision_date": {"type": "string", "format": "date"},
            "decision_reference": {"type": "string", "maxLength": 300},
        },
        ["mode", "decision_name", "decision_date"],
    ),
    "RetentionRun": strict(
        {
            "id": {"type": "integer"},
            "dry_run": {"type": "boolean"},
            "trigger": {"type": "string", "enum": list(TRIGGERS)},
            "requested_by": null_or(
                strict({"id": {"type": "integer"}, "name": {"type": "string"}})
            ),
            "state": enum(RunState),
            "as_of": TIME,
            "created_at": TIME,
            "started_at": null_or(TIME),
            "finished_at": null_or(TIME),
            "total": {"type": "integer", "description": "Due cases (dry run) or gallrade."},
            "per_rule": {
                "type": "array",
                "items": strict(
                    {
                        "rule_id": {"type": "integer"},
                        "rule": {"type": "string"},
                        "total": {"type": "integer"},
                        "case_types": {
                            "type": "array",
                            "items": strict(
                                {"case_type": {"type": "string"}, "count": {"type": "integer"}}
                            ),
                        },
                    }
                ),
            },
            "skipped": {
                "type": "array",
                "items": strict(
                    {
                        "reason": {
                            "type": "string",
                            "enum": list(SKIP_REASONS),
                        },
                        "count": {"type": "integer"},
                    }
                ),
            },
            "sample": {
                "type": "array",
                "items": strict(
                    {
                        "reference": {"type": "string"},
                        "closed_at": TIME,
                        "case_type": {"type": "string"},
                    }
                ),
            },
            "error": null_or({"type": "string"}),
        }
    ),
    "RetentionRunList": strict({"items": {"type": "array", "items": ref("RetentionRun")}}),
    "LegalHoldReason": strict_body(
        {"reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX}},
        ["reason"],
    ),
    "LegalHold": strict(
        {
            "case": {"type": "string"},
            "on_hold": {"type": "boolean"},
            "reason": null_or({"type": "string"}),
            "set_at": null_or(TIME),
            "set_by": null_or(strict({"id": {"type": "integer"}, "name": {"type": "string"}})),
            "released_at": null_or(TIME),
            "release_reason": null_or({"type": "string"}),
        }
    ),
}

_RUN_STARTED = json_response(
    ref("RetentionRun"),
    "Logged and queued (done at once where jobs run eagerly); follow `Location`.",
    headers={
        "Location": {"schema": {"type": "string"}, "required": True, "description": "The run."}
    },
)
_EMPTY_BODY = {
    "required": False,
    "content": {"application/json": {"schema": strict({})}},
}

PATHS: dict[str, Schema] = {
    "/retention-rules": {
        "get": {
            "operationId": "listRetentionRules",
            "summary": "Retention rules (gallringsregler), active first",
            "description": _ADMIN,
            "responses": {"200": json_response(ref("RetentionRuleList"), "The rules.")}
            | std("Unauthorized", "Forbidden", "Invalid"),
        },
        "post": {
            "operationId": "createRetentionRule",
            "summary": "Create a retention rule for a case type (or the default rule)",
            "description": _ADMIN + " One active rule per case type and one default.",
            "requestBody": body("RetentionRuleInput"),
            "responses": {"201": json_response(ref("RetentionRule"), "Created.")}
            | std("BadRequest", "Unauthorized", "Forbidden", "UnsupportedMediaType", "Invalid"),
        },
    },
    "/retention-rules/{rule_id}": {
        "parameters": [_RULE_ID],
        "put": {
            "operationId": "updateRetentionRule",
            "summary": "Change an active retention rule",
            "description": _ADMIN,
            "requestBody": body("RetentionRuleInput"),
            "responses": {"200": json_response(ref("RetentionRule"), "Changed.")}
            | std(
                "BadRequest",
                "Unauthorized",
                "Forbidden",
                "NotFound",
                "UnsupportedMediaType",
                "Invalid",
            ),
        },
        "delete": {
            "operationId": "deactivateRetentionRule",
            "summary": "Deactivate a retention rule (kept: gallrade cases name it)",
            "description": _ADMIN,
            "responses": {"200": json_response(ref("RetentionRule"), "Deactivated.")}
            | std("Unauthorized", "Forbidden", "NotFound"),
        },
    },
    "/retention-rules/dry-run": {
        "post": {
            "operationId": "dryRunRetention",
            "summary": "Dry run: how many cases of which types would be gallrade, how many "
            "are held back and why, and a sample",
            "description": _ADMIN + " Changes no case; the run is logged.",
            "requestBody": _EMPTY_BODY,
            "responses": {"202": _RUN_STARTED}
            | std("BadRequest", "Unauthorized", "Forbidden", "UnsupportedMediaType", "Invalid"),
        },
    },
    "/retention/runs": {
        "get": {
            "operationId": "listRetentionRuns",
            "summary": "The log of gallring runs, newest first",
            "description": _ADMIN,
            "parameters": [
                query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    "How many (default 20).",
                ),
            ],
            "responses": {"200": json_response(ref("RetentionRunList"), "The runs.")}
            | std("Unauthorized", "Forbidden", "Invalid"),
        },
        "post": {
            "operationId": "startRetentionRun",
            "summary": "Start gallring: anonymise the cases past their time",
            "description": _ADMIN + " 409 while another real run is unfinished.",
            "requestBody": _EMPTY_BODY,
            "responses": {"202": _RUN_STARTED}
            | std(
                "BadRequest",
                "Unauthorized",
                "Forbidden",
                "Conflict",
                "UnsupportedMediaType",
                "Invalid",
            ),
        },
    },
    "/retention/runs/{run_id}": {
        "parameters": [_RUN_ID],
        "get": {
            "operationId": "getRetentionRun",
            "summary": "One gallring run: its state and counts",
            "description": _ADMIN,
            "responses": {"200": json_response(ref("RetentionRun"), "The run.")}
            | std("Unauthorized", "Forbidden", "NotFound", "Invalid"),
        },
    },
    "/cases/{reference}/legal-hold": {
        "parameters": [_REFERENCE],
        "put": {
            "operationId": "setLegalHold",
            "summary": "Set a legal hold (bevarandebeslut): the case is not gallrad",
            "description": "The owning department's handlers and managers, or admins.",
            "requestBody": body("LegalHoldReason"),
            "responses": {"200": json_response(ref("LegalHold"), "Set.")}
            | std(
                "BadRequest",
                "Unauthorized",
                "Forbidden",
                "NotFound",
                "UnsupportedMediaType",
                "Invalid",
            ),
        },
        "delete": {
            "operationId": "releaseLegalHold",
            "summary": "Release the case's legal hold, with a reason",
            "description": "The owning department's handlers and managers, or admins.",
            "requestBody": body("LegalHoldReason"),
            "responses": {"200": json_response(ref("LegalHold"), "Released.")}
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
}
