"""The authorization matrix: each role × each page and each case action, on the server.

A handler of department A never sees a case of department B: not in lists, not by URL (404).
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from kontaktcenter.cases import actions as case_actions
from kontaktcenter.cases import merging
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Channel, Outcome
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.channels.email.models import MailKind
from kontaktcenter.core.extensions import db
from kontaktcenter.organisation.models import User
from kontaktcenter.workspace.case_views import ACTIONS, RELATION_ACTIONS
from tests.factories import Org, make_case, post

ROLES = ["agent", "handler_bygg", "manager", "admin"]
PAGES = {
    "/ko/": {"agent", "manager", "admin"},
    "/samtal/ny": {"agent", "admin"},
    "/inkorg/": {"handler_bygg", "admin"},
    "/direktnummer/": {"agent", "handler_bygg", "manager", "admin"},
    "/oversikt/": {"manager", "admin"},
    "/admin/": {"admin"},
}
# The case actions are tried on a case routed to Stadsbyggnadskontoret and, as
# "agent_first_line", on the same case while the contact center holds it: once a department has
# the case, the first line may only note a new contact, book or make a callback and reopen it
# (issue #15; the full role × action × relation × secrecy matrix: tests/test_secrecy_matrix.py).
CASE_ROLES = [*ROLES, "agent_first_line"]
ALLOWED = {
    "agent": {"note", "book_callback", "callback_attempt", "reopen"},
    "agent_first_line": {
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


def _callback_case(org: Org) -> Case:
    """An open case in Stadsbyggnadskontoret with a callback due and an e-mail address."""
    return make_case(
        org.agent,
        org.bygglov,
        outcome=Outcome.CALLBACK,
        contact=ContactData(name="Sven Svensson", phone="070-123 45 67", email="sven@example.se"),
    )


def _plain_case(org: Org) -> Case:
    """An open case routed to Stadsbyggnadskontoret, no callback."""
    return make_case(org.agent, org.bygglov)


def _closed_case(org: Org) -> Case:
    return make_case(org.agent, org.bygglov, outcome=Outcome.HANDED_OFF)


def _waiting_case(org: Org) -> Case:
    case = _plain_case(org)
    return case_actions.set_waiting(case, org.handler_bygg, True, "Väntar på ritning")


def _last(case: Case) -> Activity:
    return case.activities[-1]


@dataclass(frozen=True)
class Scenario:
    """An action done for real: a case in a state that allows it, the form a person fills in,
    and what must have changed."""

    setup: Callable[[Org], Case]
    data: Callable[[Org, User], dict[str, str]]
    check: Callable[[Org, User, Case], bool]


def _check_assign(org: Org, by: User, case: Case) -> bool:
    return case.assignee_id == _assignee(org, by).id and _last(case).kind == ActivityKind.ASSIGNED


def _assignee(org: Org, by: User) -> User:
    if by is org.agent:  # acting on a first-line case: only agents and admins take those
        return org.admin
    return org.agent if by is org.handler_bygg else org.handler_bygg


def _check_reply(org: Org, by: User, case: Case) -> bool:
    replies = [m for m in case.messages if m.kind == MailKind.REPLY]
    return (
        len(replies) == 1
        and replies[0].recipient == "sven@example.se"
        and "Här är svaret" in replies[0].text_body
        and case.first_response_at is not None
    )


SCENARIOS: dict[str, Scenario] = {
    "note": Scenario(
        _plain_case,
        lambda org, by: {"text": "Ringde och frågade igen"},
        lambda org, by, case: (
            _last(case).kind == ActivityKind.NOTE and _last(case).text == "Ringde och frågade igen"
        ),
    ),
    "assign": Scenario(
        _plain_case,
        lambda org, by: {"assignee": str(_assignee(org, by).id)},
        _check_assign,
    ),
    "take": Scenario(
        _plain_case,
        lambda org, by: {},
        lambda org, by, case: case.assignee_id == by.id and case.status == CaseStatus.OPEN,
    ),
    "route": Scenario(
        _plain_case,
        lambda org, by: {"department": str(org.miljo.id), "note": "Gäller buller"},
        lambda org, by, case: (
            case.department_id == org.miljo.id
            and case.outcome == Outcome.ROUTED
            and _last(case).kind == ActivityKind.ROUTED
        ),
    ),
    "hand_off": Scenario(
        _plain_case,
        lambda org, by: {"case_type": "bygglov", "transfer": "cold", "to": "Bygglovsjouren"},
        lambda org, by, case: (
            case.outcome == Outcome.HANDED_OFF
            and case.status == CaseStatus.CLOSED
            and any(a.kind == ActivityKind.HANDED_OFF for a in case.activities)
        ),
    ),
    "classify": Scenario(
        _plain_case,
        lambda org, by: {"case_type": "strandskydd"},
        lambda org, by, case: case.case_type_id == org.strandskydd.id,
    ),
    "reply": Scenario(
        _callback_case, lambda org, by: {"body": "Hej! Här är svaret."}, _check_reply
    ),
    "refer": Scenario(
        _plain_case,
        lambda org, by: {"authority": "Skatteverket"},
        lambda org, by, case: (
            case.outcome == Outcome.REFERRED
            and case.referred_to == "Skatteverket"
            and case.status == CaseStatus.CLOSED
        ),
    ),
    "book_callback": Scenario(
        _plain_case,
        lambda org, by: {"note": "Efter lunch"},
        lambda org, by, case: (
            case.callback_pending and _last(case).kind == ActivityKind.CALLBACK_BOOKED
        ),
    ),
    "callback_attempt": Scenario(
        _callback_case,
        lambda org, by: {"result": "reached"},
        lambda org, by, case: not case.callback_pending and case.callback_done_at is not None,
    ),
    "return": Scenario(
        _plain_case,
        lambda org, by: {"note": "Gäller inte bygglov"},
        lambda org, by, case: (
            case.department_id is None and _last(case).kind == ActivityKind.RETURNED
        ),
    ),
    "wait": Scenario(
        _plain_case,
        lambda org, by: {"note": "Väntar på ritning"},
        lambda org, by, case: case.status == CaseStatus.WAITING,
    ),
    "resume": Scenario(
        _waiting_case, lambda org, by: {}, lambda org, by, case: case.status == CaseStatus.OPEN
    ),
    "close": Scenario(
        _plain_case,
        lambda org, by: {"resolution": "Förklarade reglerna för altan."},
        lambda org, by, case: (
            case.status == CaseStatus.CLOSED and case.resolution == "Förklarade reglerna för altan."
        ),
    ),
    "reopen": Scenario(
        _closed_case,
        lambda org, by: {"note": "Ringde igen"},
        lambda org, by, case: case.status == CaseStatus.OPEN and case.closed_at is None,
    ),
}


def test_every_case_action_has_a_scenario():
    assert set(SCENARIOS) == set(ACTIONS)


def _user_and_place(org: Org, role: str, *cases: Case) -> User:
    """The user of `role`; for "…_first_line", the cases are moved back to the contact center
    first (as the department's "return" does)."""
    if role.endswith("_first_line"):
        for case in cases:
            case.department = None
        db.session.commit()
    return getattr(org, role.removesuffix("_first_line"))


@pytest.mark.parametrize("role", CASE_ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_case_actions_by_role(client, org, login, outbox, role, action):
    """Each allowed action succeeds with what a person fills in, and does what it says; each
    other one is refused and changes nothing."""
    scenario = SCENARIOS[action]
    case = scenario.setup(org)
    user = _user_and_place(org, role, case)
    version, activities = case.version, len(case.activities)
    login(user)
    data = {"version": str(case.version)} | scenario.data(org, user)
    response = post(client, f"/arenden/{case.id}/{action}", data)
    db.session.expire_all()
    if action in ALLOWED[role]:
        assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
        still_visible = not (action == "return" and role == "handler_bygg")
        expected = f"/arenden/{case.id}" if still_visible else "/"
        assert response.headers["Location"] == expected
        assert case.version > version
        assert scenario.check(org, user, case), f"{action} by {role} did not do its work"
    else:
        assert response.status_code == 403
        assert case.version == version and len(case.activities) == activities


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
    "agent": {"link", "unlink"},  # a department's cases: not merged away by the first line
    "agent_first_line": {"merge", "link", "unlink"},
    "handler_bygg": {"merge", "link", "unlink"},
    "manager": {"link", "unlink"},  # they may point out related cases, not merge work away
    "admin": set(RELATION_ACTIONS),
}


def _pair(org: Org, linked: bool = False) -> tuple[Case, Case]:
    """Two open cases in Stadsbyggnadskontoret, the first the older; linked if asked."""
    case = _plain_case(org)
    other = make_case(org.agent, org.bygglov, summary="Samma altan")
    if linked:
        merging.link(case, org.agent, other.reference)
    return case, other


RELATION_SCENARIOS: dict[str, tuple[bool, Callable[[Case], dict[str, str]]]] = {
    # action: (the cases start linked, the form filled in naming the other case)
    "merge": (False, lambda other: {"reference": other.reference, "confirm": "y"}),
    "link": (False, lambda other: {"reference": other.reference}),
    "unlink": (True, lambda other: {"other": str(other.id)}),
}


@pytest.mark.parametrize("role", CASE_ROLES)
@pytest.mark.parametrize("action", sorted(RELATION_ACTIONS))
def test_relation_actions_by_role(client, org, login, role, action):
    assert set(RELATION_SCENARIOS) == set(RELATION_ACTIONS)
    linked, data = RELATION_SCENARIOS[action]
    case, other = _pair(org, linked)
    version = case.version
    login(_user_and_place(org, role, case, other))
    response = post(
        client, f"/arenden/{case.id}/{action}", {"version": str(case.version)} | data(other)
    )
    db.session.expire_all()
    if action not in RELATIONS_ALLOWED[role]:
        assert response.status_code == 403
        assert case.version == version and merging.are_linked(case, other) == linked
        return
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    assert response.headers["Location"] == f"/arenden/{case.id}"  # the older case survives
    if action == "merge":
        assert other.merged_into_id == case.id and other.status == CaseStatus.CLOSED
        assert case.merged_into_id is None and case.is_open
    else:
        assert merging.are_linked(case, other) == (action == "link")


@pytest.mark.parametrize("action", sorted(RELATION_ACTIONS))
def test_handler_of_other_department_cannot_merge_or_link(client, org, login, action):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_miljo)
    response = post(client, f"/arenden/{case.id}/{action}", {"version": case.version})
    assert response.status_code == 404
