"""Cases, timeline entries and the catalog as JSON. The shapes are the contract documented in
openapi.py: change both together (tests/test_api_openapi.py checks every response)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kontaktcenter.cases import access, secrecy
from kontaktcenter.cases.models import Activity, Case, Contact
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
        "target": goal.target.value,
        "due_at": iso(goal.due_at),
        "met_at": iso(goal.met_at),
        "state": goals.state(case, goal, now).value,
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
