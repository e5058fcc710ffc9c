"""Log a call: one screen built for a live call."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from kontaktcenter.calendar.services import upcoming_closures
from kontaktcenter.cases import access, contacts
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel, Outcome, TransferKind
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.cases.services import NewCase
from kontaktcenter.channels.phone import call_log
from kontaktcenter.channels.phone.forms import LogCallForm
from kontaktcenter.channels.phone.lines import LineStatus, line_statuses
from kontaktcenter.channels.phone.models import Call
from kontaktcenter.core import audit
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import DomainError, NotFound
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import choices, parse_id
from kontaktcenter.core.identifiers import mask_personnummer
from kontaktcenter.core.roles import Role
from kontaktcenter.core.templating import format_datetime
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import CaseType

bp = Blueprint("calls", __name__, url_prefix="/samtal")

QUERY_MAX = 200
RECENT_CONTACTS = 3


def _form(case_types: list[CaseType]) -> LogCallForm:
    form = LogCallForm()
    labels = [(t.slug, f"{t.name} ({t.department.name})") for t in case_types]
    form.case_type.choices = choices([("", "– Välj ärendetyp –"), *labels])
    return form


def needs_personnummer(case_type: CaseType | None) -> bool:
    """Whether the call form shows the personnummer field open for this case type.

    Case types have no flag for it yet: the guidance the agent reads decides ("Fråga efter
    personnummer …"), so an admin controls it where they describe the case type."""
    return case_type is not None and "personnummer" in (case_type.guidance or "").lower()


def closed_line_message(case_type: CaseType, line: LineStatus) -> str:
    text = f"{case_type.direct_number} har telefontid {line.hours} och svarar inte nu"
    if line.opens_at is not None:
        text += f" (öppnar {format_datetime(line.opens_at, with_weekday=True)})"
    return (
        text + ". Boka en återuppringning i stället, eller kryssa i ”Koppla ändå” om någon svarade."
    )


def _picked(form: LogCallForm) -> Contact | None:
    if request.method == "GET":
        contact_id = parse_id(request.args.get("contact_id"))
    else:
        contact_id = parse_id(form.contact_id.data)
    picked = _visible_contact(contact_id) if contact_id else None
    if picked is not None:
        form.contact_id.data = str(picked.id)
    return picked


def _call(form: LogCallForm) -> Call | None:
    """The platform's call this form logs, if it is the agent's and has no case yet: from the
    address (a screen pop, the unlogged list), then from the form's hidden field."""
    value = request.args.get("call") if request.method == "GET" else form.call_id.data
    call = call_log.call_for(current_user, value)
    form.call_id.data = str(call.id) if call is not None else ""
    return call


def _visible_contact(contact_id: int) -> Contact | None:
    """The contact the agent picked, by the one rule of who may see whom
    (cases.contacts.visible_contacts_clause: the contact center sees the whole register, which
    it needs to log a call from anyone). An id out of reach is ignored, as an unknown one."""
    try:
        return contacts.visible_contact(current_user, contact_id)
    except NotFound:
        return None


def _record_views(picked: Contact | None, query: str, matches: list[Contact]) -> None:
    """Personal data shown is logged (GDPR art. 5.2), as on the contact page and in search: the
    contact picked by id (every time: an id in the address can be any contact's), and a look-up
    by phone number or e-mail address that found someone. Called after rendering: it commits."""
    if picked is not None:
        audit.record(current_user, "view_contact", contact_id=picked.id, via="call_form")
    elif matches and (contacts.looks_like_phone(query) or "@" in query):
        kind = "phone" if contacts.looks_like_phone(query) else "email"
        audit.record(
            current_user,
            "search",
            kind=kind,
            query=mask_personnummer(query),
            via="call_form",
            contacts=[c.id for c in matches],
        )


def _prefill_from_query(form: LogCallForm, query: str) -> None:
    """A new caller: what was searched for is theirs (a number, an address or a name)."""
    if contacts.looks_like_phone(query):
        form.phone.data = query
    elif "@" in query:
        form.email.data = query
    elif not any(ch.isdigit() for ch in query):
        form.name.data = query


def _first_empty(form: LogCallForm, names: tuple[str, ...]) -> str:
    return next((name for name in names if not form[name].data), names[-1])


@bp.route("/ny", methods=["GET", "POST"])
@role_required(Role.AGENT)
def new():
    case_types = organisation.case_types()
    by_slug = {t.slug: t for t in case_types}
    form = _form(case_types)
    query = request.args.get("q", "").strip()[:QUERY_MAX]
    picked = _picked(form)
    call = _call(form)
    if request.method == "GET" and request.args.get("case_type"):
        form.case_type.data = request.args["case_type"]

    status = 200
    focus: str | None = None
    if form.is_submitted() and request.form.get("instead") == "callback":
        # The agent took the callback offered instead of a hand-off to a closed line: nothing
        # is saved yet, the form comes back with the callback chosen and its field to fill in.
        form.outcome.data = Outcome.CALLBACK.value
        focus = "callback_note"
    elif form.validate_on_submit():
        case_type = by_slug.get(form.case_type.data or "")
        # Only a hand-off asks whether its line is open (a saved call renders no page).
        handed_off = form.outcome.data == Outcome.HANDED_OFF.value
        line = line_statuses([case_type])[case_type.slug] if handed_off and case_type else None
        if (
            case_type is not None
            and line is not None
            and line.closed
            and not form.handoff_confirmed.data
        ):
            form.handoff_confirmed.errors = [closed_line_message(case_type, line)]
            status = 422
        else:
            try:
                case = call_log.create_case_for_call(
                    _new_case(form, case_type, picked), call, by=current_user
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

    lines = line_statuses(case_types)
    matches = contacts.search_contacts(query) if query and not picked else []
    if query and not picked and not matches and not form.is_submitted():
        _prefill_from_query(form, query)
    if focus is None and not form.is_submitted():
        focus = _focus_after_search(form, query, picked, matches)
    shown = [picked] if picked else matches
    open_cases = contacts.open_cases_for(
        [c.id for c in shown],
        sa.and_(access.visible_clause(current_user), access.content_visible_clause(current_user)),
    )
    recent = contacts.cases_of(current_user, picked, limit=RECENT_CONTACTS) if picked else []
    selected_type = by_slug.get(form.case_type.data or "")
    page = render_template(
        "calls/new.html",
        closures=upcoming_closures(),
        form=form,
        query=query,
        matches=matches,
        picked=picked,
        open_cases=open_cases,
        recent=recent,
        case_types=case_types,
        selected_type=selected_type,
        lines=lines,
        closed_messages={
            t.slug: closed_line_message(t, lines[t.slug])
            for t in case_types
            if lines[t.slug].closed
        },
        needs_personnummer=needs_personnummer,
        focus=focus,
        call=call,
        last=_last_case(request.args.get("last", "")),
    )
    _record_views(picked, query, matches)
    return page, status


def _focus_after_search(
    form: LogCallForm, query: str, picked: Contact | None, matches: list[Contact]
) -> str:
    """Where the cursor goes when the page opens: the search field for a new call, the first
    hit after a search that found someone, else the next empty field of the form."""
    if picked is not None:
        return _first_empty(form, ("case_type", "summary"))
    if not query:
        return "q"
    if matches:
        return "match-0"
    return _first_empty(form, ("phone", "name", "case_type", "summary"))


def _new_case(form: LogCallForm, case_type: CaseType | None, picked: Contact | None) -> NewCase:
    return NewCase(
        channel=Channel.PHONE,
        summary=form.summary.data,
        case_type=case_type,
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
        answer=form.answer.data,
        note=form.note.data,
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
