"""Forms of the callback pages and of the retry rules' administration, and what the pages say
about a callback (its rule in words, what happens after an attempt): the callback page and the
case page's action use the same words."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from kontaktcenter.callbacks.models import Callback, CallbackStatus, Fallback
from kontaktcenter.callbacks.rules import EffectiveRule
from kontaktcenter.cases.enums import CallbackResult
from kontaktcenter.core.extensions import utcnow
from kontaktcenter.core.forms import choices
from kontaktcenter.core.templating import format_datetime

# The results in the order an agent thinks of them (the enum's order is its history).
RESULT_ORDER = ("reached", "no_answer", "busy", "left_message", "wrong_number")


def result_choices() -> list[tuple[str, str]]:
    results = sorted(
        CallbackResult,
        key=lambda r: RESULT_ORDER.index(r.value) if r.value in RESULT_ORDER else len(RESULT_ORDER),
    )
    return [(r.value, r.label) for r in results]


MAX_ATTEMPTS = (1, 10)
GAP_MINUTES = (5, 1440)


class AttemptForm(FlaskForm):
    result = RadioField(
        "Hur gick samtalet?",
        choices=choices(result_choices()),
        validators=[DataRequired("Välj hur samtalet gick.")],
    )
    note = TextAreaField("Anteckning om försöket", validators=[Optional(), Length(max=500)])


class RuleForm(FlaskForm):
    case_type = SelectField("Gäller", coerce=str, validators=[Optional()])
    max_attempts = IntegerField(
        "Högst antal försök",
        validators=[
            InputRequired("Ange antal försök."),
            NumberRange(*MAX_ATTEMPTS, message="Ange mellan 1 och 10 försök."),
        ],
    )
    min_gap_minutes = IntegerField(
        "Minst minuter mellan försöken",
        validators=[
            InputRequired("Ange tiden mellan försöken."),
            NumberRange(*GAP_MINUTES, message="Ange mellan 5 och 1 440 minuter."),
        ],
    )
    fallback = RadioField(
        "När försöken är slut",
        choices=choices((f.value, f.label) for f in Fallback),
        default=Fallback.EMAIL.value,
        validators=[DataRequired("Välj vad som händer när försöken är slut.")],
    )
    fallback_template = SelectField("E-postmall", coerce=str, validators=[Optional()])


def rule_text(rule: EffectiveRule) -> str:
    """``högst 3 försök, minst 2 timmar emellan, sedan e-post``."""
    gap = rule.min_gap_minutes
    if gap % 60 == 0:
        gap_text = "1 timme" if gap == 60 else f"{gap // 60} timmar"
    else:
        gap_text = f"{gap} minuter"
    then = {
        Fallback.NONE: "sedan avslutas den",
        Fallback.EMAIL: "sedan e-post (brev om e-postadress saknas)",
        Fallback.LETTER: "sedan brev",
    }[rule.fallback]
    return f"högst {rule.max_attempts} försök, minst {gap_text} emellan, {then}"


def next_step(callback: Callback) -> str:
    """What happens now, after an attempt: told to the agent who recorded it."""
    if callback.status == CallbackStatus.REACHED:
        return "Personen är nådd. Återuppringningen är klar."
    if callback.status == CallbackStatus.CANCELLED:
        return "Återuppringningen är återkallad."
    if callback.status == CallbackStatus.EXHAUSTED:
        if callback.fallback == Fallback.EMAIL:
            return "Försöken är slut: e-post skickad."
        if callback.fallback == Fallback.LETTER:
            return "Försöken är slut: skriv brev (under ”Brev att skicka”)."
        return "Försöken är slut. Återuppringningen är avslutad."
    if callback.next_attempt_at is not None and callback.next_attempt_at > utcnow():
        when = format_datetime(callback.next_attempt_at)
        return f"Försöket är sparat. Nästa försök tidigast {when}."
    return "Försöket är sparat."
