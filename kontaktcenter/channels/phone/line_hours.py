"""A direct number's phone hours, read from the text an admin writes ("Mån–tor 10–12").

Pure module (no Flask, no database). Case types and departments keep their phone hours as free
text, written for people: "Mån–fre 8.00–16.30, lunchstängt 12–13", "Mån–tor 8–16, fre 8–15",
"Tis 9–10", "Vardagar kl. 9–11". :func:`parse` turns such a text into weekly windows, or
answers ``None`` when any part of it is not understood ("Ring växeln", "ej i juli"): the call
form then shows the text and never warns on a guess.

Grammar, word by word (case-insensitive; commas, semicolons, "och", "samt", "kl." are
separators): a weekday ("mån", "måndag", "måndagar"), a range of weekdays ("mån–fre"),
"vardagar" (Monday–Friday) or "alla dagar" choose the days; a time range ("8–12", "8.00–16.30",
"08:00-12:00") opens them; "lunchstängt", "lunch" or "stängt" before a time range closes that
range on every day of the text. Times without days before them mean weekdays. Holidays and
closure days are not the text's business: the caller asks the business calendar.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

__all__ = ["Schedule", "parse"]

_DAYS = {
    "mån": 0,
    "måndag": 0,
    "tis": 1,
    "tisdag": 1,
    "ons": 2,
    "onsdag": 2,
    "tor": 3,
    "tors": 3,
    "torsdag": 3,
    "fre": 4,
    "fredag": 4,
    "lör": 5,
    "lördag": 5,
    "sön": 6,
    "söndag": 6,
}
_WEEKDAYS = frozenset(range(5))
_DAY = r"(?:mån|tis|ons|tors?|fre|lör|sön)(?:dag(?:ar)?)?\.?"
_DASH = r"\s*(?:[-–—]|till)\s*"
_START = r"(?P<h1>\d{1,2})(?:[.:](?P<m1>\d{2}))?"
_END = r"(?P<h2>\d{1,2})(?:[.:](?P<m2>\d{2}))?"
_TOKEN = re.compile(
    rf"(?P<days>{_DAY}(?:{_DASH}{_DAY})?)"
    r"|(?P<weekdays>(?:helgfria\s+)?vardagar|vardag)"
    r"|(?P<all>alla\s+dagar)"
    rf"|(?P<range>{_START}{_DASH}{_END})"
    r"|(?P<closed>lunchstängt|lunchstängd|lunch|stängt)"
    r"|(?P<skip>kl\.?|klockan|och|samt|telefontid(?:er)?|[,;/:()]|\s+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Schedule:
    """Opening windows per weekday (0 = Monday), each a half-open [start, end) in local time."""

    windows: dict[int, tuple[tuple[time, time], ...]]

    def is_open(self, at: datetime) -> bool:
        """Is the line open at `at` (a local wall-clock time)?"""
        moment = at.time().replace(tzinfo=None)
        return any(start <= moment < end for start, end in self.windows.get(at.weekday(), ()))

    def next_opening(
        self, at: datetime, is_working_day: Callable[[date], bool] = lambda d: True
    ) -> datetime | None:
        """The first opening after `at` (local) on a day the calendar calls a working day, within
        two weeks; None if there is none."""
        for offset in range(15):
            day = at.date() + timedelta(days=offset)
            if not is_working_day(day):
                continue
            for start, _end in self.windows.get(day.weekday(), ()):
                opening = datetime.combine(day, start, at.tzinfo)
                if opening > at:
                    return opening
        return None


def _day(word: str) -> int:
    word = word.lower().rstrip(".")
    word = word.removesuffix("ar") if word.endswith("dagar") else word
    if word not in _DAYS:
        raise _Unknown(word)
    return _DAYS[word]


def _days(text: str) -> set[int]:
    parts = re.split(_DASH, text.strip(), maxsplit=1, flags=re.IGNORECASE)
    first = _day(parts[0])
    if len(parts) == 1:
        return {first}
    last = _day(parts[1])
    if last < first:  # "fre–mån" wraps over the weekend
        return set(range(first, 7)) | set(range(0, last + 1))
    return set(range(first, last + 1))


def _times(match: re.Match[str]) -> tuple[time, time] | None:
    h1, m1, h2, m2 = (int(g) if g else 0 for g in match.group("h1", "m1", "h2", "m2"))
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        return None
    start = time(h1, m1)
    end = time.max if h2 == 24 else time(h2, m2)
    return (start, end) if start < end else None


def _subtract(windows: list[tuple[time, time]], gap: tuple[time, time]) -> list[tuple[time, time]]:
    result = []
    for start, end in windows:
        if gap[1] <= start or gap[0] >= end:
            result.append((start, end))
            continue
        if start < gap[0]:
            result.append((start, gap[0]))
        if gap[1] < end:
            result.append((gap[1], end))
    return result


class _Unknown(Exception):
    """A day name the pattern let through but the table does not know ("tordag")."""


def parse(text: str | None) -> Schedule | None:
    """The weekly schedule the text describes, or None if it is empty or not understood."""
    try:
        return _parse(text)
    except _Unknown:
        return None


def _parse(text: str | None) -> Schedule | None:
    text = (text or "").strip()
    if not text:
        return None
    groups: list[tuple[set[int], list[tuple[time, time]]]] = []
    days: set[int] = set()
    opened = False  # the current days have got a time range: new days start a new group
    closing = False
    gaps: list[tuple[time, time]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            return None  # a word we do not know: no guessing
        position = match.end()
        kind = match.lastgroup
        if kind in ("days", "weekdays", "all"):
            if opened or closing:
                days, opened, closing = set(), False, False
            if kind == "days":
                days |= _days(match.group("days"))
            else:
                days |= _WEEKDAYS if kind == "weekdays" else set(range(7))
        elif kind == "range":
            window = _times(match)
            if window is None:
                return None
            if closing:
                gaps.append(window)
                closing = False
                continue
            if not days:
                days = set(_WEEKDAYS)
            groups.append((days, [window]))
            opened = True
        elif kind == "closed":
            closing = True
    if closing or not groups:
        return None
    week: dict[int, list[tuple[time, time]]] = {}
    for group_days, windows in groups:
        for weekday in group_days:
            week.setdefault(weekday, []).extend(windows)
    for gap in gaps:
        week = {weekday: _subtract(windows, gap) for weekday, windows in week.items()}
    return Schedule({weekday: tuple(sorted(w)) for weekday, w in sorted(week.items()) if w})
