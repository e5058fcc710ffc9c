"""The callbacks worklist in real headless Chromium: it fits a laptop and a phone, passes axe,
and an agent takes the next callback and records an unanswered attempt with the keyboard and
mouse as they would."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from kontaktcenter.callbacks import services as callbacks
from kontaktcenter.callbacks.models import CallbackSource
from kontaktcenter.core.extensions import db
from tests import factories
from tests.browser.test_end_to_end import log_in
from tests.browser.test_search_browser import axe_violations

pytestmark = pytest.mark.browser


def test_an_agent_takes_the_next_callback_and_records_no_answer(
    new_page: Callable[[], Page], live_org: factories.Org
) -> None:
    org = live_org
    for n, note in enumerate(["Fråga om bygglov för ett uterum", "Faktura för vatten"]):
        callbacks.request(
            callbacks.CallbackRequest(
                source=CallbackSource.PLATFORM,
                number=f"070-123 45 6{n}",
                note=note,
                platform_ref=f"queue-{n}",
            ),
            org.agent,
        )
    email = org.agent.email
    db.session.rollback()
    page = new_page()
    log_in(page, email)
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/aterringningar/")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"horizontal scrolling at {width} px"
        assert axe_violations(page) == []
    expect(page.get_by_role("heading", name="Att ringa nu (2)")).to_be_visible()
    page.get_by_role("button", name="Ta nästa återuppringning").click()
    expect(page.get_by_role("heading", name="Återuppringning i KC-", exact=False)).to_be_visible()
    expect(page.locator("a[href='tel:+46701234560']").first).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_label("Inget svar").check()
    page.get_by_label("Anteckning om försöket").fill("Ingen svarade, provar igen i eftermiddag.")
    page.get_by_role("button", name="Spara försöket").click()
    expect(page.get_by_text("Nästa försök tidigast", exact=False).first).to_be_visible()
    page.goto("/aterringningar/")
    expect(page.get_by_role("heading", name="Att ringa nu (1)")).to_be_visible()
    expect(page.get_by_role("heading", name="Senare (1)")).to_be_visible()
