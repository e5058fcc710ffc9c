"""Screen pop in real headless Chromium (#14): the agent waits on the call form, the test phone
platform posts `answered` over HTTP, the browser (EventSource, static/screen_pop.js) opens the
caller's contact on the call form; the agent saves, the platform posts `ended`, and the case
shows the call with its times. A second pop while the agent is typing is offered, not forced.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.channels.phone import integration
from tests import factories
from tests.browser.conftest import LiveServer
from tests.browser.test_end_to_end import log_in
from tests.browser.test_search_browser import axe_violations

pytestmark = pytest.mark.browser


def post_event(server: LiveServer, token: str, **event: object) -> dict:
    request = urllib.request.Request(
        server.url + "/api/v1/calls/events",
        data=json.dumps(event).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body: dict = json.loads(response.read())
        return body


def wait_for_stream(page: Page) -> None:
    """The page's EventSource is open and has its first id (the `hello`)."""
    page.wait_for_function(
        "() => window.sessionStorage.getItem('kontaktcenter.screenPop.lastEventId') !== null"
    )


def test_answer_a_call_see_the_pop_save_and_see_the_case_linked(
    new_page: Callable[[], Page], live_server: LiveServer, live_org: factories.Org
) -> None:
    factories.make_case(
        live_org.agent,
        live_org.bygglov,
        summary="Tidigare fråga om plank",
        contact=ContactData(name="Sven Svensson", phone="070-123 45 67"),
    )
    _user, token = integration.create_integration("vaxel@kommun.example", "Växeln")
    page = new_page()
    log_in(page, live_org.agent.email)
    page.goto("/samtal/ny")
    wait_for_stream(page)

    post_event(live_server, token, call_id="ace-1", event="ringing", caller="+46701234567")
    answered = post_event(
        live_server, token, call_id="ace-1", event="answered", agent_email=live_org.agent.email
    )
    assert answered["screen_pop"] is True

    # The pop: the call form for this call, with the caller's open cases and last contacts.
    expect(page).to_have_url(re.compile(r"/samtal/ny\?.*call=\d+"))
    expect(page.get_by_role("heading", name="Samtal från 070-123 45 67")).to_be_visible()
    expect(
        page.get_by_role("heading", name="Sven Svensson: ärenden och senaste kontakter")
    ).to_be_visible()
    expect(page.get_by_text("Tidigare fråga om plank").first).to_be_visible()
    assert axe_violations(page) == []

    page.get_by_label("Ärendetyp").select_option("bygglov")
    page.get_by_label("Vad gällde samtalet?").fill("Fråga om bygglov för altan")
    page.get_by_label("Besvarat direkt").first.check()
    page.get_by_label("Svaret du gav").fill("En altan under 1,8 m behöver inget bygglov.")
    page.get_by_role("button", name="Spara samtalet").last.click()
    expect(page.get_by_text("Samtalet är registrerat som")).to_be_visible()

    post_event(live_server, token, call_id="ace-1", event="ended")
    page.get_by_role("link", name=re.compile(r"^Öppna KC-")).click()
    panel = page.locator("section", has=page.get_by_role("heading", name="Samtal", exact=True))
    expect(panel).to_contain_text("Samtalstid")
    expect(panel).not_to_contain_text("Pågår eller ej rapporterat")
    expect(panel).to_contain_text("070-123 45 67")


def test_a_pop_while_typing_is_offered_not_forced(
    new_page: Callable[[], Page], live_server: LiveServer, live_org: factories.Org
) -> None:
    _user, token = integration.create_integration("vaxel@kommun.example", "Växeln")
    page = new_page()
    log_in(page, live_org.agent.email)
    page.goto("/samtal/ny")
    wait_for_stream(page)
    page.get_by_label("Telefonnummer", exact=True).fill("08-555 123 45")  # the agent is busy

    post_event(
        live_server,
        token,
        call_id="p-9",
        event="answered",
        caller="anonymous",
        agent_email=live_org.agent.email,
    )
    offer = page.locator("#screen-pop")
    expect(offer).to_be_visible()
    expect(offer).to_contain_text("Samtal från Dolt nummer")
    assert "/samtal/ny" in page.url and "call=" not in page.url
    expect(page.get_by_label("Telefonnummer", exact=True)).to_have_value("08-555 123 45")
    offer.get_by_role("link", name="Öppna samtalet").click()
    expect(page.get_by_role("heading", name="Samtal från Dolt nummer")).to_be_visible()

    # The pop is not repeated on the next page: the tab remembers the last event it saw.
    page.goto("/samtal/ny")
    wait_for_stream(page)
    page.wait_for_timeout(1500)
    assert "call=" not in page.url
