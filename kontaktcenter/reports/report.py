"""The service report as one object: the page, the API and the files show the same numbers,
because they all read them from here (:func:`summary` is the flat list the exports write)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kontaktcenter.cases.enums import Outcome
from kontaktcenter.goals.models import CaseGoal
from kontaktcenter.reports import compliance as goal_compliance
from kontaktcenter.reports import phone as phone_stats
from kontaktcenter.reports import service, volumes
from kontaktcenter.reports.period_counts import PeriodCounts, period_counts, without_jit
from kontaktcenter.reports.periods import ReportFilters


@dataclass
class ServiceReport:
    filters: ReportFilters
    email: service.EmailMeasures
    phone: service.PhoneMeasures
    callbacks: service.CallbackMeasures
    resolution: list[service.ResolutionRow]
    previous_email: service.EmailMeasures
    previous_phone: service.PhoneMeasures
    previous_callbacks: service.CallbackMeasures
    previous_resolution: service.ResolutionRow
    calls: phone_stats.CallStats
    previous_calls: phone_stats.CallStats
    callback_states: phone_stats.CallbackStates
    previous_callback_states: phone_stats.CallbackStates


def service_report(filters: ReportFilters) -> ServiceReport:
    """The headline measures for the period and for the period of the same length before it."""
    without_jit()
    return _service_report(
        filters, *period_counts(filters, [filters.period, filters.period.previous()])
    )


def _service_report(
    filters: ReportFilters, now: PeriodCounts, before: PeriodCounts
) -> ServiceReport:
    return ServiceReport(
        filters=filters,
        email=now.email,
        phone=now.phone,
        callbacks=now.callbacks,
        resolution=now.resolution,
        previous_email=before.email,
        previous_phone=before.phone,
        previous_callbacks=before.callbacks,
        previous_resolution=before.resolution[0],
        calls=phone_stats.call_stats(filters),
        previous_calls=phone_stats.call_stats(filters, filters.period.previous()),
        callback_states=phone_stats.callback_states(filters),
        previous_callback_states=phone_stats.callback_states(filters, filters.period.previous()),
    )


@dataclass
class FullReport:
    service: ServiceReport
    compliance: list[goal_compliance.Compliance]
    compliance_by: dict[str, list[goal_compliance.Compliance]]
    breaches: list[CaseGoal]
    second_line: list[goal_compliance.SecondLine]
    volumes: volumes.Volumes
    top_case_types: list[tuple[str, int]]
    forwarded: list[tuple[str, int, int]]
    backlog: list[tuple[str, int]]


def full_report(filters: ReportFilters) -> FullReport:
    """Every section of the page: the cases of the period and the one before in one grouped
    statement (:mod:`period_counts`), the goals in another (:func:`compliance.goal_rows`),
    then the volumes, breaches, forwarding chains, response times and backlog."""
    without_jit()
    now, before = period_counts(filters, [filters.period, filters.period.previous()])
    ids = now.ids or (0, -1)  # no cases: no goals, chains or breaches either
    goals = goal_compliance.goal_rows(filters, ids=ids)
    compliance, compliance_by = goal_compliance.compliance_all(filters, rows=goals)
    return FullReport(
        service=_service_report(filters, now, before),
        compliance=compliance,
        compliance_by=compliance_by,
        breaches=goal_compliance.breaches(filters, ids),
        second_line=goal_compliance.second_line(filters, goals, now.per_department, ids),
        volumes=volumes.volumes(filters),
        top_case_types=now.top_case_types,
        forwarded=now.forwarded,
        backlog=volumes.backlog(filters),
    )


def api_json(report: ServiceReport) -> dict[str, Any]:
    """The contract of ``GET /api/v1/reports/service`` (field names fixed by issue #11)."""
    email, phone, callbacks = report.email, report.phone, report.callbacks
    calls, states = report.calls.total, report.callback_states
    period = report.filters.period
    return {
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "email": {
            "received": email.received,
            "answered_within_1_working_day": email.answered_within_1_working_day,
            "answered_within_2_working_days": email.answered_within_2_working_days,
            "answered_within_1_working_day_share": email.share_within_1,
            "answered_within_2_working_days_share": email.share_within_2,
            "not_yet_due_1_working_day": email.still_within_1,
            "not_yet_due_2_working_days": email.still_within_2,
            "mean_first_response_business_minutes": email.mean_office_minutes,
            "median_first_response_business_minutes": email.median_office_minutes,
            "mean_first_response_calendar_minutes": email.mean_calendar_minutes,
            "median_first_response_calendar_minutes": email.median_calendar_minutes,
        },
        "phone": {
            "contacts": phone.contacts,
            "outcomes": {outcome.value: phone.outcomes.get(outcome, 0) for outcome in Outcome},
            "without_outcome": phone.open_without_outcome,
            "direct_answer_share": phone.direct_answer_share,
        },
        "callbacks": {
            "booked": callbacks.booked,
            "done_within_goal": callbacks.done_within_goal,
            "done_late": callbacks.done_late,
            "overdue": callbacks.overdue,
            "waiting": callbacks.waiting,
            "done_within_goal_share": callbacks.share_within_goal,
            "reached": states.reached,
            "exhausted": states.exhausted,
            "cancelled": states.cancelled,
            "mean_attempts": states.mean_attempts,
        },
        "calls": {
            "offered": calls.offered,
            "answered": calls.answered,
            "answered_within_goal": calls.answered_within_goal,
            "abandoned": calls.abandoned,
            "answered_within_goal_share": calls.within_goal_share,
            "abandoned_share": calls.abandoned_share,
            "mean_wait_seconds": calls.mean_wait_seconds,
            "median_wait_seconds": report.calls.median_wait_seconds,
            "mean_talk_seconds": calls.mean_talk_seconds,
        },
        "resolution": {
            "contacts": report.resolution[0].contacts,
            "resolved": report.resolution[0].resolved,
            "rate": report.resolution[0].rate,
        },
    }


def summary(report: ServiceReport) -> list[tuple[str, str, float | int | None, str]]:
    """(section, measure, value, unit) rows: what the CSV and XLSX files hold."""
    body = api_json(report)
    rows: list[tuple[str, str, float | int | None, str]] = []
    for section in ("email", "phone", "callbacks", "resolution", "calls"):
        for key, value in body[section].items():
            if isinstance(value, dict):
                for sub, count in value.items():
                    rows.append((section, f"{key}.{sub}", count, "antal"))
            else:
                rows.append((section, key, value, _unit(key)))
    for section, groups in (
        ("calls_per_queue", [(c.label, c) for c in report.calls.per_queue]),
        ("calls_per_day", [(d.isoformat(), c) for d, c in report.calls.per_day]),
    ):
        for name, counts in groups:
            for key, value in _call_row(counts).items():
                rows.append((section, f"{_as_text(name)}.{key}", value, _unit(key)))
    return rows


def _as_text(name: str) -> str:
    """A queue's name as the platform sent it, never read as a formula by a spreadsheet."""
    return "'" + name if name.startswith(("=", "+", "-", "@", "\t", "\r")) else name


def _unit(key: str) -> str:
    if key.endswith(("share", "rate")):
        return "%"
    if key.endswith("minutes"):
        return "minuter"
    if key.endswith("seconds"):
        return "sekunder"
    return "medel" if key.startswith("mean") else "antal"


def _call_row(counts: phone_stats.CallCounts) -> dict[str, float | int | None]:
    """A queue's or a day's figures, as the files hold them."""
    return {
        "offered": counts.offered,
        "answered": counts.answered,
        "answered_within_goal": counts.answered_within_goal,
        "abandoned": counts.abandoned,
        "answered_within_goal_share": counts.within_goal_share,
        "abandoned_share": counts.abandoned_share,
        "mean_wait_seconds": counts.mean_wait_seconds,
        "mean_talk_seconds": counts.mean_talk_seconds,
    }
