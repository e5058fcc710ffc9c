"""Administration use-cases: departments (förvaltningar) and case types (ärendetyper).

Nothing is deleted here: cases keep pointing at their department and case type, so both are
deactivated instead. Names and slugs are checked before the write for a clear message, and the
unique constraints are the last guard when two admins save at the same moment.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import normalise_email, normalise_phone
from kontaktcenter.organisation import queries
from kontaktcenter.organisation.models import ApiToken, CaseType, Department, User

NAME_MAX = 120
SLUG_MAX = 60
EMAIL_MAX = 254
HOURS_MAX = 200
ANSWERED_BY_MAX = 120
NUMBER_MAX = 40
GUIDANCE_MAX = 4000
PROMISE_MIN, PROMISE_MAX = 1, 720  # hours: one hour to thirty days

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

DEPARTMENT_TAKEN = {
    "name": "Det finns redan en förvaltning med det namnet.",
    "slug": "Det finns redan en förvaltning med det kortnamnet. Välj ett annat kortnamn.",
}
CASE_TYPE_TAKEN = {
    "name": "Förvaltningen har redan en ärendetyp med det namnet.",
    "slug": "Det finns redan en ärendetyp med det kortnamnet. Välj ett annat kortnamn.",
}


def slugify(text: str) -> str:
    """``Barn- och utbildningsförvaltningen`` → ``barn-och-utbildningsforvaltningen``.

    Lower-case ASCII: å and ä become a, ö becomes o, other accents are dropped, and every run of
    anything else (spaces, punctuation) becomes one hyphen.
    """
    text = text.strip().lower().translate(str.maketrans("åäö", "aao"))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:SLUG_MAX].rstrip("-")


@dataclass
class DepartmentData:
    name: str
    slug: str = ""  # blank: made from the name
    contact_email: str | None = None
    phone_hours: str | None = None
    active: bool = True


@dataclass
class CaseTypeData:
    name: str
    department: Department | None
    slug: str = ""  # blank: made from the name
    direct_number: str | None = None
    direct_number_answered_by: str | None = None
    direct_number_hours: str | None = None
    guidance: str | None = None
    callback_promise_hours: int | None = 24
    active: bool = True


@dataclass
class AdminCounts:
    users: int
    active_users: int
    departments: int
    active_departments: int
    case_types: int
    active_case_types: int
    active_tokens: int


# --- reading -------------------------------------------------------------------------------


def counts() -> AdminCounts:
    def total(model: type, *where: sa.ColumnElement[bool]) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0

    return AdminCounts(
        users=total(User),
        active_users=total(User, User.active.is_(True)),
        departments=total(Department),
        active_departments=total(Department, Department.active.is_(True)),
        case_types=total(CaseType),
        active_case_types=total(CaseType, CaseType.active.is_(True)),
        active_tokens=total(ApiToken, ApiToken.revoked_at.is_(None)),
    )


def list_users() -> list[User]:
    return list(db.session.scalars(sa.select(User).order_by(User.active.desc(), User.name)))


def list_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())
        )
    )


def list_departments() -> list[Department]:
    return queries.departments(include_inactive=True)


def department_choices(keep: list[Department] | None = None) -> list[Department]:
    """Active departments, plus any inactive ones already chosen (so an edit does not drop them)."""
    kept = {d.id for d in keep or []}
    return [d for d in list_departments() if d.active or d.id in kept]


def case_types_by_department() -> list[tuple[Department, list[CaseType]]]:
    rows = db.session.scalars(
        sa.select(CaseType).join(CaseType.department).order_by(Department.name, CaseType.name)
    )
    grouped: dict[int, tuple[Department, list[CaseType]]] = {}
    for case_type in rows:
        grouped.setdefault(case_type.department_id, (case_type.department, []))[1].append(case_type)
    return list(grouped.values())


# --- departments -----------------------------------------------------------------------------


def create_department(data: DepartmentData) -> Department:
    department = Department()
    _apply_department(department, data)
    db.session.add(department)
    _commit(DEPARTMENT_TAKEN)
    return department


def update_department(department: Department, data: DepartmentData) -> Department:
    _apply_department(department, data)
    _commit(DEPARTMENT_TAKEN)
    return department


def _apply_department(department: Department, data: DepartmentData) -> None:
    name = _required(data.name, "name", "Ange förvaltningens namn.", NAME_MAX)
    slug = _slug(data.slug, name)
    email = _optional(data.contact_email, "contact_email", "E-postadressen", EMAIL_MAX)
    try:
        email = normalise_email(email)
    except ValidationError:
        raise ValidationError("Ange en giltig e-postadress.", "contact_email") from None
    hours = _optional(data.phone_hours, "phone_hours", "Telefontiden", HOURS_MAX)
    _ensure_free(Department, Department.name, name, department.id, DEPARTMENT_TAKEN["name"], "name")
    _ensure_free(Department, Department.slug, slug, department.id, DEPARTMENT_TAKEN["slug"], "slug")
    if not data.active and department.id is not None:
        still_active = [t.name for t in department.case_types if t.active]
        if still_active:
            raise ValidationError(
                "Förvaltningen har aktiva ärendetyper ("
                + ", ".join(still_active)
                + "). Inaktivera dem eller flytta dem till en annan förvaltning först.",
                "active",
            )
    department.name = name
    department.slug = slug
    department.contact_email = email
    department.phone_hours = hours
    department.active = data.active


# --- case types --------------------------------------------------------------------------------


def create_case_type(data: CaseTypeData) -> CaseType:
    case_type = CaseType()
    _apply_case_type(case_type, data)
    db.session.add(case_type)
    _commit(CASE_TYPE_TAKEN)
    return case_type


def update_case_type(case_type: CaseType, data: CaseTypeData) -> CaseType:
    _apply_case_type(case_type, data)
    _commit(CASE_TYPE_TAKEN)
    return case_type


def validate_direct_number(raw: str | None) -> str | None:
    """Checked with the phone parser, but kept as the admin wrote it (whitespace tidied).

    The library's national format groups some Swedish numbers differently from how
    municipalities print them (``0771-25 25 25`` would become ``077-125 25 25``).
    """
    number = " ".join((raw or "").split())
    if not number:
        return None
    if len(number) > NUMBER_MAX:
        raise ValidationError(f"Direktnumret får vara högst {NUMBER_MAX} tecken.", "direct_number")
    try:
        normalise_phone(number)
    except ValidationError as error:
        raise ValidationError(error.message, "direct_number") from None
    return number


def _apply_case_type(case_type: CaseType, data: CaseTypeData) -> None:
    name = _required(data.name, "name", "Ange ärendetypens namn.", NAME_MAX)
    slug = _slug(data.slug, name)
    department = data.department
    if department is None:
        raise ValidationError("Välj förvaltning.", "department")
    if data.active and not department.active:
        raise ValidationError(
            "Förvaltningen är inte aktiv. Välj en aktiv förvaltning eller inaktivera ärendetypen.",
            "department",
        )
    hours = data.callback_promise_hours
    if hours is None or not PROMISE_MIN <= hours <= PROMISE_MAX:
        raise ValidationError(
            f"Ange löftet om återkoppling i hela timmar, {PROMISE_MIN}–{PROMISE_MAX}.",
            "callback_promise_hours",
        )
    number = validate_direct_number(data.direct_number)
    answered_by = _optional(
        data.direct_number_answered_by, "direct_number_answered_by", "Fältet", ANSWERED_BY_MAX
    )
    number_hours = _optional(
        data.direct_number_hours, "direct_number_hours", "Telefontiden", HOURS_MAX
    )
    guidance = _optional(data.guidance, "guidance", "Vägledningen", GUIDANCE_MAX, keep_lines=True)
    _ensure_free(CaseType, CaseType.slug, slug, case_type.id, CASE_TYPE_TAKEN["slug"], "slug")
    same_name = db.session.scalars(
        sa.select(CaseType.id).where(
            CaseType.department_id == department.id,
            sa.func.lower(CaseType.name) == name.lower(),
            CaseType.id != (case_type.id or -1),
        )
    ).first()
    if same_name is not None:
        raise ValidationError(CASE_TYPE_TAKEN["name"], "name")
    case_type.name = name
    case_type.slug = slug
    case_type.department = department
    case_type.direct_number = number
    case_type.direct_number_answered_by = answered_by
    case_type.direct_number_hours = number_hours
    case_type.guidance = guidance
    case_type.callback_promise_hours = hours
    case_type.active = data.active


# --- helpers -----------------------------------------------------------------------------------


def _required(value: str | None, field: str, missing: str, limit: int) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise ValidationError(missing, field)
    if len(text) > limit:
        raise ValidationError(f"Namnet får vara högst {limit} tecken.", field)
    return text


def _optional(
    value: str | None, field: str, label: str, limit: int, keep_lines: bool = False
) -> str | None:
    text = (value or "").strip() if keep_lines else " ".join((value or "").split())
    if len(text) > limit:
        raise ValidationError(f"{label} får vara högst {limit} tecken.", field)
    return text or None


def _slug(given: str | None, name: str) -> str:
    slug = (given or "").strip().lower()
    if not slug:
        slug = slugify(name)
        if not slug:
            raise ValidationError(
                "Det gick inte att skapa ett kortnamn av namnet. Ange ett kortnamn.", "slug"
            )
        return slug
    if len(slug) > SLUG_MAX:
        raise ValidationError(f"Kortnamnet får vara högst {SLUG_MAX} tecken.", "slug")
    if not _SLUG.match(slug):
        raise ValidationError(
            "Kortnamnet får bara innehålla a–z, 0–9 och bindestreck (till exempel bygglov).",
            "slug",
        )
    return slug


def _ensure_free(
    model: type[Department] | type[CaseType],
    column: InstrumentedAttribute[str],
    value: str,
    own_id: int | None,
    message: str,
    field: str,
) -> None:
    query = sa.select(model.id).where(sa.func.lower(column) == value.lower())
    if own_id is not None:
        query = query.where(model.id != own_id)
    if db.session.scalars(query).first() is not None:
        raise ValidationError(message, field)


def _commit(taken: dict[str, str]) -> None:
    """Commit; a unique violation (someone saved the same name first) becomes a clear message."""
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        field = "slug" if "slug" in str(error.orig).lower() else "name"
        raise ValidationError(taken[field], field) from None
