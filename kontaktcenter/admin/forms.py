"""Administration forms. The services validate again; these give early, field-level messages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
)

from kontaktcenter.forms import choices
from kontaktcenter.models import Role
from kontaktcenter.services.admin import PROMISE_MAX, PROMISE_MIN

INVALID_CHOICE = "Välj ett av alternativen i listan."
PROMISE_MESSAGE = f"Ange antal timmar som ett heltal mellan {PROMISE_MIN} och {PROMISE_MAX}."


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _max(limit: int) -> Length:
    return Length(max=limit, message=f"Högst {limit} tecken.")


def _stop_if_unparsed(form: FlaskForm, field: IntegerField) -> None:
    """Not a number: the parse error is the one message shown."""
    if field.process_errors:
        raise StopValidation()


class CheckboxListField(SelectMultipleField):
    """A multiple choice shown as checkboxes (rendered in a fieldset by the template)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _role_field() -> SelectField:
    return SelectField(
        "Roll",
        choices=choices((r.value, r.label) for r in Role),
        validators=[DataRequired("Välj roll.")],
        invalid_choice_message=INVALID_CHOICE,
    )


def _departments_field() -> CheckboxListField:
    return CheckboxListField(
        "Förvaltningar",
        coerce=int,
        validators=[Optional()],
        invalid_choice_message="Välj bland de förvaltningar som visas.",
        invalid_value_message="Välj bland de förvaltningar som visas.",
    )


class UserCreateForm(FlaskForm):
    email = EmailField(
        "E-postadress",
        validators=[
            DataRequired("Fyll i e-postadress."),
            Email("Ange en giltig e-postadress."),
            _max(254),
        ],
        filters=[_strip],
    )
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), _max(120)])
    role = _role_field()
    departments = _departments_field()
    password = PasswordField(
        "Lösenord",
        validators=[DataRequired("Fyll i lösenord."), _max(200)],
        render_kw={"autocomplete": "new-password"},
    )


class UserEditForm(FlaskForm):
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), _max(120)])
    role = _role_field()
    departments = _departments_field()
    active = BooleanField("Aktiv (kan logga in)")
    password = PasswordField(
        "Nytt lösenord",
        validators=[Optional(), _max(200)],
        render_kw={"autocomplete": "new-password"},
    )


class TokenForm(FlaskForm):
    purpose = StringField(
        "Vad ska nyckeln användas till?",
        validators=[DataRequired("Beskriv vad nyckeln ska användas till."), _max(120)],
    )


class ConfirmForm(FlaskForm):
    """A button that changes something: CSRF only."""


class DepartmentForm(FlaskForm):
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), _max(120)])
    slug = StringField("Kortnamn", validators=[Optional(), _max(60)])
    contact_email = EmailField(
        "Funktionsbrevlåda (e-post)",
        validators=[Optional(), Email("Ange en giltig e-postadress."), _max(254)],
        filters=[_strip],
    )
    phone_hours = StringField("Telefontid", validators=[Optional(), _max(200)])
    active = BooleanField("Aktiv", default=True)


class CaseTypeForm(FlaskForm):
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), _max(120)])
    slug = StringField("Kortnamn", validators=[Optional(), _max(60)])
    department = SelectField(
        "Förvaltning",
        coerce=str,
        validators=[DataRequired("Välj förvaltning.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    direct_number = StringField(
        "Direktnummer", validators=[Optional(), _max(40)], render_kw={"inputmode": "tel"}
    )
    direct_number_answered_by = StringField(
        "Vem svarar på direktnumret?", validators=[Optional(), _max(120)]
    )
    direct_number_hours = StringField(
        "Telefontid för direktnumret", validators=[Optional(), _max(200)]
    )
    guidance = TextAreaField(
        "Vägledning till kommunvägledaren", validators=[Optional(), _max(4000)]
    )
    callback_promise_hours = IntegerField(
        "Löfte om återkoppling (timmar)",
        default=24,
        validators=[
            _stop_if_unparsed,
            InputRequired(PROMISE_MESSAGE),
            NumberRange(PROMISE_MIN, PROMISE_MAX, message=PROMISE_MESSAGE),
        ],
        invalid_value_message=PROMISE_MESSAGE,
        render_kw={"min": PROMISE_MIN, "max": PROMISE_MAX},
    )
    active = BooleanField("Aktiv", default=True)
