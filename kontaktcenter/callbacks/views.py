"""The callback worklist ("Återuppringningar"), "ta nästa återuppringning", and one callback's
page with its attempt form. Thin: the work is in callbacks.services; who sees what is
cases.access (a handler: only their departments' callbacks, not even a count of others')."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from kontaktcenter.callbacks import rules, services, worklist
from kontaktcenter.callbacks.forms import AttemptForm, next_step, rule_text
from kontaktcenter.callbacks.models import (
    Callback,
    CallbackStatus,
)
from kontaktcenter.cases import access
from kontaktcenter.cases.enums import CallbackResult
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.channels.phone import dial_out
from kontaktcenter.core import outbox
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.forms import ConfirmForm, parse_id
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import Department, User

bp = Blueprint("callbacks", __name__, url_prefix="/aterringningar")

SECTION_LIMIT = 200
CONTACT_CENTER = "Kontaktcenter"


# --- scope: whose worklist ------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    department: Department | None  # None: the contact center's first line

    @property
    def label(self) -> str:
        return self.department.name if self.department else CONTACT_CENTER

    @property
    def arg(self) -> str:
        return str(self.department.id) if self.department else ""

    @property
    def worklist_scope(self) -> worklist.Scope:
        return self.department.id if self.department else worklist.CONTACT_CENTER


def scopes_for(user: User) -> list[Scope]:
    """The worklists `user` may open: agents the contact center's, handlers each of their
    departments', managers and admins any."""
    if user.role == Role.AGENT:
        return [Scope(None)]
    if user.role == Role.HANDLER:
        return [Scope(d) for d in sorted(user.departments, key=lambda d: d.name)]
    departments = db.session.scalars(
        sa.select(Department).where(Department.active).order_by(Department.name)
    ).all()
    return [Scope(None)] + [Scope(d) for d in departments]


def _chosen_scope(user: User, value: str | None) -> Scope | None:
    scopes = scopes_for(user)
    wanted = parse_id(value)
    for scope in scopes:
        if (scope.department.id if scope.department else None) == wanted:
            return scope
    if value:  # a department the user may not open: as if it did not exist
        abort(404)
    return scopes[0] if scopes else None


# --- the worklist's sections ----------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    rows: list[worklist.Row]
    empty: str
    limited: bool  # the query's limit was reached: more exist than are shown

    @property
    def count(self) -> int:
        return len(self.rows)


def sections(user: User, scope: Scope) -> list[Section]:
    now = utcnow()
    pending = worklist.pending(user, scope.worklist_scope, now)
    full = len(pending) >= worklist.LIMIT
    letters = worklist.letters(user, scope.worklist_scope)
    closed = worklist.closed_today(user, scope.worklist_scope, now)
    return [
        Section(
            "now",
            "Att ringa nu",
            [r for r in pending if r.callable],
            "Ingen att ringa just nu.",
            full,
        ),
        Section(
            "later",
            "Senare",
            [r for r in pending if not r.callable],
            "Ingen väntar på en senare tid.",
            full,
        ),
        Section(
            "letters",
            "Brev att skicka",
            letters,
            "Inga brev att skicka.",
            len(letters) >= worklist.LIMIT,
        ),
        Section(
            "closed",
            "Avslutade idag",
            closed,
            "Inga avslutade idag.",
            len(closed) >= worklist.LIMIT,
        ),
    ]


def rule_for(callback: Callback) -> rules.EffectiveRule:
    return rules.effective_rule(callback.case.case_type)


# --- pages --------------------------------------------------------------------------------


@bp.get("/")
@role_required(Role.AGENT, Role.HANDLER, Role.MANAGER)
def index():
    scope = _chosen_scope(current_user, request.args.get("for"))
    return render_template(
        "callbacks/index.html",
        scope=scope,
        scopes=scopes_for(current_user),
        sections=sections(current_user, scope) if scope is not None else [],
    )


@bp.post("/ta-nasta")
@role_required(Role.AGENT, Role.HANDLER)
def take_next():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    callback = services.take_next(current_user)
    if callback is None:
        flash("Det finns ingen återuppringning att ringa just nu.", "info")
        return redirect(url_for("callbacks.index"))
    flash(f"Du har tagit återuppringningen i {callback.case.reference}.", "success")
    return redirect(url_for("callbacks.show", callback_id=callback.id))


def _visible(callback_id: int) -> Callback:
    """404 for a callback whose case the user may not see (never 403: ids cannot be probed)."""
    callback = db.session.get(Callback, callback_id)
    if callback is None or not access.can_view(current_user, callback.case):
        abort(404)
    return callback


