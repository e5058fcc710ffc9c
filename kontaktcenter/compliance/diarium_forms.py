"""Forms of the diarium pages: the case's marking and the admin's diarium."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField
from wtforms.validators import DataRequired, Optional

from kontaktcenter.compliance.diarium_models import Marking
from kontaktcenter.compliance.diarium_settings import NAME_MAX, URL_MAX
from kontaktcenter.core.forms import INVALID_CHOICE, choices, max_length, strip
from kontaktcenter.organisation.forms import CheckboxListField


class MarkingForm(FlaskForm):
    marking = RadioField(
        "Hur ska ärendet hanteras?",
        choices=choices((m.value, m.label) for m in Marking),
        validators=[DataRequired("Välj hur ärendet ska hanteras.")],
        invalid_choice_message=INVALID_CHOICE,
    )


class DiariumForm(FlaskForm):
    name = StringField(
        "Namn", filters=[strip], validators=[DataRequired("Ange namn."), max_length(NAME_MAX)]
    )
    endpoint_url = StringField(
        "Mottagaradress (URL)",
        filters=[strip],
        validators=[DataRequired("Ange mottagaradress."), max_length(URL_MAX)],
    )
    departments = CheckboxListField(
        "Förvaltningar som diariet tar emot ärenden från",
        coerce=int,
        validators=[Optional()],
        invalid_choice_message="Välj bland de förvaltningar som visas.",
        invalid_value_message="Välj bland de förvaltningar som visas.",
    )
    active = BooleanField("Aktivt", default=True)
