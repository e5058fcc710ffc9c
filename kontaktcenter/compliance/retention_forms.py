"""Forms of the gallring pages: a retention rule, a reason for a legal hold."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, NumberRange, Optional

from kontaktcenter.compliance.retention_models import RetentionMode
from kontaktcenter.compliance.retention_rules import MAX_MONTHS
from kontaktcenter.core.forms import choices, max_length, strip


class RetentionRuleForm(FlaskForm):
    case_type = SelectField("Ärendetyp", choices=[], validate_choice=True)
    mode = SelectField(
        "Gallras",
        choices=choices((m.value, m.label) for m in RetentionMode),
        default=RetentionMode.MONTHS.value,
    )
    months = IntegerField(
        "Antal månader efter avslut",
        validators=[
            Optional(),
            NumberRange(1, MAX_MONTHS, f"Ange ett helt antal månader, 1–{MAX_MONTHS}."),
        ],
    )
    decision_name = StringField(
        "Gallringsbeslut (dokumentets namn)",
        filters=[strip],
        validators=[InputRequired("Ange gallringsbeslutet."), max_length(200)],
    )
    decision_date = DateField(
        "Beslutsdatum",
        validators=[InputRequired("Ange beslutsdatum (ÅÅÅÅ-MM-DD).")],
        format="%Y-%m-%d",
    )
    decision_reference = StringField(
        "Diarienummer eller länk (valfritt)", filters=[strip], validators=[max_length(300)]
    )


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        "Skäl", filters=[strip], validators=[InputRequired("Ange ett skäl."), max_length(2000)]
    )