def _render(callback: Callback, form: AttemptForm, status: int = 200):
    case = callback.case
    sees = access.sees_content(current_user, case)
    activities = db.session.scalars(
        sa.select(Activity)
        .where(Activity.case_id == case.id)
        .order_by(Activity.created_at.desc(), Activity.id.desc())
        .limit(5)
    ).all()
    may_act = "callback_attempt" in access.allowed_actions(current_user, case)
    may_attempt = may_act and callback.status == CallbackStatus.PENDING
    rule = rule_for(callback)
    return render_template(
        "callbacks/show.html",
        callback=callback,
        case=case,
        sees=sees,
        activities=activities if sees else [],
        rule=rule,
        rule_text=rule_text(rule),
        form=form,
        may_attempt=may_attempt,
        may_letter=may_act,
        dial_out=bool(sees and may_attempt and callback.number_e164 and _dial_out_configured()),
        now=utcnow(),
    ), status


def _dial_out_configured() -> bool:
    return dial_out.configured()


@bp.get("/<id:callback_id>")
@role_required(Role.AGENT, Role.HANDLER, Role.MANAGER)
def show(callback_id: int):
    return _render(_visible(callback_id), AttemptForm(formdata=None))


@bp.post("/<id:callback_id>/forsok")
@role_required(Role.AGENT, Role.HANDLER)
def attempt(callback_id: int):
    callback = _visible(callback_id)
    if "callback_attempt" not in access.allowed_actions(current_user, callback.case):
        abort(403)
    form = AttemptForm()
    if form.validate_on_submit():
        try:
            updated = services.record_attempt(
                callback, current_user, CallbackResult(form.result.data), form.note.data or None
            )
        except DomainError as error:
            field = getattr(form, error.field, None) if error.field else None
            if field is not None and hasattr(field, "errors"):
                field.errors = list(field.errors) + [error.message]
            else:
                flash(error.message, "error")
        else:
            flash(next_step(updated), "success")
            return redirect(url_for("callbacks.show", callback_id=callback_id))
    return _render(callback, form, 422)


@bp.post("/<id:callback_id>/brev-skickat")
@role_required(Role.AGENT, Role.HANDLER)
def letter_sent(callback_id: int):
    callback = _visible(callback_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if "callback_attempt" not in access.allowed_actions(current_user, callback.case):
        abort(403)
    try:
        services.mark_letter_sent(callback, current_user)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"Brevet i {callback.case.reference} är markerat som skickat.", "success")
    return redirect(
        request.form.get("next") == "show"
        and url_for("callbacks.show", callback_id=callback_id)
        or url_for("callbacks.index", **_for_arg(callback))
    )


def _for_arg(callback: Callback) -> dict[str, Any]:
    department_id = callback.case.department_id
    return {"for": department_id} if department_id else {}


@bp.post("/<id:callback_id>/ring-upp")
@role_required(Role.AGENT, Role.HANDLER)
def dial(callback_id: int):
    """Click-to-call through the phone platform ("Ring upp via växeln")."""
    callback = _visible(callback_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if (
        "callback_attempt" not in access.allowed_actions(current_user, callback.case)
        or not access.sees_content(current_user, callback.case)
        or not callback.number_e164
        or not _dial_out_configured()
    ):
        abort(403)
    try:
        dial_out.request_call(current_user, callback.number_e164, callback.case.reference)
    except DomainError as error:
        flash(error.message, "error")
    else:
        # request_call writes the outbox row and leaves the commit to its caller; there is no
        # callbacks service for a dial-out (it changes no callback), so the view commits.
        outbox.commit()
        flash("Växeln ringer upp din telefon och kopplar samtalet.", "success")
    return redirect(url_for("callbacks.show", callback_id=callback_id))


# --- the case page's panel ------------------------------------------------------------------


# The one waiting, else the latest; built once (issue #16).
_CASE_CALLBACK = (
    sa.select(Callback)
    .where(Callback.case_id == sa.bindparam("case_id"))
    .order_by((Callback.status == CallbackStatus.PENDING).desc(), Callback.created_at.desc())
    .limit(1)
)


def case_has_callback() -> sa.ColumnElement[bool]:
    """SQL: the case (``cases``) has a callback, as the panel's probe (core.case_panels)."""
    return sa.exists().where(Callback.case_id == Case.id)


def case_panel(user: User, case: Case) -> dict[str, Any] | None:
    """The case's callbacks on its page: the one waiting (or the latest), with a link."""
    if not access.sees_content(user, case):
        return None
    callback = db.session.scalars(_CASE_CALLBACK, {"case_id": case.id}).first()
    if callback is None:
        return None
    return {"callback": callback, "rule": rule_for(callback), "now": utcnow()}
