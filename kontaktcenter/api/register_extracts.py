"""/api/v1: Register extracts (GDPR art. 15), correction and erasure decisions (issue #15).

For admin tokens only (the data-protection officer and the registrator have the admin role).
The identifiers of a person go in a JSON body, never in the URL. ``GET
/register-extracts/{id}`` is the same document as the download on the page
(compliance/extracts_document.py, described in docs/register-extract.md), and is logged.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import request, url_for
from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.parsing import Fields, Query, json_object
from kontaktcenter.api.register_extracts_spec import MAX_CASES, PATHS, REFERENCE_MAX, SCHEMAS
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.compliance import corrections, erasure, extracts, extracts_document
from kontaktcenter.compliance.extract_models import (
    ErasureDecision,
    ErasureOutcome,
    ExtractStatus,
    RegisterExtractRequest,
)
from kontaktcenter.core.errors import Forbidden, NotFound, ValidationError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import User

__all__ = ["PATHS", "SCHEMAS"]


def _admin() -> User:
    user = api_user()
    if user.role is not Role.ADMIN:
        raise Forbidden("Registerutdrag, rättelse och radering är för administratörer.")
    return user


def _request_json(row: RegisterExtractRequest) -> dict[str, Any]:
    return extracts_document.request_json(row)


@bp.post("/register-extracts")
def create_register_extract() -> ResponseReturnValue:
    user = _admin()
    fields = Fields(json_object())
    personnummer = fields.text("personnummer", 20)
    email = fields.text("email", 254)
    phone = fields.text("phone", 40)
    note = fields.text("note", extracts.NOTE_MAX)
    fields.finish()
    person = extracts.PersonQuery.parse(personnummer, email, phone)
    logged = extracts.create_request(user, person, note or "")
    location = url_for("api.get_register_extract", request_id=logged.id)
    return _request_json(logged), 201, {"Location": location}


@bp.get("/register-extracts")
def list_register_extracts() -> ResponseReturnValue:
    _admin()
    params = Query({"status"})
    status = params.enum("status", ExtractStatus)
    return {"items": [_request_json(r) for r in extracts.list_requests(status)]}


@bp.get("/register-extracts/<id:request_id>")
def get_register_extract(request_id: int) -> ResponseReturnValue:
    user = _admin()
    Query(set())
    row = extracts.get_request(request_id)
    document = extracts_document.build(row)
    extracts.record_export(user, row, "api")
    return document


@bp.post("/register-extracts/<id:request_id>/delivered")
def deliver_register_extract(request_id: int) -> ResponseReturnValue:
    user = _admin()
    Query(set())
    return _request_json(extracts.mark_delivered(user, request_id))


@bp.post("/register-extracts/<id:request_id>/withdrawn")
def withdraw_register_extract(request_id: int) -> ResponseReturnValue:
    user = _admin()
    Query(set())
    return _request_json(extracts.withdraw(user, request_id))


def _contact(contact_id: int) -> Contact:
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(corrections.NOT_FOUND)
    return contact


def _contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "kind": contact.kind.value,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "personnummer": contact.personnummer,
        "organisation_number": contact.organisation_number,
    }


@bp.patch("/contacts/<id:contact_id>")
def correct_contact(contact_id: int) -> ResponseReturnValue:
    user = _admin()
    _contact(contact_id)
    data = json_object()
    fields = Fields(data)
    limits = {"name": 200, "phone": 40, "email": 254, "personnummer": 20}
    limits["organisation_number"] = 20
    changes: dict[str, str | None] = {}
    for name, limit in limits.items():
        value = fields.text(name, limit)
        if name in data:  # null or "" removes the value
            changes[name] = value
    reason = fields.text("reason", corrections.REASON_MAX, required=True)
    fields.finish()
    contact = corrections.correct_contact(user, contact_id, changes, reason or "")
    return _contact_json(contact)


def _decision_json(decision: ErasureDecision) -> dict[str, Any]:
    references: dict[int, str] = {
        case_id: reference
        for case_id, reference in db.session.execute(
            sa.select(Case.id, Case.reference).where(Case.id.in_(decision.case_ids))
        )
    }
    return {
        "id": decision.id,
        "contact_id": decision.contact_id,
        "outcome": decision.outcome.value,
        "legal_ground": decision.legal_ground,
        "legal_ground_label": erasure.LEGAL_GROUNDS.get(decision.legal_ground, ""),
        "reason": decision.reason,
        "cases": [references[i] for i in decision.case_ids if i in references],
        "decided_at": decision.decided_at.isoformat(),
        "decided_by": decision.decided_by.name if decision.decided_by else None,
        "carried_out_at": decision.carried_out_at.isoformat() if decision.carried_out_at else None,
    }


def _case_ids(contact: Contact, references: Any) -> list[int]:
    if references is None:
        return []
    if not isinstance(references, list) or len(references) > MAX_CASES:
        raise ValidationError(f"Ange högst {MAX_CASES} ärendenummer i en lista.", "cases")
    wanted = set()
    for index, reference in enumerate(references):
        if not isinstance(reference, str) or len(reference) > REFERENCE_MAX:
            raise ValidationError("Ange ärendenummer som text.", f"cases.{index}")
        wanted.add(reference.upper())
    found: dict[str, int] = {
        reference: case_id
        for reference, case_id in db.session.execute(
            sa.select(Case.reference, Case.id).where(
                Case.reference.in_(wanted), Case.contact_id == contact.id
            )
        )
    }
    if set(found) != wanted:
        raise ValidationError("Ärendena måste höra till kontakten.", "cases")
    return sorted(found.values())


# One rule for both methods: with two rules on one path, Werkzeug answers 405 instead of 404
# when the `id` converter refuses the id (too large).
@bp.route("/contacts/<id:contact_id>/erasure-decisions", methods=["GET", "POST"])
def erasure_decisions(contact_id: int) -> ResponseReturnValue:
    if request.method == "GET":
        return _list_erasure_decisions(contact_id)
    user = _admin()
    contact = _contact(contact_id)
    fields = Fields(json_object())
    outcome = fields.enum("outcome", ErasureOutcome, required=True)
    ground = fields.text("legal_ground", 40, required=True)
    reason = fields.text("reason", erasure.REASON_MAX, required=True)
    fields.seen.add("cases")
    case_ids = _case_ids(contact, fields.data.get("cases"))
    fields.finish()
    assert outcome is not None
    decision = erasure.decide(user, contact.id, outcome, ground or "", reason or "", case_ids)
    return _decision_json(decision), 201


def _list_erasure_decisions(contact_id: int) -> ResponseReturnValue:
    _admin()
    Query(set())
    contact = _contact(contact_id)
    return {"items": [_decision_json(d) for d in erasure.decisions_for(contact.id)]}
