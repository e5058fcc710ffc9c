"""Pages of the compliance area: register extracts, correction and erasure (GDPR art. 15–17).

Under /admin/registerutdrag, admins only: in this system the data-protection officer and the
registrator are given the admin role (the only role that sees every department's cases and
the audit log). Identifiers are sent by POST, never in a URL (they would end up in logs).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, abort, flash, json, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.compliance import corrections, erasure, extracts, extracts_document
from kontaktcenter.compliance.extract_models import ErasureOutcome
from kontaktcenter.compliance.extracts_forms import (
    CorrectionForm,
    ErasureForm,
    NewRequestForm,
    PersonSearchForm,
)
from kontaktcenter.core import admin, audit
from kontaktcenter.core.admin import bp, form_status, render, show_error
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import ConfirmForm
from kontaktcenter.core.roles import Role

T = "compliance/extracts/"


@bp.get("/registerutdrag/")
@role_required(Role.ADMIN)
def extracts_list() -> ResponseReturnValue:
    return _list_page(PersonSearchForm(formdata=None))


def _list_page(form: PersonSearchForm, status: int = 200, **extra: Any) -> ResponseReturnValue:
    requests = extracts.list_requests()
    return render(
        T + "list.html",
        status,
        form=form,
        requests=requests,
        overdue=extracts.overdue,
        **extra,
    )


@bp.post("/registerutdrag/sok")
@role_required(Role.ADMIN)
def extracts_search() -> ResponseReturnValue:
    form = PersonSearchForm()
    if not form.validate_on_submit():
        return _list_page(form, form_status(form))
    try:
        query = extracts.PersonQuery.parse(form.personnummer.data, form.email.data, form.phone.data)
    except DomainError as error:
        show_error(form, error)
        return _list_page(form, 422)
    found = extracts.find_contacts(query)
    extracts.record_search(current_user, query, found)
    new_form = NewRequestForm(
        formdata=None,
        data={
            "personnummer": query.personnummer or "",
            "email": query.email or "",
            "phone": query.phone or "",
        },
    )
    return _list_page(
        form,
        found=found,
        counts=extracts.case_counts([c.id for c in found]),
        query=query,
        new_form=new_form,
    )


@bp.post("/registerutdrag/ny")
@role_required(Role.ADMIN)
def extracts_create() -> ResponseReturnValue:
    form = NewRequestForm()
    if form.validate_on_submit():
        try:
            query = extracts.PersonQuery.parse(
                form.personnummer.data, form.email.data, form.phone.data
            )
            request = extracts.create_request(current_user, query, form.note.data or "")
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash(
                f"Begäran {request.reference} är registrerad. Den ska besvaras senast "
                f"{request.due_on.isoformat()}.",
                "success",
            )
            return redirect(url_for("admin.extracts_show", request_id=request.id))
    else:
        flash("Begäran kunde inte registreras: sök fram personen igen.", "error")
    return redirect(url_for("admin.extracts_list"))


@bp.get("/registerutdrag/<id:request_id>")
@role_required(Role.ADMIN)
def extracts_show(request_id: int) -> ResponseReturnValue:
    request = _request_or_404(request_id)
    document = extracts_document.build(request)
    extracts.record_export(current_user, request, "page")
    return render(
        T + "show.html",
        request=request,
        doc=document,
        deliver_form=ConfirmForm(formdata=None),
        overdue=extracts.overdue(request),
    )


@bp.get("/registerutdrag/<id:request_id>.json")
@role_required(Role.ADMIN)
def extracts_download(request_id: int) -> ResponseReturnValue:
    request = _request_or_404(request_id)
    document = extracts_document.build(request)
    extracts.record_export(current_user, request, "json")
    body = json.dumps(document, ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="registerutdrag-{request.reference}.json"'
        },
    )


@bp.post("/registerutdrag/<id:request_id>/levererat")
@role_required(Role.ADMIN)
def extracts_delivered(request_id: int) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _request_or_404(request_id)
    try:
        request = extracts.mark_delivered(current_user, request_id)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"Begäran {request.reference} är markerad som levererad.", "success")
    return redirect(url_for("admin.extracts_show", request_id=request_id))


@bp.post("/registerutdrag/<id:request_id>/aterkalla")
@role_required(Role.ADMIN)
def extracts_withdraw(request_id: int) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _request_or_404(request_id)
    try:
        request = extracts.withdraw(current_user, request_id)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"Begäran {request.reference} är återkallad.", "success")
    return redirect(url_for("admin.extracts_show", request_id=request_id))


def _request_or_404(request_id: int) -> Any:
    try:
        return extracts.get_request(request_id)
    except DomainError:
        abort(404)


# --- a contact: correction and erasure ------------------------------------------------------


def _contact_or_404(contact_id: int) -> Contact:
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        abort(404)
    return contact


def _contact_page(
    contact: Contact,
    correction: CorrectionForm | None = None,
    decision: ErasureForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    cases = list(
        db.session.scalars(
            sa.select(Case)
            .where(Case.contact_id == contact.id)
            .order_by(Case.received_at.desc(), Case.id.desc())
        )
    )
    if correction is None:
        correction = CorrectionForm(
            formdata=None,
            data={
                "name": contact.name,
                "phone": contact.phone,
                "email": contact.email,
                "personnummer": contact.personnummer,
                "organisation_number": contact.organisation_number,
            },
        )
    if decision is None:
        decision = ErasureForm(formdata=None)
    decision.cases.choices = [(case.id, case.reference) for case in cases]
    return render(
        T + "contact.html",
        status,
        contact=contact,
        cases=cases,
        correction=correction,
        decision=decision,
        decisions=erasure.decisions_for(contact.id),
        explanation=erasure.EXPLANATION,
        grounds=erasure.LEGAL_GROUNDS,
        refusing=erasure.REFUSING_GROUNDS,
        granting=erasure.GRANTING_GROUNDS,
    )


@bp.get("/registerutdrag/kontakter/<id:contact_id>")
@role_required(Role.ADMIN)
def extracts_contact(contact_id: int) -> ResponseReturnValue:
    """The correction form shows the contact's data whole (personnummer too): logged as a view."""
    contact = _contact_or_404(contact_id)
    audit.record(current_user, "view_contact", contact_id=contact.id, via="registerutdrag")
    return _contact_page(_contact_or_404(contact_id))


