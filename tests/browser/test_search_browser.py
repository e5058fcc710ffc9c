"""Finding a case in real headless Chromium, from the search field every page has: by
reference, by phone number, by a misspelt surname, by a word of an e-mail's body; then the
person's page. axe-core (vendored) checks each new page for WCAG 2.1 A/AA violations."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.core.extensions import db
from tests import factories
from tests.browser.test_end_to_end import log_in
from tests.mailutil import make_mail

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Page) -> list[str]:
    # Evaluated through the DevTools protocol: the app's CSP (script-src 'self') stays on.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    return [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in result["violations"]
    ]


def search_for(page: Page, text: str) -> None:
    """Through the header's search field, with the keyboard (its access key is s)."""
    field = page.get_by_role("search", name="Sök i hela Kontaktcenter").get_by_label(
        "Sök ärende, person eller ord"
    )
    field.fill(text)
    field.press("Enter")


def test_an_agent_finds_cases_by_reference_phone_misspelt_name_and_mail_text(
    new_page: Callable[[], Page], live_org: factories.Org
) -> None:
    org = live_org
    called = factories.make_case(
        org.agent,
        org.bygglov,
        summary="Frågade om bygglov för carport",
        contact=ContactData(name="Anna Sundqvist", phone="070-765 43 21"),
    )
    other = factories.make_case(org.agent, org.strandskydd, summary="Brygga vid sjön")
    ingest(
        make_mail(
            sender="olle@example.se",
            subject="Oljeutsläpp",
            body="Det luktar diesel vid bäcken bakom skolan.",
        )
    )
    reference, other_reference, agent_email = called.reference, other.reference, org.agent.email
    db.session.rollback()  # hold no transaction while the server's threads write

    page = new_page()
    log_in(page, agent_email)

    # A reference in the short form opens the case.
    year, number = other_reference.split("-")[1], int(other_reference.split("-")[2])
    search_for(page, f"kc {year} {number}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(other_reference)

    # A phone number in another form finds the person and the case.
    search_for(page, "0707654321")
    hits = page.locator("main")
    expect(hits.get_by_role("link", name="Anna Sundqvist")).to_be_visible()
    expect(hits.get_by_role("link", name=reference)).to_be_visible()

    # A misspelt surname.
    search_for(page, "Sundkvist")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sök")
    expect(hits.get_by_role("link", name=reference)).to_be_visible()
    assert axe_violations(page) == []

    # A word of an e-mail's body, marked in the hit list.
    search_for(page, "diesel")
    expect(hits.locator("mark", has_text="diesel")).to_be_visible()
    expect(hits.get_by_role("link", name=reference)).to_have_count(0)
    assert axe_violations(page) == []

    # Closed and open together, filtered by status from the page's own form.
    search_for(page, "Sundqvist")
    page.get_by_label("Status", exact=True).select_option(label="Stängda")
    page.get_by_role("button", name="Sök", exact=True).last.click()
    expect(
        hits.get_by_text("Inga ärenden som du har tillgång till matchar sökningen.")
    ).to_be_visible()

    # The person's page, with the way to log a new contact for them.
    search_for(page, "Sundqvist")
    hits.get_by_role("link", name="Anna Sundqvist").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Anna Sundqvist")
    expect(page.get_by_role("link", name=reference)).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Ny kontakt med samma person").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Registrera samtal")
    assert json.dumps(page.url).count("contact_id=") == 1
