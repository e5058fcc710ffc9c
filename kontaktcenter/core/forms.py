"""Shared form helpers."""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import Field, IntegerField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, StopValidation
from wtforms.validators import ValidationError as FieldError

from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.identifiers import normalise_email

INVALID_CHOICE = "Välj ett av alternativen i listan."


def choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """WTForms 3.3 wants SelectChoice objects rather than (value, label) tuples."""
    return [SelectChoice(value, label) for value, label in pairs]


ID_MAX = 2**31 - 1  # the database's integer primary keys


def parse_id(value: str | None) -> int | None:
    """A database id from a query string or form, or None: never an error, never an overflow."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if 0 < number <= ID_MAX else None


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def max_length(limit: int) -> Length:
    return Length(max=limit, message=f"Högst {limit} tecken.")


def stop_if_unparsed(form: FlaskForm, field: IntegerField) -> None:
    """Not a number: the parse error is the one message shown."""
    if field.process_errors:
        raise StopValidation()


class EmailAddress:
    """A form field holding one valid e-mail address (core.identifiers.normalise_email, the
    rule the services apply too): a blank field passes, Optional() or DataRequired() decide
    about that."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        try:
            normalise_email(field.data)
        except ValidationError as error:
            raise FieldError(self.message or error.message) from None


class ConfirmForm(FlaskForm):
    """A button that changes something: CSRF only."""
