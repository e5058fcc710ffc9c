"""Cases, timeline entries and the catalog as JSON. The shapes are the contract documented in
openapi.py: change both together (tests/test_api_openapi.py checks every response)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from kontaktcenter.cases import access, secrecy
from kontaktcenter.cases.arrivals import ListedCase
from kontaktcenter.cases.models import Activity, Case, Contact, masked_personnummer
from kontaktcenter.channels.email.models import MailMessage
from kontaktcenter.core.extensions import utcnow
from kontaktcenter.core.identifiers import mask_personnummer
from kontaktcenter.goals import engine as goals
from kontaktcenter.goals.models import CaseGoal
from kontaktcenter.organisation.models import CaseType, Department, User

JSON = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    """Aware UTC datetimes as ISO 8601 with offset (``…+00:00``)."""
    return value.isoformat() if value is not None else None


def slug_name(obj: Department | CaseType | None) -> JSON | None:
    return {"slug": obj.slug, "name": obj.name} if obj is not None else None


def contact_json(contact: Contact | None) -> JSON | None:
    if contact is None:
        return None
    return {
        "kind": contact.kind.value,
        "name": contact.name,
        "phone": contact.phone,
        "phone_e164": contact.phone_e164,
        "email": contact.email,
        "organisation_number": contact.organisation_number,
        # Never the full number through the API: it is shown on purpose, and logged, in the UI.
        "personnummer": contact.personnummer_masked,
    }


def activity_json(activity: Activity) -> JSON:
    actor: User | None = activity.actor
    return {
        "kind": activity.kind.value,
        "label": activity.kind.label,
        "at": iso(activity.created_at),
        "by": {"name": actor.name} if actor is not None else None,
        "text": activity.text,
        "data": dict(activity.data or {}),
    }


def case_json(case: Case, *, timeline: bool, viewer: User | None = None) -> JSON:
    """A case; list items (`timeline=False`) leave the timeline out and show a personnummer in
    the free text masked: only the case itself (`timeline=True`) shows the text whole.

    Served to `viewer` (every route that answers a user passes it): another department's
    secret case shows only its register fields and that it is secret (access.sees_content)."""
    if viewer is not None and not access.sees_content(viewer, case):
        return _register_json(case, timeline=timeline)
    assignee = case.assignee

    def text(value: str | None) -> str | None:
        return value if timeline else mask_personnummer(value)

    body: JSON = {
        "reference": case.reference,
        "channel": case.channel.value,
        "status": case.status.value,
        "outcome": case.outcome.value if case.outcome is not None else None,
        "case_type": slug_name(case.case_type),
        "department": slug_name(case.department),
        "assignee": {"name": assignee.name, "email": assignee.email} if assignee else None,
        "contact": contact_json(case.contact),
        "summary": text(case.summary),
        "resolution": text(case.resolution),
        "referred_to": text(case.referred_to),
        "received_at": iso(case.received_at),
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "first_response_at": iso(case.first_response_at),
        "due_at": iso(case.due_at) if case.has_promise else None,
        "callback_due_at": iso(case.callback_due_at),
        "callback_done_at": iso(case.callback_done_at),
        "closed_at": iso(case.closed_at),
        "version": case.version,
        "secret": case.is_secret,
        "secrecy_ground": case.effective_secrecy_ground,
    }
    now = utcnow()
    body["goals"] = [goal_json(case, goal, now) for goal in goals.visible_goals(case)]
    if timeline:
        body["timeline"] = [activity_json(a) for a in case.activities]
        body["messages"] = [message_json(m) for m in case.messages]
    return body


def listed_case_json(item: ListedCase, viewer: User) -> JSON:
    """case_json(case, timeline=False, viewer=viewer) for a case of the API's list loaded as a
    row (cases.arrivals.arrival_rows, its goals and pause history filled): the same fields,
    values and order (tests/test_list_rows.py compares the two). Written for speed (a list page
    makes 50): the enums are StrEnums, equal to and encoded as their values, so they go in as
    they are; non-null times are formatted in place."""
    row = item.row
    # ListedCase offers what these read of a Case (department_id, is_secret, status, activities).
    case = cast(Case, item)
    if not access.sees_content(viewer, case):
        return _listed_register_json(item)
    body: JSON = {
        "reference": row.reference,
        "channel": row.channel,
        "status": row.status,
        "outcome": row.outcome,
        "case_type": _listed_type(row),
        "department": _listed_department(row),
        "assignee": (
            {"name": row.assignee_name, "email": row.assignee_email}
            if row.assignee_email is not None
            else None
        ),
        "contact": (
            {
                "kind": row.contact_kind,
                "name": row.contact_name,
                "phone": row.contact_phone,
                "phone_e164": row.contact_phone_e164,
                "email": row.contact_email,
                "organisation_number": row.contact_organisation_number,
                "personnummer": masked_personnummer(row.contact_personnummer),
            }
            if row.contact_pk is not None
            else None
        ),
        "summary": mask_personnummer(row.summary),
        "resolution": mask_personnummer(row.resolution),
        "referred_to": mask_personnummer(row.referred_to),
        "received_at": row.received_at.isoformat(),
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "first_response_at": iso(row.first_response_at),
        "due_at": row.due_at.isoformat() if row.due_at.year < 9999 else None,  # Case.has_promise
        "callback_due_at": iso(row.callback_due_at),
        "callback_done_at": iso(row.callback_done_at),
        "closed_at": iso(row.closed_at),
        "version": row.version,
        "secret": item.is_secret,
        "secrecy_ground": item.effective_secrecy_ground,
    }
    now = utcnow()
    body["goals"] = [goal_json(case, cast(CaseGoal, goal), now) for goal in item.goals]
    return body


def _listed_type(row: Any) -> JSON | None:
    return {"slug": row.type_slug, "name": row.type_name} if row.type_slug is not None else None


def _listed_department(row: Any) -> JSON | None:
    if row.department_slug is None:
        return None
    return {"slug": row.department_slug, "name": row.department_name}


def _listed_register_json(item: ListedCase) -> JSON:
    """_register_json(case, timeline=False) for a listed row."""
    row = item.row
    ground = item.effective_secrecy_ground
    return {
        "reference": row.reference,
        "channel": row.channel.value,
        "status": row.status.value,
        "outcome": None,
        "case_type": _listed_type(row),
        "department": _listed_department(row),
        "assignee": None,
        "contact": None,
        "summary": secrecy.masked_text(ground),
        "resolution": None,
        "referred_to": None,
        "received_at": iso(row.received_at),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "first_response_at": None,
        "due_at": None,
        "callback_due_at": None,
        "callback_done_at": None,
        "closed_at": None,
        "version": row.version,
        "secret": True,
        "secrecy_ground": ground,
        "goals": [],
    }


def _register_json(case: Case, *, timeline: bool) -> JSON:
    """A secret case for someone outside its department: reference, received date, department
    and case type; the rest is null, empty or the masking sentence."""
    body: JSON = {
        "reference": case.reference,
        "channel": case.channel.value,
        "status": case.status.value,
        "outcome": None,
        "case_type": slug_name(case.case_type),
        "department": slug_name(case.department),
        "assignee": None,
        "contact": None,
        "summary": secrecy.masked_text(case.effective_secrecy_ground),
        "resolution": None,
        "referred_to": None,
        "received_at": iso(case.received_at),
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "first_response_at": None,
        "due_at": None,
        "callback_due_at": None,
        "callback_done_at": None,
        "closed_at": None,
        "version": case.version,
        "secret": True,
        "secrecy_ground": case.effective_secrecy_ground,
        "goals": [],
    }
    if timeline:
        body["timeline"] = []
        body["messages"] = []
    return body


def goal_json(case: Case, goal: CaseGoal, now: datetime) -> JSON:
    """A service goal; durations so far for a running goal, final ones for a met goal."""
    if goal.met_at is not None and goal.business_minutes is not None:
        business, calendar = goal.business_minutes, goal.calendar_minutes
    else:
        business, calendar = goals.durations(case, goal, now)
    return {
        "target": goal.target,  # a StrEnum: equal to and encoded as its value
        "due_at": goal.due_at.isoformat(),
        "met_at": iso(goal.met_at),
        "state": goals.state(case, goal, now),
        "business_minutes": business,
        "calendar_minutes": calendar,
        "breached_at": iso(goal.breached_at),
        "definition": {
            "amount": goal.definition.get("amount"),
            "unit": goal.definition.get("unit"),
        },
    }


def message_json(message: MailMessage) -> JSON:
    return {
        "id": message.id,
        "direction": message.direction.value,
        "kind": message.kind.value,
        "status": message.status.value,
        "message_id": message.message_id,
        "from": message.from_addr,
        "to": list(message.to_addrs or []),
        "subject": message.subject,
        "received_at": iso(message.received_at),
        "created_at": iso(message.created_at),
        "sent_at": iso(message.sent_at),
        "text": message.text_body,
        "reason": message.reason,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in message.attachments
        ],
    }


def department_json(department: Department) -> JSON:
    return {
        "slug": department.slug,
        "name": department.name,
        "contact_email": department.contact_email,
        "phone_hours": department.phone_hours,
        "active": department.active,
    }


def case_type_json(case_type: CaseType) -> JSON:
    return {
        "slug": case_type.slug,
        "name": case_type.name,
        "department": slug_name(case_type.department),
        "direct_number": case_type.direct_number,
        "direct_number_answered_by": case_type.direct_number_answered_by,
        "direct_number_hours": case_type.direct_number_hours,
        "guidance": case_type.guidance,
        "callback_promise_hours": case_type.callback_promise_hours,
        "active": case_type.active,
    }
