"""Jinja filters and globals: local times, Swedish numbers and plurals (Babel, CLDR), and
personnummer masked in free text (``|masked``)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime as babel_datetime
from babel.numbers import format_decimal
from flask import Flask, current_app, request, url_for
from markupsafe import Markup, escape

from kontaktcenter.core import rendered
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import utcnow
from kontaktcenter.core.identifiers import format_phone, mask_personnummer, normalise_phone

WEEKDAYS = ["mån", "tis", "ons", "tor", "fre", "lör", "sön"]
LOCALE = Locale("sv", "SE")


def local(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.astimezone(_zone(current_app.config["TIMEZONE"]))


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def format_datetime(dt: datetime | None, with_weekday: bool = False) -> str:
    """``2026-11-23 14:05`` in Stockholm time (ISO order, as Swedish authorities write dates)."""
    value = local(dt)
    if value is None:
        return "–"
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}"
    return f"{WEEKDAYS[value.weekday()]} {text}" if with_weekday else text


def when(value: datetime | None, weekday: bool = False) -> Markup:
    """A moment as the pages show it: ``<time>`` with its ISO value, in Stockholm time, never
    broken across lines; "–" for none. A function, not a Jinja macro: the case page shows a
    dozen (a macro call costs several times as much)."""
    if not value:
        return Markup("–")
    shown = escape(format_datetime(value, weekday))
    return Markup(f'<time class="nowrap" datetime="{escape(value.isoformat())}">{shown}</time>')


def format_datetime_long(dt: datetime | None) -> str:
    """``sön 6 dec. 2026 06:23``: Swedish weekday and month (CLDR), for reading rather than
    sorting."""
    value = local(dt)
    if value is None:
        return "–"
    return babel_datetime(value, "EEE d MMM y HH:mm", locale=LOCALE)


def format_number(value: float | int | None, decimals: int | None = None) -> str:
    """``1 234`` and ``0,7``: Swedish digit grouping (a no-break space) and decimal comma."""
    if value is None:
        return "–"
    pattern = "#,##0" if decimals == 0 else "#,##0." + ("0" * decimals if decimals else "###")
    return format_decimal(value, format=pattern, locale=LOCALE)


def format_filesize(size: int | None) -> str:
    """``0,7 kB``, ``2,4 MB``: sizes as people read them (1 kB = 1 024 bytes, as mail clients
    show them)."""
    if size is None:
        return "–"
    if size < 1024 * 1024:
        return f"{format_decimal(size / 1024, format='#,##0.#', locale=LOCALE)} kB"
    return f"{format_decimal(size / 1024 / 1024, format='#,##0.#', locale=LOCALE)} MB"


def plural(count: int, one: str, other: str) -> str:
    """``1 ärendetyp``, ``2 ärendetyper``: the count and the form CLDR's Swedish rule picks."""
    word = one if LOCALE.plural_form(count) == "one" else other
    return f"{format_number(count)} {word}"


def format_relative(dt: datetime | None) -> str:
    """``om 3 h`` / ``för 2 d sedan``: how far from now, for due times."""
    if dt is None:
        return ""
    seconds = (dt - utcnow()).total_seconds()
    minutes = abs(seconds) // 60
    if minutes < 1:
        return "nu"
    if minutes < 60:
        amount = f"{int(minutes)} min"
    elif minutes < 48 * 60:
        amount = f"{int(minutes // 60)} h"
    else:
        amount = f"{int(minutes // 1440)} d"
    return f"om {amount}" if seconds >= 0 else f"{amount} sedan"


def tel_href(number: str | None) -> str | None:
    """``tel:+46701234567`` for a phone number in any form (RFC 3966: E.164, no spaces), so a
    click dials it in a softphone; None when it is no phone number (then show no link)."""
    try:
        e164 = normalise_phone(number)
    except ValidationError:
        return None
    return f"tel:{e164}" if e164 else None


@lru_cache(maxsize=512)
def public_tel_href(number: str | None) -> str | None:
    """:func:`tel_href` of the municipality's own numbers (case types' direct numbers), kept
    per number (parsing one is ~100 Python calls; every case page shows one). Never for a
    citizen's number: the cache would keep it past gallring."""
    return tel_href(number)


def from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_ID_MARK = 918273645  # stands for the id while the address is built once


@lru_cache(maxsize=256)
def _id_url_parts(endpoint: str, name: str, script_root: str) -> tuple[str, str]:
    values: dict[str, Any] = {name: _ID_MARK}
    url = url_for(endpoint, **values)
    before, mark, after = url.partition(str(_ID_MARK))
    if not mark or str(_ID_MARK) in after:
        raise ValueError(f"{endpoint} does not take {name} once in its path")
    return before, after


def id_url(endpoint: str, **value: int) -> str:
    """``url_for(endpoint, case_id=7)`` for an endpoint whose one argument is an integer id,
    as lists call it for every row: the address is built by the router once per endpoint (and
    mount point), then only the id changes (`url_for` costs ~30 µs a call)."""
    ((name, ident),) = value.items()
    before, after = _id_url_parts(endpoint, name, request.script_root)
    return f"{before}{int(ident)}{after}"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["fromiso"] = from_iso
    app.jinja_env.filters["dt"] = format_datetime
    app.jinja_env.filters["dt_long"] = format_datetime_long
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["filesize"] = format_filesize
    app.jinja_env.globals["plural"] = plural
    app.jinja_env.filters["relative"] = format_relative
    app.jinja_env.filters["tel_href"] = tel_href
    app.jinja_env.filters["phone"] = format_phone  # +46701234567 → 070-123 45 67
    # Free text in a list (a summary, a subject): mask before truncating, so that a cut never
    # leaves half a number showing: {{ case.summary|masked|truncate(90) }}.
    app.jinja_env.filters["masked"] = mask_personnummer
    app.jinja_env.globals["now"] = utcnow
    app.jinja_env.globals["id_url"] = id_url
    app.jinja_env.globals["when"] = when
    app.jinja_env.globals["kept"] = rendered.template
    app.jinja_env.globals["static_url"] = rendered.static_url
