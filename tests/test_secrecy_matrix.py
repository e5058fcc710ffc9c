"""The role rules as one matrix (issue #15): every role × every case action, plus seeing the
case and seeing its content, × where the case is (with the contact center, or routed to
Stadsbyggnadskontoret) × secret or not, through the real routes: the case page and its POSTs,
and the API.

The expected table is written out here, not computed from cases.access, so a change to the
rules there fails here until the table is changed too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import CaseStatus
from kontaktcenter.cases.models import Case, CaseLink
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation.models import User
from tests.api_client import api_as
from tests.factories import Org, make_case, make_user, post

# --- the expected table ------------------------------------------------------------------------

ROLES = ["agent", "handler_own", "handler_other", "manager", "manager_own", "admin"]
PLACES = ["first_line", "department"]  # the department is Stadsbyggnadskontoret
ACTIONS = [
    "note", "assign", "take", "route", "hand_off", "refer", "book_callback", "callback_attempt",
    "close", "reopen", "wait", "resume", "classify", "reply", "merge", "link", "unlink",
    "return", "secrecy",
]  # fmt: skip

FIRST_LINE_AGENT = {
    "note", "assign", "take", "route", "hand_off", "refer", "book_callback", "callback_attempt",
    "close", "reopen", "wait", "resume", "classify", "reply", "merge", "link", "unlink",
    "secrecy",
}  # fmt: skip
# Once a department has the case, the first line may not close, reply, route (or refer, hand
# off, reclassify, pause, assign, merge it, or change its secrecy).
AGENT_ON_DEPARTMENT_CASE = {
    "note", "book_callback", "callback_attempt", "reopen", "link", "unlink",
}  # fmt: skip
HANDLER = {
    "note", "assign", "take", "book_callback", "callback_attempt", "close", "return", "wait",
    "resume", "reply", "merge", "link", "unlink", "secrecy",
}  # fmt: skip
MANAGER = {"note", "assign", "reopen", "link", "unlink"}
ADMIN = set(ACTIONS)
ADMIN_ON_FIRST_LINE = ADMIN - {"return"}  # nothing to send back
ADMIN_ON_OTHER_DEPARTMENT = ADMIN - {"secrecy"}
NOTHING: set[str] = set()
HIDDEN = None  # the case is not visible at all (404)

# (role, place, secret) -> None when the case is missing for the role, else
# (sees the content, the actions allowed).
EXPECTED: dict[tuple[str, str, bool], tuple[bool, set[str]] | None] = {
    ("agent", "first_line", False): (True, FIRST_LINE_AGENT),
    ("agent", "first_line", True): (True, FIRST_LINE_AGENT),
    ("agent", "department", False): (True, AGENT_ON_DEPARTMENT_CASE),
    ("agent", "department", True): (False, NOTHING),
    ("handler_own", "first_line", False): HIDDEN,
    ("handler_own", "first_line", True): HIDDEN,
    ("handler_own", "department", False): (True, HANDLER),
    ("handler_own", "department", True): (True, HANDLER),
    ("handler_other", "first_line", False): HIDDEN,
    ("handler_other", "first_line", True): HIDDEN,
    ("handler_other", "department", False): HIDDEN,
    ("handler_other", "department", True): HIDDEN,
    ("manager", "first_line", False): (True, MANAGER),
    ("manager", "first_line", True): (True, MANAGER),
    ("manager", "department", False): (True, MANAGER),
    ("manager", "department", True): (False, NOTHING),
    ("manager_own", "first_line", False): (True, MANAGER),
    ("manager_own", "first_line", True): (True, MANAGER),
    ("manager_own", "department", False): (True, MANAGER),
    ("manager_own", "department", True): (True, MANAGER),
    ("admin", "first_line", False): (True, ADMIN_ON_FIRST_LINE),
    ("admin", "first_line", True): (True, ADMIN_ON_FIRST_LINE),
    ("admin", "department", False): (True, ADMIN_ON_OTHER_DEPARTMENT),
    ("admin", "department", True): (False, NOTHING),
}

SUMMARY = "Hemlig uppgift om familjen Xylofon"
CASES = [(role, place, secret) for role in ROLES for place in PLACES for secret in (False, True)]


def test_the_table_covers_every_action_of_the_rules():
    from kontaktcenter.cases import access

    assert set(ACTIONS) == access.ALL_ACTIONS
    assert set(EXPECTED) == set(CASES)


# --- building the situation --------------------------------------------------------------------


def _user(org: Org, role: str) -> User:
    if role == "handler_own":
        return org.handler_bygg
    if role == "handler_other":
        return org.handler_miljo
    if role == "manager_own":
        return make_user(Role.MANAGER, [org.bygg], name="Mona Byggchef")
    return getattr(org, role)


def _case(org: Org, place: str, secret: bool, summary: str = SUMMARY) -> Case:
    """A case routed to Stadsbyggnadskontoret, or moved back to the contact center; made secret
    (its own ground) in the database, not through the rules under test."""
    case = make_case(
        org.agent,
        org.bygglov,
        summary=summary,
        contact=ContactData(name="Sven Xylofon", phone="070-123 45 67", email="sven@example.se"),
    )
    if place == "first_line":
        case.department = None
    if secret:
        case.secrecy_ground = "OSL 26:1"
    db.session.commit()
    return case


def _other_user(org: Org, by: User, case: Case) -> User:
    """Someone the case may be assigned to (not the actor: that would be "take")."""
    if case.department_id is None:
        return org.admin if by is org.agent else org.agent
    return org.agent if by is org.handler_bygg else org.handler_bygg


Prepare = Callable[[Org, User, Case], dict[str, str]]


def _closed(org: Org, by: User, case: Case) -> dict[str, str]:
    case.status, case.closed_at = CaseStatus.CLOSED, utcnow()
    db.session.commit()
    return {"note": "Ringde igen"}


def _waiting(org: Org, by: User, case: Case) -> dict[str, str]:
    case.status = CaseStatus.WAITING
    db.session.commit()
    return {}


def _callback(org: Org, by: User, case: Case) -> dict[str, str]:
    case.callback_due_at, case.callback_done_at = utcnow() + timedelta(hours=2), None
    db.session.commit()
    return {"result": "reached"}


def _twin(org: Org, case: Case) -> Case:
    return _case(
        org,
        "first_line" if case.department_id is None else "department",
        case.is_secret,
        "Tvilling",
    )


def _merge(org: Org, by: User, case: Case) -> dict[str, str]:
    return {"reference": _twin(org, case).reference, "confirm": "y"}


def _link(org: Org, by: User, case: Case) -> dict[str, str]:
    return {"reference": _twin(org, case).reference}


def _unlink(org: Org, by: User, case: Case) -> dict[str, str]:
    other = _twin(org, case)
    db.session.add(CaseLink(case_id=case.id, other_case_id=other.id))
    db.session.commit()
    return {"other": str(other.id)}


PREPARE: dict[str, Prepare] = {
    "note": lambda org, by, case: {"text": "Ringde och frågade igen"},
    "assign": lambda org, by, case: {"assignee": str(_other_user(org, by, case).id)},
    "take": lambda org, by, case: {},
    "route": lambda org, by, case: {"department": str(org.miljo.id), "note": "Buller"},
    "hand_off": lambda org, by, case: {"case_type": "bygglov", "transfer": "cold"},
    "refer": lambda org, by, case: {"authority": "Skatteverket"},
    "book_callback": lambda org, by, case: {"note": "Efter lunch"},
    "callback_attempt": _callback,
    "close": lambda org, by, case: {"resolution": "Förklarade reglerna."},
    "reopen": _closed,
    "wait": lambda org, by, case: {"note": "Väntar på ritning"},
    "resume": _waiting,
    "classify": lambda org, by, case: {"case_type": "strandskydd"},
    "reply": lambda org, by, case: {"body": "Hej! Här är svaret."},
    "merge": _merge,
    "link": _link,
    "unlink": _unlink,
    "return": lambda org, by, case: {"note": "Hör inte hit"},
    "secrecy": lambda org, by, case: {"ground": "OSL 23:2"},
}


def _url(case: Case, action: str) -> str:
    if action == "secrecy":
        return f"/arenden/{case.id}/sekretess"
    return f"/arenden/{case.id}/{action}"


# --- the matrix through the case page ----------------------------------------------------------


@pytest.mark.parametrize(("role", "place", "secret"), CASES)
def test_seeing_the_case_and_its_content(client, org, login, role, place, secret):
    case = _case(org, place, secret)
    user = _user(org, role)
    login(user)
    response = client.get(f"/arenden/{case.id}")
    expected = EXPECTED[(role, place, secret)]
    if expected is None:
        assert response.status_code == 404
        return
    sees_content, allowed = expected
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert case.reference in html and "Bygglov" in html  # register fields, always
    assert (SUMMARY in html) is sees_content
    assert ("Sven Xylofon" in html) is sees_content
    if not sees_content:
        assert "Stadsbyggnadskontoret" in html and "sekretess (OSL 26:1)" in html
    # The page offers no action the rules refuse.
    for action in set(ACTIONS) - allowed:
        assert f'action="{_url(case, action)}"' not in html, action


@pytest.mark.parametrize(("role", "place", "secret"), CASES)
def test_each_action(client, org, login, outbox, role, place, secret):
    """Every action, each on a case of its own in a state that allows it: done (302 and the
    case changed) when the table allows it, else refused (403, or 404 when the case is hidden)
    and nothing changed."""
    user = _user(org, role)
    login(user)
    expected = EXPECTED[(role, place, secret)]
    wrong = []
    for action in ACTIONS:
        case = _case(org, place, secret)
        data = PREPARE[action](org, user, case)
        before = case.version
        response = post(client, _url(case, action), {"version": str(case.version), **data})
        db.session.expire_all()
        if expected is None:
            outcome = (response.status_code, case.version == before) == (404, True)
        elif action in expected[1]:
            outcome = (response.status_code, case.version > before) == (302, True)
        else:
            outcome = (response.status_code, case.version == before) == (403, True)
        if not outcome:
            wrong.append((action, response.status_code))
    assert wrong == []


# --- the same rules through the API ------------------------------------------------------------


@pytest.mark.parametrize(("role", "place", "secret"), CASES)
def test_the_api_keeps_the_same_rules(client, org, role, place, secret):
    case = _case(org, place, secret)
    user = _user(org, role)
    api = api_as(client, user)
    expected = EXPECTED[(role, place, secret)]
    got = api.get(f"/cases/{case.reference}")
    if expected is None:
        assert got.status_code == 404
        assert api.post(f"/cases/{case.reference}/notes", {"text": "x"}).status_code == 404
        return
    sees_content, allowed = expected
    body = got.get_json()
    assert got.status_code == 200 and body["reference"] == case.reference
    assert body["secret"] is secret and body["case_type"]["slug"] == "bygglov"
    assert (body["summary"] == SUMMARY) is sees_content
    assert (body["contact"] is not None) is sees_content
    listed = api.get("/cases").get_json()["items"]
    assert [(c["reference"], c["summary"] == SUMMARY) for c in listed] == [
        (case.reference, sees_content)
    ]
    note = api.post(f"/cases/{case.reference}/notes", {"text": "Ringde igen"})
    assert note.status_code == (201 if "note" in allowed else 403)
    ground = api.open("PUT", f"/cases/{case.reference}/secrecy", json={"ground": "OSL 23:2"})
    assert ground.status_code == (200 if "secrecy" in allowed else 403)
    closed = api.post(f"/cases/{case.reference}/close", {"resolution": "Klart."})
    assert closed.status_code == (200 if "close" in allowed else 403)
