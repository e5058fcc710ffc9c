"""Pages of the compliance area: gallring (retention).

``/admin/gallring``: the rules (list, create, edit, deactivate), the dry run and the real run
(both run by the outbox task), the log of runs. On the case page: a panel with the case's
gallring outlook and its legal hold (set and released by the owning department or an admin).
Also wires the ``flask gallring`` command, the outbox task and the (optional) schedule.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from kontaktcenter.cases import access
from kontaktcenter.compliance import cli, retention, retention_holds, retention_rules
from kontaktcenter.compliance.retention_forms import ReasonForm, RetentionRuleForm
from kontaktcenter.compliance.retention_models import (
    SKIP_REASONS,
    RetentionMode,
    RetentionRule,
    RetentionRun,
)
from kontaktcenter.compliance.retention_rules import RuleData
from kontaktcenter.core import admin, case_panels, periodic
from kontaktcenter.core.admin import bp as admin_bp
from kontaktcenter.core.admin import form_status, initial, render, submitted
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.forms import ConfirmForm, parse_id
from kontaktcenter.core.jobs import app_job
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.forms import case_type_choices

bp = Blueprint("retention", __name__, url_prefix="/arenden")
RUNS_SHOWN = 20
SCHEDULE_INTERVAL = timedelta(hours=23)


# --- admin: rules ----------------------------------------------------------------------------


@admin_bp.get("/gallring/")
@role_required(Role.ADMIN)
def retention_index():
    runs = db.session.scalars(
        sa.select(RetentionRun).order_by(RetentionRun.id.desc()).limit(RUNS_SHOWN)
    ).all()
    return render_template(
        "compliance/retention/index.html",
        rules=retention_rules.list_rules(),
        runs=runs,
        running=retention.unfinished_real_run(),
        confirm_form=ConfirmForm(),
        skip_reasons=SKIP_REASONS,
        scheduled=bool(current_app.config.get("RETENTION_SCHEDULE")),
    )


def _rule_form(rule: RetentionRule | None) -> RetentionRuleForm:
    stored: dict[str, Any] = {}
    if rule is not None:
        stored = {
            "case_type": str(rule.case_type_id or ""),
            "mode": rule.mode.value,
            "months": rule.months,
            "decision_name": rule.decision_name,
            "decision_date": rule.decision_date,
            "decision_reference": rule.decision_reference or "",
        }
    form = RetentionRuleForm(data=initial(stored) if rule is not None else None)
    keep = rule.case_type if rule is not None else None
    form.case_type.choices = case_type_choices(keep, "Standardregel: ärenden utan egen regel")
    return form


def _rule_data(form: RetentionRuleForm) -> RuleData:
    return RuleData(
        case_type_id=parse_id(form.case_type.data or ""),
        mode=RetentionMode(form.mode.data),
        months=form.months.data,
        decision_name=form.decision_name.data or "",
        decision_date=form.decision_date.data,
        decision_reference=form.decision_reference.data,
    )


@admin_bp.route("/gallring/ny", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def retention_rule_new():
    form = _rule_form(None)
    done = submitted(
        form,
        lambda: retention_rules.create_rule(_rule_data(form), current_user),
        lambda rule: f"Gallringsregeln för {rule.scope_label.lower()} är skapad.",
        "admin.retention_index",
    )
    return done or render(
        "compliance/retention/rule_form.html", form_status(form), form=form, rule=None
    )


@admin_bp.route("/gallring/<id:rule_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def retention_rule_edit(rule_id: int):
    rule = db.get_or_404(RetentionRule, rule_id)
    form = _rule_form(rule)
    done = submitted(
        form,
        lambda: retention_rules.update_rule(rule, _rule_data(form), current_user),
        lambda saved: f"Gallringsregeln för {saved.scope_label.lower()} är sparad.",
        "admin.retention_index",
    )
    return done or render(
        "compliance/retention/rule_form.html",
        form_status(form),
        form=form,
        rule=rule,
        confirm_form=ConfirmForm(),
    )


@admin_bp.post("/gallring/<id:rule_id>/avaktivera")
@role_required(Role.ADMIN)
def retention_rule_deactivate(rule_id: int):
    rule = db.get_or_404(RetentionRule, rule_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    retention_rules.deactivate_rule(rule, current_user)
    flash(f"Gallringsregeln för {rule.scope_label.lower()} är avaktiverad.", "success")
    return redirect(url_for("admin.retention_index"))


# --- admin: runs -----------------------------------------------------------------------------


def _start(dry_run: bool):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        run = retention.start(dry_run=dry_run, trigger="admin", by=current_user)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("admin.retention_index"))
    flash(
        "Provkörningen är startad." if dry_run else "Gallringen är startad.",
        "success",
    )
    return redirect(url_for("admin.retention_run", run_id=run.id))


@admin_bp.post("/gallring/provkor")
@role_required(Role.ADMIN)
def retention_dry_run():
    return _start(dry_run=True)


@admin_bp.post("/gallring/kor")
@role_required(Role.ADMIN)
def retention_real_run():
    return _start(dry_run=False)


@admin_bp.get("/gallring/korningar/<id:run_id>")
@role_required(Role.ADMIN)
def retention_run(run_id: int):
    run = db.get_or_404(RetentionRun, run_id)
    return render_template(
        "compliance/retention/run.html",
        run=run,
        skip_reasons=SKIP_REASONS,
        confirm_form=ConfirmForm(),
    )


@admin_bp.post("/gallring/korningar/<id:run_id>/fortsatt")
@role_required(Role.ADMIN)
def retention_run_resume(run_id: int):
    run = db.get_or_404(RetentionRun, run_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        retention.resume(run, current_user)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash("Gallringen fortsätter där den slutade.", "success")
    return redirect(url_for("admin.retention_run", run_id=run_id))


def _admin_panel() -> dict[str, Any]:
    """The admin index renders each panel with ``counts`` = this context's "counts"."""
    return {
        "counts": {
            "active_rules": len(retention_rules.list_rules(include_inactive=False)),
            "last_run": db.session.scalars(
                sa.select(RetentionRun).order_by(RetentionRun.id.desc()).limit(1)
            ).first(),
        }
    }


