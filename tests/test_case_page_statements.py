"""The case page reads what it shows in few statements (issue #16), and shows the same: the
case with its type, department, contact and people in one SELECT; the cases beside it
(the same person's, linked) with their case types in one statement, however many there are;
the forms' lists from the cache that follows the organisation's names; the reply's subject once
for all answer templates; the untouched forms' fields rendered once per process."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app

from kontaktcenter.cases import merging
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import MailTemplate
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.goals import engine
from kontaktcenter.goals.models import CaseGoal, GoalState, GoalTarget
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.organisation.models import User
from kontaktcenter.workspace.queue_rows import goal_state_badge
from tests.factories import make_case, make_case_type, make_user, post
from tests.mailutil import make_mail
from tests.statements import statements

_CSRF = re.compile(r'name="csrf_token"([^>]*)value="[^"]+"')
_CONTACT = ContactData(name="Sven Svensson", phone="070-123 45 67")


def _page(client, case_id: int) -> tuple[str, list[str]]:
    """The page as in production: in an app context of its own, so the request's session starts
    empty (not with the test's objects, loaded or expired), on the test's transaction."""
    with current_app.app_context(), statements(ours_only=True) as executed:
        response = client.get(f"/arenden/{case_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True), executed


def _options(page: str, select_id: str) -> list[tuple[str, str]]:
    found = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert found, select_id
    return [
        (html_lib.unescape(v), html_lib.unescape(label))
        for v, label in re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', found[1])
    ]


def test_the_cases_beside_it_cost_no_statement_each(client, org, login):
    """The same person's other cases (offered for linking) and linked cases: whether the reader
    sees their content depends on their case types, read together, not one lazy load each."""
    case = make_case(org.agent, None, None, Channel.EMAIL, contact=_CONTACT)
    # Routed cases: whether their content shows depends on their case types' secrecy.
    make_case(org.agent, org.bygglov, Outcome.ROUTED, contact=_CONTACT)
    login(org.agent)
    _page_one, one_beside = _page(client, case.id)
    for case_type in (org.strandskydd, org.miljotillsyn, org.bygglov):
        make_case(org.agent, case_type, Outcome.ROUTED, contact=_CONTACT)
    make_case(org.agent, None, Outcome.ANSWERED, contact=_CONTACT)
    other = make_case(org.agent, org.miljotillsyn, Outcome.ROUTED)
    merging.link(db.session.get_one(Case, case.id), org.agent, other.reference)
    page, many_beside = _page(client, case.id)
    type_reads = [s for s in many_beside if "FROM case_types WHERE case_types.id" in s]
    assert len(type_reads) <= 1, type_reads
    # Without a related case the page asks once whether there is any (relations.has_others);
    # with one it reads merges, links and mentions (three) and the related cases (one). The
    # five more candidates add nothing.
    assert not [s for s in one_beside if s.startswith("SELECT case_links.")], one_beside
    assert len(many_beside) <= len(one_beside) + 4, many_beside
    assert other.reference in page and "Kopplat" in page


def test_the_case_and_what_it_shows_come_in_one_select(client, org, login):
    case = make_case(org.agent, org.bygglov, Outcome.ROUTED, contact=_CONTACT)
    login(org.handler_bygg)
    page, executed = _page(client, case.id)
    lazy = [
        s
        for s in executed
        if s.startswith("SELECT")
        and re.search(r"FROM (case_types|departments|contacts|users) WHERE \w+\.id = ", s)
    ]
    assert not lazy, lazy
    assert "Sven Svensson" in page and "Stadsbyggnadskontoret" in page and "Bygglov" in page
    # the assignee's and the registrar's names only, not their password hashes and tokens
    (read,) = [s for s in executed if s.startswith("SELECT cases.id")]
    assert "password_hash" not in read and "session_token" not in read
    assert org.agent.name in page  # the registrar


def test_the_forms_lists_come_from_the_names_cache_and_follow_a_change(app, client, org, login):
    """Within the cache time the page reads no departments or case types for its forms; the
    lists are those organisation.departments() and case_types() give; a case type renamed in
    this process is shown at once."""
    make_case_type(org.miljo, "Avlopp", "avlopp", number=None)
    gone = make_case_type(org.bygg, "Gammal typ", "gammal")
    gone.active = False
    db.session.commit()
    case = make_case(org.agent, None, None, Channel.EMAIL)
    login(org.agent)
    app.config["ORGANISATION_CACHE_SECONDS"] = 60
    try:
        _page(client, case.id)  # fills the caches
        page, executed = _page(client, case.id)
        # reads of the lists themselves (a secrecy subquery on case_types is not one)
        heads = [s.split(" WHERE ")[0] for s in executed]
        assert not [h for h in heads if "FROM departments" in h or "FROM case_types" in h]
        expected_types = [
            (t.slug, f"{t.name} ({t.department.name})") for t in organisation.case_types()
        ]
        expected_numbers = [
            (t.slug, f"{t.name}: {t.direct_number}")
            for t in organisation.case_types(with_direct_number=True)
        ]
        expected_departments = [(str(d.id), d.name) for d in organisation.departments()]
        assert _options(page, "classify-case_type")[1:] == expected_types
        assert _options(page, "hand_off-case_type")[1:] == expected_numbers
        assert _options(page, "route-department")[1:] == expected_departments
        assert ("gammal", "Gammal typ (Stadsbyggnadskontoret)") not in expected_types
        db.session.get_one(type(org.bygglov), org.bygglov.id).name = "Bygglov och anmälan"
        db.session.commit()
        page, _executed = _page(client, case.id)
    finally:
        app.config["ORGANISATION_CACHE_SECONDS"] = 0
    assert ("bygglov", "Bygglov och anmälan (Stadsbyggnadskontoret)") in _options(
        page, "classify-case_type"
    )


def test_a_posted_form_is_checked_against_the_lists_read_anew(app, client, org, login):
    """The cache serves the page; a posted choice is checked against the case types as they
    are now (a type made inactive is refused even while the cached lists still offer it)."""
    case = make_case(org.agent, None, None, Channel.EMAIL)
    login(org.agent)
    app.config["ORGANISATION_CACHE_SECONDS"] = 60
    try:
        page, _executed = _page(client, case.id)
        assert ("strandskydd", "Strandskydd (Stadsbyggnadskontoret)") in _options(
            page, "classify-case_type"
        )
        db.session.execute(
            sa.update(type(org.strandskydd))  # Core: the names cache does not hear of it
            .where(type(org.strandskydd).id == org.strandskydd.id)
            .values(active=False)
        )
        case = db.session.get_one(Case, case.id)
        response = post(
            client,
            f"/arenden/{case.id}/classify",
            {"version": case.version, "case_type": "strandskydd"},
        )
    finally:
        app.config["ORGANISATION_CACHE_SECONDS"] = 0
    assert response.status_code == 422


def test_the_answer_templates_read_the_subject_once(client, org, login, outbox):
    reference = ingest(make_mail(subject="Fråga om bygglov")).reference
    case = db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()
    for n in range(3):
        db.session.add(
            MailTemplate(
                key=f"answer-{n}",
                name=f"Mall {n}",
                subject="",
                body=f"Hej {{namn}}!\n\nOm {{ämne}} ({{referens}}), svar {n}.\n\n"
                "Vänliga hälsningar\nKontaktcenter",
            )
        )
    db.session.commit()
    login(org.agent)
    page, executed = _page(client, case.id)
    subject_reads = [s for s in executed if s.startswith("SELECT mail_messages.subject")]
    assert len(subject_reads) <= 2, subject_reads  # the reply's subject, the templates' values
    case = db.session.get_one(Case, case.id)
    templates = db.session.scalars(
        sa.select(MailTemplate).where(MailTemplate.key.like("answer-%")).order_by(MailTemplate.name)
    ).all()
    shown = re.findall(r'<option value="(\d+)" data-text="([^"]*)">', page)
    assert [(int(i), html_lib.unescape(text)) for i, text in shown] == [
        (t.id, outbound.template_text(t, case)) for t in templates
    ]
    assert "Fråga om bygglov" in shown[0][1] and "Vänliga hälsningar" not in shown[0][1]


@pytest.mark.parametrize("role", ["agent", "handler_bygg", "manager"])
def test_the_cached_fields_are_the_fields_rendered_anew(app, client, org, login, role):
    """The untouched forms' fields come from a per-process cache: the page is the same as
    with the cache bypassed (templates reloading, as under a developer)."""
    if role == "agent":
        case = make_case(org.agent, None, None, Channel.EMAIL, contact=_CONTACT)
    else:
        case = make_case(org.agent, org.bygglov, Outcome.ROUTED, contact=_CONTACT)
    login(getattr(org, role))
    cached, _executed = _page(client, case.id)
    again, _executed = _page(client, case.id)
    app.jinja_env.auto_reload = True
    try:
        fresh, _executed = _page(client, case.id)
    finally:
        app.jinja_env.auto_reload = False
    assert _CSRF.sub("", cached) == _CSRF.sub("", fresh) == _CSRF.sub("", again)
    assert 'id="action-note"' in fresh


def test_a_posted_form_shows_its_own_values_and_errors_not_the_cached_fields(client, org, login):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_bygg)
    client.get(f"/arenden/{case.id}")  # the untouched forms' fields are cached
    response = post(
        client, f"/arenden/{case.id}/close", {"version": case.version, "resolution": ""}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Skriv hur ärendet löstes." in page
    response = post(
        client,
        f"/arenden/{case.id}/note",
        {"version": case.version, "text": "x" * 4001},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "x" * 4001 in page


def test_the_assign_list_is_cached_and_an_assignment_checks_the_users_as_they_are(
    app, client, org, login
):
    case = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    login(org.handler_bygg)
    app.config["ORGANISATION_CACHE_SECONDS"] = 60
    try:
        _page(client, case.id)  # fills the cache
        page, executed = _page(client, case.id)
        assert not [s for s in executed if "FROM users WHERE users.active" in s], executed
        assert (str(org.handler_bygg.id), "Hugo Bygg (Handläggare)") in _options(
            page, "assign-assignee"
        )
        db.session.get_one(User, org.handler_bygg.id).name = "Hugo Byggsson"  # this process
        db.session.commit()
        page, _executed = _page(client, case.id)
        assert (str(org.handler_bygg.id), "Hugo Byggsson (Handläggare)") in _options(
            page, "assign-assignee"
        )
        other = make_user(Role.HANDLER, [org.bygg], name="Otto Annan")
        page, _executed = _page(client, case.id)  # a user added here: forgotten, read anew
        assert (str(other.id), "Otto Annan (Handläggare)") in _options(page, "assign-assignee")
        # Another process deactivates Otto: this one's list still offers him for a while ...
        db.session.execute(sa.update(User).where(User.id == other.id).values(active=False))
        page, _executed = _page(client, case.id)
        assert (str(other.id), "Otto Annan (Handläggare)") in _options(page, "assign-assignee")
        # ... but assigning the case to him is refused.
        case = db.session.get_one(Case, case.id)
        response = post(
            client, f"/arenden/{case.id}/assign", {"version": case.version, "assignee": other.id}
        )
    finally:
        app.config["ORGANISATION_CACHE_SECONDS"] = 0
    assert response.status_code == 422
    assert db.session.get_one(Case, case.id).assignee_id is None


def test_a_form_posted_with_nothing_filled_in_leaves_no_error_on_the_next_page(client, org, login):
    """A form posted without its field has the untouched form's values, and its errors: they
    are shown on its answer, never kept for the next page's untouched form."""
    case = make_case(org.agent, org.bygglov)
    login(org.handler_bygg)
    response = post(client, f"/arenden/{case.id}/close", {"version": case.version})
    assert response.status_code == 422
    assert "Skriv hur ärendet löstes." in response.get_data(as_text=True)
    page, _executed = _page(client, case.id)
    assert "Skriv hur ärendet löstes." not in page


def test_side_panels_with_nothing_to_show_read_nothing(app, client, org, login):
    """Most cases have no callback, call, diarium entry, hold or retention state: the case's
    own SELECT says so (core.case_panels' probes) and no panel reads its table. The panels'
    own tests show each one where there is something (a probe always false fails them)."""
    case = make_case(org.agent, org.bygglov, Outcome.ROUTED, contact=_CONTACT)
    login(org.handler_bygg)
    app.config["ORGANISATION_CACHE_SECONDS"] = 60  # as in production: lists and branding kept
    try:
        _page(client, case.id)
        _page_text, executed = _page(client, case.id)
    finally:
        app.config["ORGANISATION_CACHE_SECONDS"] = 0
    heads = [s.split(" WHERE ")[0] for s in executed]
    tables = ("callbacks", "calls", "case_diarium", "legal_holds", "case_retention")
    for table in (*tables, "mail_messages"):  # and a phone case's (absent) messages
        assert not [h for h in heads if re.search(rf"FROM {table}\b", h)], (table, heads)
    selects = [s for s in executed if s.startswith("SELECT")]
    # the user, the case (with its probes), goals, timeline, link suggestions (the retention
    # rules are kept per process: core.process_cache)
    assert len(selects) <= 5, "\n".join(s[:90] for s in selects)


def test_the_goals_shown_are_the_cases_visible_goals_in_order_with_their_state(client, org, login):
    """The page reads its goals as rows (goals.queries), not through Case.goals: the same
    goals as goals.engine.visible_goals (not the superseded one), in the same order, each
    with its deadline and state."""
    case = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    now = utcnow()
    extra = [
        (GoalTarget.RESOLUTION, now + timedelta(days=3), None, now - timedelta(hours=1)),
        (GoalTarget.CALLBACK, now - timedelta(hours=2), None, None),  # breached
        (GoalTarget.FIRST_RESPONSE, now + timedelta(days=1), now - timedelta(hours=3), None),
        (GoalTarget.SECOND_LINE, now + timedelta(days=2), None, None),
    ]
    for target, due, met, cancelled in extra:
        db.session.add(
            CaseGoal(
                case_id=case.id,
                target=target,
                definition={"amount": 2, "unit": "working_days"},
                started_at=now - timedelta(days=1),
                due_at=due,
                at_risk_at=due - timedelta(hours=4),
                met_at=met,
                cancelled_at=cancelled,
            )
        )
    db.session.commit()
    login(org.handler_bygg)
    page, _executed = _page(client, case.id)
    table = re.search(r'<h2 id="goals-h">.*?</table>', page, re.S)
    assert table
    shown = re.findall(r'<th scope="row">([^<]+)<br>', table.group(0))
    case = db.session.get_one(Case, case.id)
    expected = engine.visible_goals(case)
    assert shown == [g.target.label for g in expected]
    # the case's own goal first, then those added: by id, without the superseded one
    assert "Lösning" not in shown
    assert shown[-3:] == ["Återuppringning", "Första svar", "Förvaltningen tar ärendet"]
    rows = re.findall(r"<tr>\s*<th scope=\"row\">.*?</tr>", table.group(0), re.S)
    states = [engine.state(case, g, utcnow()) for g in expected]
    assert states[-3:] == [GoalState.BREACHED, GoalState.MET, GoalState.OK]
    for state, row in zip(states, rows, strict=True):
        assert goal_state_badge(state) in row
