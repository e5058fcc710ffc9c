"""The header's status form and the administration's distribution settings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, RadioField, SelectField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from kontaktcenter.core.forms import INVALID_CHOICE, choices, stop_if_unparsed
from kontaktcenter.distribution.models import AgentStatus, DistributionMode
from kontaktcenter.distribution.settings import CAP_MAX, CAP_MIN

CAP_MESSAGE = f"Ange taket som ett heltal, {CAP_MIN}–{CAP_MAX}."


class StatusForm(FlaskForm):
    status = SelectField(
        "Din status",
        choices=choices((s.value, s.label) for s in AgentStatus if s != AgentStatus.SIGNED_OUT),
        validators=[DataRequired("Välj en status.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    next = HiddenField()  # the page to return to


class SettingsForm(FlaskForm):
    mode = RadioField(
        "Fördelning",
        choices=choices((m.value, m.label) for m in DistributionMode),
        default=DistributionMode.OFF.value,
        validators=[DataRequired("Välj hur ärenden fördelas.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    emails = BooleanField("Nya e-postärenden i kontaktcentrets kö", default=True)
    callbacks = BooleanField("Nya återuppringningar till kontaktcentret", default=True)
    cap = IntegerField(
        "Tak per handläggare (öppna tilldelade ärenden och återuppringningar)",
        default=5,
        validators=[
            stop_if_unparsed,
            InputRequired(CAP_MESSAGE),
            NumberRange(CAP_MIN, CAP_MAX, message=CAP_MESSAGE),
        ],
        invalid_value_message=CAP_MESSAGE,
        render_kw={"min": CAP_MIN, "max": CAP_MAX},
    )
