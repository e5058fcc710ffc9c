"""E-mail administration forms: mailboxes, routing rules, templates."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from kontaktcenter.channels.email.models import RuleKind, SenderTrust
from kontaktcenter.channels.email.settings import SECURITY_LABELS
from kontaktcenter.core.forms import (
    INVALID_CHOICE,
    EmailAddress,
    choices,
    max_length,
    stop_if_unparsed,
    strip,
)

PORT_MESSAGE = "Ange port som ett heltal mellan 1 och 65535."


class MailboxForm(FlaskForm):
    address = EmailField(
        "E-postadress",
        validators=[
            DataRequired("Fyll i e-postadress."),
            max_length(254),
            EmailAddress("Ange en giltig e-postadress."),
        ],
        filters=[strip],
    )
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), max_length(120)])
    imap_host = StringField(
        "IMAP-server",
        validators=[DataRequired("Fyll i IMAP-server."), max_length(200)],
        filters=[strip],
    )
    imap_port = IntegerField(
        "Port",
        default=993,
        validators=[
            stop_if_unparsed,
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
        "Användarnamn", validators=[DataRequired("Fyll i användarnamn."), max_length(200)]
    )
    password_env = StringField(
        "Miljövariabel med lösenordet",
        validators=[DataRequired("Fyll i namnet på miljövariabeln."), max_length(100)],
        filters=[strip],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    folder = StringField(
        "Mapp att läsa", default="INBOX", validators=[DataRequired("Fyll i mapp."), max_length(200)]
    )
    processed_folder = StringField(
        "Flytta lästa meddelanden till mappen", validators=[Optional(), max_length(200)]
    )
    active = BooleanField("Aktiv (hämtas automatiskt)", default=True)
    sender_trust = SelectField(
        "Godta avsändaradressen",
        choices=choices((t.value, t.label) for t in SenderTrust),
        default=SenderTrust.VERIFIED.value,
        validators=[DataRequired("Välj när avsändaradressen ska godtas.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    trusted_servers = TextAreaField(
        "Betrodda servrar (authserv-id)",
        validators=[Optional(), max_length(2000)],
        render_kw={"rows": 2, "spellcheck": "false", "autocomplete": "off"},
    )


class RoutingRuleForm(FlaskForm):
    kind = SelectField(
        "Regeln tittar på",
        choices=choices((k.value, k.label) for k in RuleKind),
        validators=[DataRequired("Välj vad regeln ska titta på.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    pattern = StringField(
        "Mönster", validators=[DataRequired("Fyll i mönster."), max_length(200)], filters=[strip]
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
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), max_length(120)])
    slug = StringField("Kortnamn", validators=[Optional(), max_length(50)])
    subject = StringField("Ämnesrad", validators=[Optional(), max_length(300)])
    body = TextAreaField(
        "Text",
        validators=[DataRequired("Skriv mallens text."), max_length(20000)],
        render_kw={"rows": 14},
    )
    active = BooleanField("Aktiv", default=True)