# --- the case page: outlook and legal hold ----------------------------------------------------


def _panel(user: Any, case: Any, *, has_hold_or_state: bool = True) -> dict[str, Any] | None:
    if not access.can_view(user, case):
        return None
    manage = retention_holds.may_manage(user, case)
    outlook = retention_holds.outlook(case, has_hold_or_state=has_hold_or_state)
    if not manage and outlook.rule is None and outlook.hold is None and not outlook.gallrad:
        return None  # nothing to say, nothing to do
    return {"outlook": outlook, "manage": manage, "case": case}


def _case_post(case_id: int, action: str):
    case = access.get_visible_case(current_user, case_id=case_id)
    form = ReasonForm()
    try:
        if action == "inactual":
            if not ConfirmForm().validate_on_submit():
                abort(400)
            retention_holds.declare_inactual(case, current_user)
            flash("Ärendet är förklarat inaktuellt och gallras vid nästa gallring.", "success")
        elif not form.validate_on_submit():
            flash(" ".join(form.reason.errors) or "Ange ett skäl.", "error")
        elif action == "set":
            retention_holds.set_hold(case, current_user, form.reason.data)
            flash("Bevarandebeslutet är registrerat: ärendet gallras inte.", "success")
        else:
            retention_holds.release_hold(case, current_user, form.reason.data)
            flash("Bevarandebeslutet är hävt.", "success")
    except DomainError as error:
        if error.status == 404:
            raise
        flash(error.message, "error")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.post("/<id:case_id>/gallring/bevarande")
@role_required(Role.HANDLER, Role.MANAGER, Role.ADMIN)
def hold_set(case_id: int):
    return _case_post(case_id, "set")


@bp.post("/<id:case_id>/gallring/bevarande/hav")
@role_required(Role.HANDLER, Role.MANAGER, Role.ADMIN)
def hold_release(case_id: int):
    return _case_post(case_id, "release")


@bp.post("/<id:case_id>/gallring/inaktuell")
@role_required(Role.HANDLER, Role.MANAGER, Role.ADMIN)
def declare_inactual(case_id: int):
    return _case_post(case_id, "inactual")


# --- the schedule ----------------------------------------------------------------------------


@app_job
def scheduled_gallring() -> None:
    """Once a day when RETENTION_SCHEDULE is on (off by default: gallring is a decision an
    archivist should see the dry run of first): a real run, unless one ran in the last day or
    one is unfinished."""
    if not current_app.config.get("RETENTION_SCHEDULE"):
        return
    if retention.unfinished_real_run() is not None:
        return
    recent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(RetentionRun)
        .where(
            RetentionRun.trigger == "schedule",
            RetentionRun.created_at > utcnow() - SCHEDULE_INTERVAL,
        )
    )
    if not recent:
        retention.start(dry_run=False, trigger="schedule", by=None)


def init_app(app: Flask) -> None:
    """Register this module's blueprint, menu entries, panels and jobs."""
    app.config.setdefault("RETENTION_SCHEDULE", False)
    app.config.setdefault("RETENTION_BATCH", 500)
    app.config.setdefault("RETENTION_SLICE_SECONDS", 120)
    cli.init_app(app)
    app.register_blueprint(bp)
    admin.add_panel("compliance/retention/_admin_panel.html", _admin_panel, order=75)
    case_panels.add_panel(
        case_panels.CasePanel(
            "retention",
            "compliance/retention/_case_panel.html",
            _panel,
            60,
            probe=retention_holds.case_has_hold_or_state,
            absent=lambda user, case: _panel(user, case, has_hold_or_state=False),
        )
    )
    periodic.register(scheduled_gallring, 3600)
