"""Log a call: one screen built for a live call."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from kontaktcenter.calendar.services import upcoming_closures
from kontaktcenter.cases import access, contacts
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel, Outcome, TransferKind
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.cases.services import NewCase, create_case
from kontaktcenter.channels.phone.forms import LogCallForm
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import choices, parse_id
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType

bp = Blueprint("calls", __name__, url_prefix="/samtal")


def _form(case_types: list[CaseType]) -> LogCallForm:
    form = LogCallForm()
    labels = [(t.slug, f"{t.name} ({t.department.name})") for t in case_types]
    form.case_type.choices = choices([("", "– Välj ärendetyp –"), *labels])
    return form


@bp.route("/ny", methods=["GET", "POST"])
@role_required(Role.AGENT)
def new():
    case_types = organisation.case_types()
    form = _form(case_types)
    query = request.args.get("q", "").strip()
    picked: Contact | None = None
    if request.method == "GET" and parse_id(request.args.get("contact_id")):
        picked = db.session.get(Contact, parse_id(request.args.get("contact_id")))
        if picked is not None:
            form.contact_id.data = str(picked.id)
    elif parse_id(form.contact_id.data):
        picked = db.session.get(Contact, parse_id(form.contact_id.data))
    if request.method == "GET" and request.args.get("case_type"):
        form.case_type.data = request.args["case_type"]

    status = 200
    if form.validate_on_submit():
        by_slug = {t.slug: t for t in case_types}
        try:
            case = create_case(
                NewCase(
                    channel=Channel.PHONE,
                    summary=form.summary.data,
                    case_type=by_slug.get(form.case_type.data or ""),
                    outcome=Outcome(form.outcome.data),
                    contact=ContactData(
                        name=form.name.data,
                        phone=form.phone.data,
                        email=form.email.data,
                        organisation_number=form.organisation_number.data,
                        personnummer=form.personnummer.data,
                        verified=True,  # the agent is talking to the caller
                    ),
                    contact_id=picked.id if picked else None,
                    transfer=TransferKind(form.transfer.data) if form.transfer.data else None,
                    handed_to=form.handed_to.data,
                    referred_to=form.referred_to.data,
                    callback_note=form.callback_note.data,
                    note=form.note.data,
                ),
                by=current_user,
            )
        except DomainError as error:
            target = getattr(form, error.field or "", None) if error.field else None
            (target.errors if target is not None else form.summary.errors).append(error.message)
            status = error.status
        else:
            flash(_confirmation(case), "success")
            return redirect(url_for("calls.new", last=case.id))
    elif form.is_submitted():
        status = 422

    matches = contacts.search_contacts(query) if query else []
    if query and not matches and not form.is_submitted() and contacts.looks_like_phone(query):
        form.phone.data = query  # a new caller: the number searched for is theirs
    shown = [picked] if picked else matches
    open_cases = contacts.open_cases_for([c.id for c in shown], access.visible_clause(current_user))
    selected_type = next((t for t in case_types if t.slug == form.case_type.data), None)
    last = _last_case(request.args.get("last", ""))
    return (
        render_template(
            "calls/new.html",
            closures=upcoming_closures(),
            form=form,
            query=query,
            matches=matches,
            picked=picked,
            open_cases=open_cases,
            case_types=case_types,
            selected_type=selected_type,
            last=last,
        ),
        status,
    )


def _last_case(value: str) -> Case | None:
    """The case just saved, linked from the confirmation (only if the agent may see it)."""
    case = db.session.get(Case, case_id) if (case_id := parse_id(value)) else None
    return case if case is not None and access.can_view(current_user, case) else None


def _confirmation(case: Case) -> str:
    text = f"Samtalet är registrerat som {case.reference}."
    if case.outcome == Outcome.HANDED_OFF and case.case_type:
        text += f" Kopplat till {case.case_type.direct_number}."
    elif case.outcome in (Outcome.ROUTED, Outcome.CALLBACK) and case.department:
        text += f" Skickat till {case.department.name}."
    return text
