"""The queue in real headless Chromium: no horizontal scrolling at 1366 px, cards at 390 px,
and a list that says when new cases arrive and refreshes itself unless paused."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from kontaktcenter.core.extensions import db
from tests import factories
from tests.browser.test_end_to_end import log_in
from tests.browser.test_search_browser import axe_violations

pytestmark = pytest.mark.browser


@pytest.fixture
def fast_refresh(app: Flask) -> Iterator[None]:
    saved = app.config["QUEUE_POLL_SECONDS"], app.config["QUEUE_IDLE_SECONDS"]
    app.config["QUEUE_POLL_SECONDS"], app.config["QUEUE_IDLE_SECONDS"] = 1, 0
    yield
    app.config["QUEUE_POLL_SECONDS"], app.config["QUEUE_IDLE_SECONDS"] = saved


def _overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_the_queue_fits_a_laptop_and_a_phone(
    new_page: Callable[[], Page], live_org: factories.Org
) -> None:
    org = live_org
    for n in range(3):
        factories.make_case(
            org.agent,
            org.bygglov,
            summary=f"En lång sammanfattning om bygglov för ett uterum nummer {n} på tomten",
        )
    email = org.agent.email
    db.session.rollback()
    page = new_page()
    log_in(page, email)
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/ko/")
        assert _overflow(page) <= 0, f"horizontal scrolling at {width} px"
    # On a phone each case is a card whose cells say what they are.
    card = page.locator("table.case-table tbody tr").first
    label = card.locator("td").first.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"Ärende"'
    assert card.bounding_box()["width"] <= 390
    assert axe_violations(page) == []


def test_new_cases_are_announced_and_the_list_refreshes_unless_paused(
    new_page: Callable[[], Page], live_org: factories.Org, fast_refresh: None
) -> None:
    org = live_org
    factories.make_case(org.agent, org.bygglov, summary="Den första")
    email = org.agent.email
    db.session.rollback()
    page = new_page()
    log_in(page, email)
    page.goto("/ko/")
    pause = page.get_by_role("button", name="Pausa automatisk uppdatering")
    pause.click()
    expect(page.get_by_role("button", name="Återuppta automatisk uppdatering")).to_have_attribute(
        "aria-pressed", "true"
    )

    second = factories.make_case(org.agent, org.bygglov, summary="Den andra")
    reference = second.reference
    db.session.rollback()
    news = page.get_by_role("status").filter(has_text="nytt ärende")
    expect(news).to_have_text("1 nytt ärende har kommit.")
    expect(page.get_by_role("link", name=reference)).to_have_count(0)  # paused: not reloaded

    page.get_by_role("button", name="Återuppta automatisk uppdatering").click()
    page.evaluate("document.activeElement.blur()")
    expect(page.get_by_role("link", name=reference)).to_be_visible()  # reloaded by itself
