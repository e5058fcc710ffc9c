"""The API's catalog: case types and departments (cases by arrival: cases.queries.arrivals_page)."""

from __future__ import annotations

from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType, Department


def case_types(include_inactive: bool) -> list[CaseType]:
    return organisation.case_types(include_inactive=include_inactive)


def departments(include_inactive: bool) -> list[Department]:
    return organisation.departments(include_inactive=include_inactive)
