"""Administration forms. The services validate again; these give early, field-level messages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
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
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    NumberRange,
    Optional,
)

from kontaktcenter.core.forms import (
    INVALID_CHOICE,
    EmailAddress,
    choices,
    max_length,
    stop_if_unparsed,
    strip,
)
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import branding, queries, secrecy_grounds
from kontaktcenter.organisation.models import CaseType
from kontaktcenter.organisation.services import PROMISE_MAX, PROMISE_MIN

PROMISE_MESSAGE = f"Ange antal timmar som ett heltal mellan {PROMISE_MIN} och {PROMISE_MAX}."


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


class ProfileFields:
    """What a reply's signature is made of, besides the name."""

    title = StringField("Titel", validators=[Optional(), max_length(120)], filters=[strip])
    unit = StringField(
        "Förvaltning, avdelning eller enhet",
        validators=[Optional(), max_length(120)],
        filters=[strip],
    )
    phone = StringField(
        "Telefon i signaturen", validators=[Optional(), max_length(40)], filters=[strip]
    )


class UserCreateForm(ProfileFields, FlaskForm):
    email = EmailField(
        "E-postadress",
        validators=[
            DataRequired("Fyll i e-postadress."),
            EmailAddress("Ange en giltig e-postadress."),
            max_length(254),
        ],
        filters=[strip],
    )
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), max_length(120)])
    role = _role_field()
    departments = _departments_field()
    password = PasswordField(
        "Lösenord",
        validators=[DataRequired("Fyll i lösenord."), max_length(200)],
        render_kw={"autocomplete": "new-password"},
    )


class UserEditForm(ProfileFields, FlaskForm):
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), max_length(120)])
    role = _role_field()
    departments = _departments_field()
    active = BooleanField("Aktiv (kan logga in)")
    password = PasswordField(
        "Nytt lösenord",
        validators=[Optional(), max_length(200)],
        render_kw={"autocomplete": "new-password"},
    )


class TokenForm(FlaskForm):
    purpose = StringField(
        "Vad ska nyckeln användas till?",
        validators=[DataRequired("Beskriv vad nyckeln ska användas till."), max_length(120)],
    )


class DepartmentForm(FlaskForm):
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), max_length(120)])
    slug = StringField("Kortnamn", validators=[Optional(), max_length(60)])
    contact_email = EmailField(
        "Funktionsbrevlåda (e-post)",
        validators=[Optional(), EmailAddress("Ange en giltig e-postadress."), max_length(254)],
        filters=[strip],
    )
    phone_hours = StringField("Telefontid", validators=[Optional(), max_length(200)])
    active = BooleanField("Aktiv", default=True)


class CaseTypeForm(FlaskForm):
    name = StringField("Namn", validators=[DataRequired("Fyll i namn."), max_length(120)])
    slug = StringField("Kortnamn", validators=[Optional(), max_length(60)])
    department = SelectField(
        "Förvaltning",
        coerce=str,
        validators=[DataRequired("Välj förvaltning.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    direct_number = StringField(
        "Direktnummer", validators=[Optional(), max_length(40)], render_kw={"inputmode": "tel"}
    )
    direct_number_answered_by = StringField(
        "Vem svarar på direktnumret?", validators=[Optional(), max_length(120)]
    )
    direct_number_hours = StringField(
        "Telefontid för direktnumret", validators=[Optional(), max_length(200)]
    )
    guidance = TextAreaField(
        "Vägledning till kommunvägledaren", validators=[Optional(), max_length(4000)]
    )
    secrecy_ground = SelectField(
        "Sekretess",
        coerce=str,
        choices=choices(secrecy_grounds.choices("Ingen sekretess")),
        validators=[Optional()],  # left out: no secrecy
        invalid_choice_message="Välj en sekretessgrund ur listan.",
    )
    callback_promise_hours = IntegerField(
        "Löfte om återkoppling (timmar)",
        default=24,
        validators=[
            stop_if_unparsed,
            InputRequired(PROMISE_MESSAGE),
            NumberRange(PROMISE_MIN, PROMISE_MAX, message=PROMISE_MESSAGE),
        ],
        invalid_value_message=PROMISE_MESSAGE,
        render_kw={"min": PROMISE_MIN, "max": PROMISE_MAX},
    )
    active = BooleanField("Aktiv", default=True)


def case_type_choices(keep: CaseType | None, empty: str) -> list[SelectChoice]:
    """Active case types by name with their department, plus `keep` if it is inactive."""
    return choices(
        [("", empty)]
        + [
            (str(t.id), f"{t.name} ({t.department.name})" + ("" if t.active else " – inaktiv"))
            for t in queries.case_types(keep=keep)
        ]
    )


class BrandingForm(FlaskForm):
    name = StringField(
        "Kommunens namn", filters=[strip], validators=[max_length(branding.NAME_MAX)]
    )
    logo = FileField("Ny logotyp (PNG, JPEG eller WebP, högst 1 MB)")
    remove_logo = BooleanField("Ta bort logotypen")
