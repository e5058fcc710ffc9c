"""Read models of the organisation, shared by the pages, the forms and the API: which case
types and departments to offer, and the direct-number directory."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from time import monotonic

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from sqlalchemy.orm import Session, selectinload

from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import CaseType, Department


def case_types(
    *,
    include_inactive: bool = False,
    with_direct_number: bool = False,
    keep: CaseType | None = None,
) -> list[CaseType]:
    """Case types by name with their departments loaded: the active ones (or all), only those
    with a direct number if asked, plus `keep` (already chosen) even if it is inactive."""
    query = (
        sa.select(CaseType)
        .options(selectinload(CaseType.department))
        .order_by(CaseType.name, CaseType.slug)
    )
    if with_direct_number:
        query = query.where(CaseType.direct_number.is_not(None))
    rows = db.session.scalars(query)
    return [t for t in rows if include_inactive or t.active or t == keep]


def departments(*, include_inactive: bool = False) -> list[Department]:
    query = sa.select(Department).order_by(Department.name)
    if not include_inactive:
        query = query.where(Department.active.is_(True))
    return list(db.session.scalars(query))


def directory(search: str = "") -> list[CaseType]:
    """Active case types of active departments, by department: the direct-number directory,
    narrowed to those whose name, department, guidance or handlers contain `search`."""
    query = (
        sa.select(CaseType)
        .join(CaseType.department)
        .where(CaseType.active.is_(True), Department.active.is_(True))
        .order_by(Department.name, CaseType.name)
    )
    if search:
        escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        query = query.where(
            sa.or_(
                *(
                    sa.func.lower(sa.func.coalesce(column, "")).like(like, escape="\\")
                    for column in (
                        CaseType.name,
                        Department.name,
                        CaseType.guidance,
                        CaseType.direct_number_answered_by,
                    )
                )
            )
        )
    return list(db.session.scalars(query))


def id_for_slug(model: type[Department] | type[CaseType], slug: str, field: str) -> int:
    """The id of the department or case type with this slug, or a ValidationError on `field`."""
    found = db.session.scalars(sa.select(model.id).where(model.slug == slug)).first()
    if found is None:
        raise ValidationError("Det finns ingen med den kortkoden.", field)
    return found


# --- the organisation's names, cached ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepartmentName:
    id: int
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class CaseTypeName:
    id: int
    name: str
    department_id: int
    active: bool
    secrecy_ground: str | None


class Names:
    """Every department and case type (active or not), by name, as plain values: what the
    search page's filters and hit list show, without loading them per request."""

    def __init__(
        self, departments: tuple[DepartmentName, ...], case_types: tuple[CaseTypeName, ...]
    ) -> None:
        self.departments = departments
        self.case_types = case_types
        self._departments = {d.id: d for d in departments}
        self._case_types = {t.id: t for t in case_types}

    def department(self, department_id: int | None) -> DepartmentName | None:
        return self._departments.get(department_id) if department_id is not None else None

    def case_type(self, case_type_id: int | None) -> CaseTypeName | None:
        return self._case_types.get(case_type_id) if case_type_id is not None else None


NAMES_KEY = "kontaktcenter.organisation_names"


def names() -> Names:
    """The departments' and case types' names, kept per request and per process for
    ORGANISATION_CACHE_SECONDS (default: the calendar's cache time; 0 in the tests). A change
    (an insert, update or delete of a department or case type) is seen at once in the process
    that made it (:func:`forget_names`, on flush and on commit) and within the cache time in
    the others: names, activity and secrecy grounds change a few times a year."""
    if NAMES_KEY in g:
        found: Names = g.get(NAMES_KEY)
        return found
    config = current_app.config
    ttl = config.get("ORGANISATION_CACHE_SECONDS", config.get("CALENDAR_CACHE_SECONDS", 0))
    cache = current_app.extensions.setdefault(NAMES_KEY, {})
    cached = cache.get("names")
    if ttl and cached is not None and monotonic() - cached[0] < ttl:
        setattr(g, NAMES_KEY, cached[1])
        return cached[1]
    loaded = Names(
        departments=tuple(
            DepartmentName(row.id, row.name, row.active)
            for row in db.session.execute(
                sa.select(Department.id, Department.name, Department.active).order_by(
                    Department.name
                )
            )
        ),
        case_types=tuple(
            CaseTypeName(row.id, row.name, row.department_id, row.active, row.secrecy_ground)
            for row in db.session.execute(
                sa.select(
                    CaseType.id,
                    CaseType.name,
                    CaseType.department_id,
                    CaseType.active,
                    CaseType.secrecy_ground,
                ).order_by(CaseType.name, CaseType.slug)
            )
        ),
    )
    setattr(g, NAMES_KEY, loaded)
    if ttl:
        cache["names"] = (monotonic(), loaded)
    return loaded


def forget_names() -> None:
    """Drop the cached names of this process (and request)."""
    if has_app_context():
        current_app.extensions.get(NAMES_KEY, {}).pop("names", None)
        g.pop(NAMES_KEY, None)


@sa.event.listens_for(Session, "after_flush")
def _names_changed(session: Session, _context: object) -> None:
    changed = itertools.chain(session.new, session.dirty, session.deleted)
    if any(isinstance(obj, Department | CaseType) for obj in changed):
        session.info[NAMES_KEY] = True
        forget_names()


@sa.event.listens_for(Session, "after_commit")
@sa.event.listens_for(Session, "after_soft_rollback")
def _names_settled(session: Session, *_args: object) -> None:
    """Forgotten again when the change is committed or rolled back: another request of this
    process (a threaded worker) may have cached the names in between."""
    if session.info.pop(NAMES_KEY, False):
        forget_names()
