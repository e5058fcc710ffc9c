"""The authorization matrix: each role × each page and each case action, on the server.

A handler of department A never sees a case of department B: not in lists, not by URL (404).
"""

import pytest

from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.workspace.case_views import ACTIONS, RELATION_ACTIONS
from tests.factories import make_case, post

ROLES = ["agent", "handler_bygg", "manager", "admin"]
PAGES = {
    "/ko/": {"agent", "manager", "admin"},
    "/samtal/ny": {"agent", "admin"},
    "/inkorg/": {"handler_bygg", "admin"},
    "/direktnummer/": {"agent", "handler_bygg", "manager", "admin"},
    "/oversikt/": {"manager", "admin"},
    "/admin/": {"admin"},
}
ALLOWED = {
    "agent": {
        "note",
        "assign",
        "take",
        "route",
        "hand_off",
        "refer",
        "book_callback",
        "callback_attempt",
        "close",
        "reopen",
        "wait",
        "resume",
        "classify",
        "reply",
    },
    "handler_bygg": {
        "note",
        "assign",
        "take",
        "book_callback",
        "callback_attempt",
        "close",
        "return",
        "wait",
        "resume",
        "reply",
    },
    "manager": {"note", "assign", "reopen"},
    "admin": set(ACTIONS),
}


@pytest.mark.parametrize("path", sorted(PAGES))
def test_anonymous_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", sorted(PAGES))
def test_pages_by_role(client, org, login, role, path):
    login(getattr(org, role))
    expected = 200 if role in PAGES[path] else 403
    assert client.get(path).status_code == expected


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_case_actions_by_role(client, org, login, role, action):
    case = make_case(org.agent, org.bygglov, outcome=Outcome.CALLBACK)
    if action == "reopen":
        case = make_case(org.agent, org.bygglov, outcome=Outcome.HANDED_OFF)  # closed, in bygg
    login(getattr(org, role))
    response = post(client, f"/arenden/{case.id}/{action}", {"version": case.version})
    if action in ALLOWED[role]:
        assert response.status_code in (302, 422), response.status_code
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("action", sorted(ACTIONS) + ["personnummer"])
def test_handler_of_other_department_gets_404_for_every_action(client, org, login, action):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_miljo)
    assert client.get(f"/arenden/{case.id}").status_code == 404
    response = post(client, f"/arenden/{case.id}/{action}", {"version": case.version})
    assert response.status_code == 404


def test_handler_lists_show_only_own_department(client, org, login):
    bygg = make_case(org.agent, org.bygglov, summary="Bygg-ärendet")
    miljo = make_case(org.agent, org.miljotillsyn, summary="Miljö-ärendet")
    first_line = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL, summary="KC")
    login(org.handler_miljo)
    html = client.get("/inkorg/").get_data(as_text=True)
    assert miljo.reference in html and bygg.reference not in html
    assert first_line.reference not in html
    # Asking for another department's cases by filter shows nothing of it either.
    html = client.get(f"/inkorg/?department={org.bygg.id}").get_data(as_text=True)
    assert bygg.reference not in html
    # Search for the caller on the log-call page is an agent page: refused.
    assert client.get("/samtal/ny?q=Sven").status_code == 403


def test_unknown_case_id_is_404(client, org, login):
    login(org.agent)
    assert client.get("/arenden/999999").status_code == 404


# Merging and linking (workspace.case_views.RELATION_ACTIONS): the same matrix.
RELATIONS_ALLOWED = {
    "agent": {"merge", "link", "unlink"},
    "handler_bygg": {"merge", "link", "unlink"},
    "manager": {"link", "unlink"},  # they may point out related cases, not merge work away
    "admin": set(RELATION_ACTIONS),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(RELATION_ACTIONS))
def test_relation_actions_by_role(client, org, login, role, action):
    case = make_case(org.agent, org.bygglov, outcome=Outcome.CALLBACK)
    login(getattr(org, role))
    response = post(client, f"/arenden/{case.id}/{action}", {"version": case.version})
    if action in RELATIONS_ALLOWED[role]:
        assert response.status_code in (302, 422), response.status_code
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("action", sorted(RELATION_ACTIONS))
def test_handler_of_other_department_cannot_merge_or_link(client, org, login, action):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_miljo)
    response = post(client, f"/arenden/{case.id}/{action}", {"version": case.version})
    assert response.status_code == 404
