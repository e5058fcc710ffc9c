"""Secrecy (issue #15): setting it, and what a secret case shows outside its department —
in lists, search, the contact page, the API, mail and exports. The role × action matrix is
tests/test_secrecy_matrix.py."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import access, secrecy
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.errors import Conflict, Forbidden, ValidationError
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.goals.models import GoalTarget, ServiceGoal, Unit
from kontaktcenter.goals.tasks import send_goal_alert
from kontaktcenter.reports import contact_list
from kontaktcenter.search.models import SearchDocument
from kontaktcenter.search.parsing import parse
from kontaktcenter.search.queries import SearchFilters, search
from tests.api_client import api_as, error_of
from tests.factories import Org, make_case, post

SECRET_TEXT = "Orosanmälan om barnen Xylofon"
PARTY = ContactData(name="Vera Xylofon", phone="070-987 65 43", email="vera@example.se")


def _secret_case(org: Org, *, routed: bool = True) -> Case:
    """A case about a party, routed to Stadsbyggnadskontoret (or not), made secret by its
    case type (as socialtjänst's would be)."""
    org.bygglov.secrecy_ground = "OSL 26:1"
    db.session.commit()
    case = make_case(org.agent, org.bygglov, summary=SECRET_TEXT, contact=PARTY)
    if not routed:
        case.department = None
        db.session.commit()
    return case


# --- the interface -----------------------------------------------------------------------------


def test_a_case_is_secret_by_its_own_ground_or_its_case_types(org):
    case = make_case(org.agent, org.bygglov)
    assert not case.is_secret and case.effective_secrecy_ground is None
    org.bygglov.secrecy_ground = "OSL 26:1"
    assert case.is_secret and case.effective_secrecy_ground == "OSL 26:1"
    case.secrecy_ground = "OSL 21:3"  # the case's own ground is the one shown
    assert case.effective_secrecy_ground == "OSL 21:3"
    org.bygglov.secrecy_ground = None
    assert case.is_secret
    case.secrecy_ground = None
    assert not case.is_secret
    assert secrecy.masked_text("OSL 26:1") == "Uppgiften omfattas av sekretess (OSL 26:1)"
    assert secrecy.GROUNDS["OSL 26:1"].startswith("Socialtjänst")
    assert secrecy.MASK == "[Sekretess]"


def test_sees_content_only_inside_the_department_once_routed(org):
    routed = _secret_case(org)
    assert access.sees_content(org.handler_bygg, routed)
    for user in (org.agent, org.manager, org.admin, org.handler_miljo):
        assert not access.sees_content(user, routed)
    first_line = _secret_case(org, routed=False)
    assert access.sees_content(org.agent, first_line)  # first line may create and route it
    assert not access.sees_content(org.handler_bygg, first_line)  # cannot see it at all
    plain = make_case(org.agent, org.miljotillsyn)
    assert access.sees_content(org.agent, plain) and access.sees_content(org.manager, plain)
    # The SQL twin agrees.
    for user in (org.agent, org.manager, org.handler_bygg):
        visible = db.session.scalars(
            sa.select(Case.id).where(
                access.visible_clause(user), access.content_visible_clause(user)
            )
        ).all()
        expected = {c.id for c in (routed, first_line, plain) if access.sees_content(user, c)}
        assert set(visible) == expected, user


# --- setting it --------------------------------------------------------------------------------


def test_a_handler_sets_and_clears_a_cases_ground_on_the_timeline_and_in_the_audit_log(org):
    case = make_case(org.agent, org.bygglov, summary="Fråga om skyddad adress")
    secrecy.set_secrecy(case, org.handler_bygg, "OSL 21:3", case.version)
    assert case.is_secret and case.secrecy_set_by == org.handler_bygg
    entry = case.activities[-1]
    assert entry.kind == ActivityKind.SECRECY_CHANGED
    assert entry.data == {"secrecy": "OSL 21:3", "previous": None}
    logged = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "secrecy_changed")
    ).one()
    assert logged.case_id == case.id and logged.detail == {"ground": "OSL 21:3", "previous": None}
    secrecy.set_secrecy(case, org.handler_bygg, None)
    assert not case.is_secret and case.activities[-1].data["previous"] == "OSL 21:3"


