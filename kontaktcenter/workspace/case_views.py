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

from kontaktcenter.callbacks import forms as callback_texts
from kontaktcenter.callbacks import services as callback_services
from kontaktcenter.callbacks.models import Callback
from kontaktcenter.cases import access, merging
from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases.enums import CallbackResult, TransferKind
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.mime.text import safe_filename
from kontaktcenter.channels.email.models import MailMessage, MailStatus
from kontaktcenter.channels.email.presenting import answer_templates
from kontaktcenter.core import audit
from kontaktcenter.core.errors import STALE_MESSAGE, Conflict, DomainError, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.forms import parse_id
from kontaktcenter.organisation.models import CaseType, Department, User
from kontaktcenter.workspace import action_forms, case_reads, forms
from kontaktcenter.workspace.case_render import render

bp = Blueprint("cases", __name__, url_prefix="/arenden")


@dataclass(frozen=True)
class Action:
    permission: str
    form: type[forms.ActionForm]
    run: Callable[[Case, forms.ActionForm, int | None], object]
    done: str | Callable[[object], str]
    goto_result: bool = False  # show the case the action returns (a merge: the survivor)


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
        lambda c, f, v: outbound.reply(
            c, current_user, f.body.data, _uploads(), v, reply_to=f.reply_to.data or None
        ),
        lambda message: _reply_done(message),
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
        lambda c, f, v: _book_callback(c, f, v),
        "Återuppringningen är bokad och står i listan Återuppringningar.",
    ),
    "callback_attempt": Action(
        "callback_attempt",
        forms.CallbackAttemptForm,
        lambda c, f, v: _callback_attempt(c, f, v),
        lambda result: (
            callback_texts.next_step(result)
            if isinstance(result, Callback)
            else "Försöket är registrerat."
        ),
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


# Linking and merging (their own dict: the action matrix above predates them).
RELATION_ACTIONS: dict[str, Action] = {
    "merge": Action(
        "merge",
        forms.MergeForm,
        lambda c, f, v: merging.merge(c, current_user, f.reference.data, f.note.data, v),
        lambda survivor: (
            f"Ärendena är sammanslagna i {_reference(survivor)}: alla meddelanden och händelser "
            "finns här."
        ),
        goto_result=True,
    ),
    "link": Action(
        "link",
        forms.LinkForm,
        lambda c, f, v: merging.link(c, current_user, f.reference.data, v),
        lambda other: f"Ärendet är kopplat till {_reference(other)}.",
    ),
    "unlink": Action(
        "unlink",
        forms.UnlinkForm,
        lambda c, f, v: merging.unlink(c, current_user, parse_id(f.other.data), v),
        lambda other: f"Kopplingen till {_reference(other)} är borttagen.",
    ),
}
ALL_ACTIONS = {**ACTIONS, **RELATION_ACTIONS}

# The callback service's field names as the case page's callback form calls them.
_CALLBACK_FIELDS = {"slot_start": "slot_start", "slot_end": "due_at", "note": "note"}


def _book_callback(case: Case, form: forms.ActionForm, version: int | None) -> Callback:
    """Through callbacks.services, so the case's callback is on the worklist with its slot.
    "Ring upp senast" alone is the slot from now to then; neither: as soon as possible."""
    assert isinstance(form, forms.CallbackForm)
    end = _local(form.due_at.data)
    start = _local(form.slot_start.data)
    if end is not None and start is None:
        start = utcnow()
    if start is not None and end is None:
        raise ValidationError("Ange också senast när vi ska ringa.", "due_at")
    try:
        return callback_services.book(case, current_user, start, end, form.note.data, version)
    except ValidationError as error:
        raise ValidationError(error.message, _CALLBACK_FIELDS.get(error.field or "")) from None


def _callback_attempt(case: Case, form: forms.ActionForm, version: int | None) -> object:
    """An attempt on the case's pending callback, under its retry rules. A case booked before
    callbacks had their own rows has none: its attempt goes on the timeline as before."""
    assert isinstance(form, forms.CallbackAttemptForm)
    result = CallbackResult(form.result.data)
    callback = callback_services.open_callback(case)
    if callback is None:
        return case_actions.record_callback_attempt(
            case, current_user, result, form.note.data, version
        )
    if version is not None and version != case.version:
        raise Conflict(STALE_MESSAGE)
    return callback_services.record_attempt(callback, current_user, result, form.note.data)


def _reference(result: object) -> str:
    return result.reference if isinstance(result, Case) else ""


def _reply_done(message: object) -> str:
    """What happens next with a reply: sent already, or queued and sent in a moment."""
    assert isinstance(message, MailMessage)
    db.session.refresh(message)
    if message.status == MailStatus.SENT:
        return f"Svaret är skickat till {message.recipient}."
    if message.status == MailStatus.FAILED:
        return f"Svaret kunde inte skickas till {message.recipient}. Se Händelser."
    return (
        f"Svaret till {message.recipient} ligger i kö och skickas inom någon minut. "
        "Under Händelser ser du när det har gått iväg."
    )


def _visible_case(case_id: int) -> Case:
    case = case_reads.visible_case(current_user, case_id)
    if case is None:
        abort(404)
    return case


def _build_forms(
    case: Case, posted: str | None = None, posted_form: forms.ActionForm | None = None
) -> action_forms.PageForms:
    """The actions `current_user` may take on `case`; built as forms only the one posted (with
    its values and errors) and the reply (its text starts with the writer's signature)."""
    allowed = access.allowed_actions(current_user, case)
    types = {name: a.form for name, a in ALL_ACTIONS.items() if a.permission in allowed}
    built: dict[str, forms.ActionForm] = {}
    if posted is not None and posted_form is not None and posted in types:
        action_forms.fill_choices(posted_form, case)
        built[posted] = posted_form
    if "reply" in types and "reply" not in built:
        built["reply"] = forms.ReplyForm(formdata=None)
    return action_forms.PageForms(types, built)


def _insert_template(case: Case, form: forms.ActionForm):
    """The reply form's "Infoga mallen" without JavaScript: the chosen template is added to the
    text already written (the page's script does this in place, at the cursor)."""
    assert isinstance(form, forms.ReplyForm)
    chosen = parse_id(request.form.get("mall"))
    template = next((t for t in answer_templates() if t.id == chosen), None)
    if template is None:
        flash("Välj en svarsmall.", "error")
    else:
        form.body.data = outbound.insert_text(
            form.body.data or "",
            outbound.template_text(template, case),
            outbound.signature(current_user),
        )
    return render(case, _build_forms(case, "reply", form), open_action="reply")


@bp.get("/<id:case_id>")
def show(case_id: int):
    found = case_reads.visible_case_and_beside(current_user, case_id)
    if found is None:
        abort(404)
    case, beside = found
    if not access.sees_content(current_user, case):
        # Another department's secret case: its register fields and that it is secret.
        page = render_template("cases/secret.html", case=case)
        audit.record(current_user, "view_case", case, secret=True)
        return page
    page = render(case, _build_forms(case), beside=beside)
    audit.record(current_user, "view_case", case)  # after rendering: its commit expires the case
    return page


@bp.post("/<id:case_id>/personnummer")
def reveal_personnummer(case_id: int):
    """Show the full personnummer on purpose, and log that it was shown."""
    case = _visible_case(case_id)
    if not access.sees_content(current_user, case):
        abort(404)
    if case.contact is None or not case.contact.personnummer:
        abort(404)
    audit.record(current_user, "reveal_personnummer", case)
    return render(case, _build_forms(case), revealed=True)


@bp.post("/<id:case_id>/<action>")
def act(case_id: int, action: str):
    spec = ALL_ACTIONS.get(action)
    if spec is None:
        abort(404)
    case = _visible_case(case_id)
    if spec.permission not in access.allowed_actions(current_user, case):
        abort(403)
    form = spec.form()
    action_forms.fill_choices(form, case, fresh=True)
    if action == "reply" and "infoga" in request.form:
        return _insert_template(case, form)
    status = 422
    if form.validate_on_submit():
        version = parse_id(form.version.data)
        try:
            result = spec.run(case, form, version)
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
            flash(spec.done if isinstance(spec.done, str) else spec.done(result), "success")
            if spec.goto_result and isinstance(result, Case):
                case = result
            if access.can_view(current_user, case):
                return redirect(url_for("cases.show", case_id=case.id))
            return redirect(url_for("auth.home"))
    return render(case, _build_forms(case, action, form), status, open_action=action)
