"""Who may see and do what with a case. Every view and API route goes through here.

Each nämnd is its own authority: a handler sees only the cases of their own departments. A case
outside a user's reach is reported as missing (404), never as forbidden, so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from jinja2 import pass_context
from jinja2.runtime import Context

from kontaktcenter.cases.models import Case
from kontaktcenter.core.errors import Forbidden, NotFound
from kontaktcenter.core.extensions import db
from kontaktcenter.core.navigation import template_user
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import CaseType, User

NOT_FOUND = "Ärendet finns inte, eller så har du inte tillgång till det."

# What each role may do with a case it can see, before the case's relation to the user is
# taken into account (RULES below narrows it). "secrecy" sets or clears a case's own ground.
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
            "secrecy",
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
            "secrecy",
        }
    ),
    # Managers oversee: they may point out related cases, not merge someone's work away.
    Role.MANAGER: frozenset({"note", "assign", "reopen", "link", "unlink"}),
}
ALL_ACTIONS = frozenset().union(*ACTIONS.values())
ACTIONS[Role.ADMIN] = ALL_ACTIONS


class Relation(StrEnum):
    """Where a case stands for a user."""

    FIRST_LINE = "first_line"  # with the contact center (department_id NULL)
    OWN = "own"  # routed to one of the user's departments
    OTHER = "other"  # routed to a department the user does not belong to


# The role rules, in one place: role × relation × secret → what the role may do there (a subset
# of ACTIONS[role]; a relation missing for a role means it cannot see such cases at all).
#
# - First line holds a case (secret or not): the contact center works it in full; a manager
#   oversees; an admin may do anything but "return" it (it is back already). Handlers do not
#   see first-line cases.
# - Once routed, the case belongs to the department: agents may no longer close, reply to, route,
#   refer, hand off, reclassify, pause, assign or merge it, nor set its secrecy; they may note a
#   new call about it, book a callback and record one made, reopen it when the citizen comes back
#   (it reopens in the department) and link it to related cases. The department
#   sends it back with "return" (department_id NULL again) to hand it back to the first line.
# - Secrecy ("secrecy") is set by whoever handles the case: the first line while it holds it,
#   the owning department's handlers after; admins too, except on another department's case.
# - A secret case routed to another department shows only its register fields: its content is
#   hidden, so nobody outside the department may add to it or act on it (no note, no assignment,
#   no link that would show its reference beside another case's content). Managers and admins
#   are "everyone else" there unless they belong to the department.
_AGENT_ON_DEPARTMENT_CASE = frozenset(
    {"note", "book_callback", "callback_attempt", "reopen", "link", "unlink"}
)
_NOTHING: frozenset[str] = frozenset()
RULES: dict[tuple[Role, Relation, bool], frozenset[str]] = {}
for _secret in (False, True):
    RULES[(Role.AGENT, Relation.FIRST_LINE, _secret)] = ACTIONS[Role.AGENT]
    RULES[(Role.MANAGER, Relation.FIRST_LINE, _secret)] = ACTIONS[Role.MANAGER]
    RULES[(Role.ADMIN, Relation.FIRST_LINE, _secret)] = ALL_ACTIONS - {"return"}
    RULES[(Role.HANDLER, Relation.OWN, _secret)] = ACTIONS[Role.HANDLER]
    RULES[(Role.MANAGER, Relation.OWN, _secret)] = ACTIONS[Role.MANAGER]
    RULES[(Role.ADMIN, Relation.OWN, _secret)] = ALL_ACTIONS
    # An agent who also belongs to the department (unusual) is still first line there.
    RULES[(Role.AGENT, Relation.OWN, _secret)] = _AGENT_ON_DEPARTMENT_CASE
RULES[(Role.AGENT, Relation.OTHER, False)] = _AGENT_ON_DEPARTMENT_CASE
RULES[(Role.AGENT, Relation.OTHER, True)] = _NOTHING
RULES[(Role.MANAGER, Relation.OTHER, False)] = ACTIONS[Role.MANAGER]
RULES[(Role.MANAGER, Relation.OTHER, True)] = _NOTHING
RULES[(Role.ADMIN, Relation.OTHER, False)] = ALL_ACTIONS - {"secrecy"}
RULES[(Role.ADMIN, Relation.OTHER, True)] = _NOTHING


def relation(user: User, case: Case) -> Relation:
    if case.department_id is None:
        return Relation.FIRST_LINE
    return Relation.OWN if case.department_id in user.department_ids else Relation.OTHER


def sees_all_cases(user: User) -> bool:
    return user.role in (Role.AGENT, Role.MANAGER, Role.ADMIN)


# The clauses below are built once per (what a user sees, their departments) and shared: they
# are immutable, and every search and list page used to rebuild them (issue #16). The key is
# all they depend on, so two users with the same role group and departments share them.
_built: dict[tuple[object, ...], Any] = {}
_BUILT_MAX = 4096  # distinct department sets in use are few; a bound in case they are not

_T = TypeVar("_T")


def built(key: tuple[object, ...], build: Callable[[], _T]) -> _T:
    """What `build()` makes for `key` (a clause, or a statement of other modules that depends
    on the same things, e.g. search's statements), built once per process. Keys of other
    modules begin with the module's name."""
    found = _built.get(key)
    if found is None:
        if len(_built) >= _BUILT_MAX:
            _built.clear()
        found = _built.setdefault(key, build())
    return cast(_T, found)


def access_key(user: User) -> tuple[bool, tuple[int, ...]]:
    """All the clauses here depend on: whether the user sees every case, and their departments."""
    return sees_all_cases(user), tuple(sorted(user.department_ids))


def visible_clause(
    user: User, department: sa.orm.QueryableAttribute[int | None] | None = None
) -> sa.ColumnElement[bool]:
    """A WHERE clause limiting a case query to what `user` may see. `department` is the column
    that holds the case's department where it is not ``cases.department_id`` (the search
    index keeps a copy)."""
    if sees_all_cases(user):
        return sa.true()
    column = Case.department_id if department is None else department
    ids = tuple(sorted(user.department_ids))
    if not ids:
        return sa.false()
    if sa.inspect(column).parent.is_aliased_class:  # an alias's column: not shareable by name
        return column.in_(ids)
    name = f"{column.class_.__name__}.{column.key}"
    return built(("visible", name, ids), lambda: column.in_(ids))


def can_view(user: User, case: Case) -> bool:
    return sees_all_cases(user) or (
        case.department_id is not None and case.department_id in user.department_ids
    )


def secret_clause() -> sa.ColumnElement[bool]:
    """SQL: the case (``cases``) is secret, by its own ground or its case type's. Never NULL
    (a case without a type is not secret by type: ``NULL IN (…)`` would be unknown)."""
    return built(
        ("secret",),
        lambda: sa.or_(
            Case.secrecy_ground.is_not(None),
            sa.and_(
                Case.case_type_id.is_not(None),
                Case.case_type_id.in_(
                    sa.select(CaseType.id).where(CaseType.secrecy_ground.is_not(None))
                ),
            ),
        ),
    )


def sees_content(user: User, case: Case) -> bool:
    """May `user` see the content (summary, contact, messages, notes…) of `case`? A secret case
    routed to a department shows its content to that department's members only; everyone else
    who can see the case sees its register fields and that it is secret."""
    if not can_view(user, case):
        return False
    if case.department_id is None or not case.is_secret:
        return True
    return case.department_id in user.department_ids


@pass_context
def sees_content_in_template(context: Context, case: Case) -> bool:
    """:func:`sees_content` for the page's user, as templates ask it (one hit of a list at a
    time): the user the template already has, not Flask-Login's proxy resolved per hit."""
    return sees_content(template_user(context), case)


def content_visible_clause(user: User) -> sa.ColumnElement[bool]:
    """SQL twin of :func:`sees_content` for cases `user` can see (combine with visible_clause)."""
    ids = tuple(sorted(user.department_ids))
    return built(
        ("content_visible", ids),
        lambda: sa.or_(
            Case.department_id.is_(None),
            sa.not_(secret_clause()),
            Case.department_id.in_(ids) if ids else sa.false(),
        ),
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
    if action not in allowed_actions(user, case):
        raise Forbidden(_refusal(user, case))


def _refusal(user: User, case: Case) -> str:
    if not sees_content(user, case):
        return "Ärendet omfattas av sekretess och hör till en annan förvaltning."
    if user.role == Role.AGENT and case.department_id is not None:
        return "Ärendet hör till en förvaltning. Den kan skicka tillbaka det till kontaktcenter."
    return "Din roll får inte göra det här med ärendet."


def allowed_actions(user: User, case: Case) -> frozenset[str]:
    """What `user` may do with `case` now (empty when they cannot see it)."""
    if not can_view(user, case):
        return frozenset()
    return RULES.get((user.role, relation(user, case), case.is_secret), frozenset())
