"""One small form per case action. Each carries the case version it was rendered with."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from kontaktcenter.callbacks.forms import result_choices
from kontaktcenter.cases.enums import TransferKind
from kontaktcenter.core.forms import choices


class ActionForm(FlaskForm):
    version = HiddenField()


class NoteForm(ActionForm):
    text = TextAreaField(
        "Anteckning", validators=[DataRequired("Skriv en anteckning."), Length(max=4000)]
    )


class AssignForm(ActionForm):
    assignee = SelectField("Tilldela", coerce=str, validators=[Optional()])


class RouteForm(ActionForm):
    department = SelectField(
        "Förvaltning", coerce=str, validators=[DataRequired("Välj förvaltning.")]
    )
    note = TextAreaField("Meddelande till förvaltningen", validators=[Optional(), Length(max=4000)])


class HandOffForm(ActionForm):
    case_type = SelectField(
        "Ärendetyp (direktnummer)", coerce=str, validators=[DataRequired("Välj ärendetyp.")]
    )
    transfer = RadioField(
        "Typ av koppling",
        choices=choices((t.value, t.label) for t in TransferKind),
        default=TransferKind.WARM.value,
        validators=[DataRequired("Välj typ av koppling.")],
    )
    to = StringField("Kopplat till (namn eller funktion)", validators=[Optional(), Length(max=120)])
    note = TextAreaField("Anteckning om kopplingen", validators=[Optional(), Length(max=4000)])


class ClassifyForm(ActionForm):
    case_type = SelectField("Ärendetyp", coerce=str, validators=[DataRequired("Välj ärendetyp.")])


class ReferForm(ActionForm):
    authority = StringField(
        "Myndighet", validators=[DataRequired("Ange myndighet."), Length(max=200)]
    )
    note = TextAreaField("Anteckning om hänvisningen", validators=[Optional(), Length(max=4000)])


class CallbackForm(ActionForm):
    slot_start = DateTimeLocalField(
        "Ring tidigast", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    due_at = DateTimeLocalField(
        "Ring upp senast",
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
    )
    note = StringField("Önskad tid och vad det gäller", validators=[Optional(), Length(max=500)])


class CallbackAttemptForm(ActionForm):
    result = RadioField(
        "Resultat",
        choices=choices(result_choices()),
        validators=[DataRequired("Välj resultat.")],
    )
    note = TextAreaField("Anteckning om försöket", validators=[Optional(), Length(max=500)])


class ReturnForm(ActionForm):
    note = TextAreaField(
        "Varför skickas ärendet tillbaka?",
        validators=[DataRequired("Skriv varför."), Length(max=4000)],
    )


class WaitForm(ActionForm):
    note = StringField("Vad väntar vi på?", validators=[Optional(), Length(max=500)])


class CloseForm(ActionForm):
    resolution = TextAreaField(
        "Hur löstes ärendet?",
        validators=[DataRequired("Skriv hur ärendet löstes."), Length(max=4000)],
    )


class ReopenForm(ActionForm):
    note = TextAreaField(
        "Varför återöppnas ärendet?", validators=[DataRequired("Skriv varför."), Length(max=4000)]
    )


class SimpleForm(ActionForm):
    """Take / resume: nothing but CSRF and the version."""


class ReplyForm(ActionForm):
    body = TextAreaField(
        "Svar till medborgaren", validators=[DataRequired("Skriv ett svar."), Length(max=20000)]
    )
    attachments = MultipleFileField("Bilagor (högst 10 MB styck)")
    # A checkbox whose value is the Reply-To address the agent saw: chosen, the answer goes
    # there instead of to the sender (channels/email/outbound.reply).
    reply_to = StringField("Svara till Reply-To-adressen", validators=[Optional(), Length(max=254)])


class MergeForm(ActionForm):
    reference = StringField(
        "Ärendenummer för samma ärende",
        validators=[DataRequired("Skriv ärendenumret."), Length(max=40)],
        render_kw={"autocomplete": "off", "list": "related-candidates"},
    )
    confirm = BooleanField(
        "Jag har kontrollerat att ärendena gäller samma sak",
        validators=[DataRequired("Bekräfta att ärendena gäller samma sak.")],
    )
    note = TextAreaField(
        "Anteckning om sammanslagningen", validators=[Optional(), Length(max=4000)]
    )


class LinkForm(ActionForm):
    reference = StringField(
        "Ärendenummer för relaterat ärende",
        validators=[DataRequired("Skriv ärendenumret."), Length(max=40)],
        render_kw={"autocomplete": "off", "list": "related-candidates"},
    )


class UnlinkForm(ActionForm):
    other = HiddenField()