def test_setting_a_ground_refuses_what_it_must(org):
    case = make_case(org.agent, org.bygglov)
    with pytest.raises(ValidationError, match="ur listan"):
        secrecy.set_secrecy(case, org.handler_bygg, "OSL 99:9")
    with pytest.raises(Conflict):
        secrecy.set_secrecy(case, org.handler_bygg, "OSL 26:1", case.version - 1)
    with pytest.raises(Forbidden):  # the first line, once a department has the case
        secrecy.set_secrecy(case, org.agent, "OSL 26:1")
    db.session.expire_all()
    assert case.secrecy_ground is None


def test_clearing_the_cases_own_ground_keeps_its_case_types(org):
    case = _secret_case(org)
    secrecy.set_secrecy(case, org.handler_bygg, "OSL 21:3")
    secrecy.set_secrecy(case, org.handler_bygg, None)
    assert case.is_secret and case.effective_secrecy_ground == "OSL 26:1"


def test_the_case_page_panel_sets_the_ground(client, org, login):
    case = make_case(org.agent, org.bygglov, summary="Fråga om elevhälsan")
    login(org.handler_bygg)
    page = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "Sekretess" in page and 'name="ground"' in page
    response = post(
        client, f"/arenden/{case.id}/sekretess", {"ground": "OSL 23:2", "version": case.version}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert case.secrecy_ground == "OSL 23:2"
    page = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "Elevhälsa" in page and "sekretess enligt OSL 23:2" in page  # panel and timeline
    bad = post(client, f"/arenden/{case.id}/sekretess", {"ground": "nej", "version": case.version})
    assert bad.status_code == 302
    db.session.expire_all()
    assert case.secrecy_ground == "OSL 23:2"
    assert "ur listan" in client.get(f"/arenden/{case.id}").get_data(as_text=True)
    # A manager sees the panel, not the form.
    login(org.manager)
    assert 'name="ground"' not in client.get(f"/arenden/{case.id}").get_data(as_text=True)


def test_the_admin_makes_a_case_type_secret_and_the_search_index_follows(client, org, login):
    case = make_case(org.agent, org.bygglov, summary="Fråga om cisternen")
    doc = db.session.get(SearchDocument, case.id)
    assert doc is not None and doc.secret is False
    login(org.admin)
    form = client.get(f"/admin/arendetyper/{org.bygglov.id}").get_data(as_text=True)
    assert "OSL 26:1" in form
    data = {
        "name": "Bygglov",
        "slug": "bygglov",
        "department": str(org.bygg.id),
        "callback_promise_hours": "24",
        "active": "y",
        "secrecy_ground": "OSL 26:1",
    }
    assert post(client, f"/admin/arendetyper/{org.bygglov.id}", data).status_code == 302
    db.session.expire_all()
    assert org.bygglov.secrecy_ground == "OSL 26:1" and case.is_secret
    assert db.session.get(SearchDocument, case.id).secret is True
    assert "OSL 26:1" in client.get("/admin/arendetyper/").get_data(as_text=True)
    logged = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "case_type_secrecy_changed")
    ).one()
    assert logged.user_id == org.admin.id and logged.detail["ground"] == "OSL 26:1"
    bad = post(client, f"/admin/arendetyper/{org.bygglov.id}", data | {"secrecy_ground": "x"})
    assert bad.status_code == 422
    assert (
        post(
            client, f"/admin/arendetyper/{org.bygglov.id}", data | {"secrecy_ground": ""}
        ).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(SearchDocument, case.id).secret is False


def test_a_cases_own_ground_reaches_the_search_index(org):
    case = make_case(org.agent, org.bygglov)
    secrecy.set_secrecy(case, org.handler_bygg, "OSL 21:1")
    assert db.session.get(SearchDocument, case.id).secret is True


# --- what others see ---------------------------------------------------------------------------


def test_the_case_page_shows_others_the_register_fields_only(client, org, login):
    case = _secret_case(org)
    login(org.manager)
    page = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert case.reference in page and "Stadsbyggnadskontoret" in page and "Bygglov" in page
    assert "Uppgiften omfattas av sekretess (OSL 26:1)" in page
    assert SECRET_TEXT not in page and "Vera Xylofon" not in page and "070-987" not in page
    assert client.post(f"/arenden/{case.id}/personnummer").status_code in (400, 404)
    login(org.handler_bygg)
    page = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert SECRET_TEXT in page and "Vera Xylofon" in page


def test_the_queue_shows_a_secret_case_without_its_content(client, org, login):
    case = _secret_case(org)
    login(org.agent)
    page = client.get("/ko/", query_string={"department": org.bygg.id}).get_data(as_text=True)
    assert case.reference in page
    assert SECRET_TEXT not in page and "Vera Xylofon" not in page
    assert "omfattas av sekretess" in page
    login(org.handler_bygg)
    page = client.get("/inkorg/").get_data(as_text=True)
    assert SECRET_TEXT in page and "Vera Xylofon" in page


def test_search_never_finds_a_secret_case_by_its_content_or_party(org):
    case = _secret_case(org)
    plain = make_case(org.agent, org.miljotillsyn, summary="Xylofon spelar för högt")
    typed_party = ("Vera Xylofon", "070-987 65 43", "vera@example.se")
    for user in (org.agent, org.manager, org.admin):
        for typed in ("orosanmälan", *typed_party):
            result = search(user, parse(typed))
            assert case not in [hit.case for hit in result.cases], (user, typed)
            # A party of nothing but a secret case is not found either.
            assert all(hit.contact.name != "Vera Xylofon" for hit in result.contacts), typed
        assert plain in [hit.case for hit in search(user, parse("xylofon")).cases]
        # By its reference: found, shown with its register fields.
        assert search(user, parse(case.reference)).case is case
    for typed in ("orosanmälan", *typed_party):
        assert case in [hit.case for hit in search(org.handler_bygg, parse(typed)).cases]
    # Listing by filters shows it (the register), never its text.
    listed = search(org.agent, parse(""), SearchFilters(department_id=org.bygg.id))
    assert case in [hit.case for hit in listed.cases]
    # Once the party has a case the user may read, they are found, their secret case still not.
    also = make_case(org.agent, org.miljotillsyn, summary="Buller", contact=PARTY)
    assert also.contact_id == case.contact_id
    for user in (org.agent, org.manager):
        for typed in typed_party:
            result = search(user, parse(typed))
            assert [hit.contact.id for hit in result.contacts] == [also.contact_id], typed
            hits = [hit.case for hit in result.cases]
            assert also in hits and case not in hits, (user, typed)


def test_the_search_page_shows_a_listed_secret_case_masked(client, org, login):
    case = _secret_case(org)
    login(org.agent)
    page = client.get("/sok/", query_string={"q": "", "department": org.bygg.id})
    html = page.get_data(as_text=True)
    assert case.reference in html  # listed by the filters, with its register fields
    assert SECRET_TEXT not in html and "Vera Xylofon" not in html
    assert "omfattas av sekretess" in html
    html = client.get("/sok/", query_string={"q": "orosanmälan"}).get_data(as_text=True)
    assert case.reference not in html and SECRET_TEXT not in html


def test_the_contact_page_leaves_out_their_secret_cases_outside_the_department(client, org, login):
    case = _secret_case(org)
    other = make_case(org.agent, org.miljotillsyn, summary="Buller från grannen", contact=PARTY)
    login(org.agent)
    page = client.get(f"/kontakter/{case.contact_id}").get_data(as_text=True)
    assert other.reference in page and case.reference not in page
    login(org.handler_bygg)
    page = client.get(f"/kontakter/{case.contact_id}").get_data(as_text=True)
    assert case.reference in page


# --- the API -----------------------------------------------------------------------------------


def test_the_api_lists_the_grounds_and_sets_and_clears_a_cases_ground(client, org):
    api = api_as(client, org.handler_bygg)
    grounds = api.get("/secrecy-grounds").get_json()["items"]
    assert {"code": "OSL 26:1", "label": secrecy.GROUNDS["OSL 26:1"]} in grounds
    assert len(grounds) == len(secrecy.GROUNDS)
    case = make_case(org.agent, org.bygglov)
    url = f"/cases/{case.reference}/secrecy"
    body = api.open("PUT", url, json={"ground": "OSL 25:1", "version": case.version}).get_json()
    assert body["secret"] is True and body["secrecy_ground"] == "OSL 25:1"
    stale = api.open("PUT", url, json={"ground": None, "version": 1})
    assert stale.status_code == 409
    assert api.open("PUT", url, json={"ground": None}).get_json()["secret"] is False
    for bad, field in (({"ground": "OSL 1:1"}, "ground"), ({}, "ground"), ({"x": 1}, "ground")):
        response = api.open("PUT", url, json=bad)
        assert response.status_code == 422 and error_of(response)["field"] == field
    response = api.open("PUT", url, json={"ground": None, "extra": 1})
    assert response.status_code == 422 and error_of(response)["field"] == "extra"
    missing = api_as(client, org.handler_miljo).open("PUT", url, json={"ground": None})
    assert missing.status_code == 404


def test_the_api_search_shows_others_no_secret_content(client, org):
    case = _secret_case(org)
    api = api_as(client, org.manager)
    found = api.get("/search", query_string={"q": "orosanmälan"}).get_json()
    assert found["items"] == []
    by_reference = api.get("/search", query_string={"q": case.reference}).get_json()
    assert by_reference["case"]["reference"] == case.reference
    assert by_reference["case"]["summary"] == "Uppgiften omfattas av sekretess (OSL 26:1)"
    assert by_reference["case"]["contact"] is None and by_reference["case"]["secret"] is True
    listed = api.get("/search", query_string={"department": "stadsbyggnad"}).get_json()
    assert [i["snippet"] for i in listed["items"] if i["case"]["reference"] == case.reference] in (
        [],
        [[]],
    )
    own = api_as(client, org.handler_bygg).get("/search", query_string={"q": "orosanmälan"})
    assert [i["case"]["summary"] for i in own.get_json()["items"]] == [SECRET_TEXT]


# --- mail and exports --------------------------------------------------------------------------


def test_a_goal_alert_about_a_secret_case_does_not_carry_its_summary(app, org, tmp_path):
    db.session.add(ServiceGoal(target=GoalTarget.SECOND_LINE, amount=1, unit=Unit.OPENING_HOURS))
    db.session.commit()
    case = _secret_case(org)
    plain = make_case(org.agent, org.miljotillsyn, summary="Fråga om buller", contact=PARTY)
    app.config["OUTBOX_DIR"] = str(tmp_path)
    try:
        for c in (case, plain):
            (goal,) = [g for g in c.goals if g.target == GoalTarget.SECOND_LINE]
            send_goal_alert(goal.id, "breached")
        mails = {p.read_text() for p in tmp_path.glob("*.eml")}
    finally:
        app.config["OUTBOX_DIR"] = None
    (secret_mail,) = [m for m in mails if case.reference in m]
    assert "Xylofon" not in secret_mail and "Orosanm" not in secret_mail
    assert "sekretess (OSL 26:1)" in secret_mail
    (plain_mail,) = [m for m in mails if plain.reference in m]
    assert "Fråga om buller" in plain_mail


def test_the_contact_list_leaves_out_secret_cases_outside_the_exporters_department(org):
    received = utcnow() - timedelta(days=1)
    case = _secret_case(org)
    case.received_at = received
    plain = make_case(
        org.agent,
        org.miljotillsyn,
        contact=ContactData(name="Åsa", phone="070-111 22 33"),
        received_at=received,
    )
    db.session.commit()
    from kontaktcenter.reports.periods import local_date

    day = local_date(received)
    assert {r[2] for r in contact_list.rows(day)} >= {"+46709876543", "+46701112233"}
    exported = contact_list.export(day, org.manager).decode("utf-8-sig")
    phones = {row[2] for row in csv.reader(io.StringIO(exported))}
    assert "+46701112233" in phones and "+46709876543" not in phones
    assert plain.reference  # listed by its contact's number


def test_a_receipt_for_a_secret_case_carries_only_the_reference(client, org, outbox):
    from kontaktcenter.channels.email.intake import ingest
    from tests.mailutil import make_mail

    org.bygglov.secrecy_ground = "OSL 26:1"
    db.session.commit()
    ingest(make_mail(subject="Orosanmälan Xylofon", body="Barnen Xylofon far illa."))
    case = db.session.scalars(sa.select(Case).order_by(Case.id.desc())).first()
    assert case is not None
    secrecy.set_secrecy(case, org.agent, "OSL 26:1")
    receipts = [p.read_text() for p in outbox.glob("*.eml")]
    assert receipts and all("Xylofon" not in r and "illa" not in r for r in receipts)
    assert any(case.reference in r for r in receipts)


def test_outcome_of_a_routed_secret_case_is_hidden_in_the_api_list(client, org):
    case = _secret_case(org)
    case.outcome = Outcome.ROUTED
    db.session.commit()
    items = api_as(client, org.agent).get("/cases").get_json()["items"]
    (item,) = [i for i in items if i["reference"] == case.reference]
    assert item["outcome"] is None and item["assignee"] is None and item["goals"] == []


def test_a_case_without_a_type_is_not_secret_in_sql_while_another_type_is(org):
    """``NULL IN (…)`` is unknown, not false: the clause must say false for it."""
    org.miljotillsyn.secrecy_ground = "OSL 30:23"
    db.session.commit()
    typeless = make_case(
        org.agent, None, outcome=None, channel=Channel.EMAIL, summary="Utan ärendetyp"
    )
    from kontaktcenter.cases import actions

    actions.route(typeless, org.agent, org.bygg)
    assert db.session.get(SearchDocument, typeless.id).secret is False
    visible = db.session.scalars(
        sa.select(Case.id).where(Case.id == typeless.id, access.content_visible_clause(org.agent))
    ).all()
    assert visible == [typeless.id]


def test_the_link_suggestions_leave_out_the_persons_secret_cases(client, org, login):
    case = _secret_case(org)
    also = make_case(org.agent, org.miljotillsyn, summary="Buller", contact=PARTY)
    login(org.admin)
    page = client.get(f"/arenden/{also.id}").get_data(as_text=True)
    assert 'id="related-candidates"' not in page and case.reference not in page
    secrecy.set_secrecy(case, org.handler_bygg, None)
    org.bygglov.secrecy_ground = None
    db.session.commit()
    page = client.get(f"/arenden/{also.id}").get_data(as_text=True)
    assert f'<option value="{case.reference}">' in page


def test_the_link_suggestions_are_ten_the_reader_may_see_however_many_are_hidden(
    client, org, login
):
    """The newest cases of the person may all be another department's secrets: the ten offered
    are the newest of those whose content the reader sees, not ten minus the hidden ones."""
    older = make_case(org.agent, org.miljotillsyn, summary="Tidigare buller", contact=PARTY)
    for _ in range(10):
        _secret_case(org)
    also = make_case(org.agent, org.miljotillsyn, summary="Buller", contact=PARTY)
    login(org.agent)  # sees every case; another department's secret ones only as register
    page = client.get(f"/arenden/{also.id}").get_data(as_text=True)
    assert f'<option value="{older.reference}">' in page
    assert SECRET_TEXT not in page
