"""The service-goal form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
)
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from kontaktcenter.calendar.business_calendar import Unit
from kontaktcenter.cases.enums import Channel
from kontaktcenter.core.forms import INVALID_CHOICE, choices, stop_if_unparsed
from kontaktcenter.goals.models import UNIT_LABELS, GoalTarget
from kontaktcenter.goals.settings import AT_RISK_MAX, AT_RISK_MIN, HOURS_MAX

AMOUNT_MESSAGE = f"Ange antal som ett heltal, 1–{HOURS_MAX}."
AT_RISK_MESSAGE = f"Ange ett heltal mellan {AT_RISK_MIN} och {AT_RISK_MAX}."


class ServiceGoalForm(FlaskForm):
    target = SelectField(
        "Vad målet gäller",
        choices=choices((t.value, t.label) for t in GoalTarget),
        validators=[DataRequired("Välj vad målet gäller.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    channel = SelectField(
        "Kanal",
        choices=choices([("", "Alla kanaler")] + [(c.value, c.label) for c in Channel]),
        validators=[Optional()],
        invalid_choice_message=INVALID_CHOICE,
    )
    case_type = SelectField(
        "Ärendetyp", coerce=str, validators=[Optional()], invalid_choice_message=INVALID_CHOICE
    )
    amount = IntegerField(
        "Inom",
        validators=[
            stop_if_unparsed,
            InputRequired(AMOUNT_MESSAGE),
            NumberRange(1, HOURS_MAX, message=AMOUNT_MESSAGE),
        ],
        invalid_value_message=AMOUNT_MESSAGE,
        render_kw={"min": 1, "max": HOURS_MAX},
    )
    unit = SelectField(
        "Räknat i",
        choices=choices((u.value, UNIT_LABELS[u]) for u in Unit),
        default=Unit.WORKING_DAYS.value,
        validators=[DataRequired("Välj hur tiden räknas.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    at_risk_percent = IntegerField(
        "Varna när så här stor del av tiden är kvar (%)",
        default=20,
        validators=[
            stop_if_unparsed,
            InputRequired(AT_RISK_MESSAGE),
            NumberRange(AT_RISK_MIN, AT_RISK_MAX, message=AT_RISK_MESSAGE),
        ],
        invalid_value_message=AT_RISK_MESSAGE,
        render_kw={"min": AT_RISK_MIN, "max": AT_RISK_MAX},
    )
    active = BooleanField("Aktivt", default=True)
