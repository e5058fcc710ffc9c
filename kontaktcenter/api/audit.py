"""/api/v1: The audit log: search it and verify its chain (issue #15), for admin tokens.

``GET /audit-events`` answers the same search as Administration → Granskningslogg, newest
first, a page at a time (``next`` is the cursor of the following page). A search for a person
is itself logged, as on the page. ``GET /audit-events/verify`` seals the events not chained yet
and recomputes the chain from its anchor.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.parsing import Query
from kontaktcenter.api.schemas import TIME, Schema, null_or, ref, strict
from kontaktcenter.api.spec import json_response, query, std
from kontaktcenter.compliance import audit_queries
from kontaktcenter.compliance.audit_labels import ACTION_LABELS
from kontaktcenter.compliance.audit_queries import AuditFilters, AuditRow
from kontaktcenter.core import audit, audit_chain
from kontaktcenter.core.errors import Forbidden, ValidationError
from kontaktcenter.core.roles import Role

MAX_LIMIT = 200
PARAMETERS = {"case", "person", "user", "action", "from", "to", "cursor", "limit"}


def _admin() -> Any:
    user = api_user()
    if user.role is not Role.ADMIN:
        raise Forbidden("Granskningsloggen är för administratörer.")
    return user


@bp.get("/audit-events")
def list_audit_events() -> ResponseReturnValue:
    user = _admin()
    params = Query(PARAMETERS)
    filters = AuditFilters(
        case=params.text("case", 30),
        person=params.text("person", 254),
        user=params.text("user", 254),
        action=params.text("action", 40),
    )
    if filters.action and filters.action not in ACTION_LABELS:
        raise ValidationError("Okänd händelse.", "action")
    for name in ("from", "to"):
        raw = params.text(name, 10)
        if raw:
            day = audit_queries.parse_day(raw, name)
            if name == "from":
                filters.day_from = day
            else:
                filters.day_to = day
    limit = params.integer("limit", current_app.config["API_PAGE_SIZE"], 1, MAX_LIMIT)
    page = audit_queries.search(filters, params.text("cursor", 200), limit)
    if filters.person:
        audit.record(user, "search_audit_log", via="api", filters=filters.described())
    return {"items": [_event_json(row) for row in page.rows], "next": page.next_cursor}


def _event_json(row: AuditRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "seq": row.seq,
        "created_at": row.created_at.isoformat(),
        "action": row.action,
        "action_label": row.action_label,
        "user": {"id": row.user_id, "name": row.user_name} if row.user_id else None,
        "case": row.case_reference,
        "person": {
            "id": row.contact_id,
            "name": row.contact_name,
            "personnummer": row.personnummer,
        }
        if row.contact_id
        else None,
        "detail": row.detail,
    }


@bp.get("/audit-events/verify")
def verify_audit_events() -> ResponseReturnValue:
    user = _admin()
    Query(set())
    result = audit_chain.verify()
    audit.record(user, "verify_audit_log", via="api", intact=result.intact, checked=result.checked)
    return {
        "intact": result.intact,
        "checked": result.checked,
        "first_seq": result.first_seq,
        "last_seq": result.last_seq,
        "broken_seq": result.broken_seq,
        "problem": result.problem,
    }


_ADMIN_ONLY = "Admin tokens only (else 403)."
_INT: Schema = {"type": "integer"}

PATHS: dict[str, Schema] = {
    "/audit-events": {
        "get": {
            "operationId": "listAuditEvents",
            "summary": "Search the audit log: who viewed, changed, exported or searched what",
            "description": f"{_ADMIN_ONLY} Newest first. Filters combine; a `case` or `person` "
            "or `user` that names nothing gives an empty page. `person` is a personnummer, "
            "e-mail address or phone number (every contact with it); the search is itself "
            "logged with the personnummer masked. Prefer leaving a personnummer out of URLs "
            "that are logged by proxies.",
            "parameters": [
                query("case", {"type": "string", "maxLength": 30}, "A case reference."),
                query(
                    "person",
                    {"type": "string", "maxLength": 254},
                    "Personnummer, e-mail or phone of the person the events concern.",
                ),
                query("user", {"type": "string", "maxLength": 254}, "A user's id or e-mail."),
                query("action", {"type": "string", "enum": sorted(ACTION_LABELS)}, "An action."),
                query("from", {"type": "string", "format": "date"}, "First day (local)."),
                query("to", {"type": "string", "format": "date"}, "Last day (local)."),
                query("cursor", {"type": "string", "maxLength": 200}, "`next` of a page."),
                query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    "Events per page (default 50).",
                ),
            ],
            "responses": {"200": json_response(ref("AuditEventPage"), "A page of events.")}
            | std("BadRequest", "Unauthorized", "Forbidden", "Invalid"),
        }
    },
    "/audit-events/verify": {
        "get": {
            "operationId": "verifyAuditEvents",
            "summary": "Check that the audit log's hash chain is intact",
            "description": f"{_ADMIN_ONLY} Seals the events not chained yet, then recomputes "
            "every hash from the anchor (the last event purged after the retention period).",
            "responses": {"200": json_response(ref("AuditVerification"), "The outcome.")}
            | std("BadRequest", "Unauthorized", "Forbidden"),
        }
    },
}

SCHEMAS: dict[str, Schema] = {
    "AuditEvent": strict(
        {
            "id": _INT,
            "seq": null_or(_INT) | {"description": "Place in the chain; null until sealed."},
            "created_at": TIME,
            "action": {"type": "string"},
            "action_label": {"type": "string"},
            "user": null_or(strict({"id": _INT, "name": null_or({"type": "string"})})),
            "case": null_or({"type": "string"}),
            "person": null_or(
                strict(
                    {
                        "id": _INT,
                        "name": null_or({"type": "string"}),
                        "personnummer": null_or({"type": "string", "description": "Masked."}),
                    }
                )
            ),
            "detail": {"type": "object"},
        }
    ),
    "AuditEventPage": strict(
        {
            "items": {"type": "array", "items": ref("AuditEvent")},
            "next": null_or({"type": "string"}),
        }
    ),
    "AuditVerification": strict(
        {
            "intact": {"type": "boolean"},
            "checked": _INT,
            "first_seq": null_or(_INT),
            "last_seq": _INT,
            "broken_seq": null_or(_INT),
            "problem": null_or({"type": "string"}),
        }
    ),
}
