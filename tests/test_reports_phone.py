"""The phone platform's figures in the service report (#14): calls from events, from an
imported statistics file and from both, every expected number computed by hand; the callbacks
worklist's results; the page, the API and the files show the same numbers.

The week of Monday 16 November 2026 (CET, UTC+1). Queues: "Växeln" (answer goal 60 s) and
"bygglov" (label "Bygglovsrådgivning", goal 30 s).

    call  source          day  queue     waited  outcome    talk   counted as
    c1    events          Mon  Växeln    40*     answered   200    within goal
    c2    events          Mon  Växeln    90      abandoned
    c3    file            Mon  Växeln    70      answered   100    late
    c4    file            Tue  bygglov   25      answered   300    within goal (30 s)
    c5    file            Tue  bygglov   45      answered    60    late (goal 30 s)
    c6    events + file   Tue  Växeln    20/22   answered   120**  within goal
    c8    file            Wed  (none)     5      abandoned
    c7    file            Sun before    10      answered    50    previous period
    c9    events          Wed  Växeln            ringing           not counted (going on)

    *  no wait in the events: answered − ringing.  ** the end comes from the file.

Offered 7, answered 5, within goal 3 (42.9 %), abandoned 2 (28.6 %); waits 40, 70, 25, 45, 20:
mean 40.0, median 40; talk 200, 100, 300, 60, 120: mean 156.0.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.channels.phone import call_events
from kontaktcenter.channels.phone.models import CallEventKind, PhoneQueue
from kontaktcenter.channels.phone.stats_import import import_statistics
from kontaktcenter.core.extensions import db
from kontaktcenter.reports.periods import Period, ReportFilters
from kontaktcenter.reports.phone import call_stats, callback_states
from kontaktcenter.reports.report import api_json, service_report
from tests.api_client import api_as
from tests.factories import make_case

TZ = ZoneInfo("Europe/Stockholm")
PERIOD = Period(datetime(2026, 11, 16).date(), datetime(2026, 11, 22).date())
QUERY = "from=2026-11-16&to=2026-11-22"
FILE = (
    "Samtals-ID;Starttid;Kö;Kötid;Utfall;Samtalstid\n"
    "c3;2026-11-16 10:00:00;Växeln;70;besvarat;100\n"
    "c4;2026-11-17 11:00:00;bygglov;25;besvarat;300\n"
    "c5;2026-11-17 11:05:00;bygglov;45;besvarat;60\n"
    "c6;2026-11-17 12:00:00;Växeln;22;besvarat;120\n"
    "c8;2026-11-18 08:00:00;;5;avbrutet;\n"
    "c7;2026-11-15 23:30:00;Växeln;10;besvarat;50\n"
)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ).astimezone(UTC)


def _event(call_id: str, kind: CallEventKind, at: datetime, **fields) -> None:
    call_events.record(call_events.EventData(call_id, kind, at=at, queue="Växeln", **fields))


@pytest.fixture
def data(org):
    db.session.add_all(
        [
            PhoneQueue(name="Växeln", label="Växeln"),
            PhoneQueue(name="bygglov", label="Bygglovsrådgivning", answer_goal_seconds=30),
        ]
    )
    db.session.commit()
    t1 = local(2026, 11, 16, 9, 0)
    _event("c1", CallEventKind.RINGING, t1)
    _event("c1", CallEventKind.ANSWERED, t1 + timedelta(seconds=40), agent=org.agent)
    _event("c1", CallEventKind.ENDED, t1 + timedelta(seconds=240))
    t2 = local(2026, 11, 16, 9, 10)
    _event("c2", CallEventKind.RINGING, t2)
    _event("c2", CallEventKind.ABANDONED, t2 + timedelta(seconds=90), queue_wait_seconds=90)
    t6 = local(2026, 11, 17, 12, 0)
    _event("c6", CallEventKind.RINGING, t6)
    _event("c6", CallEventKind.ANSWERED, t6 + timedelta(seconds=20), queue_wait_seconds=20)
    _event("c9", CallEventKind.RINGING, local(2026, 11, 18, 9, 0))
    import_statistics(FILE.encode())
    # c1 was logged as a bygglov case routed to Stadsbyggnadskontoret: the filters' call.
    case = make_case(org.agent, org.bygglov, outcome=Outcome.ROUTED, received_at=t1)
    from kontaktcenter.channels.phone.models import Call

    db.session.scalars(db.select(Call).where(Call.platform_call_id == "c1")).one().case_id = case.id
    db.session.commit()
    return case


def filters(**kwargs) -> ReportFilters:
    return ReportFilters(period=PERIOD, **kwargs)


def test_calls_hand_computed(data):
    stats = call_stats(filters())
    t = stats.total
    assert (t.offered, t.answered, t.answered_within_goal, t.abandoned) == (7, 5, 3, 2)
    assert (t.within_goal_share, t.abandoned_share) == (42.9, 28.6)
    assert t.mean_wait_seconds == 40.0
    assert stats.median_wait_seconds == 40.0
    assert t.mean_talk_seconds == 156.0
    queues = {
        c.label: (c.offered, c.answered, c.answered_within_goal, c.abandoned)
        for c in stats.per_queue
    }
    assert queues == {
        "Växeln": (4, 3, 2, 1),
        "Bygglovsrådgivning": (2, 2, 1, 0),
        "Ingen kö": (1, 0, 0, 1),
    }
    days = {d.isoformat(): c.offered for d, c in stats.per_day}
    assert days == {"2026-11-16": 3, "2026-11-17": 3, "2026-11-18": 1}
    before = call_stats(filters(), PERIOD.previous()).total
    assert (before.offered, before.answered, before.answered_within_goal) == (1, 1, 1)


def test_a_late_event_does_not_hide_what_the_file_said(data):
    """c6's `ended` never came; the file's talk time is used. A `transferred` that arrives now
    recomputes the call from its events, and the report still has the file's talk time."""
    _event("c6", CallEventKind.TRANSFERRED, local(2026, 11, 17, 12, 1))
    assert call_stats(filters()).total.mean_talk_seconds == 156.0


