"""What the case page reads, in few statements (issue #16).

The page used to read the case, then each thing it shows about it by a lazy load (its case type,
department, contact, people, goals), the organisation's lists for the forms on every view
(departments; case types with their departments, twice: five statements), and the case type of
every related or candidate case one at a time. Here the case comes with its one-row relations in
one SELECT, the lists come from a per-process cache that follows the organisation's names, and the
related cases' types in one statement.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.cases import access, relations
from kontaktcenter.cases.actions import assignable_users
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.channels.email.models import MailMessage
from kontaktcenter.core import case_panels
from kontaktcenter.core.extensions import db
from kontaktcenter.core.process_cache import Kept
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType, Department, User

# The case's one-row relations that the page shows, read in the case's SELECT. Not as
# joinedload() options: those stay with the loaded case and come back in a later
# refresh(with_for_update=True) of it (retention holds), where PostgreSQL refuses FOR UPDATE
# on the outer joins.
_ASSIGNEE = sa.orm.aliased(User)
_REGISTRAR = sa.orm.aliased(User)
_ONE_ROW = (Case, CaseType, Department, Contact)


def _joined(statement: Any) -> Any:
    return (
        statement.outerjoin(CaseType, CaseType.id == Case.case_type_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(Contact, Contact.id == Case.contact_id)
        .outerjoin(_ASSIGNEE, _ASSIGNEE.id == Case.assignee_id)
        .outerjoin(_REGISTRAR, _REGISTRAR.id == Case.created_by_id)
    )


# With the assignee and the registrar as users (a page posted to may act on them).
_CASE = _joined(sa.select(*_ONE_ROW, _ASSIGNEE, _REGISTRAR)).where(
    Case.id == sa.bindparam("case_id")
)


@functools.cache
def _case_and_what_beside(panels: tuple[str, ...]) -> sa.Select[Any]:
    """The case's SELECT with the names of its assignee and registrar (all the page shows of
    them: not their users, #16), whether other cases relate to it and the side panels' probes
    (built once for the registered panels: they register when the app is made)."""
    return _joined(
        sa.select(
            *_ONE_ROW,
            _ASSIGNEE.name.label("assignee_name"),
            _REGISTRAR.name.label("registrar_name"),
            relations.others_clause(Case.id).label("has_others"),
            sa.exists().where(MailMessage.case_id == Case.id).label("has_messages"),
            *case_panels.probe_columns(),
        )
    ).where(Case.id == sa.bindparam("case_id"))


@dataclass(frozen=True)
class Beside:
    """What the case's SELECT says of what is beside it: whether other cases relate to it,
    whether it has e-mail messages (most phone cases have none: no statement for them), and
    the side panels' probes (``case_panels.probed``)."""

    others: bool
    messages: bool
    panels: dict[str, bool]
    assignee_name: str | None = None
    registrar_name: str | None = None


def visible_case(user: User, case_id: int) -> Case | None:
    """The case with what its page shows, or None when `user` may not see it (the same rule
    as :func:`access.get_visible_case`)."""
    found = _visible(user, case_id, _CASE)
    if found is None:
        return None
    case = found[0]
    case.assignee, case.created_by  # noqa: B018 (bound now: see _visible)
    return case


def visible_case_and_beside(user: User, case_id: int) -> tuple[Case, Beside] | None:
    """:func:`visible_case`, whether any other case relates to it (merged into it, linked,
    mentioning it: ``relations.has_others``) and the side panels' probes, in one statement."""
    statement = _case_and_what_beside(case_panels.keys())
    found = _visible(user, case_id, statement)
    if found is None:
        return None
    case, row = found
    return case, Beside(
        bool(row.has_others),
        bool(row.has_messages),
        case_panels.probed(row),
        row.assignee_name,
        row.registrar_name,
    )


def _visible(user: User, case_id: int, statement: Any) -> tuple[Case, Any] | None:
    """The case of `statement`'s first row, and the row, or None when there is no such case
    or `user` may not see it."""
    row = db.session.execute(statement, {"case_id": case_id}).first()
    if row is None:
        return None
    case: Case = row[0]
    # Bind the relations now: each is found in the session (no statement), and the case then
    # holds them while the page is built (the session holds objects weakly).
    case.case_type, case.department, case.contact  # noqa: B018
    if not access.can_view(user, case):
        return None
    return case, row


