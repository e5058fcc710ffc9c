"""What a search returns and how its filters are given: the result's dataclasses and the
filter's date (split from search/queries.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from kontaktcenter.cases.arrivals import ListedCase
from kontaktcenter.cases.enums import CaseStatus, Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.queries import BAD_CURSOR, ID_MAX, decode_cursor
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.search.parsing import Query
from kontaktcenter.search.people import ContactRow
from kontaktcenter.search.text import Fragment

YEARS = (1900, 2999)  # dates a case can have been received on (and no datetime overflow)


def parse_day(raw: str, field: str) -> date:
    """A filter's date (ÅÅÅÅ-MM-DD) within YEARS, or a ValidationError saying what to write."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError("Ange datumet som ÅÅÅÅ-MM-DD.", field) from None
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise ValidationError(f"Ange ett datum mellan år {YEARS[0]} och {YEARS[1]}.", field)
    return day


@dataclass
class SearchFilters:
    channel: Channel | None = None
    status: str | None = None  # "open", "closed" or None for both
    department_id: int | None = None
    case_type_id: int | None = None
    received_from: date | None = None
    received_to: date | None = None  # inclusive

    def any(self) -> bool:
        return any(
            v is not None
            for v in (
                self.channel,
                self.status,
                self.department_id,
                self.case_type_id,
                self.received_from,
                self.received_to,
            )
        )


@dataclass
class CaseHit:
    case: Case
    score: float | None
    fragments: list[Fragment] = field(default_factory=list)


@dataclass(slots=True)
class CaseRow:
    """A hit as the search page shows it, without ORM objects: the case's own columns, its
    contact's name and the cached names of its type and department (organisation.names).
    Has what ``access.sees_content`` and the template read of a case."""

    id: int
    reference: str
    channel: Channel
    status: CaseStatus
    received_at: datetime
    summary: str
    department_id: int | None
    secrecy_ground: str | None
    type_secrecy_ground: str | None  # the case type's, read with the row (not cached)
    case_type: organisation.CaseTypeName | None
    department: organisation.DepartmentName | None
    contact_name: str | None  # Contact.display_name; None without a contact

    @property
    def effective_secrecy_ground(self) -> str | None:
        """As Case.effective_secrecy_ground: its own ground, else its case type's."""
        if self.secrecy_ground:
            return self.secrecy_ground
        return self.type_secrecy_ground or None

    @property
    def is_secret(self) -> bool:
        return self.effective_secrecy_ground is not None


@dataclass
class RowHit:
    case: CaseRow
    score: float | None
    fragments: list[Fragment] = field(default_factory=list)


@dataclass
class ListedHit:
    """A hit as the API summarises it: the case list's row (search(shape="listed"))."""

    case: ListedCase
    score: float | None
    fragments: list[Fragment] = field(default_factory=list)


@dataclass
class ContactHit:
    contact: ContactRow
    similarity: float | None = None


@dataclass
class SearchResult:
    query: Query
    contacts: list[ContactHit] = field(default_factory=list)
    cases: list[CaseHit] = field(default_factory=list)  # ORM cases (shape "cases")
    rows: list[RowHit] = field(default_factory=list)  # the same hits as rows (shape "rows")
    listed: list[ListedHit] = field(default_factory=list)  # as the API's list (shape "listed")
    next_cursor: str | None = None
    case: Case | None = None  # a reference that opens one case the user may see
    stems: list[str] = field(default_factory=list)
    newest_first: bool = False  # too many matches to rank: the newest are shown first
    looked_up: list[int] | None = None  # the people an identifier found (None: not searched)

    @property
    def case_ids(self) -> list[int]:
        hits: list[RowHit] | list[CaseHit] | list[ListedHit] = (
            self.rows or self.listed or self.cases
        )
        return [hit.case.id for hit in hits]


def decode_scored(cursor: str) -> tuple[float, int]:
    """A ranked page's mark: (score, case id); a newest-first page's has score -1. The checks
    of the queue's keyset cursors (cases.queries), with a number where they have a time."""
    if len(cursor) > 200:
        raise ValidationError(BAD_CURSOR, "cursor")
    key, case_id = decode_cursor(cursor, 2)
    if isinstance(case_id, bool) or not isinstance(case_id, int) or not 0 < case_id <= ID_MAX:
        raise ValidationError(BAD_CURSOR, "cursor")
    if isinstance(key, bool) or not isinstance(key, int | float):
        raise ValidationError(BAD_CURSOR, "cursor")
    return float(key), case_id
