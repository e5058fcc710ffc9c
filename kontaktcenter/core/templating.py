"""Jinja filters and globals: local times, labels, masked personal data."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app

from kontaktcenter.core.extensions import utcnow

WEEKDAYS = ["mån", "tis", "ons", "tor", "fre", "lör", "sön"]


def local(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))


def format_datetime(dt: datetime | None, with_weekday: bool = False) -> str:
    """``2026-11-23 14:05`` in Stockholm time (ISO order, as Swedish authorities write dates)."""
    value = local(dt)
    if value is None:
        return "–"
    text = value.strftime("%Y-%m-%d %H:%M")
    return f"{WEEKDAYS[value.weekday()]} {text}" if with_weekday else text


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


def from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def init_app(app: Flask) -> None:
    app.jinja_env.filters["fromiso"] = from_iso
    app.jinja_env.filters["dt"] = format_datetime
    app.jinja_env.filters["relative"] = format_relative
    app.jinja_env.globals["now"] = utcnow
