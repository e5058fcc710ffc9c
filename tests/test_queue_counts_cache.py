"""The queue's counts by channel are shared by a process's requests for a few seconds
(cases.queue_counts, #16): counting reads every open case of the filter. A change made in the
process is counted at once, another process's within QUEUE_COUNTS_CACHE_SECONDS, each viewer
and filter has its own counts, and the list and the newest case id are always read live."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import queue_counts
from kontaktcenter.cases.enums import CaseStatus, Channel
from kontaktcenter.cases.models import Case
from kontaktcenter.core.extensions import db
from tests.factories import make_case
from tests.statements import statements


@pytest.fixture
def cached(app):  # noqa: ANN001, ANN201
    app.config["QUEUE_COUNTS_CACHE_SECONDS"] = 60
    return app


def _counts(html: str) -> tuple[int, dict[str, int]]:
    total = int(re.search(r"<li><strong>(\d+)</strong> ärende", html).group(1))
    by_channel = {
        label: int(n) for label, n in re.findall(r"<li>(\w[\w-]*): <strong>(\d+)</strong>", html)
    }
    return total, by_channel


def _high_water(html: str) -> int:
    return int(re.search(r'data-poll="[^"]*efter=(\d+)', html).group(1))


def _count_statements(sent: list[str]) -> int:
    return sum(1 for s in sent if "count(" in s.lower() and "GROUP BY cases.channel" in s)


def test_the_counts_are_counted_once_within_the_time(cached, org, client, login):  # noqa: ANN001
    make_case(org.agent, org.bygglov)
    login(org.agent)
    with statements() as sent:
        first = client.get("/ko/").get_data(as_text=True)
        second = client.get("/ko/").get_data(as_text=True)
    assert _count_statements(sent) == 1
    assert (
        _counts(first)
        == _counts(second)
        == (1, {"Telefon": 1, "E-post": 0, "Besök": 0, "E-tjänst": 0})
    )


def test_a_change_in_this_process_is_counted_at_once(cached, org, client, login):  # noqa: ANN001
    make_case(org.agent, org.bygglov)
    login(org.agent)
    assert _counts(client.get("/ko/").get_data(as_text=True))[0] == 1
    make_case(org.agent, org.bygglov, channel=Channel.EMAIL)
    assert _counts(client.get("/ko/").get_data(as_text=True))[1]["E-post"] == 1
    case = db.session.scalars(sa.select(Case).where(Case.channel == Channel.EMAIL)).one()
    case.status = CaseStatus.CLOSED
    db.session.commit()
    assert _counts(client.get("/ko/").get_data(as_text=True)) == (
        1,
        {"Telefon": 1, "E-post": 0, "Besök": 0, "E-tjänst": 0},
    )


def _written_elsewhere(case: Case) -> int:
    """A copy of `case` written as another process would: a Core INSERT, which this process's
    session hooks never see. Its id."""
    table = Case.__table__
    row = dict(db.session.execute(sa.select(table).where(table.c.id == case.id)).mappings().one())
    row.update(id=case.id + 1000, reference="KC-2026-999999")
    db.session.execute(sa.insert(table).values(**row))
    return row["id"]


def test_another_processs_case_is_counted_after_the_time_and_listed_at_once(
    cached, org, client, login, monkeypatch
):  # noqa: ANN001
    case = make_case(org.agent, org.bygglov)
    login(org.agent)
    assert _counts(client.get("/ko/").get_data(as_text=True))[0] == 1
    other = _written_elsewhere(case)
    html = client.get("/ko/").get_data(as_text=True)
    assert _counts(html)[0] == 1  # the counts: this process's, a few seconds old
    assert "KC-2026-999999" in html  # the list: live
    assert _high_water(html) == other  # and the newest id the "new cases" notice counts from
    later = queue_counts.monotonic() + 61
    monkeypatch.setattr(queue_counts, "monotonic", lambda: later)
    assert _counts(client.get("/ko/").get_data(as_text=True))[0] == 2


def test_each_viewer_and_filter_has_its_own_counts(cached, org, client, login):  # noqa: ANN001
    make_case(org.agent, org.bygglov)
    make_case(org.agent, org.miljotillsyn)
    make_case(org.agent, org.miljotillsyn, channel=Channel.EMAIL)
    login(org.agent)
    assert _counts(client.get("/ko/").get_data(as_text=True))[0] == 3
    phone = client.get("/ko/?channel=phone").get_data(as_text=True)
    assert _counts(phone)[0] == 2
    login(org.handler_miljo)
    assert _counts(client.get("/inkorg/").get_data(as_text=True))[0] == 2
    login(org.handler_bygg)
    assert _counts(client.get("/inkorg/").get_data(as_text=True))[0] == 1
