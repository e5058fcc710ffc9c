from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from kontaktcenter.cases.enums import Outcome, TransferKind
from kontaktcenter.core.forms import EmailAddress, choices


class LogCallForm(FlaskForm):
    contact_id = HiddenField()
    call_id = HiddenField()  # the platform's call this form logs (screen pop, unlogged list)
    phone = StringField("Telefonnummer", validators=[Optional(), Length(max=40)])
    name = StringField("Namn", validators=[Optional(), Length(max=200)])
    email = StringField("E-post", validators=[Optional(), Length(max=254), EmailAddress()])
    organisation_number = StringField(
        "Organisationsnummer (företag)", validators=[Optional(), Length(max=20)]
    )
    personnummer = StringField(
        "Personnummer (bara om det behövs)", validators=[Optional(), Length(max=20)]
    )
    case_type = SelectField("Ärendetyp", coerce=str, validators=[Optional()])
    summary = TextAreaField(
        "Vad gällde samtalet?",
        validators=[DataRequired("Skriv en kort sammanfattning."), Length(max=4000)],
    )
    outcome = RadioField(
        "Hur avslutades samtalet?",
        choices=choices((o.value, o.label) for o in Outcome),
        validators=[DataRequired("Välj hur samtalet avslutades.")],
    )
    transfer = RadioField(
        "Typ av koppling",
        choices=choices((t.value, t.label) for t in TransferKind),
        default=TransferKind.WARM.value,
        validators=[Optional()],
    )
    answer = TextAreaField("Svaret du gav", validators=[Optional(), Length(max=4000)])
    handoff_confirmed = BooleanField("Koppla ändå (linjen svarar trots telefontiden)")
    handed_to = StringField(
        "Kopplat till (namn eller funktion)", validators=[Optional(), Length(max=120)]
    )
    callback_note = StringField(
        "Önskad tid och vad det gäller", validators=[Optional(), Length(max=500)]
    )
    referred_to = StringField("Hänvisat till myndighet", validators=[Optional(), Length(max=200)])
    note = TextAreaField(
        "Intern anteckning (syns inte för medborgaren)", validators=[Optional(), Length(max=4000)]
    )
