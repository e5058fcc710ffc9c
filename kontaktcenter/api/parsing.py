"""Strict reading of JSON bodies and query strings: bad input is a 4xx with the field, never a 500.

Messages are Swedish, like the services' messages that the API passes through unchanged.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import current_app, request

from kontaktcenter.core.errors import DomainError, ValidationError

E = TypeVar("E", bound=StrEnum)

SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,59}")
# "+02:00" in a query string arrives as " 02:00" when the client forgot to encode the "+".
_DECODED_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")

TIME_HINT = "Ange tiden i ISO 8601 med tidszon, t.ex. 2024-05-01T09:30:00+02:00."


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


def json_object() -> dict[str, Any]:
    """The request body as a JSON object: 415 for another media type, 400 for anything else."""
    if not request.is_json:
        raise UnsupportedMediaType("Skicka innehållet som JSON (Content-Type: application/json).")
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        raise BadRequest("Innehållet är inte giltig JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("Innehållet måste vara ett JSON-objekt.")
    field = nul_field(body)
    if field is not None:
        raise BadRequest("Innehållet får inte innehålla NUL-tecken (\\u0000).", field)
    return body


def nul_field(body: Any) -> str | None:
    """Where a NUL character is in a parsed JSON value (``contact.name``, ``items.2``; the key
    itself, without the NUL, when it is in a key), or None. Depth first, in document order;
    iterative, since json.loads accepts deeper nesting than a recursive walk would."""
    stack: list[tuple[str, Any]] = [("", body)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            return path
        if isinstance(value, dict):
            items = [(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]
        elif isinstance(value, list):
            items = [(f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value)]
        else:
            continue
        for name, _item in items:
            if "\x00" in name:
                return name.replace("\x00", "")
        stack.extend(reversed(items))
    return None


def _enum_value(enum_cls: type[E], value: object, field: str) -> E:
    allowed = [member.value for member in enum_cls]
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(f"Ogiltigt värde. Tillåtna värden: {', '.join(allowed)}.", field)
    return enum_cls(value)


def parse_datetime(value: str, field: str, local_tz: ZoneInfo | None = None) -> datetime:
    """ISO 8601 to aware UTC. With `local_tz`, a date means that local day's start and a time
    without offset is local time; without it, an offset is required."""
    text = _DECODED_PLUS.sub(r"\1+\2", value.strip())
    try:
        if local_tz is not None and _DATE_ONLY.fullmatch(text):
            parsed = datetime.combine(date.fromisoformat(text), time.min, tzinfo=local_tz)
        else:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None:
                if local_tz is None:
                    raise ValidationError(TIME_HINT, field)
                parsed = parsed.replace(tzinfo=local_tz)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError(TIME_HINT, field) from None


class Fields:
    """Typed access to one JSON object. `finish()` rejects the keys nobody asked for, so a
    misspelt optional field is an error instead of being silently ignored."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix
        self.seen: set[str] = set()

    def path(self, name: str) -> str:
        return self.prefix + name

    def _get(self, name: str, required: bool) -> Any:
        self.seen.add(name)
        value = self.data.get(name)
        if value is None and required:
            raise ValidationError("Fältet måste anges.", self.path(name))
        return value

    def text(self, name: str, max_length: int, required: bool = False) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValidationError("Fältet måste vara en textsträng.", self.path(name))
        if "\x00" in value:
            raise ValidationError("Fältet får inte innehålla NUL-tecken.", self.path(name))
        if len(value) > max_length:
            raise ValidationError(f"Fältet får vara högst {max_length} tecken.", self.path(name))
        return value

    def enum(self, name: str, enum_cls: type[E], required: bool = False) -> E | None:
        value = self._get(name, required)
        return None if value is None else _enum_value(enum_cls, value, self.path(name))

    def integer(self, name: str, minimum: int = 0, maximum: int = 2**31 - 1) -> int | None:
        value = self._get(name, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Fältet måste vara ett heltal.", self.path(name))
        if not minimum <= value <= maximum:
            raise ValidationError(
                f"Fältet måste ligga mellan {minimum} och {maximum}.", self.path(name)
            )
        return value

    def datetime(self, name: str) -> datetime | None:
        value = self.text(name, 64)
        return None if value is None else parse_datetime(value, self.path(name))

    def object(self, name: str) -> Fields | None:
        value = self._get(name, False)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValidationError("Fältet måste vara ett JSON-objekt.", self.path(name))
        return Fields(value, prefix=self.path(name) + ".")

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ValidationError("Okänt fält.", self.path(unknown[0]))


class Query:
    """Typed access to the query string; unknown and repeated parameters are errors."""

    def __init__(self, allowed: set[str]) -> None:
        self.args = request.args
        for name in self.args:
            if name not in allowed:
                raise ValidationError("Okänd parameter.", name)
            if len(self.args.getlist(name)) > 1:
                raise ValidationError("Ange parametern högst en gång.", name)

    def _get(self, name: str) -> str | None:
        value = self.args.get(name)
        return value if value else None

    def enum(self, name: str, enum_cls: type[E]) -> E | None:
        value = self._get(name)
        return None if value is None else _enum_value(enum_cls, value, name)

    def slug(self, name: str) -> str | None:
        value = self._get(name)
        if value is not None and not SLUG.fullmatch(value):
            raise ValidationError("Ogiltig kortkod (små bokstäver, siffror, - och _).", name)
        return value

    def text(
        self, name: str, max_length: int = 1000, message: str = "Ogiltigt värde."
    ) -> str | None:
        value = self._get(name)
        if value is not None and (len(value) > max_length or "\x00" in value):
            raise ValidationError(message, name)
        return value

    def datetime(self, name: str) -> datetime | None:
        value = self.text(name, 64)
        if value is None:
            return None
        return parse_datetime(value, name, ZoneInfo(current_app.config["TIMEZONE"]))

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        value = self._get(name)
        if value is None:
            return default
        digits = value.isascii() and value.isdigit() and len(value) <= 9
        if not digits or not minimum <= int(value) <= maximum:
            raise ValidationError(f"Ange ett heltal mellan {minimum} och {maximum}.", name)
        return int(value)

    def flag(self, name: str) -> bool:
        value = (self._get(name) or "0").lower()
        if value not in ("0", "1", "true", "false"):
            raise ValidationError("Ange 1, 0, true eller false.", name)
        return value in ("1", "true")
