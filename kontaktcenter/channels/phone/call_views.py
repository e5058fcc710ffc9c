"""The agent's side of the platform's calls: the screen-pop stream, opening a call, the list
of unlogged calls and the latest calls (the fallback when a pop was missed)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from kontaktcenter.cases import contacts
from kontaktcenter.channels.phone import screen_pop, unlogged
from kontaktcenter.channels.phone.models import Call
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.errors import NotFound
from kontaktcenter.core.extensions import db
from kontaktcenter.core.forms import ID_MAX
from kontaktcenter.core.identifiers import format_phone
from kontaktcenter.core.roles import Role

bp = Blueprint("phone_calls", __name__, url_prefix="/samtal")


@bp.get("/handelser")
@role_required(Role.AGENT)
def stream():
    """Server-sent events: the screen pops of the signed-in agent (see screen_pop)."""
    # The browser's own Last-Event-ID on a reconnect; the page's memory (sessionStorage) on a
    # new page; none: only what comes from now on.
    after = _event_id(request.headers.get("Last-Event-ID") or request.args.get("last"))
    threaded = bool(request.environ.get("wsgi.multithread"))
    user_id = current_user.id
    body = stream_with_context(screen_pop.stream(user_id, after, threaded))
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _event_id(value: str | None) -> int | None:
    """An event id like core.forms.parse_id (0 too: none seen yet); beyond the database's
    integers (a query would fail on PostgreSQL) None."""
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if number <= ID_MAX else None


def _my_call(call_id: int) -> Call:
    call = db.session.get(Call, call_id)
    if call is None or current_user.id not in (call.agent_id, call.transferred_to_id):
        raise NotFound("Samtalet finns inte, eller så är det inte ditt.")
    return call


@bp.get("/<id:call_id>/oppna")
@role_required(Role.AGENT)
def open_call(call_id: int):
    """Where a screen pop goes: the call form for this call, with the caller picked when the
    number belongs to exactly one contact (their open cases and last contacts show), the
    contacts to choose from when it belongs to several, else the number filled in."""
    call = _my_call(call_id)
    if call.case_id is not None:
        return redirect(url_for("cases.show", case_id=call.case_id))
    if call.caller_hidden or not call.caller_e164:
        return redirect(url_for("calls.new", call=call.id))
    matches = contacts.search_contacts(call.caller_e164, limit=2)
    if len(matches) == 1:
        return redirect(url_for("calls.new", call=call.id, contact_id=matches[0].id))
    return redirect(url_for("calls.new", call=call.id, q=format_phone(call.caller_e164)))


@bp.get("/ologgade")
@role_required(Role.AGENT)
def unlogged_list():
    return render_template(
        "calls/unlogged.html",
        calls=unlogged.unlogged_calls(current_user),
        minutes=int(current_app.config["CALL_UNLOGGED_MINUTES"]),
    )


@bp.get("/senaste")
@role_required(Role.AGENT)
def recent():
    return render_template("calls/recent.html", calls=unlogged.recent_calls(current_user))
