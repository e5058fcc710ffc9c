"""Cases through the API: register one, read one, list them, add a note, close one.

Views only translate: JSON in, one service call, JSON out. Permissions and row-level access are
the services' (access.py): a case outside the token user's reach is a 404, never a 403.
"""

from __future__ import annotations

import re
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import joinedload, selectinload

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.parsing import Fields, Query, json_object
from kontaktcenter.api.serializers import case_json, listed_case_json
from kontaktcenter.cases import access, arrivals
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases.actions import TEXT_MAX
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import CaseStatus, Channel, ContactKind, Outcome, TransferKind
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.queries import BAD_CURSOR
from kontaktcenter.cases.services import (
    SUMMARY_MAX,
    NewCase,
    commit_keeping_state,
    create_case,
)
from kontaktcenter.channels.email.models import MailMessage
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.errors import DomainError, Forbidden, NotFound, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.goals import queries as goal_rows
from kontaktcenter.goals.models import CaseGoal
from kontaktcenter.organisation.models import CaseType

# Who may register cases: the first line (and admins), as on the log-a-call screen.
CREATOR_ROLES = (Role.AGENT, Role.ADMIN)
REFERENCE = re.compile(r"KC-\d{4}-\d{1,12}", re.IGNORECASE)
MAX_LIMIT = 200
LIST_PARAMETERS = {
    "channel",
    "status",
    "department",
    "case_type",
    "received_from",
    "received_to",
    "limit",
    "cursor",
}
# Lengths as on the log-a-call form (and the columns behind them).
LIMITS = {
    "name": 200,
    "phone": 40,
    "email": 254,
    "organisation_number": 20,
    "personnummer": 20,
    "case_type": 60,
    "handed_to": 120,
    "referred_to": 200,
    "callback_note": 500,
}
CONTACT_FIELDS = {"name", "phone", "email", "organisation_number", "personnummer"}


def _visible(reference: str) -> Case:
    if not REFERENCE.fullmatch(reference):
        raise NotFound(access.NOT_FOUND)
    return access.get_visible_case(api_user(), reference=reference)


# What the API's case shows, loaded up front: its type, department, assignee and contact in the
# case's own statement, its goals, timeline and messages in one query each (instead of one per
# relation as they are first used). Built once: only the reference changes.
_CASE_WITH_TIMELINE = (
    sa.select(Case)
    .where(Case.reference == sa.bindparam("reference"))
    .options(
        joinedload(Case.case_type),
        joinedload(Case.department),
        joinedload(Case.assignee),
        joinedload(Case.contact),
        selectinload(Case.goals),
        selectinload(Case.activities),
        selectinload(Case.messages).selectinload(MailMessage.attachments),
    )
)


def _visible_with_timeline(reference: str) -> Case:
    """As `_visible`, the same checks, with the case's relations loaded (_CASE_WITH_TIMELINE)."""
    if not REFERENCE.fullmatch(reference):
        raise NotFound(access.NOT_FOUND)
    case = db.session.scalars(_CASE_WITH_TIMELINE, {"reference": reference.upper()}).first()
    if case is None or not access.can_view(api_user(), case):
        raise NotFound(access.NOT_FOUND)
    return case


# The case type with its department: a hand-off, a routing and a callback read it.
_CASE_TYPE = (
    sa.select(CaseType)
    .where(CaseType.slug == sa.bindparam("slug"))
    .options(joinedload(CaseType.department))
)


def _case_type(slug: str | None) -> CaseType | None:
    if slug is None:
        return None
    case_type = db.session.scalars(_CASE_TYPE, {"slug": slug}).first()
    if case_type is None:
        raise ValidationError("Ärendetypen finns inte.", "case_type")
    return case_type


def _contact(fields: Fields | None) -> ContactData | None:
    if fields is None:
        return None
    texts = {name: fields.text(name, LIMITS[name]) for name in sorted(CONTACT_FIELDS)}
    kind = fields.enum("kind", ContactKind) or ContactKind.CITIZEN
    fields.finish()
    return ContactData(
        kind=kind,
        name=texts["name"],
        phone=texts["phone"],
        email=texts["email"],
        organisation_number=texts["organisation_number"],
        personnummer=texts["personnummer"],
    )


def new_case_from_json(body: dict[str, Any]) -> NewCase:
    fields = Fields(body)
    channel = fields.enum("channel", Channel, required=True)
    assert channel is not None
    data = NewCase(
        channel=channel,
        summary=fields.text("summary", SUMMARY_MAX) or "",
        case_type=_case_type(fields.text("case_type", LIMITS["case_type"])),
        outcome=fields.enum("outcome", Outcome),
        contact=_contact(fields.object("contact")),
        received_at=fields.datetime("received_at"),
        transfer=fields.enum("transfer", TransferKind),
        handed_to=fields.text("handed_to", LIMITS["handed_to"]),
        referred_to=fields.text("referred_to", LIMITS["referred_to"]),
        callback_note=fields.text("callback_note", LIMITS["callback_note"]),
        note=fields.text("note", TEXT_MAX),
    )
    fields.finish()
    return data


@bp.post("/cases")
def create() -> ResponseReturnValue:
    user = api_user()
    if user.role not in CREATOR_ROLES:
        raise Forbidden("Din roll får inte registrera ärenden.")
    data = new_case_from_json(json_object())
    try:
        case = create_case(data, by=user)
    except DomainError as error:
        if error.field in CONTACT_FIELDS:  # the contact service names its fields bare
            error.field = f"contact.{error.field}"
        raise
    location = url_for("api.get_case", reference=case.reference)
    return case_json(case, timeline=True, viewer=user), 201, {"Location": location}


