"""The search page's filter lists as ``<option>`` markup, made once per process for each set of
names (organisation.names), viewer's departments and selection.

Written by the template, the ~50 options (channels, statuses, departments, case types) cost
~1,000 Python calls on every search page (#12, #16). A new names object (a department or case
type changed, decision 114) starts the cache afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup, escape

from kontaktcenter.cases.enums import Channel
from kontaktcenter.organisation.queries import CaseTypeName, DepartmentName, Names
from kontaktcenter.search.results import SearchFilters

STATUSES = {"open": "Öppna", "closed": "Stängda"}
_MAX_ENTRIES = 512


@dataclass(frozen=True, slots=True)
class FilterOptions:
    channels: Markup
    statuses: Markup
    departments: Markup
    case_types: Markup


_made_for: Names | None = None
_cache: dict[tuple[object, ...], FilterOptions] = {}


def filter_options(
    names: Names,
    departments: list[DepartmentName],
    case_types: list[CaseTypeName],
    filters: SearchFilters,
) -> FilterOptions:
    """The options of `departments` and `case_types` (taken from `names`, narrowed for the
    viewer) and of every channel and status, the filters' values selected."""
    global _made_for
    if names is not _made_for or len(_cache) >= _MAX_ENTRIES:
        _cache.clear()
        _made_for = names
    key = (
        tuple(d.id for d in departments),
        tuple(c.id for c in case_types),
        filters.channel,
        filters.status,
        filters.department_id,
        filters.case_type_id,
    )
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = FilterOptions(
            channels=_options(((c.value, c.label) for c in Channel), filters.channel),
            statuses=_options(STATUSES.items(), filters.status),
            departments=_options(((d.id, d.name) for d in departments), filters.department_id),
            case_types=_options(((c.id, c.name) for c in case_types), filters.case_type_id),
        )
    return found


def _options(items: Iterable[tuple[object, str]], selected: object) -> Markup:
    return Markup(
        "".join(
            f'<option value="{escape(value)}"{" selected" if value == selected else ""}>'
            f"{escape(label)}</option>"
            for value, label in items
        )
    )
