"""The call form measured in keystrokes (#12), server side: a known caller's history right on
the form, the answer given, the cursor after a search, the personnummer field, a hand-off to a
line outside its phone hours, the shortcuts. The browser side: tests/browser/."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from kontaktcenter.calendar.models import CalendarException
from kontaktcenter.calendar.services import forget_calendar
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Channel, Outcome
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.channels.phone import lines
from kontaktcenter.core.extensions import db
from tests.factories import make_case, post

TZ = ZoneInfo("Europe/Stockholm")
CALLER = ContactData(name="Karin Sundqvist", phone="070-765 43 21")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _latest() -> Case:
    return db.session.scalars(sa.select(Case).order_by(Case.id.desc())).first()


def _call(client, **fields):
    data = {
        "phone": "070-123 45 67",
        "name": "Sven Svensson",
        "case_type": "bygglov",
        "summary": "Undrar om bygglov för altan",
        "outcome": "answered",
        "transfer": "warm",
    }
    data.update(fields)
    return post(client, "/samtal/ny", data)


_AUTOFOCUS = re.compile(r"<(?:input|select|textarea|a)\b[^>]*?\bautofocus\b[^>]*>")
_ID = re.compile(r'\bid="([^"]+)"')


def _autofocus(html: str) -> list[str]:
    """The ids of the elements the page gives the cursor to."""
    return [match.group(1) for tag in _AUTOFOCUS.findall(html) if (match := _ID.search(tag))]


@pytest.fixture
def clock(monkeypatch):
    """Set the time the form checks the phone lines at."""

    def set_to(when: datetime) -> None:
        monkeypatch.setattr(lines, "utcnow", lambda: when)

    return set_to


# --- The person and their history --------------------------------------------------------------


def test_a_picked_caller_shows_open_cases_and_the_last_three_contacts(client, org, login):
    tuesday = local(2026, 11, 17, 14, 5)
    older = [
        make_case(
            org.agent,
            org.bygglov,
            Outcome.ANSWERED,
            summary=f"Fråga nummer {n}",
            contact=CALLER,
            received_at=tuesday - timedelta(days=10 - n),
        )
        for n in range(3)
    ]
    open_case = make_case(
        org.agent,
        org.miljotillsyn,
        Outcome.ROUTED,
        summary="Buller från fläkt hos grannen",
        contact=CALLER,
        received_at=tuesday,
    )
    contact = open_case.contact
    assert {c.contact_id for c in older} == {contact.id}  # the same person every time
    login(org.agent)
    html = client.get(f"/samtal/ny?contact_id={contact.id}").get_data(as_text=True)
    history = html[html.index('id="history-h"') : html.index("</section>", html.index("history-h"))]
    assert "Karin Sundqvist" in history
    assert "Öppna ärenden" in history and "Senaste kontakter" in history
    # the newest three contacts, newest first; the oldest is left out
    recent = history[history.index("Senaste kontakter") :]
    assert [m for m in re.findall(r"KC-\d{4}-\d{6}", recent)] == [
        open_case.reference,
        older[2].reference,
        older[1].reference,
    ]
    assert older[0].reference not in history
    # what the agent reads out: weekday and date, case type, summary, status
    assert "tis 2026-11-17 14:05" in history
    assert "Miljötillsyn" in history and "Buller från fläkt hos grannen" in history
    assert "Ny</strong> hos Miljöförvaltningen" in history and "Avslutad" in history
    # links open in a new tab, and say so, so the form being filled in stays
    assert 'target="_blank" rel="noopener"' in history and "(öppnas i ny flik)" in history


def test_history_shows_only_cases_of_that_contact(client, org, login):
    mine = make_case(org.agent, org.bygglov, contact=CALLER, summary="Min fråga")
    other = make_case(
        org.agent, org.bygglov, contact=ContactData(name="Annan", phone="070-111 11 11")
    )
    login(org.agent)
    html = client.get(f"/samtal/ny?contact_id={mine.contact_id}").get_data(as_text=True)
    assert mine.reference in html and other.reference not in html


def test_a_new_caller_has_no_history_section(client, org, login):
    login(org.agent)
    html = client.get("/samtal/ny").get_data(as_text=True)
    assert 'id="history-h"' not in html


@pytest.mark.parametrize("value", ["abc", "0", "-1", "99999999999", "1" * 40, "９"])
def test_bad_contact_ids_are_ignored_not_a_500(client, org, login, value):
    login(org.agent)
    response = client.get("/samtal/ny", query_string={"contact_id": value})
    assert response.status_code == 200
    assert 'id="history-h"' not in response.get_data(as_text=True)


def test_handlers_cannot_open_the_call_form(client, org, login):
    login(org.handler_bygg)
    assert client.get("/samtal/ny").status_code == 403


# --- Besvarat direkt: the answer given ---------------------------------------------------------


def test_the_answer_given_is_the_resolution_and_on_the_timeline(client, org, login):
    login(org.agent)
    answer = "Altan under 1,8 m kräver inget bygglov. Skickade länk till kommunens sida."
    response = _call(client, answer=answer, handed_to="ignored", referred_to="ignored too")
    assert response.status_code == 302
    case = _latest()
    assert case.outcome is Outcome.ANSWERED and case.status is CaseStatus.CLOSED
    assert case.summary == "Undrar om bygglov för altan"
    assert case.resolution == answer  # not a copy of the question
    answered = next(a for a in case.activities if a.kind is ActivityKind.ANSWERED)
    assert answered.text == answer
    assert case.referred_to is None
    page = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert answer in page


def test_without_an_answer_the_summary_stays_the_resolution(client, org, login):
    login(org.agent)
    assert _call(client, answer="  ").status_code == 302
    case = _latest()
    assert case.resolution == case.summary
    assert next(a for a in case.activities if a.kind is ActivityKind.ANSWERED).text is None


def test_an_answer_is_kept_only_for_answered_calls(client, org, login):
    login(org.agent)
    _call(client, outcome="referred", referred_to="Skatteverket", answer="Inte detta")
    case = _latest()
    assert case.resolution == case.summary
    assert all(a.text != "Inte detta" for a in case.activities)


def test_a_too_long_answer_is_refused_in_swedish(client, org, login):
    login(org.agent)
    response = _call(client, answer="x" * 4001)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Svaret du gav" in html and "4000" in html
    assert _count(Case) == 0


# --- A hand-off outside the line's phone hours -------------------------------------------------


def test_handoff_to_a_closed_line_warns_before_saving(client, org, login, clock):
    clock(local(2026, 11, 20, 10, 30))  # a Friday: bygglov's line answers Mån–tor 10–12
    login(org.agent)
    response = _call(client, outcome="handed_off")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _count(Case) == 0 and _count(Contact) == 0
    assert "Telefontiden är slut." in html
    assert "08-123 456 78 har telefontid Mån–tor 10–12 och svarar inte nu" in html
    assert "(öppnar mån 2026-11-23 10:00)" in html
    assert 'name="instead" value="callback"' in html  # the callback offered instead
    assert "Koppla ändå" in html
    assert 'value="Undrar om bygglov för altan"' in html or "Undrar om bygglov för altan</" in html

    # Someone did answer: the agent confirms and the hand-off is saved.
    response = _call(client, outcome="handed_off", handoff_confirmed="y")
    assert response.status_code == 302
    assert _latest().outcome is Outcome.HANDED_OFF


def test_the_callback_offered_instead_keeps_the_input_and_saves_nothing(client, org, login, clock):
    clock(local(2026, 11, 16, 7, 0))  # Monday, before the line opens
    login(org.agent)
    response = _call(client, outcome="handed_off", instead="callback", note="Ringer från jobbet")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _count(Case) == 0
    assert re.search(r'<input[^>]*checked[^>]*value="callback"|value="callback"[^>]*checked', html)
    assert _autofocus(html) == ["callback_note"]
    assert "Ringer från jobbet" in html and 'value="Sven Svensson"' in html
    response = _call(client, outcome="callback", callback_note="Efter kl 15")
    assert response.status_code == 302
    case = _latest()
    assert case.outcome is Outcome.CALLBACK and case.callback_pending


def test_handoff_during_phone_hours_needs_no_confirmation(client, org, login, clock):
    clock(local(2026, 11, 19, 11, 59))  # Thursday
    login(org.agent)
    assert _call(client, outcome="handed_off").status_code == 302


def test_red_days_and_closure_days_close_the_line(client, org, login, clock):
    login(org.agent)
    clock(local(2026, 12, 24, 10, 30))  # julafton, a Thursday
    assert _call(client, outcome="handed_off").status_code == 422
    db.session.add(CalendarException(day=local(2026, 11, 26).date(), windows=[], reason="Klämdag"))
    db.session.commit()
    forget_calendar()
    clock(local(2026, 11, 26, 10, 30))  # a Thursday the municipality is closed
    assert _call(client, outcome="handed_off").status_code == 422
    clock(local(2026, 11, 25, 10, 30))  # the Wednesday before: open
    assert _call(client, outcome="handed_off").status_code == 302


def test_hours_that_cannot_be_read_never_warn(client, org, login, clock):
    org.bygglov.direct_number_hours = "Ring växeln och fråga"
    db.session.commit()
    clock(local(2026, 11, 22, 3, 0))  # Sunday night
    login(org.agent)
    assert _call(client, outcome="handed_off").status_code == 302


def test_the_department_hours_apply_when_the_case_type_has_none(client, org, login, clock):
    org.bygglov.direct_number_hours = None  # Stadsbyggnadskontoret: Mån–fre 9–12
    db.session.commit()
    clock(local(2026, 11, 20, 9, 30))  # Friday
    login(org.agent)
    html = client.get("/samtal/ny?case_type=bygglov").get_data(as_text=True)
    assert 'Mån–fre 9–12 <strong class="line-open">– öppet nu</strong>' in html
    assert _call(client, outcome="handed_off").status_code == 302


def test_the_panel_and_the_templates_say_whether_the_line_is_open(client, org, login, clock):
    clock(local(2026, 11, 20, 10, 30))  # Friday: bygglov and miljötillsyn closed
    login(org.agent)
    html = client.get("/samtal/ny?case_type=bygglov").get_data(as_text=True)
    assert "stängt nu" in html and "öppnar mån 2026-11-23 10:00" in html
    # the script shows the warning for the type chosen later from its template's data
    template = re.search(r'<template id="ct-miljotillsyn"[^>]*>', html).group(0)
    assert 'data-closed="08-555 000 11 har telefontid' in template
    assert 'data-closed=""' in re.search(r'<template id="ct-strandskydd"[^>]*>', html).group(0)
    # the warning is shown for the chosen closed line, without script
    warning = re.search(r'<div class="line-warning" id="closed-line"[^>]*>', html).group(0)
    assert "hidden" not in warning


def test_line_status_without_a_direct_number_is_unknown(org):
    status = lines.line_status(org.strandskydd, local(2026, 11, 20, 10, 30))
    assert status.open is None and not status.closed


# --- The cursor after a caller search ----------------------------------------------------------


def test_a_new_call_starts_in_the_caller_search(client, org, login):
    login(org.agent)
    assert _autofocus(client.get("/samtal/ny").get_data(as_text=True)) == ["q"]


def test_a_number_nobody_has_is_filled_in_and_the_cursor_goes_to_the_name(client, org, login):
    login(org.agent)
    html = client.get("/samtal/ny?q=070-999 88 77").get_data(as_text=True)
    assert "Ingen kontakt hittades" in html
    assert re.search(r'<input[^>]*id="phone"[^>]*value="070-999 88 77"', html)
    assert _autofocus(html) == ["name"]


def test_a_name_nobody_has_is_filled_in_and_the_cursor_goes_to_the_number(client, org, login):
    login(org.agent)
    html = client.get("/samtal/ny?q=Astrid Öberg").get_data(as_text=True)
    assert 'value="Astrid Öberg"' in html
    assert _autofocus(html) == ["phone"]
    html = client.get("/samtal/ny?q=astrid@example.se").get_data(as_text=True)
    assert 'value="astrid@example.se"' in html


def test_a_search_with_hits_puts_the_cursor_on_the_first_hit(client, org, login):
    make_case(org.agent, org.bygglov, contact=CALLER)
    login(org.agent)
    html = client.get("/samtal/ny?q=Karin").get_data(as_text=True)
    assert _autofocus(html) == ["match-0"]


def test_after_picking_a_caller_the_cursor_goes_to_the_next_empty_field(client, org, login):
    case = make_case(org.agent, org.bygglov, contact=CALLER)
    login(org.agent)
    html = client.get(f"/samtal/ny?contact_id={case.contact_id}").get_data(as_text=True)
    assert _autofocus(html) == ["case_type"]
    html = client.get(f"/samtal/ny?contact_id={case.contact_id}&case_type=bygglov").get_data(
        as_text=True
    )
    assert _autofocus(html) == ["summary"]


def test_a_long_search_is_cut_not_a_500(client, org, login):
    login(org.agent)
    assert client.get("/samtal/ny", query_string={"q": "x" * 5000}).status_code == 200


# --- The personnummer field --------------------------------------------------------------------


def _more_caller(html: str) -> str:
    return re.search(r'<details class="more-caller"[^>]*>', html).group(0)


def test_the_personnummer_field_is_open_when_the_case_type_needs_one(client, org, login):
    org.miljotillsyn.guidance = "Fråga efter personnummer och fastighetsbeteckning."
    db.session.commit()
    login(org.agent)
    assert " open" not in _more_caller(client.get("/samtal/ny").get_data(as_text=True))
    html = client.get("/samtal/ny?case_type=miljotillsyn").get_data(as_text=True)
    assert " open" in _more_caller(html)
    assert 'data-needs-personnummer="yes"' in re.search(
        r'<template id="ct-miljotillsyn"[^>]*>', html
    ).group(0)
    assert 'data-needs-personnummer="no"' in re.search(
        r'<template id="ct-bygglov"[^>]*>', html
    ).group(0)


def test_a_picked_caller_without_personnummer_can_be_given_one(client, org, login):
    case = make_case(org.agent, org.bygglov, contact=CALLER)
    login(org.agent)
    html = client.get(f"/samtal/ny?contact_id={case.contact_id}").get_data(as_text=True)
    assert 'id="personnummer"' in html
    response = _call(
        client,
        contact_id=str(case.contact_id),
        phone="",
        name="",
        personnummer="19121212-1212",
    )
    assert response.status_code == 302
    assert _latest().contact_id == case.contact_id
    assert db.session.get(Contact, case.contact_id).personnummer == "19121212-1212"


# --- Save and the shortcuts --------------------------------------------------------------------


def test_the_shortcuts_are_listed_in_the_page_and_in_the_help_dialog(client, org, login):
    login(org.agent)
    html = client.get("/samtal/ny").get_data(as_text=True)
    assert '<dialog id="shortcuts-dialog"' in html
    for text in (
        "Nytt samtal",
        "Ta nästa ärende i kön",
        "Sök ärende, person eller ord",
        "Spara samtalet",
        "Visa kortkommandona",
    ):
        assert html.count(text) >= 2, text  # the page's list and the dialog's
    assert 'accesskey="n"' in html and 'accesskey="s"' in html and 'id="header-q"' in html
    assert re.search(r'<button type="submit" accesskey="t">Ta nästa ärende</button>', html)
    for n in range(1, 6):
        assert f'accesskey="{n}"' in html
    # Enter in a text field saves (the default button), never the callback offered instead
    form = html[html.index('id="log-call"') :]
    first_submit = re.search(r'<button type="submit"[^>]*>([^<]*)</button>', form)
    assert first_submit is not None and first_submit.group(1) == "Spara samtalet"
    assert '<div class="call-actions">' in html
    assert '<script src="/static/log_call.js" defer></script>' in html


def test_take_next_from_the_call_form(client, org, login):
    case = make_case(org.agent, None, None, channel=Channel.EMAIL)
    login(org.agent)
    response = post(client, "/ko/ta-nasta")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/arenden/{case.id}")
