"""Forms for opening hours and exception days."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    RadioField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Optional

from kontaktcenter.calendar.services import WEEKDAY_NAMES
from kontaktcenter.core.forms import INVALID_CHOICE, choices, max_length, stop_if_unparsed

DATE_MESSAGE = "Ange datum som ÅÅÅÅ-MM-DD, till exempel 2026-12-23."


def _day_field(weekday: int) -> StringField:
    return StringField(WEEKDAY_NAMES[weekday], validators=[Optional(), max_length(200)])


class OpeningHoursForm(FlaskForm):
    day_0 = _day_field(0)
    day_1 = _day_field(1)
    day_2 = _day_field(2)
    day_3 = _day_field(3)
    day_4 = _day_field(4)
    day_5 = _day_field(5)
    day_6 = _day_field(6)

    def day_fields(self) -> list[StringField]:
        return [self[f"day_{weekday}"] for weekday in range(7)]


class DayExceptionForm(FlaskForm):
    day = DateField(
        "Datum",
        validators=[stop_if_unparsed, InputRequired(DATE_MESSAGE)],
        invalid_value_message=DATE_MESSAGE,
    )
    kind = RadioField(
        "Öppet den dagen",
        choices=choices([("closed", "Stängt hela dagen"), ("hours", "Andra öppettider")]),
        default="closed",
        validators=[InputRequired("Välj stängt hela dagen eller andra öppettider.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    windows = StringField("Öppettider den dagen", validators=[Optional(), max_length(200)])
    reason = StringField(
        "Anledning",
        validators=[DataRequired("Ange anledning, till exempel Kompetensdag."), max_length(200)],
    )
