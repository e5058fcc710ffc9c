"""Read models of the organisation, shared by the pages, the forms and the API: which case
types and departments to offer, and the direct-number directory."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

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
