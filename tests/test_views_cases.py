"""The case view and its actions, through the browser forms."""

import re

import sqlalchemy as sa

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Channel, Outcome, TransferKind
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from tests.factories import make_case, post


def test_case_view_shows_timeline_contact_and_direct_number(client, org, login):
    case = make_case(org.agent, org.bygglov, note="Ringde från jobbet")
    login(org.agent)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert case.reference in html
    assert "Samtal registrerat" in html and "Skickat till förvaltning" in html
    assert "Ringde från jobbet" in html
    assert "08-123 456 78" in html and "Fråga efter fastighetsbeteckning" in html
    assert "Sven Svensson" in html


def test_personnummer_is_masked_until_revealed_and_the_reveal_is_logged(client, org, login):
    case = make_case(
        org.agent,
        org.bygglov,
        contact=ContactData(name="Tolvan Tolvansson", personnummer="191212121212"),
    )
    login(org.agent)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "19121212-****" in html and "19121212-1212" not in html
    html = post(client, f"/arenden/{case.id}/personnummer").get_data(as_text=True)
    assert "19121212-1212" in html
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.case_id == case.id)
    ).all()
    assert "reveal_personnummer" in actions and "view_case" in actions


def test_handler_takes_calls_back_and_closes(client, org, login):
    case = make_case(org.agent, org.bygglov, outcome=Outcome.CALLBACK)
    login(org.handler_bygg)
    assert post(client, f"/arenden/{case.id}/take", {"version": case.version}).status_code == 302
    response = post(
        client,
        f"/arenden/{case.id}/callback_attempt",
        {"version": case.version, "result": "no_answer", "note": "Ingen svarade"},
    )
    assert response.status_code == 302
    assert case.callback_pending
    post(
        client,
        f"/arenden/{case.id}/callback_attempt",
        {"version": case.version, "result": "reached"},
    )
    assert not case.callback_pending and case.callback_done_at is not None
    response = post(
        client,
        f"/arenden/{case.id}/close",
        {"version": case.version, "resolution": "Förklarade reglerna för altan."},
    )
    assert response.status_code == 302
    assert case.status == CaseStatus.CLOSED and case.resolution.startswith("Förklarade")
    kinds = [a.kind for a in case.activities]
    assert kinds[-4:] == [
        ActivityKind.CALLBACK_ATTEMPT,
        ActivityKind.CALLBACK_ATTEMPT,
        ActivityKind.CALLBACK_DONE,
        ActivityKind.CLOSED,
    ]
    assert case.assignee_id == org.handler_bygg.id


def test_agent_routes_a_first_line_case(client, org, login):
    case = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL, summary="Fråga")
    login(org.agent)
    response = post(
        client,
        f"/arenden/{case.id}/route",
        {"version": case.version, "department": str(org.miljo.id), "note": "Gäller buller"},
    )
    assert response.status_code == 302
    assert case.department_id == org.miljo.id and case.outcome == Outcome.ROUTED
    assert case.status == CaseStatus.NEW and case.assignee_id is None


def test_handler_sends_back_to_contact_center_and_loses_sight_of_it(client, org, login):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_bygg)
    response = post(
        client,
        f"/arenden/{case.id}/return",
        {"version": case.version, "note": "Gäller inte bygglov"},
    )
    assert response.status_code == 302
    assert case.department_id is None
    assert client.get(f"/arenden/{case.id}").status_code == 404


def test_stale_version_gets_a_clear_conflict_and_nothing_is_overwritten(client, org, login):
    case = make_case(org.agent, org.bygglov)
    stale = case.version
    login(org.handler_bygg)
    post(client, f"/arenden/{case.id}/note", {"version": stale, "text": "Först"})
    response = post(client, f"/arenden/{case.id}/close", {"version": stale, "resolution": "Löst"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Någon annan har ändrat ärendet" in html
    assert "Löst" in html  # what the user wrote is still in the form
    assert case.status != CaseStatus.CLOSED


def test_invalid_action_input_is_422_with_swedish_message(client, org, login):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_bygg)
    response = post(
        client, f"/arenden/{case.id}/close", {"version": case.version, "resolution": ""}
    )
    assert response.status_code == 422
    assert "Skriv hur ärendet löstes." in response.get_data(as_text=True)
    response = post(client, f"/arenden/{case.id}/nonsense", {"version": case.version})
    assert response.status_code == 404


def test_closed_case_can_be_reopened_by_agent(client, org, login):
    case = make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED)
    login(org.agent)
    response = post(
        client, f"/arenden/{case.id}/reopen", {"version": case.version, "note": "Ringde igen"}
    )
    assert response.status_code == 302
    assert case.status == CaseStatus.OPEN and case.closed_at is None