def _known(counts) -> tuple:
    return (counts.offered, counts.answered, counts.abandoned, counts.abandoned_share)


def test_filters_department_and_channel(data, org):
    """Through cases only the answered calls logged as a case are known: what was offered
    and abandoned is not (None), never a measured 0."""
    by_department = call_stats(filters(department_id=org.bygg.id))
    assert by_department.through_cases
    assert _known(by_department.total) == (None, 1, None, None)
    assert by_department.total.within_goal_share is None
    assert by_department.total.answered_within_goal == 1
    assert [_known(c) for c in by_department.per_queue] == [(None, 1, None, None)]
    assert _known(call_stats(filters(department_id=org.miljo.id)).total) == (None, 0, None, None)
    assert call_stats(filters(case_type_id=org.bygglov.id)).total.answered == 1
    assert _known(call_stats(filters(scope=frozenset({org.bygg.id}))).total)[:3] == (None, 1, None)
    assert call_stats(filters(scope=frozenset({org.miljo.id}))).total.answered == 0
    assert call_stats(filters(channel=Channel.PHONE)).total.offered == 7
    assert call_stats(filters(channel=Channel.EMAIL)).total.offered == 0


def test_a_handler_sees_no_abandoned_share_that_was_never_measured(data, client, login, org):
    for user in (org.handler_bygg, org.handler_miljo):
        calls = api_as(client, user).get(f"/reports/service?{QUERY}").get_json()["calls"]
        assert calls["offered"] is None and calls["abandoned"] is None
        assert calls["abandoned_share"] is None
        assert calls["answered_within_goal_share"] is None
    assert (
        api_as(client, org.handler_bygg)
        .get(f"/reports/service?{QUERY}")
        .get_json()["calls"]["answered"]
        == 1
    )
    manager = api_as(client, org.manager).get(f"/reports/service?{QUERY}").get_json()["calls"]
    assert (manager["offered"], manager["abandoned_share"]) == (7, 28.6)
    login(org.handler_bygg)
    page = client.get(f"/rapporter/?period=custom&{QUERY}").get_data(as_text=True)
    assert "Erbjudna samtal</th><td>–</td>" in page
    assert "Avbrutna i kö</th><td>–</td>" in page
    assert "erbjudna och avbrutna samtal visas som –" in page


def test_a_corrected_file_changes_the_report(org):
    def totals() -> tuple:
        t = call_stats(filters()).total
        return (t.offered, t.answered, t.answered_within_goal, t.abandoned, t.mean_wait_seconds)

    header = "Call ID;Start;Wait;Result\n"
    import_statistics((header + "x-1;2026-11-16 09:00:00;95;avbrutet\n").encode())
    assert totals() == (1, 0, 0, 1, None)
    result = import_statistics((header + "x-1;2026-11-16 09:00:00;30;besvarat\n").encode())
    assert result.updated == 1
    assert totals() == (1, 1, 1, 0, 30.0)
    import_statistics((header + "x-1;2026-11-16 09:00:00;90;besvarat\n").encode())
    assert totals() == (1, 1, 0, 0, 90.0)
    import_statistics((header + "x-1;2026-11-14 09:00:00;90;besvarat\n").encode())
    assert totals() == (0, 0, 0, 0, None)  # moved out of the period