def hold_case_types(cases: Iterable[Case]) -> list[CaseType]:
    """Load the case types of `cases` that the session does not hold yet, in one statement,
    and return them: the caller keeps the list while it uses the cases (the session's identity
    map holds objects weakly), so ``case.case_type`` (secrecy, names) needs no statement each."""
    wanted = {c.case_type_id for c in cases if c.case_type_id is not None}
    held = db.session.identity_map
    missing = []
    for type_id in sorted(wanted):
        found = held.get(sa.orm.util.identity_key(CaseType, type_id))
        # expired (after a commit): it would be read again on its own when used
        if found is None or "secrecy_ground" in sa.inspect(found).unloaded:
            missing.append(type_id)
    if not missing:
        return []
    return list(db.session.scalars(sa.select(CaseType).where(CaseType.id.in_(missing))))


# --- the forms' lists, cached per process ---------------------------------------------------


@dataclass(frozen=True)
class ChoiceLists:
    """(value, label) pairs for the route, classify and hand-off forms, as
    ``organisation.departments()`` and ``organisation.case_types()`` give them."""

    departments: tuple[tuple[str, str], ...]
    case_types: tuple[tuple[str, str], ...]
    direct_numbers: tuple[tuple[str, str], ...]


_CHOICES_KEY = "kontaktcenter.case_page_choices"


def choice_lists(*, fresh: bool = False) -> ChoiceLists:
    """The lists, kept as long as ``organisation.names()`` gives the same names: they change
    with the same rows (departments and case types), so a change is seen at once in the process
    that made it and within ORGANISATION_CACHE_SECONDS in the others (decision 114); in the
    tests (no cache time) every request reads them anew. `fresh`: read now, not kept (to check
    a posted choice)."""
    if fresh:
        loaded = organisation.case_types()
        return ChoiceLists(
            departments=tuple((str(d.id), d.name) for d in organisation.departments()),
            case_types=tuple((t.slug, f"{t.name} ({t.department.name})") for t in loaded),
            direct_numbers=tuple(
                (t.slug, f"{t.name}: {t.direct_number}")
                for t in loaded
                if t.direct_number is not None
            ),
        )
    names = organisation.names()
    cache = current_app.extensions.setdefault(_CHOICES_KEY, {})
    cached = cache.get("lists")
    if cached is not None and cached[0] is names:
        found: ChoiceLists = cached[1]
        return found
    types = db.session.execute(
        sa.select(CaseType.slug, CaseType.name, CaseType.direct_number, Department.name)
        .join(CaseType.department)
        .where(CaseType.active.is_(True))
        .order_by(CaseType.name, CaseType.slug)
    ).all()
    lists = ChoiceLists(
        departments=tuple((str(d.id), d.name) for d in names.departments if d.active),
        case_types=tuple((slug, f"{name} ({department})") for slug, name, _, department in types),
        direct_numbers=tuple(
            (slug, f"{name}: {number}") for slug, name, number, _ in types if number is not None
        ),
    )
    cache["lists"] = (names, lists)
    return lists


# --- who a case can be assigned to, cached per process ---------------------------------------

# The assign form's list per department (None: the first line), as (id, label) pairs.
_ASSIGNABLE: Kept[tuple[tuple[str, str], ...]] = Kept("case_page_assignable", (User, Department))


def assignable_choices(case: Case, *, fresh: bool = False) -> tuple[tuple[str, str], ...]:
    """(id, label) of ``case_actions.assignable_users(case)``: the assign form's list, the same
    for every case of a department (or of the first line). Kept per process for
    ORGANISATION_CACHE_SECONDS (0 in the tests) and forgotten when this process changes a user
    or a department (``core.process_cache``); other processes see a change within the cache
    time. Only the page's list: an assignment is checked against the users as they are
    (``case_actions.assign``); `fresh`: read now, not kept."""
    if fresh:
        return _assignable(case)
    return _ASSIGNABLE.get(lambda: _assignable(case), case.department_id)


def _assignable(case: Case) -> tuple[tuple[str, str], ...]:
    return tuple((str(u.id), f"{u.name} ({u.role.label})") for u in assignable_users(case))
