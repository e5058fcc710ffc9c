"""The queue and the inbox say how many cases arrived since they were shown, within their own
filter and department, so the list can refresh itself."""

from __future__ import annotations

import re

from kontaktcenter.cases.enums import Channel
from tests.factories import make_case


def _high_water(html: str) -> int:
    match = re.search(r'data-poll="[^"]*efter=(\d+)', html)
    assert match, "the list gives its script the newest case it showed"
    return int(match.group(1))


def test_the_queue_counts_cases_newer_than_the_page_in_its_filter(org, client, login):
    make_case(org.agent, org.bygglov)
    login(org.agent)
    after = _high_water(client.get("/ko/").get_data(as_text=True))
    assert client.get(f"/ko/nya?efter={after}").get_json() == {"new": 0, "after": after}
    make_case(org.agent, org.bygglov)
    make_case(org.agent, org.miljotillsyn, channel=Channel.PHONE)
    assert client.get(f"/ko/nya?efter={after}").get_json()["new"] == 2
    only_bygg = client.get(f"/ko/nya?efter={after}&department={org.bygg.id}").get_json()
    assert only_bygg["new"] == 1


def test_the_inbox_counts_only_its_departments(org, client, login):
    login(org.handler_bygg)
    after = _high_water(client.get("/inkorg/").get_data(as_text=True))
    make_case(org.agent, org.miljotillsyn)
    assert client.get(f"/inkorg/nya?efter={after}").get_json()["new"] == 0
    make_case(org.agent, org.bygglov)
    assert client.get(f"/inkorg/nya?efter={after}").get_json()["new"] == 1


def test_a_missing_or_bad_mark_is_a_clear_error(org, client, login):
    login(org.agent)
    for query in ("", "?efter=abc", "?efter=-1", "?efter=99999999999"):
        response = client.get(f"/ko/nya{query}")
        assert response.status_code == 422, query
        assert response.get_json()["error"]["message"] == "efter saknas."


def test_only_the_lists_own_roles_may_ask(org, client, login):
    login(org.handler_bygg)
    assert client.get("/ko/nya?efter=1").status_code == 403
    login(org.agent)
    assert client.get("/inkorg/nya?efter=1").status_code == 403


def test_the_list_works_without_scripts(org, client, login):
    login(org.agent)
    html = client.get("/ko/?channel=phone").get_data(as_text=True)
    assert '<a href="/ko/?channel=phone">Uppdatera listan</a>' in html
    assert "channel=phone" in re.search(r'data-poll="([^"]*)"', html).group(1)
