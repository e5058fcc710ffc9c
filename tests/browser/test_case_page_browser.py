"""The case page in real headless Chromium: an answer template goes in where the cursor is
without losing what the agent typed, and two cases about one matter are merged (the older
reference survives, both messages are on it, the newer case says where it went). axe-core
checks each new state for WCAG 2.1 A/AA violations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import MailTemplate
from kontaktcenter.core.extensions import db
from tests import factories
from tests.browser.test_end_to_end import label_problems, log_in
from tests.browser.test_search_browser import axe_violations
from tests.mailutil import make_mail

pytestmark = pytest.mark.browser

WHEN = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
TYPED = "Tack för att du hörde av dig igen."


def _case(reference: str | None) -> Case:
    return db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()


def test_agent_inserts_a_template_and_merges_two_cases(
    new_page: Callable[[], Page], live_org: factories.Org
) -> None:
    org = live_org
    older = _case(
        ingest(
            make_mail(subject="Bygglov för altan", message_id="<a1@example.se>", when=WHEN)
        ).reference
    )
    newer = _case(
        ingest(
            make_mail(
                subject="Re: Bygglov för altan",
                body="Jag skickar ritningen också.",
                message_id="<a2@example.se>",
                when=WHEN + timedelta(hours=2),
            )
        ).reference
    )
    db.session.add(
        MailTemplate(
            key="answer-bygglov",
            name="Bygglov: blankett",
            subject="",
            body="Blanketten finns på kommunens webbplats.\n\nVänliga hälsningar\nKontaktcenter",
        )
    )
    db.session.commit()
    older_ref, older_id, newer_ref, newer_id = older.reference, older.id, newer.reference, newer.id
    agent_email = org.agent.email
    db.session.rollback()  # hold no transaction while the server's threads write

    page = new_page()
    log_in(page, agent_email)
    page.goto(f"/arenden/{newer_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(newer_ref)
    assert label_problems(page.locator("main")) == []

    # --- A template joins what is already written, at the cursor ---------------------------
    box = page.get_by_label("Svar till medborgaren", exact=True)
    expect(box).to_be_visible()  # the reply is one of the open actions of a mail case
    signature = box.input_value().strip()
    assert signature.startswith("Vänliga hälsningar\nAgnes Agent")
    height = box.bounding_box()["height"]  # type: ignore[index]
    box.focus()
    page.keyboard.press("Control+Home")
    page.keyboard.type(TYPED)
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    page.get_by_label("Svarsmall", exact=True).select_option(label="Bygglov: blankett")
    page.get_by_role("button", name="Infoga mallen").click()
    expect(page.locator("#reply-insert-done")).to_have_text(
        "Mallen ”Bygglov: blankett” är infogad i svaret."
    )
    value = box.input_value()
    assert value.startswith(TYPED + "\n\nBlanketten finns på kommunens webbplats."), value
    assert value.rstrip().endswith(signature) and value.count("Vänliga hälsningar") == 1
    assert page.url.endswith(f"/arenden/{newer_id}")  # no reload
    assert box.bounding_box()["height"] > height  # type: ignore[index]  # it grew
    expect(page.get_by_text(f"Sv: [{newer_ref}] Bygglov för altan")).to_be_visible()
    assert axe_violations(page) == []

    # --- Merge: from the newer case, by keyboard --------------------------------------------
    group = page.locator("details#group-relations")
    group.locator("summary").first.focus()
    page.keyboard.press("Enter")
    merge = page.locator("details#action-merge")
    merge.locator("summary").focus()
    page.keyboard.press("Enter")
    form = merge.locator("form")
    expect(form).to_be_visible()
    assert label_problems(form) == []
    form.get_by_label("Ärendenummer för samma ärende", exact=True).fill(older_ref)
    form.get_by_label("Jag har kontrollerat att ärendena gäller samma sak", exact=True).check()
    assert axe_violations(page) == []
    form.get_by_role("button", name="Slå ihop ärendena").click()

    expect(page.get_by_role("status")).to_have_text(
        f"Ärendena är sammanslagna i {older_ref}: alla meddelanden och händelser finns här."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text(older_ref)
    mail = page.get_by_role("region", name="E-post")
    expect(mail.get_by_role("heading", name="Bygglov för altan", exact=True)).to_be_visible()
    expect(mail.get_by_role("heading", name="Re: Bygglov för altan", exact=True)).to_be_visible()
    related = page.get_by_role("region", name="Kopplade ärenden")
    expect(related.get_by_role("link", name=newer_ref)).to_be_visible()
    expect(page.get_by_role("region", name="Händelser")).to_contain_text(f"i {newer_ref}")
    assert axe_violations(page) == []

    related.get_by_role("link", name=newer_ref).click()
    expect(page.get_by_role("main")).to_contain_text("Det här ärendet är sammanslaget med")
    expect(page.get_by_role("main").get_by_role("link", name=older_ref)).to_be_visible()
    assert axe_violations(page) == []

    # --- What the database says -------------------------------------------------------------
    db.session.expire_all()
    assert db.session.get(Case, newer_id).merged_into_id == older_id  # type: ignore[union-attr]
    assert len([m for m in db.session.get(Case, older_id).messages]) >= 2  # type: ignore[union-attr]


def test_handler_takes_and_closes_with_the_finish_group_open(
    new_page: Callable[[], Page], live_org: factories.Org
) -> None:
    """A department's case opens "Vänta eller avsluta"; the close form is one click away."""
    org = live_org
    case = factories.make_case(org.agent, org.bygglov, summary="Fråga om uterum")
    case_id, handler_email = case.id, org.handler_bygg.email
    db.session.rollback()

    page = new_page()
    log_in(page, handler_email)
    page.goto(f"/arenden/{case_id}")
    page.get_by_role("button", name="Ta ärendet").click()
    expect(page.get_by_role("status")).to_have_text("Du har tagit ärendet.")
    expect(page.locator("details#group-finish")).to_have_attribute("open", "")
    expect(page.locator("details#group-forward")).not_to_have_attribute("open", "")
    assert axe_violations(page) == []
    close = page.locator("details#action-close")
    close.get_by_text("Avsluta ärendet", exact=True).click()
    close.locator("form").get_by_label("Hur löstes ärendet?", exact=True).fill("Besvarat.")
    close.locator("form").get_by_role("button", name="Avsluta", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Ärendet är avslutat.")
    expect(page.get_by_role("main").get_by_text("Avslutad", exact=True)).to_be_visible()
    expect(page.locator("details#group-reopen")).to_have_count(0)  # handlers do not reopen
    expect(page.locator("details#group-handle")).to_be_visible()
    assert axe_violations(page) == []
