"""/api/v1: Retention rules (gallring), legal holds and the dry run (issue #15).

The rules and the runs are for admin tokens, as Administration → Gallring. A legal hold is set
and released as on the case page: by the owning department's handlers and managers, or an
admin. A run (dry or real) is logged and done by the outbox task, so the answer is 202 with the
run as it stands; ``GET /retention/runs/{id}`` follows it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import request, url_for
from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.parsing import Fields, Query, json_object
from kontaktcenter.api.retention_spec import MAX_LIMIT, PATHS, SCHEMAS
from kontaktcenter.cases import access
from kontaktcenter.compliance import retention, retention_holds, retention_rules
from kontaktcenter.compliance.retention_models import (
    LegalHold,
    RetentionMode,
    RetentionRule,
    RetentionRun,
)
from kontaktcenter.compliance.retention_rules import MAX_MONTHS, RuleData
from kontaktcenter.core.errors import Forbidden, NotFound, ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import CaseType, User

NOT_FOUND_RULE = "Gallringsregeln finns inte."
NOT_FOUND_RUN = "Körningen finns inte."


def _admin() -> User:
    user = api_user()
    if user.role is not Role.ADMIN:
        raise Forbidden("Gallringen sköts av administratörer.")
    return user


# --- rules -----------------------------------------------------------------------------------


def _rule_json(rule: RetentionRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "case_type": {"slug": rule.case_type.slug, "name": rule.case_type.name}
        if rule.case_type
        else None,
        "mode": rule.mode.value,
        "months": rule.months,
        "decision_name": rule.decision_name,
        "decision_date": rule.decision_date.isoformat(),
        "decision_reference": rule.decision_reference,
        "active": rule.active,
        "created_at": rule.created_at.isoformat(),
        "updated_at": rule.updated_at.isoformat(),
    }


def _rule_data(fields: Fields) -> RuleData:
    slug = fields.text("case_type", 60)
    case_type_id = None
    if slug:
        case_type_id = db.session.scalar(sa.select(CaseType.id).where(CaseType.slug == slug))
        if case_type_id is None:
            raise ValidationError("Ärendetypen finns inte.", "case_type")
    mode = fields.enum("mode", RetentionMode, required=True)
    assert mode is not None
    months = fields.integer("months", 1, MAX_MONTHS)
    name = fields.text("decision_name", 200, required=True) or ""
    raw_date = fields.text("decision_date", 10, required=True) or ""
    try:
        decision_date = date.fromisoformat(raw_date)
    except ValueError:
        raise ValidationError("Ange datumet som ÅÅÅÅ-MM-DD.", "decision_date") from None
    reference = fields.text("decision_reference", 300)
    fields.finish()
    if mode == RetentionMode.INACTUAL and months is not None:
        raise ValidationError("Vid inaktualitet har inget antal månader.", "months")
    return RuleData(case_type_id, mode, months, name, decision_date, reference)


def _rule(rule_id: int) -> RetentionRule:
    rule = db.session.get(RetentionRule, rule_id)
    if rule is None:
        raise NotFound(NOT_FOUND_RULE)
    return rule


@bp.get("/retention-rules")
def list_retention_rules() -> ResponseReturnValue:
    _admin()
    Query(set())
    return {"items": [_rule_json(r) for r in retention_rules.list_rules()]}


@bp.post("/retention-rules")
def create_retention_rule() -> ResponseReturnValue:
    user = _admin()
    rule = retention_rules.create_rule(_rule_data(Fields(json_object())), user)
    return _rule_json(rule), 201


@bp.route("/retention-rules/<id:rule_id>", methods=["PUT", "DELETE"])
def retention_rule(rule_id: int) -> ResponseReturnValue:
    """PUT changes the rule, DELETE deactivates it. One rule for both methods: an id out of
    range is then a 404 for either (two rules made Werkzeug answer 405 for one of them)."""
    user = _admin()
    rule = _rule(rule_id)
    if request.method == "DELETE":
        return _rule_json(retention_rules.deactivate_rule(rule, user))
    data = _rule_data(Fields(json_object()))
    return _rule_json(retention_rules.update_rule(rule, data, user))


# --- runs ------------------------------------------------------------------------------------


def _run_json(run: RetentionRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "dry_run": run.dry_run,
        "trigger": run.trigger,
        "requested_by": {"id": run.requested_by.id, "name": run.requested_by.name}
        if run.requested_by
        else None,
        "state": run.state.value,
        "as_of": run.as_of.isoformat(),
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "total": run.total if run.dry_run else run.processed,
        "per_rule": [
            {
                "rule_id": int(rule_id),
                "rule": part["rule"],
                "total": part["total"],
                "case_types": [
                    {"case_type": name, "count": n}
                    for name, n in sorted(part["case_types"].items())
                ],
            }
            for rule_id, part in sorted(run.counts.items(), key=lambda item: int(item[0]))
        ],
        "skipped": [{"reason": k, "count": n} for k, n in sorted(run.skipped.items())],
        "sample": run.sample,
        "error": run.error,
    }


def _started(dry_run: bool) -> ResponseReturnValue:
    user = _admin()
    if json_object_or_empty():
        raise ValidationError("Den här åtgärden tar inga fält.")
    started = retention.start(dry_run=dry_run, trigger="api", by=user)
    db.session.expire_all()
    run = db.session.get(RetentionRun, started.id)
    assert run is not None
    location = url_for("api.get_retention_run", run_id=run.id)
    return _run_json(run), 202, {"Location": location}


def json_object_or_empty() -> dict[str, Any]:
    """An optional empty JSON object: no body at all, or ``{}``."""
    if not request.get_data(cache=True):
        return {}
    return json_object()


@bp.post("/retention-rules/dry-run")
def dry_run_retention() -> ResponseReturnValue:
    return _started(dry_run=True)


@bp.post("/retention/runs")
def start_retention_run() -> ResponseReturnValue:
    return _started(dry_run=False)


@bp.get("/retention/runs")
def list_retention_runs() -> ResponseReturnValue:
    _admin()
    params = Query({"limit"})
    limit = params.integer("limit", 20, 1, MAX_LIMIT)
    runs = db.session.scalars(
        sa.select(RetentionRun).order_by(RetentionRun.id.desc()).limit(limit)
    ).all()
    return {"items": [_run_json(r) for r in runs]}


@bp.get("/retention/runs/<id:run_id>")
def get_retention_run(run_id: int) -> ResponseReturnValue:
    _admin()
    Query(set())
    run = db.session.get(RetentionRun, run_id)
    if run is None:
        raise NotFound(NOT_FOUND_RUN)
    return _run_json(run)


# --- legal hold ------------------------------------------------------------------------------


def _hold_json(hold: LegalHold | None, reference: str) -> dict[str, Any]:
    return {
        "case": reference,
        "on_hold": hold is not None and hold.released_at is None,
        "reason": hold.reason if hold else None,
        "set_at": hold.set_at.isoformat() if hold else None,
        "set_by": {"id": hold.set_by.id, "name": hold.set_by.name}
        if hold and hold.set_by
        else None,
        "released_at": hold.released_at.isoformat() if hold and hold.released_at else None,
        "release_reason": hold.release_reason if hold else None,
    }


def _reason() -> str | None:
    fields = Fields(json_object())
    reason = fields.text("reason", retention_holds.REASON_MAX, required=True)
    fields.finish()
    return reason


@bp.put("/cases/<reference>/legal-hold")
def set_legal_hold(reference: str) -> ResponseReturnValue:
    user = api_user()
    case = access.get_visible_case(user, reference=reference)
    hold = retention_holds.set_hold(case, user, _reason())
    return _hold_json(hold, case.reference)


@bp.delete("/cases/<reference>/legal-hold")
def release_legal_hold(reference: str) -> ResponseReturnValue:
    user = api_user()
    case = access.get_visible_case(user, reference=reference)
    hold = retention_holds.release_hold(case, user, _reason())
    return _hold_json(hold, case.reference)


__all__ = ["PATHS", "SCHEMAS"]  # merged by api/openapi.py
