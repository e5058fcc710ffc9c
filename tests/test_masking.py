"""A personnummer in free text (a subject, a summary) is masked wherever cases are listed and in
mail to staff; only the case itself shows it whole. A number that is not a valid personnummer
(an order number, a mistyped check digit) is left as it is."""

from __future__ import annotations

import json
from datetime import datetime
from email import policy
from email.parser import BytesParser
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from stdnum import luhn

from kontaktcenter.cases import merging
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Contact
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.core.extensions import db
from kontaktcenter.core.identifiers import (
    is_personnummer,
    mask_personnummer,
    normalise_personnummer,
)
from kontaktcenter.goals.models import GoalTarget, ServiceGoal, Unit
from kontaktcenter.goals.sweep import sweep
from tests.api_client import api_as
from tests.factories import make_case
from tests.mailutil import make_mail

PNR = "19811218-9876"  # valid (the example)
MASKED = "19811218-****"
ORDER = "19811218-9875"  # the same shape, wrong check digit: an order number, not a person
SUMMARY = f"Ansökan för {PNR} om bistånd, order {ORDER}"
OTHER_PNR = "19121212-1212"  # Tolvan Tolvansson, for a second case


def _samordningsnummer() -> str:
    """A samordningsnummer: the day of birth plus 60, with its own check digit."""
    digits = "811278987"  # 18 December 1981 + 60 days, serial 987
    return f"19{digits[:6]}-{digits[6:]}{luhn.calc_check_digit(digits)}"


SAMORDNINGSNUMMER = _samordningsnummer()


# --- the one rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, masked",
    [
        (SUMMARY, f"Ansökan för {MASKED} om bistånd, order {ORDER}"),
        ("811218-9876", "811218-****"),
        ("811218+9876", "811218+****"),  # 100 years or older
        ("8112189876", "811218-****"),
        ("198112189876", MASKED),
        ("pnr: 19811218 9876.", f"pnr: {MASKED}."),
        ("19811218 - 9876", MASKED),
        ("811218–9876", "811218-****"),  # an en dash, as word processors write it
        ("811218\u20109876", "811218-****"),  # a Unicode hyphen (U+2010)
        ("19811218\u20119876", MASKED),  # a non-breaking hyphen (U+2011)
        (SAMORDNINGSNUMMER, SAMORDNINGSNUMMER[:8] + "-****"),
        ("Tolvan 191212121212 och 811218-9876", "Tolvan 19121212-**** och 811218-****"),
    ],
)
def test_valid_personnummer_in_every_usual_form_is_masked(text, masked):
    assert mask_personnummer(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        ORDER,
        "Order 1981121898765",  # thirteen digits
        "Faktura 12-811218-9876",  # part of a longer number
        "Artikel 811218-9876-12",
        "Ring 070-123 45 67 eller +46701234567",
        "KC-2026-000301",
        "19811318-9876",  # no 13th month
        "",
    ],
)
def test_other_digits_are_left_alone(text):
    assert mask_personnummer(text) == text


def test_a_samordningsnummer_is_a_personnummer_for_contacts_too():
    assert is_personnummer(SAMORDNINGSNUMMER)
    assert normalise_personnummer(SAMORDNINGSNUMMER[2:]) == SAMORDNINGSNUMMER
    assert not is_personnummer(SAMORDNINGSNUMMER[:-1] + "0")


# --- the pages that list cases -----------------------------------------------------------------


def _first_line_case(org):
    """An e-mail case still with the contact center, its summary carrying a personnummer."""
    return make_case(
        org.agent,
        channel=Channel.EMAIL,
        outcome=None,
        summary=SUMMARY,
        contact=ContactData(name="Sara Lind", email="sara@example.se"),
    )


def _assert_masked(html: str) -> None:
    assert MASKED in html
    assert PNR not in html
    assert ORDER in html  # not a personnummer: shown as it is


def test_the_queue_masks_a_personnummer_in_the_summary(org, client, login):
    _first_line_case(org)
    login(org.agent)
    _assert_masked(client.get("/ko/").get_data(as_text=True))


def test_the_inbox_masks_a_personnummer_in_the_summary(org, client, login):
    make_case(org.agent, org.bygglov, outcome=Outcome.ROUTED, summary=SUMMARY)
    login(org.handler_bygg)
    _assert_masked(client.get("/inkorg/").get_data(as_text=True))


def test_the_case_itself_shows_it_whole_and_its_linked_cases_masked(org, client, login):
    case = _first_line_case(org)
    other = make_case(  # the same person's: linked, and offered for merging
        org.agent,
        channel=Channel.EMAIL,
        outcome=None,
        summary=f"Om {OTHER_PNR}",
        contact=ContactData(email="sara@example.se"),
    )
    assert other.contact_id == case.contact_id
    merging.link(case, org.agent, other.reference)
    login(org.agent)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert PNR in html  # the case itself
    assert other.reference in html and "19121212-****" in html and OTHER_PNR not in html


def test_the_contact_page_masks_their_cases_summaries_and_their_number(org, client, login):
    case = make_case(
        org.agent,
        org.bygglov,
        summary=SUMMARY,
        contact=ContactData(name="Sara Lind", phone="070-765 43 21", personnummer=OTHER_PNR),
    )
    login(org.agent)
    html = client.get(f"/kontakter/{case.contact_id}").get_data(as_text=True)
    _assert_masked(html)
    assert "19121212-****" in html and OTHER_PNR not in html


