"""Administration of the callbacks' retry rules: the default and one per case type."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for

from kontaktcenter.callbacks import rules
from kontaktcenter.callbacks.forms import RuleForm
from kontaktcenter.callbacks.models import CallbackRule, Fallback
from kontaktcenter.channels.email.models import MailTemplate
from kontaktcenter.core.admin import bp, form_status, initial, render, submitted
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import ConfirmForm, choices, parse_id
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.forms import case_type_choices
from kontaktcenter.organisation.models import CaseType


def _templates(keep: MailTemplate | None) -> list[MailTemplate]:
    rows = db.session.scalars(
        sa.select(MailTemplate)
        .where(sa.or_(MailTemplate.active.is_(True), MailTemplate.id == (keep.id if keep else -1)))
        .order_by(MailTemplate.name)
    ).all()
    return list(rows)


@bp.get("/aterringning/")
@role_required(Role.ADMIN)
def callback_rules():
    rows = db.session.scalars(sa.select(CallbackRule)).all()
    default = next((r for r in rows if r.case_type_id is None), None)
    by_type = sorted(
        (r for r in rows if r.case_type is not None),
        key=lambda r: r.case_type.name if r.case_type else "",
    )
    return render_template(
        "callbacks/admin_rules.html",
        default=default,
        built_in=rules.BUILT_IN,
        rows=by_type,
        confirm=ConfirmForm(),
    )


def _form(case_type: CaseType | None, new: bool) -> RuleForm:
    row = None if new else rules.rule_row(case_type)
    effective = rules.effective_rule(case_type)
    stored = {
        "max_attempts": effective.max_attempts,
        "min_gap_minutes": effective.min_gap_minutes,
        "fallback": effective.fallback.value,
        "fallback_template": str(effective.fallback_template_id or ""),
    }
    form = RuleForm(data=initial(stored))
    form.case_type.choices = case_type_choices(case_type, "– Välj ärendetyp –")
    keep = row.fallback_template if row is not None else None
    form.fallback_template.choices = choices(
        [("", "Standardtext")] + [(str(t.id), t.name) for t in _templates(keep)]
    )
    return form


def _save(form: RuleForm, case_type: CaseType | None) -> CallbackRule:
    template_id = parse_id(form.fallback_template.data or "")
    template = db.session.get(MailTemplate, template_id) if template_id else None
    return rules.save_rule(
        case_type,
        max_attempts=form.max_attempts.data,
        min_gap_minutes=form.min_gap_minutes.data,
        fallback=Fallback(form.fallback.data),
        fallback_template=template,
    )


@bp.route("/aterringning/standard", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def callback_rule_default():
    form = _form(None, new=False)
    done = submitted(
        form,
        lambda: _save(form, None),
        lambda _rule: "Standardregeln för återuppringningar är sparad.",
        "admin.callback_rules",
    )
    return done or render(
        "callbacks/admin_rule_form.html", form_status(form), form=form, case_type=None, new=False
    )


@bp.route("/aterringning/arendetyp/<id:case_type_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def callback_rule_edit(case_type_id: int):
    case_type = db.get_or_404(CaseType, case_type_id)
    form = _form(case_type, new=False)
    done = submitted(
        form,
        lambda: _save(form, case_type),
        lambda _rule: f"Regeln för {case_type.name} är sparad.",
        "admin.callback_rules",
    )
    return done or render(
        "callbacks/admin_rule_form.html",
        form_status(form),
        form=form,
        case_type=case_type,
        new=False,
    )


@bp.route("/aterringning/ny", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def callback_rule_new():
    form = _form(None, new=True)
    case_type = None
    if form.is_submitted():
        case_type_id = parse_id(form.case_type.data or "")
        case_type = db.session.get(CaseType, case_type_id) if case_type_id else None
        if case_type is None:
            form.validate()  # the other fields' errors too
            form.case_type.errors = [*form.case_type.errors, "Välj ärendetyp."]
    done = None
    if case_type is not None:
        chosen = case_type
        done = submitted(
            form,
            lambda: _save(form, chosen),
            lambda _rule: f"Regeln för {chosen.name} är sparad.",
            "admin.callback_rules",
        )
    return done or render(
        "callbacks/admin_rule_form.html", form_status(form), form=form, case_type=None, new=True
    )


@bp.post("/aterringning/arendetyp/<id:case_type_id>/ta-bort")
@role_required(Role.ADMIN)
def callback_rule_delete(case_type_id: int):
    case_type = db.get_or_404(CaseType, case_type_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    rules.delete_rule(case_type)
    flash(f"{case_type.name} följer nu standardregeln.", "success")
    return redirect(url_for("admin.callback_rules"))


def panel() -> dict[str, object]:
    """The admin index's summary: the default rule and how many case types have their own."""
    default = rules.effective_rule(None)
    own = db.session.scalar(
        sa.select(sa.func.count()).where(CallbackRule.case_type_id.is_not(None))
    )
    return {"counts": {"default": default, "own": own or 0}}