def test_a_missed_answered_event_the_file_answers_counts_as_answered(org):
    """The platform sent `ringing` and `ended` (the events alone: abandoned) but the file says
    answered after 20 s with 280 s of talk. An `abandoned` event, though, stands."""
    t = local(2026, 11, 16, 9, 0)
    _event("m-1", CallEventKind.RINGING, t)
    _event("m-1", CallEventKind.ENDED, t + timedelta(seconds=300))
    _event("m-2", CallEventKind.RINGING, t)
    _event("m-2", CallEventKind.ABANDONED, t + timedelta(seconds=30))
    import_statistics(
        b"Call ID;Start;Wait;Result;Talk\n"
        b"m-1;2026-11-16 09:00:00;20;answered;280\n"
        b"m-2;2026-11-16 09:00:00;25;answered;100\n"
    )
    total = call_stats(filters()).total
    assert (total.offered, total.answered, total.abandoned) == (2, 1, 1)
    assert (total.mean_wait_seconds, total.mean_talk_seconds) == (20.0, 280.0)


def _callback(org, status: CallbackStatus, attempts: int, closed_in_time: bool | None) -> None:
    received = local(2026, 11, 17, 10, 0)
    case = make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED, received_at=received)
    due = received + timedelta(hours=24)
    closed = None if closed_in_time is None else due + timedelta(hours=-1 if closed_in_time else 5)
    db.session.add(
        Callback(
            case_id=case.id,
            status=status,
            source=CallbackSource.AGENT,
            due_at=due,
            attempts=attempts,
            closed_at=closed,
        )
    )
    db.session.commit()


@pytest.fixture
def callbacks(data, org):
    _callback(org, CallbackStatus.REACHED, 1, True)
    _callback(org, CallbackStatus.EXHAUSTED, 3, False)
    _callback(org, CallbackStatus.CANCELLED, 0, True)
    _callback(org, CallbackStatus.PENDING, 1, None)


def test_callbacks_from_the_worklist(callbacks, org):
    states = callback_states(filters())
    assert (states.booked, states.reached, states.exhausted, states.cancelled) == (4, 1, 1, 1)
    assert (states.pending, states.done_within_goal, states.mean_attempts) == (1, 1, 2.0)
    assert callback_states(filters(department_id=org.miljo.id)).booked == 0


def test_api_files_and_page_agree(callbacks, client, login, org):
    body = api_json(service_report(filters()))
    assert body["calls"] == {
        "offered": 7,
        "answered": 5,
        "answered_within_goal": 3,
        "abandoned": 2,
        "answered_within_goal_share": 42.9,
        "abandoned_share": 28.6,
        "mean_wait_seconds": 40.0,
        "median_wait_seconds": 40.0,
        "mean_talk_seconds": 156.0,
    }
    assert {k: body["callbacks"][k] for k in ("reached", "exhausted", "cancelled")} == {
        "reached": 1,
        "exhausted": 1,
        "cancelled": 1,
    }
    api = api_as(client, org.manager)
    answer = api.get(f"/reports/service?{QUERY}")
    assert answer.status_code == 200
    assert answer.get_json()["calls"] == body["calls"]
    assert answer.get_json()["callbacks"] == body["callbacks"]
    rows = list(
        csv.reader(
            io.StringIO(api.get(f"/reports/service?{QUERY}&format=csv").text.lstrip("\ufeff"))
        )
    )
    values = {(r[2], r[3]): r[4] for r in rows[1:]}
    assert values[("calls", "offered")] == "7"
    assert values[("calls", "answered_within_goal_share")] == "42.9"
    assert values[("callbacks", "exhausted")] == "1"
    assert values[("calls_per_queue", "Bygglovsrådgivning.answered_within_goal")] == "1"
    assert values[("calls_per_day", "2026-11-17.offered")] == "3"
    book = openpyxl.load_workbook(io.BytesIO(api.get(f"/reports/service?{QUERY}&format=xlsx").data))
    cells = {(r[0], r[1]): r[2] for r in book.active.iter_rows(min_row=7, values_only=True)}
    assert cells[("calls", "offered")] == 7
    assert cells[("calls", "abandoned_share")] == pytest.approx(0.286)
    login(org.manager)
    page = client.get(f"/rapporter/?period=custom&{QUERY}").get_data(as_text=True)
    assert "Erbjudna samtal</th><td>7</td>" in page
    assert "42,9 % (3)" in page and "28,6 % (2)" in page
    assert "40,0 s / 40,0 s" in page and "156,0 s" in page
    assert "Klara – försöken slut</th><td>1</td>" in page
    assert "Bygglovsrådgivning" in page and "Så räknas samtalen" in page


def test_a_queue_name_is_never_a_formula_in_the_files(org, client):
    import_statistics(b"Call ID;Start;Queue;Result\nf-1;2026-11-16 09:00:00;=HYPERLINK(1);ja\n")
    api = api_as(client, org.manager)
    text = api.get(f"/reports/service?{QUERY}&format=csv").text
    assert "'=HYPERLINK(1).offered" in text
    book = openpyxl.load_workbook(io.BytesIO(api.get(f"/reports/service?{QUERY}&format=xlsx").data))
    measures = [r[1] for r in book.active.iter_rows(min_row=7, values_only=True)]
    assert "'=HYPERLINK(1).offered" in measures