def test_queue_lists_open_cases_most_urgent_first_and_take_next(client, org, login):
    later = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL, summary="Senare")
    sooner = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL, summary="Tidigare")
    sooner.due_at = later.due_at.replace(year=later.due_at.year - 1)
    db.session.commit()
    login(org.agent)
    html = client.get("/ko/").get_data(as_text=True)
    assert html.index(sooner.reference) < html.index(later.reference)
    response = post(client, "/ko/ta-nasta")
    assert response.headers["Location"].endswith(f"/arenden/{sooner.id}")
    assert sooner.assignee_id == org.agent.id
    html = client.get("/ko/?assignee=none").get_data(as_text=True)
    assert f">{later.reference}</a>" in html and f">{sooner.reference}</a>" not in html


def test_queue_filters_and_pagination(client, app, org, login):
    for i in range(7):
        make_case(org.agent, org.bygglov, summary=f"Bygg {i}")
    other = make_case(org.agent, org.miljotillsyn, summary="Bullrande fläkt")
    app.config["QUEUE_PAGE_SIZE"] = 3
    try:
        login(org.agent)
        seen: list[str] = []
        url: str | None = f"/ko/?department={org.bygg.id}"
        while url:
            html = client.get(url).get_data(as_text=True)
            seen += re.findall(r">(KC-\d{4}-\d{6})<", html)
            match = re.search(r'href="([^"]*cursor=[^"]*)"', html)
            url = match.group(1).replace("&amp;", "&") if match else None
        assert len(seen) == 7 and len(set(seen)) == 7
        assert other.reference not in seen
        # The queue shows summaries: the other department's case is listed under its own filter,
        # and nowhere on the first page of this one.
        assert "Bullrande fläkt" in client.get(f"/ko/?department={org.miljo.id}").get_data(
            as_text=True
        )
        assert "Bullrande fläkt" not in client.get(f"/ko/?department={org.bygg.id}").get_data(
            as_text=True
        )
        assert client.get("/ko/?cursor=garbage").status_code == 302
        assert client.get("/ko/?channel=fax&department=abc").status_code == 200
    finally:
        app.config["QUEUE_PAGE_SIZE"] = 50


def test_directory_search(client, org, login):
    login(org.handler_miljo)
    html = client.get("/direktnummer/?q=miljö").get_data(as_text=True)
    assert "Miljötillsyn" in html and "Bygglov" not in html


def test_overview_counts_open_and_overdue(client, org, login):
    case = make_case(org.agent, org.bygglov, outcome=Outcome.CALLBACK)
    case.due_at = case.callback_due_at = case.received_at.replace(year=2020)
    db.session.commit()
    login(org.manager)
    html = client.get("/oversikt/").get_data(as_text=True)
    assert "Stadsbyggnadskontoret" in html and "⚠</span> 1" in html


def test_the_timeline_tells_what_each_step_did(client, org, login):
    """The case page compares activities with their kinds (not with strings): each kind's
    detail shows."""
    handed = make_case(
        org.agent,
        org.bygglov,
        outcome=Outcome.HANDED_OFF,
        transfer=TransferKind.WARM,
        handed_to="Bygglovsjouren",
    )
    referred = make_case(org.agent, None, outcome=Outcome.REFERRED, referred_to="Skatteverket")
    routed = make_case(org.agent, org.miljotillsyn, outcome=Outcome.ROUTED)
    login(org.agent)
    html = client.get(f"/arenden/{handed.id}").get_data(as_text=True)
    assert org.bygglov.direct_number in html and "varm koppling" in html
    assert "– Skatteverket" in client.get(f"/arenden/{referred.id}").get_data(as_text=True)
    assert "– Miljöförvaltningen" in client.get(f"/arenden/{routed.id}").get_data(as_text=True)
