"""The case view and the actions on a case. Every action is one POST with one small form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from kontaktcenter.cases import access
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases.enums import CallbackResult, TransferKind
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.mime.text import safe_filename
from kontaktcenter.channels.email.presenting import answer_templates, message_views
from kontaktcenter.core import audit
from kontaktcenter.core.errors import Conflict, DomainError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.forms import choices, parse_id
from kontaktcenter.goals import engine as goals
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType, Department, User
from kontaktcenter.workspace import forms

bp = Blueprint("cases", __name__, url_prefix="/arenden")


@dataclass(frozen=True)
class Action:
    permission: str
    form: type[forms.ActionForm]
    run: Callable[[Case, forms.ActionForm, int | None], object]
    done: str


def _user(form_value: str) -> User | None:
    user_id = parse_id(form_value)
    return db.session.get(User, user_id) if user_id else None


def _uploads() -> list[outbound.OutgoingFile]:
    files = []
    for upload in request.files.getlist("attachments"):
        if upload and upload.filename:
            files.append(
                outbound.OutgoingFile(
                    safe_filename(upload.filename),
                    upload.mimetype or "application/octet-stream",
                    upload.read(),
                )
            )
    return files


def _case_type(slug: str) -> CaseType:
    return db.session.scalars(sa.select(CaseType).where(CaseType.slug == slug)).one()


def _local(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=ZoneInfo(current_app.config["TIMEZONE"]))


ACTIONS: dict[str, Action] = {
    "note": Action(
        "note",
        forms.NoteForm,
        lambda c, f, v: case_actions.add_note(c, current_user, f.text.data, v),
        "Anteckningen är sparad.",
    ),
    "assign": Action(
        "assign",
        forms.AssignForm,
        lambda c, f, v: case_actions.assign(c, current_user, _user(f.assignee.data), v),
        "Ärendet är tilldelat.",
    ),
    "take": Action(
        "take",
        forms.SimpleForm,
        lambda c, f, v: case_actions.assign(c, current_user, current_user, v),
        "Du har tagit ärendet.",
    ),
    "route": Action(
        "route",
        forms.RouteForm,
        lambda c, f, v: case_actions.route(
            c, current_user, db.session.get_one(Department, int(f.department.data)), f.note.data, v
        ),
        "Ärendet är skickat till förvaltningen.",
    ),
    "hand_off": Action(
        "hand_off",
        forms.HandOffForm,
        lambda c, f, v: case_actions.hand_off(
            c,
            current_user,
            db.session.scalars(sa.select(CaseType).where(CaseType.slug == f.case_type.data)).one(),
            TransferKind(f.transfer.data),
            f.to.data,
            f.note.data,
            v,
        ),
        "Samtalet är kopplat och ärendet avslutat.",
    ),
    "classify": Action(
        "classify",
        forms.ClassifyForm,
        lambda c, f, v: case_actions.classify(c, current_user, _case_type(f.case_type.data), v),
        "Ärendetypen är ändrad och servicemålen omräknade.",
    ),
    "reply": Action(
        "reply",
        forms.ReplyForm,
        lambda c, f, v: outbound.reply(c, current_user, f.body.data, _uploads(), v),
        "Svaret är skickat.",
    ),
    "refer": Action(
        "refer",
        forms.ReferForm,
        lambda c, f, v: case_actions.refer(c, current_user, f.authority.data, f.note.data, v),
        "Hänvisningen är registrerad.",
    ),
    "book_callback": Action(
        "book_callback",
        forms.CallbackForm,
        lambda c, f, v: case_actions.book_callback(
            c, current_user, _local(f.due_at.data), f.note.data, v
        ),
        "Återuppringningen är bokad.",
    ),
    "callback_attempt": Action(
        "callback_attempt",
        forms.CallbackAttemptForm,
        lambda c, f, v: case_actions.record_callback_attempt(
            c, current_user, CallbackResult(f.result.data), f.note.data, v
        ),
        "Försöket är registrerat.",
    ),
    "return": Action(
        "return",
        forms.ReturnForm,
        lambda c, f, v: case_actions.return_to_contact_center(c, current_user, f.note.data, v),
        "Ärendet är skickat tillbaka till kontaktcenter.",
    ),
    "wait": Action(
        "wait",
        forms.WaitForm,
        lambda c, f, v: case_actions.set_waiting(c, current_user, True, f.note.data, v),
        "Ärendet väntar på medborgaren.",
    ),
    "resume": Action(
        "resume",
        forms.SimpleForm,
        lambda c, f, v: case_actions.set_waiting(c, current_user, False, None, v),
        "Ärendet är återupptaget.",
    ),
    "close": Action(
        "close",
        forms.CloseForm,
        lambda c, f, v: case_actions.close(c, current_user, f.resolution.data, v),
        "Ärendet är avslutat.",
    ),
    "reopen": Action(
        "reopen",
        forms.ReopenForm,
        lambda c, f, v: case_actions.reopen(c, current_user, f.note.data, v),
        "Ärendet är återöppnat.",
    ),
}


def _visible_case(case_id: int) -> Case:
    try:
        return access.get_visible_case(current_user, case_id=case_id)
    except DomainError:
        abort(404)


def _build_forms(
    case: Case, posted: str | None = None, posted_form: forms.ActionForm | None = None
) -> dict[str, forms.ActionForm]:
    allowed = access.allowed_actions(current_user, case)
    built: dict[str, forms.ActionForm] = {}
    for name, action in ACTIONS.items():
        if action.permission not in allowed:
            continue
        form = (
            posted_form
            if name == posted and posted_form is not None
            else action.form(formdata=None)
        )
        form.version.data = str(case.version)
        _fill_choices(form, case)
        built[name] = form
    return built


def _fill_choices(form: forms.ActionForm, case: Case) -> None:
    if isinstance(form, forms.AssignForm):
        form.assignee.choices = choices(
            [("", "– Ingen –")]
            + [
                (str(u.id), f"{u.name} ({u.role.label})")
                for u in case_actions.assignable_users(case)
            ]
        )
    elif isinstance(form, forms.RouteForm):
        departments = organisation.departments()
        form.department.choices = choices(
            [("", "– Välj –")] + [(str(d.id), d.name) for d in departments]
        )
    elif isinstance(form, forms.ClassifyForm):
        types = organisation.case_types()
        form.case_type.choices = choices(
            [("", "– Välj –")] + [(t.slug, f"{t.name} ({t.department.name})") for t in types]
        )
    elif isinstance(form, forms.HandOffForm):
        types = organisation.case_types(with_direct_number=True)
        form.case_type.choices = choices(
            [("", "– Välj –")] + [(t.slug, f"{t.name}: {t.direct_number}") for t in types]
        )


def render(
    case: Case,
    case_forms: dict[str, forms.ActionForm],
    status: int = 200,
    open_action: str | None = None,
    revealed: bool = False,
):
    now = utcnow()
    case_goals = [(goal, goals.state(case, goal, now)) for goal in goals.visible_goals(case)]
    templates = answer_templates()
    reply_form = case_forms.get("reply")
    chosen = request.args.get("mall", "")
    if reply_form is not None and not reply_form.body.data and parse_id(chosen):
        template = next((t for t in templates if t.id == int(chosen)), None)
        if template is not None:
            reply_form.body.data = outbound.render_template_text(
                template.body, **outbound.template_values(case, case.summary)
            )
    return render_template(
        "cases/show.html",
        case=case,
        messages=message_views(case),
        answer_templates=templates,
        case_goals=case_goals,
        forms=case_forms,
        open_action=open_action,
        revealed=revealed,
    ), status


@bp.get("/<id:case_id>")
def show(case_id: int):
    case = _visible_case(case_id)
    page = render(case, _build_forms(case))
    audit.record(current_user, "view_case", case)  # after rendering: its commit expires the case
    return page


@bp.post("/<id:case_id>/personnummer")
def reveal_personnummer(case_id: int):
    """Show the full personnummer on purpose, and log that it was shown."""
    case = _visible_case(case_id)
    if case.contact is None or not case.contact.personnummer:
        abort(404)
    audit.record(current_user, "reveal_personnummer", case)
    return render(case, _build_forms(case), revealed=True)


@bp.post("/<id:case_id>/<action>")
def act(case_id: int, action: str):
    spec = ACTIONS.get(action)
    if spec is None:
        abort(404)
    case = _visible_case(case_id)
    if spec.permission not in access.allowed_actions(current_user, case):
        abort(403)
    form = spec.form()
    _fill_choices(form, case)
    status = 422
    if form.validate_on_submit():
        version = parse_id(form.version.data)
        try:
            spec.run(case, form, version)
        except DomainError as error:
            status = error.status
            if isinstance(error, Conflict):
                db.session.expire_all()
                case = _visible_case(case_id)
                flash(error.message, "warning")
            else:
                field = getattr(form, error.field, None) if error.field else None
                if field is not None and hasattr(field, "errors"):
                    field.errors = list(field.errors) + [error.message]
                else:
                    flash(error.message, "error")
        else:
            flash(spec.done, "success")
            if access.can_view(current_user, case):
                return redirect(url_for("cases.show", case_id=case.id))
            return redirect(url_for("auth.home"))
    return render(case, _build_forms(case, action, form), status, open_action=action)
