"""Forms for opening hours, closure days, service goals and the e-mail settings.

The services validate everything again (and give the messages about overlaps, limits and
duplicates); these forms parse the input and catch what is plainly missing.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from kontaktcenter.admin.forms import INVALID_CHOICE, _max, _stop_if_unparsed, _strip
from kontaktcenter.business_calendar import Unit
from kontaktcenter.forms import choices
from kontaktcenter.models import Channel, GoalTarget, RuleKind
from kontaktcenter.models.goals import UNIT_LABELS
from kontaktcenter.services.mail_settings import SECURITY_LABELS
from kontaktcenter.services.settings import AT_RISK_MAX, AT_RISK_MIN, HOURS_MAX, WEEKDAY_NAMES

DATE_MESSAGE = "Ange datum som ÅÅÅÅ-MM-DD, till exempel 2026-12-23."
AMOUNT_MESSAGE = f"Ange antal som ett heltal, 1–{HOURS_MAX}."
AT_RISK_MESSAGE = f"Ange ett heltal mellan {AT_RISK_MIN} och {AT_RISK_MAX}."
PORT_MESSAGE = "Ange port som ett heltal mellan 1 och 65535."


def _day_field(weekday: int) -> StringField:
    return StringField(WEEKDAY_NAMES[weekday], validators=[Optional(), _max(200)])


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
        validators=[_stop_if_unparsed, InputRequired(DATE_MESSAGE)],
        invalid_value_message=DATE_MESSAGE,
    )
    kind = RadioField(
        "Öppet den dagen",
        choices=choices([("closed", "Stängt hela dagen"), ("hours", "Andra öppettider")]),
        default="closed",
        validators=[InputRequired("Välj stängt hela dagen eller andra öppettider.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    windows = StringField("Öppettider den dagen", validators=[Optional(), _max(200)])
    reason = StringField(
        "Anledning",
        validators=[DataRequired("Ange anledning, till exempel Kompetensdag."), _max(200)],
    )


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
            _stop_if_unparsed,
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
            _stop_if_unparsed,
            InputRequired(AT_RISK_MESSAGE),
            NumberRange(AT_RISK_MIN, AT_RISK_MAX, message=AT_RISK_MESSAGE),
        ],
        invalid_value_message=AT_RISK_MESSAGE,
        render_kw={"min": AT_RISK_MIN, "max": AT_RISK_MAX},
    )
    active = BooleanField("Aktivt", default=True)


class MailboxForm(FlaskForm):
    address = EmailField(
        "E-postadress",
        validators=[DataRequired("Fyll i e-postadress."), _max(254)],
        filters=[_strip],
    )
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), _max(120)])
    imap_host = StringField(
        "IMAP-server", validators=[DataRequired("Fyll i IMAP-server."), _max(200)], filters=[_strip]
    )
    imap_port = IntegerField(
        "Port",
        default=993,
        validators=[
            _stop_if_unparsed,
            InputRequired(PORT_MESSAGE),
            NumberRange(1, 65535, message=PORT_MESSAGE),
        ],
        invalid_value_message=PORT_MESSAGE,
    )
    imap_security = SelectField(
        "Kryptering",
        choices=choices(SECURITY_LABELS.items()),
        default="ssl",
        validators=[DataRequired("Välj kryptering.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    imap_user = StringField(
        "Användarnamn", validators=[DataRequired("Fyll i användarnamn."), _max(200)]
    )
    password_env = StringField(
        "Miljövariabel med lösenordet",
        validators=[DataRequired("Fyll i namnet på miljövariabeln."), _max(100)],
        filters=[_strip],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    folder = StringField(
        "Mapp att läsa", default="INBOX", validators=[DataRequired("Fyll i mapp."), _max(200)]
    )
    processed_folder = StringField(
        "Flytta lästa meddelanden till mappen", validators=[Optional(), _max(200)]
    )
    active = BooleanField("Aktiv (hämtas automatiskt)", default=True)


class RoutingRuleForm(FlaskForm):
    kind = SelectField(
        "Regeln tittar på",
        choices=choices((k.value, k.label) for k in RuleKind),
        validators=[DataRequired("Välj vad regeln ska titta på.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    pattern = StringField(
        "Mönster", validators=[DataRequired("Fyll i mönster."), _max(200)], filters=[_strip]
    )
    case_type = SelectField(
        "Ärendetyp",
        coerce=str,
        validators=[DataRequired("Välj ärendetyp.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    to_department = BooleanField("Skicka direkt till förvaltningen", default=True)
    active = BooleanField("Aktiv", default=True)


class MoveForm(FlaskForm):
    direction = SelectField(
        "Flytta",
        choices=choices([("up", "Upp"), ("down", "Ned")]),
        validators=[DataRequired()],
        invalid_choice_message=INVALID_CHOICE,
    )


class TemplateForm(FlaskForm):
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), _max(120)])
    slug = StringField("Kortnamn", validators=[Optional(), _max(50)])
    subject = StringField("Ämnesrad", validators=[Optional(), _max(300)])
    body = TextAreaField(
        "Text",
        validators=[DataRequired("Skriv mallens text."), _max(20000)],
        render_kw={"rows": 14},
    )
    active = BooleanField("Aktiv", default=True)
