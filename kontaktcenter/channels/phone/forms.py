from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from kontaktcenter.cases.enums import Outcome, TransferKind
from kontaktcenter.channels.phone.queues import (
    ANSWER_GOAL_MAX,
    ANSWER_GOAL_MIN,
    LABEL_MAX,
    MIN_WAIT_MAX,
    NAME_MAX,
)
from kontaktcenter.core.forms import (
    INVALID_CHOICE,
    EmailAddress,
    choices,
    max_length,
    stop_if_unparsed,
    strip,
)


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


WAIT_MESSAGE = f"Ange antal sekunder som ett heltal mellan 0 och {MIN_WAIT_MAX}."
GOAL_MESSAGE = f"Ange antal sekunder som ett heltal mellan {ANSWER_GOAL_MIN} och {ANSWER_GOAL_MAX}."


class PhoneQueueForm(FlaskForm):
    """A queue on the phone platform (Administration → Telefoniköer); the service validates
    again (phone/queues.py)."""

    name = StringField(
        "Namn i telefoniplattformen",
        filters=[strip],
        validators=[DataRequired("Fyll i köns namn."), max_length(NAME_MAX)],
    )
    label = StringField(
        "Benämning", filters=[strip], validators=[Optional(), max_length(LABEL_MAX)]
    )
    case_type = SelectField(
        "Ärendetyp för återuppringningar",
        coerce=str,
        validators=[Optional()],
        invalid_choice_message=INVALID_CHOICE,
    )
    abandoned_callback = BooleanField("Avbrutna samtal blir återuppringningar")
    abandoned_min_wait_seconds = IntegerField(
        "Minsta väntetid i kö (sekunder)",
        default=10,
        validators=[
            stop_if_unparsed,
            InputRequired(WAIT_MESSAGE),
            NumberRange(0, MIN_WAIT_MAX, message=WAIT_MESSAGE),
        ],
        invalid_value_message=WAIT_MESSAGE,
        render_kw={"min": 0, "max": MIN_WAIT_MAX, "inputmode": "numeric"},
    )
    answer_goal_seconds = IntegerField(
        "Svarsmål (sekunder)",
        default=60,
        validators=[
            stop_if_unparsed,
            InputRequired(GOAL_MESSAGE),
            NumberRange(ANSWER_GOAL_MIN, ANSWER_GOAL_MAX, message=GOAL_MESSAGE),
        ],
        invalid_value_message=GOAL_MESSAGE,
        render_kw={"min": ANSWER_GOAL_MIN, "max": ANSWER_GOAL_MAX, "inputmode": "numeric"},
    )
    active = BooleanField("Aktiv", default=True)