_AUDIT_INSERT = sa.insert(cast(sa.Table, AuditEvent.__table__))


@bp.get("/cases/<reference>")
def get_case(reference: str) -> ResponseReturnValue:
    user = api_user()
    case = _visible_with_timeline(reference)
    body = case_json(case, timeline=True, viewer=user)
    # The read is audited and committed before the answer leaves, with the row audit.record
    # writes: one Core INSERT (no unit of work), and a commit that expires nothing (the answer
    # is built).
    db.session.execute(
        _AUDIT_INSERT,
        {
            "user_id": user.id,
            "action": "view_case",
            "case_id": case.id,
            "contact_id": case.contact_id,
            "created_at": utcnow(),
            "detail": {"via": "api"},
        },
    )
    commit_keeping_state()
    return body


@bp.get("/cases")
def list_cases() -> ResponseReturnValue:
    user = api_user()
    query = Query(LIST_PARAMETERS)
    filters = arrivals.CaseFilters(
        channel=query.enum("channel", Channel),
        status=query.enum("status", CaseStatus),
        department=query.slug("department"),
        case_type=query.slug("case_type"),
        received_from=query.datetime("received_from"),
        received_to=query.datetime("received_to"),
    )
    start, end = filters.received_from, filters.received_to
    if start is not None and end is not None and end <= start:
        raise ValidationError("received_to måste vara senare än received_from.", "received_to")
    default = min(int(current_app.config["API_PAGE_SIZE"]), MAX_LIMIT)
    limit = query.integer("limit", default, 1, MAX_LIMIT)
    page = arrivals.arrival_rows(user, filters, query.text("cursor", 200, BAD_CURSOR), limit)
    load_goals(page.items)
    arrivals.load_pause_history([item for item in page.items if has_running_goal(item)])
    items = [listed_case_json(item, user) for item in page.items]
    body = {"items": items, "next": page.next_cursor}
    if page.items:
        # One row per listed case (case_id and contact_id set), so the case's "who has looked"
        # panel and the audit log's case and person filters find the listing.
        _audit_listing(user.id, page.items)
        commit_keeping_state()  # nothing loaded to expire: the page is rows
    return body


# The visible goals (goals.engine.visible_goals: not superseded) of a page's cases, in the
# order of Case.goals (by id).
_GOALS = arrivals.ids_statement(
    sa.select(*goal_rows.COLUMNS)
    .where(CaseGoal.cancelled_at.is_(None))
    .order_by(CaseGoal.case_id, CaseGoal.id),
    CaseGoal.case_id,
)


def load_goals(items: list[arrivals.ListedCase]) -> None:
    if not items:
        return
    by_case = {item.id: item.goals for item in items}
    statement = arrivals.for_dialect(_GOALS)
    for row in db.session.execute(statement, {"ids": list(by_case)}):
        by_case[row.case_id].append(goal_rows.ShownGoal(row))


def has_running_goal(item: arrivals.ListedCase) -> bool:
    """Does serialising the case's goals read its status history? A running goal's durations
    so far leave out the pauses (goals.engine.durations); a met goal carries its final ones."""
    return any(goal.met_at is None or goal.business_minutes is None for goal in item.goals)


# PostgreSQL: the page's audit rows in one statement from three arrays (an executemany sends
# one INSERT per row; a multi-row VALUES is compiled and parsed anew on every request).
_LISTING_AUDIT_PG = sa.text(
    "INSERT INTO audit_events (user_id, action, case_id, contact_id, created_at, detail) "
    "SELECT :user_id, 'list_cases', t.case_id, t.contact_id, :created_at, "
    "json_build_object('via', 'api', 'references', json_build_array(t.reference)) "
    "FROM unnest(CAST(:case_ids AS integer[]), CAST(:contact_ids AS integer[]), "
    "CAST(:references AS text[])) AS t(case_id, contact_id, reference)"
).bindparams(sa.bindparam("created_at", type_=AuditEvent.created_at.type))


def _audit_listing(user_id: int, cases: list[arrivals.ListedCase]) -> None:
    now = utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            _LISTING_AUDIT_PG,
            {
                "user_id": user_id,
                "created_at": now,
                "case_ids": [c.id for c in cases],
                "contact_ids": [c.contact_id for c in cases],
                "references": [c.reference for c in cases],
            },
        )
        return
    # Core, not the ORM's bulk insert: that groups rows by which keys are None (two
    # statements when an anonymous case is listed).
    db.session.execute(
        sa.insert(cast(sa.Table, AuditEvent.__table__)),
        [
            {
                "user_id": user_id,
                "action": "list_cases",
                "case_id": listed.id,
                "contact_id": listed.contact_id,
                "created_at": now,
                "detail": {"via": "api", "references": [listed.reference]},
            }
            for listed in cases
        ],
    )


@bp.post("/cases/<reference>/notes")
def add_note(reference: str) -> ResponseReturnValue:
    user = api_user()
    case = _visible(reference)
    access.ensure(user, "note", case)
    fields = Fields(json_object())
    text = fields.text("text", TEXT_MAX, required=True)
    version = fields.integer("version", minimum=1)
    fields.finish()
    case_actions.add_note(case, user, text or "", version)
    return case_json(case, timeline=True, viewer=user), 201


@bp.post("/cases/<reference>/close")
def close(reference: str) -> ResponseReturnValue:
    user = api_user()
    case = _visible(reference)
    access.ensure(user, "close", case)
    fields = Fields(json_object())
    resolution = fields.text("resolution", SUMMARY_MAX, required=True)
    version = fields.integer("version", minimum=1)
    fields.finish()
    case_actions.close(case, user, resolution or "", version)
    return case_json(case, timeline=True, viewer=user)
