"""Forms of the register extract pages: finding a person, logging a request, correcting a
contact and deciding on erasure. The services validate the identifiers (core.identifiers)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Optional

from kontaktcenter.compliance.erasure import LEGAL_GROUNDS
from kontaktcenter.compliance.extract_models import ErasureOutcome
from kontaktcenter.compliance.extracts import NOTE_MAX
from kontaktcenter.core.forms import INVALID_CHOICE, choices, max_length
from kontaktcenter.organisation.forms import CheckboxListField


class PersonSearchForm(FlaskForm):
    personnummer = StringField("Personnummer", validators=[Optional(), max_length(20)])
    email = StringField("E-postadress", validators=[Optional(), max_length(254)])
    phone = StringField("Telefonnummer", validators=[Optional(), max_length(40)])


class NewRequestForm(FlaskForm):
    """The identifiers searched for come back hidden, so the request covers what was shown."""

    personnummer = HiddenField(validators=[Optional(), max_length(20)])
    email = HiddenField(validators=[Optional(), max_length(254)])
    phone = HiddenField(validators=[Optional(), max_length(40)])
    note = TextAreaField(
        "Hur identiteten kontrollerades", validators=[Optional(), max_length(NOTE_MAX)]
    )


class CorrectionForm(FlaskForm):
    name = StringField("Namn", validators=[Optional(), max_length(200)])
    phone = StringField("Telefonnummer", validators=[Optional(), max_length(40)])
    email = StringField("E-postadress", validators=[Optional(), max_length(254)])
    personnummer = StringField("Personnummer", validators=[Optional(), max_length(20)])
    organisation_number = StringField(
        "Organisationsnummer", validators=[Optional(), max_length(20)]
    )
    reason = TextAreaField(
        "Varför uppgifterna rättas",
        validators=[DataRequired("Ange varför uppgifterna rättas."), max_length(1000)],
    )


class ErasureForm(FlaskForm):
    outcome = RadioField(
        "Beslut",
        choices=choices((o.value, o.label) for o in ErasureOutcome),
        validators=[InputRequired("Välj beviljad eller avslagen.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    legal_ground = SelectField(
        "Rättslig grund",
        choices=choices([("", "Välj …"), *LEGAL_GROUNDS.items()]),
        validators=[DataRequired("Välj den rättsliga grunden.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    reason = TextAreaField(
        "Motivering",
        validators=[DataRequired("Skriv en motivering till beslutet."), max_length(2000)],
    )
    # Filled in by the view with the contact's cases.
    cases = CheckboxListField(
        "Ärenden som beslutet gäller", coerce=int, choices=[], invalid_choice_message=INVALID_CHOICE
    )
