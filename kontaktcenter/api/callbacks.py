"""/api/v1/callbacks: callback requests from the phone platform's queue callback and from
e-services, the caller's callback worklist, and attempts (issue #14).

``POST /callbacks`` is the one route a telephony integration token may use besides call events
(auth.INTEGRATION_ENDPOINTS); any other token posts as an e-service. Idempotent per requester
(the token's user) and ``reference``: the same request again answers 200 with the callback it
made or joined. The rest acts
as the token's user, with the same scope as the worklist page (a handler: their departments).
docs/callbacks.md is the reference, with curl examples.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user, api_user_is_integration
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.callbacks_spec import (
    NAME_MAX,
    NOTE_MAX,
    NUMBER_MAX,
    QUEUE_MAX,
    REFERENCE_MAX,
)
from kontaktcenter.api.callbacks_spec import PATHS as PATHS
from kontaktcenter.api.callbacks_spec import SCHEMAS as SCHEMAS
from kontaktcenter.api.parsing import SLUG, Fields, Query, json_object
from kontaktcenter.callbacks import services, worklist
from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
from kontaktcenter.cases import access
from kontaktcenter.cases.enums import CallbackResult
from kontaktcenter.channels.phone.models import PhoneQueue
from kontaktcenter.core.errors import NotFound, ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import CaseType, Department, User

NOT_FOUND = "Återuppringningen finns inte, eller så har du inte tillgång till den."
SLOT_HINT = 'Ange "asap" eller {"from": …, "to": …} med tider i ISO 8601 med tidszon.'


def _slot(fields: Fields) -> tuple[datetime | None, datetime | None]:
    fields.seen.add("slot")
    value = fields.data.get("slot")
    if value is None or value == "asap":
        return None, None
    if not isinstance(value, dict):
        raise ValidationError(SLOT_HINT, "slot")
    slot = Fields(value, prefix="slot.")
    start = slot.datetime("from")
    end = slot.datetime("to")
    slot.finish()
    if start is None or end is None:
        raise ValidationError("Ange både from och to.", "slot.from" if start is None else "slot.to")
    if end <= start:
        raise ValidationError("Tiden to måste vara efter from.", "slot.to")
    return start, end


def _case_type(fields: Fields) -> CaseType | None:
    queue_name = fields.text("queue", QUEUE_MAX)
    slug = fields.text("case_type", 60)
    if queue_name and slug:
        raise ValidationError("Ange antingen queue eller case_type, inte båda.", "case_type")
    if queue_name:
        queue = db.session.scalars(
            sa.select(PhoneQueue).where(PhoneQueue.name == queue_name)
        ).first()
        if queue is None:
            raise ValidationError("Okänd kö.", "queue")
        return queue.case_type
    if slug:
        case_type = None
        if SLUG.fullmatch(slug):
            case_type = db.session.scalars(sa.select(CaseType).where(CaseType.slug == slug)).first()
        if case_type is None or not case_type.active:
            raise ValidationError("Okänd ärendetyp.", "case_type")
        return case_type
    return None


@bp.post("/callbacks")
def post_callback() -> ResponseReturnValue:
    user = api_user()
    fields = Fields(json_object())
    number = fields.text("number", NUMBER_MAX, required=True)
    if not (number or "").strip():
        raise ValidationError("Ange telefonnumret att ringa upp.", "number")
    slot_start, slot_end = _slot(fields)
    case_type = _case_type(fields)
    reference = fields.text("reference", REFERENCE_MAX)
    if reference is not None and not reference.strip():
        raise ValidationError("Referensen får inte vara tom.", "reference")
    name = fields.text("name", NAME_MAX)
    note = fields.text("note", NOTE_MAX)
    fields.finish()
    source = CallbackSource.PLATFORM if api_user_is_integration() else CallbackSource.E_SERVICE
    try:
        requested = services.request(
            services.CallbackRequest(
                source=source,
                number=number,
                name=name or None,
                case_type=case_type,
                note=note or None,
                slot_start=slot_start,
                slot_end=slot_end,
                platform_ref=reference.strip() if reference else None,
            ),
            by=user,
        )
    except ValidationError as error:
        raise ValidationError(error.message, _field(error.field)) from None
    return callback_json(requested.callback, user), 201 if requested.created else 200


def _field(field: str | None) -> str | None:
    """The services' field names as the API calls them."""
    return {
        "phone": "number",
        "slot_start": "slot.from",
        "slot_end": "slot.to",
        "platform_ref": "reference",
    }.get(field or "", field)


def _scope(user: User, department: Department | None) -> worklist.Scope:
    """The worklist page's scope: a department's (a handler: only theirs), else the contact
    center's; a handler without `department` gets all of their departments'."""
    if department is not None:
        if user.role == Role.HANDLER and department.id not in user.department_ids:
            raise ValidationError("Du hör inte till den förvaltningen.", "department")
        return department.id
    return None if user.role == Role.HANDLER else worklist.CONTACT_CENTER


@bp.get("/callbacks")
def list_callbacks() -> ResponseReturnValue:
    user = api_user()
    query = Query({"department"})
    slug = query.slug("department")
    department = None
    if slug is not None:
        department = db.session.scalars(
            sa.select(Department).where(Department.slug == slug)
        ).first()
        if department is None:
            raise ValidationError("Okänd förvaltning.", "department")
    rows = worklist.pending(user, _scope(user, department))
    return {"items": [callback_json(row.callback, user) for row in rows]}


def _visible(user: User, callback_id: int) -> Callback:
    callback = db.session.get(Callback, callback_id)
    if callback is None or not access.can_view(user, callback.case):
        raise NotFound(NOT_FOUND)
    return callback


@bp.get("/callbacks/<id:callback_id>")
def get_callback(callback_id: int) -> ResponseReturnValue:
    user = api_user()
    return callback_json(_visible(user, callback_id), user)


@bp.post("/callbacks/<id:callback_id>/attempts")
def post_attempt(callback_id: int) -> ResponseReturnValue:
    user = api_user()
    callback = _visible(user, callback_id)
    fields = Fields(json_object())
    result = fields.enum("result", CallbackResult, required=True)
    note = fields.text("note", NOTE_MAX)
    fields.finish()
    assert result is not None
    access.ensure(user, "callback_attempt", callback.case)
    if callback.status != CallbackStatus.PENDING:
        raise ValidationError("Återuppringningen är redan avslutad.", "result")
    updated = services.record_attempt(callback, user, result, note or None)
    return callback_json(updated, user), 201


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def callback_json(callback: Callback, user: User) -> dict[str, Any]:
    case = callback.case
    sees = access.sees_content(user, case)
    slot: Any = "asap"
    if callback.slot_start is not None or callback.slot_end is not None:
        slot = {"from": _time(callback.slot_start), "to": _time(callback.slot_end)}
    return {
        "id": callback.id,
        "case": case.reference,
        "status": callback.status.value,
        "source": callback.source.value,
        "reference": callback.platform_ref,
        # Another department's secret case: its register fields only, never whom to call.
        "number": callback.number_e164 if sees else None,
        "case_type": case.case_type.slug if case.case_type else None,
        "department": case.department.slug if case.department else None,
        "due_at": _time(callback.due_at),
        "slot": slot,
        "next_attempt_at": _time(callback.next_attempt_at),
        "attempts": callback.attempts,
        "assigned_to": callback.assigned_to.email if callback.assigned_to else None,
        "fallback": callback.fallback.value if callback.fallback else None,
        "created_at": _time(callback.created_at),
        "closed_at": _time(callback.closed_at),
    }