@bp.post("/registerutdrag/kontakter/<id:contact_id>/rattelse")
@role_required(Role.ADMIN)
def extracts_correct(contact_id: int) -> ResponseReturnValue:
    contact = _contact_or_404(contact_id)
    form = CorrectionForm()
    if form.validate_on_submit():
        changes = {field: form[field].data for field in corrections.FIELDS}
        try:
            corrections.correct_contact(current_user, contact.id, changes, form.reason.data)
        except DomainError as error:
            db.session.rollback()
            show_error(form, error)
        else:
            flash("Kontaktuppgifterna är rättade.", "success")
            return redirect(url_for("admin.extracts_contact", contact_id=contact.id))
    return _contact_page(_contact_or_404(contact_id), correction=form, status=422)


@bp.post("/registerutdrag/kontakter/<id:contact_id>/radering")
@role_required(Role.ADMIN)
def extracts_erasure(contact_id: int) -> ResponseReturnValue:
    contact = _contact_or_404(contact_id)
    form = ErasureForm()
    form.cases.choices = [
        (case_id, str(case_id))
        for case_id in db.session.scalars(sa.select(Case.id).where(Case.contact_id == contact.id))
    ]
    if form.validate_on_submit():
        try:
            decision = erasure.decide(
                current_user,
                contact.id,
                ErasureOutcome(form.outcome.data),
                form.legal_ground.data,
                form.reason.data,
                list(form.cases.data or []),
            )
        except DomainError as error:
            db.session.rollback()
            show_error(form, error)
        else:
            flash(f"Beslutet är registrerat: {decision.outcome.label.lower()}.", "success")
            return redirect(url_for("admin.extracts_contact", contact_id=contact_id))
    return _contact_page(_contact_or_404(contact_id), decision=form, status=422)


def _panel() -> dict[str, Any]:
    return {"counts": extracts.pending_counts()}


def init_app(app: Flask) -> None:
    """Register this module's admin panel (the routes are on the admin blueprint)."""
    admin.add_panel(T + "_panel.html", _panel, order=70)
