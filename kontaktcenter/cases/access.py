"""Who may see and do what with a case. Every view and API route goes through here.

Each nämnd is its own authority: a handler sees only the cases of their own departments. A case
outside a user's reach is reported as missing (404), never as forbidden, so ids cannot be probed.
"""

from __future__ import annotations

import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.core.errors import Forbidden, NotFound
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import User

NOT_FOUND = "Ärendet finns inte, eller så har du inte tillgång till det."

# What each role may do with a case it can see.
ACTIONS: dict[Role, frozenset[str]] = {
    Role.AGENT: frozenset(
        {
            "note",
            "assign",
            "take",
            "route",
            "hand_off",
            "refer",
            "book_callback",
            "callback_attempt",
            "close",
            "reopen",
            "wait",
            "resume",
            "classify",
            "reply",
            "merge",
            "link",
            "unlink",
        }
    ),
    Role.HANDLER: frozenset(
        {
            "note",
            "assign",
            "take",
            "book_callback",
            "callback_attempt",
            "close",
            "return",
            "wait",
            "resume",
            "reply",
            "merge",
            "link",
            "unlink",
        }
    ),
    # Managers oversee: they may point out related cases, not merge someone's work away.
    Role.MANAGER: frozenset({"note", "assign", "reopen", "link", "unlink"}),
}
ALL_ACTIONS = frozenset().union(*ACTIONS.values())
ACTIONS[Role.ADMIN] = ALL_ACTIONS


def sees_all_cases(user: User) -> bool:
    return user.role in (Role.AGENT, Role.MANAGER, Role.ADMIN)


def visible_clause(
    user: User, department: sa.orm.QueryableAttribute[int | None] | None = None
) -> sa.ColumnElement[bool]:
    """A WHERE clause limiting a case query to what `user` may see. `department` is the column
    that holds the case's department where it is not ``cases.department_id`` (the search
    index keeps a copy)."""
    if sees_all_cases(user):
        return sa.true()
    ids = sorted(user.department_ids)
    if not ids:
        return sa.false()
    column = Case.department_id if department is None else department
    return column.in_(ids)


def can_view(user: User, case: Case) -> bool:
    return sees_all_cases(user) or (
        case.department_id is not None and case.department_id in user.department_ids
    )


def get_visible_case(
    user: User, *, case_id: int | None = None, reference: str | None = None
) -> Case:
    if case_id is not None:
        case = db.session.get(Case, case_id)
    elif reference is not None:
        case = db.session.scalars(
            sa.select(Case).where(Case.reference == reference.upper())
        ).first()
    else:
        case = None
    if case is None or not can_view(user, case):
        raise NotFound(NOT_FOUND)
    return case


def ensure(user: User, action: str, case: Case) -> None:
    if not can_view(user, case):
        raise NotFound(NOT_FOUND)
    if action not in ACTIONS.get(user.role, frozenset()):
        raise Forbidden("Din roll får inte göra det här med ärendet.")


def allowed_actions(user: User, case: Case) -> frozenset[str]:
    return ACTIONS.get(user.role, frozenset()) if can_view(user, case) else frozenset()
