"""Phone hours as admins write them, read into weekly windows (channels/phone/line_hours.py)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from kontaktcenter.channels.phone.line_hours import Schedule, parse

TZ = ZoneInfo("Europe/Stockholm")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Monday 16 November 2026 + `day` days, local time."""
    return datetime(2026, 11, 16 + day, hour, minute, tzinfo=TZ)


def windows(text: str) -> dict[int, list[str]]:
    schedule = parse(text)
    assert schedule is not None, text
    return {
        weekday: [f"{start:%H:%M}-{end:%H:%M}" for start, end in spans]
        for weekday, spans in schedule.windows.items()
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mån–tor 10–12", {d: ["10:00-12:00"] for d in (MON, TUE, WED, THU)}),
        ("Tis 9–10", {TUE: ["09:00-10:00"]}),
        ("Mån–fre 9.00–11.30", {d: ["09:00-11:30"] for d in range(5)}),
        ("mån-fre 08:00-16:00", {d: ["08:00-16:00"] for d in range(5)}),
        (
            "Mån–fre 8.00–16.30, lunchstängt 12–13",
            {d: ["08:00-12:00", "13:00-16:30"] for d in range(5)},
        ),
        (
            "Mån–tor 8.00–16.00, fre 8.00–15.00",
            {**{d: ["08:00-16:00"] for d in range(4)}, FRI: ["08:00-15:00"]},
        ),
        ("Vardagar kl. 9–11", {d: ["09:00-11:00"] for d in range(5)}),
        ("helgfria vardagar 9-11 och 13-15", {d: ["09:00-11:00", "13:00-15:00"] for d in range(5)}),
        ("Måndagar och torsdagar 13–15", {MON: ["13:00-15:00"], THU: ["13:00-15:00"]}),
        (
            "mån, ons 9–11; fre 10–11",
            {MON: ["09:00-11:00"], WED: ["09:00-11:00"], FRI: ["10:00-11:00"]},
        ),
        ("Telefontid: tisdag 9–10", {TUE: ["09:00-10:00"]}),
        ("kl 9–12", {d: ["09:00-12:00"] for d in range(5)}),  # no days: weekdays
        ("Lör–sön 10–14", {SAT: ["10:00-14:00"], SUN: ["10:00-14:00"]}),
        (
            "Fre–mån 10–11",
            {
                FRI: ["10:00-11:00"],
                SAT: ["10:00-11:00"],
                SUN: ["10:00-11:00"],
                MON: ["10:00-11:00"],
            },
        ),
        ("alla dagar 0–24", {d: ["00:00-23:59"] for d in range(7)}),
    ],
)
def test_texts_admins_write_are_read(text: str, expected: dict[int, list[str]]) -> None:
    assert windows(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "Ring växeln",
        "Mån–fre 9–12 (ej i juli)",
        "Mån–fre",  # days without times
        "Mån–fre 12–9",  # ends before it starts
        "Mån–fre 25–26",
        "Mån–fre 9.75–10",
        "Mån–fre 9–12, lunchstängt",  # closed when?
        "månad 9–12",
    ],
)
def test_what_is_not_understood_is_none_never_a_guess(text: str | None) -> None:
    assert parse(text) is None


def test_is_open_is_half_open_and_by_weekday() -> None:
    schedule = parse("Mån–tor 10–12")
    assert schedule is not None
    assert not schedule.is_open(at(MON, 9, 59))
    assert schedule.is_open(at(MON, 10, 0))
    assert schedule.is_open(at(THU, 11, 59))
    assert not schedule.is_open(at(THU, 12, 0))
    assert not schedule.is_open(at(FRI, 10, 30))


def test_lunch_closure_applies() -> None:
    schedule = parse("Mån–fre 8.00–16.30, lunchstängt 12–13")
    assert schedule is not None
    assert schedule.is_open(at(TUE, 11, 59))
    assert not schedule.is_open(at(TUE, 12, 30))
    assert schedule.is_open(at(TUE, 13, 0))


def test_next_opening_skips_days_the_calendar_closes() -> None:
    schedule = Schedule({MON: ((time(10), time(12)),), THU: ((time(10), time(12)),)})
    assert schedule.next_opening(at(MON, 9)) == at(MON, 10)
    assert schedule.next_opening(at(MON, 12)) == at(THU, 10)
    closed = date(2026, 11, 19)  # that Thursday
    assert schedule.next_opening(at(MON, 12), lambda d: d != closed) == at(MON + 7, 10)
    assert schedule.next_opening(at(MON, 12), lambda d: False) is None


@pytest.mark.parametrize("typo", ["Mån–tordag 8–12", "Fredag–sönda 8-12", "tisdagar 8–16 x"])
def test_a_typo_in_the_hours_is_unknown_not_an_error(typo):
    assert parse(typo) is None
