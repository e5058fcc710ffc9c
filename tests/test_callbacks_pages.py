"""The callback worklist /aterringningar/ (#14): whose list each role sees, "ta nästa
återuppringning", the callback page with its attempt form, letters to send, the retry rules'
administration. Through the real routes with a logged-in client and CSRF."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.callbacks import services
from kontaktcenter.callbacks.models import Callback, CallbackRule, CallbackSource, Fallback
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Outcome
from kontaktcenter.core import outbox
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from tests.factories import make_case, make_user, post


def _first_line(org, number: str = "070-111 22 33", slot: bool = False) -> Callback:
    start = utcnow() + timedelta(hours=3) if slot else None
    requested = services.request(
        services.CallbackRequest(
            source=CallbackSource.E_SERVICE,
            number=number,
            slot_start=start,
            slot_end=start + timedelta(hours=1) if start else None,
        ),
        by=org.agent,
    )
    return requested.callback


def _department(org, number: str = "070-555 11 22") -> Callback:
    case = make_case(
        org.agent, org.bygglov, Outcome.CALLBACK, contact=ContactData(name="Britt", phone=number)
    )
    return db.session.scalars(sa.select(Callback).where(Callback.case_id == case.id)).one()


def _section(html: str, title: str) -> str:
    """The HTML of the worklist section whose heading starts with `title`."""
    match = re.search(
        rf"<h2 id=\"section-\w+\">{title} \((\d+)\+?\)</h2>(.*?)</section>", html, re.S
    )
    assert match, title
    return match.group(0)


def _count(html: str, title: str) -> int:
    match = re.search(rf"{title} \((\d+)\+?\)</h2>", html)
    assert match, title
    return int(match.group(1))


def test_an_agent_sees_the_contact_centers_callbacks(client, org, login):
    now_cb = _first_line(org)
    later = _first_line(org, "070-222 33 44", slot=True)
    department = _department(org)
    login(org.agent)
    html = client.get("/aterringningar/").get_data(as_text=True)
    assert _count(html, "Att ringa nu") == 1 and _count(html, "Senare") == 1
    assert now_cb.case.reference in _section(html, "Att ringa nu")
    assert later.case.reference in _section(html, "Senare")
    assert department.case.reference not in html
    assert 'href="tel:+46701112233"' in html
    assert "0 av 3" in html
    assert "Ta nästa återuppringning" in html


def test_an_overdue_promise_says_so_in_text(client, org, login):
    callback = _first_line(org)
    callback.due_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    login(org.agent)
    html = client.get("/aterringningar/").get_data(as_text=True)
    assert "Försenad" in _section(html, "Att ringa nu")


def test_a_handler_sees_only_their_departments_callbacks(client, org, login):
    bygg = _department(org)
    first_line = _first_line(org)
    login(org.handler_miljo)
    html = client.get("/aterringningar/").get_data(as_text=True)
    assert bygg.case.reference not in html and first_line.case.reference not in html
    assert _count(html, "Att ringa nu") == 0
    # Not another department's list, page, attempt or letter, not even a count.
    assert client.get(f"/aterringningar/?for={org.bygg.id}").status_code == 404
    assert client.get(f"/aterringningar/{bygg.id}").status_code == 404
    answer = post(client, f"/aterringningar/{bygg.id}/forsok", {"result": "reached"})
    assert answer.status_code == 404
    answer = post(client, "/aterringningar/ta-nasta", follow_redirects=True)
    assert "Det finns ingen återuppringning att ringa just nu." in answer.get_data(as_text=True)
    assert db.session.get(Callback, bygg.id).assigned_to_id is None
    login(org.handler_bygg)
    html = client.get("/aterringningar/").get_data(as_text=True)
    assert bygg.case.reference in _section(html, "Att ringa nu")


def test_managers_choose_whose_list(client, org, login):
    bygg = _department(org)
    login(org.manager)
    html = client.get("/aterringningar/").get_data(as_text=True)
    assert 'name="for"' in html and bygg.case.reference not in html
    html = client.get(f"/aterringningar/?for={org.bygg.id}").get_data(as_text=True)
    assert bygg.case.reference in html
    assert "Ta nästa återuppringning" not in html  # managers oversee


def test_take_next_opens_the_callback_and_none_left_is_said(client, org, login):
    callback = _first_line(org)
    login(org.agent)
    answer = post(client, "/aterringningar/ta-nasta")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/aterringningar/{callback.id}")
    assert db.session.get(Callback, callback.id).assigned_to_id == org.agent.id
    login(org.admin)  # the one callback is the agent's now
    answer = post(client, "/aterringningar/ta-nasta", follow_redirects=True)
    assert "Det finns ingen återuppringning att ringa just nu." in answer.get_data(as_text=True)


def test_the_callback_page_and_an_attempt_that_asks_for_another(client, org, login):
    callback = _first_line(org)
    login(org.agent)
    html = client.get(f"/aterringningar/{callback.id}").get_data(as_text=True)
    assert 'href="tel:+46701112233"' in html
    assert "Högst 3 försök, minst 2 timmar emellan" in html
    assert "<legend>Hur gick samtalet?</legend>" in html
    for label in (
        "Nådde personen",
        "Inget svar",
        "Upptaget",
        "Lämnade röstmeddelande",
        "Fel nummer",
    ):
        assert label in html
    assert "Ring upp via växeln" not in html  # no dial-out configured
    missing = post(client, f"/aterringningar/{callback.id}/forsok", {"result": ""})
    assert missing.status_code == 422
    assert 'class="error-summary"' in missing.get_data(as_text=True)
    assert "Välj hur samtalet gick." in missing.get_data(as_text=True)
    answer = post(
        client, f"/aterringningar/{callback.id}/forsok", {"result": "busy"}, follow_redirects=True
    )
    html = answer.get_data(as_text=True)
    assert "Nästa försök tidigast" in html
    assert db.session.get(Callback, callback.id).attempts == 1
    assert "1 av 3" in html and "Upptaget" in html


def test_wrong_number_ends_it_and_a_letter_is_listed_until_sent(client, org, login):
    db.session.add(CallbackRule(max_attempts=3, min_gap_minutes=120, fallback=Fallback.LETTER))
    db.session.commit()
    callback = _first_line(org)
    login(org.agent)
    answer = post(
        client,
        f"/aterringningar/{callback.id}/forsok",
        {"result": "wrong_number"},
        follow_redirects=True,
    )
    assert "Försöken är slut: skriv brev" in answer.get_data(as_text=True)
    html = client.get("/aterringningar/").get_data(as_text=True)
    assert callback.case.reference in _section(html, "Brev att skicka")
    assert callback.case.reference in _section(html, "Avslutade idag")
    post(client, f"/aterringningar/{callback.id}/brev-skickat")
    assert db.session.get(Callback, callback.id).fallback_done_at is not None
    html = client.get("/aterringningar/").get_data(as_text=True)
    assert _count(html, "Brev att skicka") == 0


def test_dial_out_through_the_switchboard(client, app, org, login):
    callback = _first_line(org)
    # Nothing listens there: the job fails at once and is retried later through the outbox.
    app.config["DIAL_OUT_URL"] = "http://127.0.0.1:9/dial"
    app.config["DIAL_OUT_SECRET"] = "s" * 40
    try:
        login(org.agent)
        html = client.get(f"/aterringningar/{callback.id}").get_data(as_text=True)
        assert "Ring upp via växeln" in html
        before = db.session.scalar(sa.select(sa.func.count()).select_from(outbox.OutboxJob))
        post(client, f"/aterringningar/{callback.id}/ring-upp")
        after = db.session.scalar(sa.select(sa.func.count()).select_from(outbox.OutboxJob))
        assert after == before + 1
    finally:
        app.config.pop("DIAL_OUT_URL", None)
        app.config.pop("DIAL_OUT_SECRET", None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"max_attempts": "0", "min_gap_minutes": "120"}, "Ange mellan 1 och 10 försök."),
        ({"max_attempts": "3", "min_gap_minutes": "2"}, "Ange mellan 5 och 1 440 minuter."),
        ({"max_attempts": "", "min_gap_minutes": "120"}, "Ange antal försök."),
    ],
)
def test_the_default_rule_refuses_bad_values_in_swedish(client, org, login, data, message):
    login(org.admin)
    answer = post(client, "/admin/aterringning/standard", data | {"fallback": "email"})
    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CallbackRule)) == 0


def test_rules_per_case_type_apply_to_the_callback_page(client, org, login):
    login(org.admin)
    answer = post(
        client,
        "/admin/aterringning/ny",
        {
            "case_type": str(org.bygglov.id),
            "max_attempts": "5",
            "min_gap_minutes": "30",
            "fallback": "letter",
        },
    )
    assert answer.status_code == 302
    listing = client.get("/admin/aterringning/").get_data(as_text=True)
    assert "Bygglov" in listing
    callback = _department(org)
    login(org.handler_bygg)
    html = client.get(f"/aterringningar/{callback.id}").get_data(as_text=True)
    assert "Högst 5 försök, minst 30 minuter emellan, sedan brev" in html
    login(org.admin)
    post(client, f"/admin/aterringning/arendetyp/{org.bygglov.id}/ta-bort")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CallbackRule)) == 0


def test_only_admins_edit_rules(client, org, login):
    login(org.manager)
    assert client.get("/admin/aterringning/").status_code == 403


def test_a_secret_cases_number_is_masked_for_those_outside_its_department(client, org, login):
    callback = _department(org, "070-555 11 22")
    callback.case.secrecy_ground = "OSL 26:1"
    db.session.commit()
    login(org.manager)
    html = client.get(f"/aterringningar/?for={org.bygg.id}").get_data(as_text=True)
    assert callback.case.reference in html
    assert "tel:+46705551122" not in html and "070-555 11 22" not in html
    page = client.get(f"/aterringningar/{callback.id}").get_data(as_text=True)
    assert "tel:+46705551122" not in page and "Britt" not in page
    login(org.handler_bygg)
    html = client.get("/aterringningar/").get_data(as_text=True)
    assert 'href="tel:+46705551122"' in html


def test_a_handler_of_several_departments_picks_one(client, org, login):
    both = make_user(Role.HANDLER, [org.bygg, org.miljo], name="Harald Båda")
    bygg = _department(org)
    login(both)
    html = client.get("/aterringningar/").get_data(as_text=True)
    assert "Miljöförvaltningen</option>" in html and "Stadsbyggnadskontoret</option>" in html
    assert "Kontaktcenter</option>" not in html  # not the first line's list
    shown = client.get(f"/aterringningar/?for={org.bygg.id}").get_data(as_text=True)
    assert bygg.case.reference in shown
    other = client.get(f"/aterringningar/?for={org.miljo.id}").get_data(as_text=True)
    assert bygg.case.reference not in other