def test_the_call_form_masks_the_callers_cases_and_their_own_number(org, client, login):
    make_case(
        org.agent,
        org.bygglov,
        outcome=Outcome.ROUTED,  # open, so listed under the caller's open cases too
        summary=SUMMARY,
        contact=ContactData(name="Sara Lind", phone="070-765 43 21", personnummer=OTHER_PNR),
    )
    login(org.agent)
    # The caller search: the people found, with their personnummer masked.
    html = client.get("/samtal/ny", query_string={"q": "070-765 43 21"}).get_data(as_text=True)
    assert "Sara Lind" in html and "19121212-****" in html and OTHER_PNR not in html
    _assert_masked(html)
    # The caller picked: their number, their open and recent cases.
    contact_id = db.session.scalars(sa.select(Contact.id).where(Contact.name == "Sara Lind")).one()
    html = client.get("/samtal/ny", query_string={"contact_id": contact_id}).get_data(as_text=True)
    assert "Sara Lind" in html and "19121212-****" in html and OTHER_PNR not in html
    _assert_masked(html)


def test_search_hits_mask_their_snippets_and_summaries(org, client, login):
    case = _first_line_case(org)
    login(org.agent)
    # Words: the hit's snippet around the match.
    html = client.get("/sok/", query_string={"q": "bistånd"}).get_data(as_text=True)
    assert case.reference in html and "<mark>bistånd</mark>" in html
    _assert_masked(html)
    # Filters only: the hit shows its summary.
    html = client.get("/sok/", query_string={"channel": "email"}).get_data(as_text=True)
    assert case.reference in html
    _assert_masked(html)


def test_a_word_matching_inside_the_number_does_not_reveal_it(org, client, login):
    _first_line_case(org)
    login(org.agent)
    html = client.get("/sok/", query_string={"q": "ansökan 9876"}).get_data(as_text=True)
    hits = html.split("<h3>Ärenden</h3>", 1)[1]  # below the heading that repeats the query
    hits = hits.split("/sok/export.zip", 1)[0]  # and above the export link that does too
    assert "<mark>Ansökan</mark>" in hits and MASKED in hits
    assert PNR not in html and "9876" not in hits


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Europe/Stockholm"))


@pytest.fixture
def breached(org):
    """A routed case whose second-line promise passed long ago (sweep records it, and mails
    the department)."""
    db.session.add(
        ServiceGoal(target=GoalTarget.SECOND_LINE, channel=None, amount=2, unit=Unit.WORKING_DAYS)
    )
    db.session.commit()
    case = make_case(
        org.agent,
        org.bygglov,
        outcome=Outcome.ROUTED,
        summary=SUMMARY,
        received_at=_local(2026, 11, 2, 9, 0),
    )
    return case


def test_the_goal_alert_mail_masks_the_summary(breached, app, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path)
    try:
        sweep(_local(2026, 11, 23, 12, 0))
    finally:
        app.config["OUTBOX_DIR"] = None
    mails = [
        BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        for path in tmp_path.glob("*.eml")
    ]
    bodies = [m.get_body(preferencelist=("plain",)).get_content() for m in mails]
    alerts = [b for b in bodies if breached.reference in b]
    assert alerts and all(MASKED in b and PNR not in b for b in alerts)


@pytest.mark.parametrize("path", ["/oversikt/", "/rapporter/?from=2026-11-01&to=2026-11-30"])
def test_breach_lists_never_show_the_number(breached, client, login, org, path):
    """The overview's and the report's breach lists show references only (a guard: no
    free text may appear there unmasked)."""
    sweep(_local(2026, 11, 23, 12, 0))
    login(org.manager)
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert breached.reference in html and PNR not in html


# --- the API ---------------------------------------------------------------------------------


def test_the_api_lists_mask_and_the_case_itself_does_not(org, client):
    case = _first_line_case(org)
    api = api_as(client, org.agent)
    listed = api.get("/cases").get_json()["items"]
    item = next(i for i in listed if i["reference"] == case.reference)
    assert item["summary"] == mask_personnummer(SUMMARY) and MASKED in item["summary"]
    assert PNR not in json.dumps(listed)
    whole = api.get(f"/cases/{case.reference}").get_json()
    assert whole["summary"] == SUMMARY


def test_the_search_api_masks_snippets_summaries_and_a_found_case(org, client):
    case = _first_line_case(org)
    api = api_as(client, org.agent)
    body = api.get("/search", query_string={"q": "bistånd"}).get_json()
    assert [i["case"]["reference"] for i in body["items"]] == [case.reference]
    snippet = "".join(f["text"] for f in body["items"][0]["snippet"])
    assert MASKED in snippet and ORDER in snippet
    assert PNR not in json.dumps(body)
    by_reference = api.post("/search", {"q": case.reference}).get_json()
    assert by_reference["case"]["summary"] == mask_personnummer(SUMMARY)


def test_a_reply_subject_in_the_sent_mail_folder_is_masked(org, client, login, app, tmp_path):
    """The admin's list of sent mail shows subjects: our replies carry the case's summary."""

    app.config["OUTBOX_DIR"] = str(tmp_path)
    try:
        case = _first_line_case(org)
        outbound.reply(case, org.agent, "Hej! Vi har tagit emot din ansökan.")
        login(org.admin)
        html = client.get("/admin/utkorg/").get_data(as_text=True)
    finally:
        app.config["OUTBOX_DIR"] = None
    assert case.reference in html
    assert PNR not in html and MASKED in html


def test_the_unfiled_messages_list_masks_subjects(org, client, login):
    """An auto-reply that cites no case is kept unfiled; the admin's list shows its subject."""
    ingest(make_mail(subject=f"Frånvaro: {SUMMARY}", headers={"Auto-Submitted": "auto-replied"}))
    login(org.admin)
    html = client.get("/admin/ej-kopplade/").get_data(as_text=True)
    assert "Frånvaro" in html
    _assert_masked(html)
