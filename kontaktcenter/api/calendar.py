"""The business calendar through the API: which days are working days, and why others are not."""

from __future__ import annotations

from datetime import date, timedelta

from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.parsing import Query
from kontaktcenter.calendar.services import load_calendar
from kontaktcenter.core.errors import ValidationError

MAX_DAYS = 366


def _date(query: Query, name: str) -> date:
    value = query.text(name, 10, f"Ange {name} som datum, t.ex. 2026-12-01.")
    if value is None:
        raise ValidationError(f"{name} saknas.", name)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name} måste vara ett datum, t.ex. 2026-12-01.", name) from None


@bp.get("/calendar/working-days")
def working_days() -> ResponseReturnValue:
    api_user()
    query = Query({"from", "to"})
    start, end = _date(query, "from"), _date(query, "to")
    if end < start:
        raise ValidationError("to får inte vara före from.", "to")
    if end - start > timedelta(days=MAX_DAYS):
        raise ValidationError(f"Högst {MAX_DAYS} dagar åt gången.", "to")
    try:
        calendar = load_calendar()
        days = calendar.days(start, end)
    except ValueError as error:  # years outside the holiday tables
        raise ValidationError(str(error), "from") from None
    items = [
        {
            "date": day.isoformat(),
            "working_day": reason is None,
            "reason": reason,
            "opening_hours": [f"{w.start:%H:%M}-{w.end:%H:%M}" for w in calendar.windows_on(day)],
        }
        for day, reason in days
    ]
    return {"items": items, "next": None}
