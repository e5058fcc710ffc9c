"""The manager's live overview: every number is the count of exactly the cases its link opens."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.core.extensions import db, utcnow
from tests.factories import make_case


def _number_before(html: str, text: str) -> int:
    match = re.search(
        r'<span class="board-number">(?:<span[^>]*>[^<]*</span>)?(\d+)</span> ' + text, html
    )
    assert match, text
    return int(match.group(1))


def _queue_rows(client, link: str) -> int:
    html = client.get(unescape(link)).get_data(as_text=True)
    return len(re.findall(r"<tr[^>]*data-case", html)) or html.count('href="/arenden/')


def test_each_number_links_to_exactly_its_cases(client, org, login):
    now = utcnow()
    overdue = make_case(
        org.agent, None, outcome=None, channel=Channel.EMAIL, received_at=now - timedelta(days=10)
    )
    at_risk = make_case(
        org.agent, None, outcome=None, channel=Channel.EMAIL, received_at=now - timedelta(minutes=5)
    )
    at_risk.at_risk_at, at_risk.due_at = now - timedelta(minutes=1), now + timedelta(hours=1)
    callback = make_case(org.agent, org.bygglov, outcome=Outcome.CALLBACK, callback_note="Ring")
    callback.callback_due_at = now - timedelta(hours=1)
    db.session.commit()
    login(org.manager)
    html = client.get("/oversikt/").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="60">' in html
    assert _number_before(html, "försenade<") >= 1
    number = r'<span class="board-number">(?:<span[^>]*>[^<]*</span>)?\d+</span>'
    links = dict(re.findall(r'<a href="([^"]+)">' + number + r" ([^<]+)</a>", html))
    by_text = {text: href for href, text in links.items()}
    for text in (
        "försenade",
        "snart försenade",
        "försenade återuppringningar",
        "väntande återuppringningar",
    ):
        shown = _number_before(html, text + "<")
        assert _queue_rows(client, by_text[text]) == shown, text
    assert f'Äldsta obesvarade e-post: <a href="/arenden/{overdue.id}">' in html
    stopped = client.get("/oversikt/?live=0").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in stopped and "Uppdatera automatiskt" in stopped


def test_a_department_board(client, org, login):
    make_case(org.agent, org.bygglov, outcome=Outcome.ROUTED)
    make_case(org.agent, org.miljotillsyn, outcome=Outcome.ROUTED)
    login(org.manager)
    html = client.get(f"/oversikt/?department={org.bygg.id}").get_data(as_text=True)
    assert "Översikt – Stadsbyggnadskontoret" in html
    assert _number_before(html, "öppna ärenden, telefon") == 1
    assert f"department={org.bygg.id}" in html


def test_only_managers_see_the_board(client, org, login):
    login(org.agent)
    assert client.get("/oversikt/").status_code == 403


def test_the_board_is_shared_by_viewers_for_a_few_seconds(app, org, monkeypatch):
    from kontaktcenter.reports import overview

    clock = [1000.0]
    monkeypatch.setattr(overview, "monotonic", lambda: clock[0])
    monkeypatch.setitem(app.config, "OVERVIEW_CACHE_SECONDS", 5)
    monkeypatch.setattr(overview, "_cache", {})
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert overview.cached("board", None, compute) == 1
    clock[0] += 4.9
    assert overview.cached("board", None, compute) == 1  # the same numbers for every viewer
    assert overview.cached("board", 7, compute) == 2  # another department's board is its own
    clock[0] += 0.2
    assert overview.cached("board", None, compute) == 3  # then counted again
    monkeypatch.setitem(app.config, "OVERVIEW_CACHE_SECONDS", 0)
    assert overview.cached("board", None, compute) == 4  # off: always counted
