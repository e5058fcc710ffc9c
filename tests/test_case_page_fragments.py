"""The case page keeps the HTML of forms nobody has filled in, per process (core/rendered.py,
issue #16): each page must still show its own case's values and the organisation's current
lists, never those of the page that was rendered first."""

from __future__ import annotations

import re

from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases import secrecy
from kontaktcenter.cases.enums import CaseStatus, Channel, Outcome
from kontaktcenter.compliance import diarium
from kontaktcenter.compliance.diarium_models import Marking
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import Department
from tests.factories import make_case, make_user, post


def _selected_ground(html: str) -> list[str]:
    select = re.search(r'<select id="secrecy-ground"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None, "the secrecy panel's list is missing"
    return re.findall(r'<option selected value="([^"]*)"', select.group(1))


def _checked_marking(html: str) -> list[str]:
    return re.findall(r'<input checked id="diarium-(\w+)"', html)


def _route_departments(html: str) -> list[str]:
    form = re.search(r'id="action-route".*?<select[^>]*>(.*?)</select>', html, re.S)
    assert form is not None, "the route form is missing"
    return re.findall(r"<option[^>]*>([^<]*)</option>", form.group(1))


def test_the_kept_html_is_in_use(app):
    # Otherwise the tests below would pass without ever reading kept HTML.
    assert not app.jinja_env.auto_reload


def test_each_case_shows_its_own_secrecy_ground(client, org, login):
    secret = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    plain = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    other = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    secrecy.set_secrecy(secret, org.handler_bygg, "OSL 21:3", secret.version)
    secrecy.set_secrecy(other, org.handler_bygg, "OSL 26:1", other.version)
    login(org.handler_bygg)
    for _ in range(2):  # the second round reads what the first kept
        assert _selected_ground(client.get(f"/arenden/{secret.id}").get_data(as_text=True)) == [
            "OSL 21:3"
        ]
        assert _selected_ground(client.get(f"/arenden/{plain.id}").get_data(as_text=True)) == [""]
        assert _selected_ground(client.get(f"/arenden/{other.id}").get_data(as_text=True)) == [
            "OSL 26:1"
        ]


def test_each_case_shows_its_own_diarium_marking(client, org, login):
    minor = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    unmarked = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    diarium.update(minor, org.handler_bygg, marking=Marking.MINOR)
    login(org.handler_bygg)
    for _ in range(2):
        html = client.get(f"/arenden/{minor.id}").get_data(as_text=True)
        assert _checked_marking(html) == ["minor"]
        assert _checked_marking(client.get(f"/arenden/{unmarked.id}").get_data(as_text=True)) == []
        # the posted marking's form still works with the kept HTML
        assert 'name="marking"' in html and 'value="kept_ordered"' in html


def test_an_action_forms_list_follows_the_organisation(client, org, login):
    case = make_case(org.agent, None, None, Channel.EMAIL)  # first line: the agent routes it
    login(org.agent)
    before = _route_departments(client.get(f"/arenden/{case.id}").get_data(as_text=True))
    assert before[0] == "– Välj –" and "Byggnadsnämnden" not in before
    db.session.add(Department(name="Byggnadsnämnden", slug="byggnadsnamnden"))
    db.session.commit()
    after = _route_departments(client.get(f"/arenden/{case.id}").get_data(as_text=True))
    assert set(after) == {*before, "Byggnadsnämnden"}


def test_a_posted_form_keeps_its_text_and_errors_beside_kept_forms(client, org, login):
    case = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    login(org.handler_bygg)
    response = post(
        client,
        f"/arenden/{case.id}/close",
        {"resolution": "", "version": str(case.version)},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Skriv hur ärendet löstes." in html
    # the other forms are there, pristine, each with the case's version
    assert f'id="note-version" value="{case.version}"' in html
    assert f'id="close-version" value="{case.version}"' in html


def _form(html: str, action: str) -> dict[str, str]:
    """The address, version and CSRF token of an action's form on the page."""
    found = re.search(
        rf'<form method="post" action="([^"]*/{action})"[^>]*>\s*'
        r'<input type="hidden" name="csrf_token" value="([^"]*)">'
        rf'<input type="hidden" name="version" id="{action}-version" value="([^"]*)">',
        html,
    )
    assert found is not None, f"no {action} form"
    return {"url": found.group(1), "csrf_token": found.group(2), "version": found.group(3)}


def test_each_case_s_actions_post_to_it_with_its_version_and_the_readers_token(client, org, login):
    # The actions section is kept per state, with the case's address, its version and the
    # CSRF token put in per page: two cases in the same state, the second at another version.
    first = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    second = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    case_actions.add_note(second, org.handler_bygg, "Ringde upp", second.version)
    assert first.version != second.version
    colleague = make_user(Role.HANDLER, [org.bygg])
    login(colleague)
    theirs = _form(client.get(f"/arenden/{first.id}").get_data(as_text=True), "close")
    login(org.handler_bygg)
    for _ in range(2):
        for case in (first, second):
            form = _form(client.get(f"/arenden/{case.id}").get_data(as_text=True), "close")
            assert form["url"] == f"/arenden/{case.id}/close"
            assert form["version"] == str(case.version)
    # the kept HTML carries this reader's token, not the colleague's who saw it first
    assert form["csrf_token"] != theirs["csrf_token"]
    refused = client.post(
        form["url"],
        data={"csrf_token": theirs["csrf_token"], "version": form["version"], "resolution": "x"},
    )
    assert refused.status_code == 400
    closed = client.post(
        form["url"],
        data={"csrf_token": form["csrf_token"], "version": form["version"], "resolution": "Klart"},
    )
    assert closed.status_code == 302 and second.status == CaseStatus.CLOSED


def test_take_is_offered_unless_the_case_is_the_readers(client, org, login):
    colleague = make_user(Role.HANDLER, [org.bygg])
    mine = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    case_actions.assign(mine, org.handler_bygg, org.handler_bygg, mine.version)
    theirs = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    case_actions.assign(theirs, org.handler_bygg, colleague, theirs.version)
    login(org.handler_bygg)
    for _ in range(2):
        assert "Ta ärendet" not in client.get(f"/arenden/{mine.id}").get_data(as_text=True)
        assert "Ta ärendet" in client.get(f"/arenden/{theirs.id}").get_data(as_text=True)


def test_text_posted_with_errors_is_never_kept_for_another_reader(client, org, login, app):
    # The section and the fields are kept per state: a form posted with errors carries the
    # reader's own text (about a citizen) and must be rendered for that page only.
    colleague = make_user(Role.HANDLER, [org.bygg])
    first = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    second = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    app.extensions.pop("kontaktcenter.rendered", None)  # nothing kept yet: the POST is first
    secret = "Brukaren har berättat om sin diagnos och sin skuld hos kronofogden. " * 8
    login(org.handler_bygg)
    posted = post(client, f"/arenden/{first.id}/wait", {"note": secret, "version": "1"})
    assert posted.status_code == 422 and "Brukaren har berättat" in posted.get_data(as_text=True)
    too_long = "x" * 4001
    posted = post(client, f"/arenden/{first.id}/close", {"resolution": too_long, "version": "1"})
    assert posted.status_code == 422 and too_long in posted.get_data(as_text=True)
    login(colleague)
    for case in (first, second):
        page = client.get(f"/arenden/{case.id}").get_data(as_text=True)
        assert "Brukaren har berättat" not in page and too_long not in page


def test_each_case_shows_the_groups_its_state_opens(client, org, login):
    # Two open cases of one department, one with a callback due: kept per state, each page
    # opens its own groups (the callback's attempt form only where a callback is due).
    due = make_case(org.agent, org.bygglov, Outcome.CALLBACK)
    plain = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    login(org.handler_bygg)
    for _ in range(2):
        html = client.get(f"/arenden/{due.id}").get_data(as_text=True)
        assert 'id="action-callback_attempt"' in html
        assert re.search(r'id="group-handle"\s*open', html)
        html = client.get(f"/arenden/{plain.id}").get_data(as_text=True)
        assert 'id="action-callback_attempt"' not in html
        assert not re.search(r'id="group-handle"\s*open', html)
