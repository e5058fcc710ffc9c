"""The phone platform's per-call statistics as CSV (#14): header aliases, delimiters, encodings,
times, bad rows (all or nothing, with line numbers), idempotence, and a call known from its
events not counted twice (the file's values stay in call_statistics: the call keeps what its
events said, the report puts the two together)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.enums import Outcome
from kontaktcenter.channels.phone import call_events, integration
from kontaktcenter.channels.phone.models import Call, CallEventKind, CallState
from kontaktcenter.channels.phone.stats_import import (
    MAX_ROWS,
    CallStatistic,
    ImportRejected,
    import_statistics,
    parse,
)
from kontaktcenter.compliance.anonymise import anonymise_cases
from kontaktcenter.core.extensions import db
from tests.factories import make_case

SWEDISH = (
    "Samtals-ID;Starttid;Kö;A-nummer;Kötid (s);Utfall;Samtalstid (s);Handläggare\n"
    "s-1;2026-11-16 09:30:00;Växeln;070-123 45 67;38;Besvarat;180;{agent}\n"
    "s-2;2026-11-16 09:35:10;Växeln;070-765 43 21;95;Avbrutet;;\n"
    "s-3;2026-11-16 10:00:00;Bygglov;;12;Besvarat;00:02:05;agent-77\n"
)
ENGLISH = (
    "Call ID,Start Time,Queue,Caller,Wait Time,Result,Talk Time,Agent\n"
    "e-1,2026-11-16T08:30:00Z,Main,+46701234567,20,answered,60,\n"
    'e-2,"2026-11-16T09:00:00+01:00",Main,anonymous,75,abandoned,,\n'
)


def calls() -> dict[str, Call]:
    db.session.expire_all()
    return {c.platform_call_id: c for c in db.session.scalars(sa.select(Call))}


def swedish(org) -> bytes:
    return SWEDISH.format(agent=org.agent.email).encode("utf-8")


def test_swedish_headers_semicolons_and_local_times(org):
    integration.map_agent("agent-77", org.handler_bygg)
    result = import_statistics(swedish(org))
    assert (result.rows, result.created, result.updated, result.unchanged) == (3, 3, 0, 0)
    got = calls()
    s1, s2, s3 = got["s-1"], got["s-2"], got["s-3"]
    assert s1.state == CallState.ENDED and s2.state == CallState.ABANDONED
    assert s1.caller_e164 == "+46701234567"
    stats = {s.call_id: s for s in db.session.scalars(sa.select(CallStatistic))}
    # 09:30 in Stockholm in November is 08:30 UTC.
    assert stats[s1.id].started_at == datetime(2026, 11, 16, 8, 30, tzinfo=UTC)
    assert (stats[s1.id].queue, stats[s1.id].wait_seconds) == ("Växeln", 38)
    assert (stats[s1.id].answered, stats[s1.id].talk_seconds) == (True, 180)
    assert (stats[s2.id].answered, stats[s2.id].wait_seconds) == (False, 95)
    assert stats[s3.id].talk_seconds == 125  # 00:02:05
    # The file's values are not the events': the call's event fields stay empty.
    assert (s1.ringing_at, s1.answered_at, s1.queue, s1.queue_wait_seconds) == (None,) * 4
    assert stats[s1.id].agent_id == org.agent.id
    assert stats[s3.id].agent_id == org.handler_bygg.id  # by the platform's agent id
    # An imported call is history: it never lands in an agent's "ologgade samtal".
    assert s1.agent_id is None


def test_english_headers_commas_offsets_and_hidden_numbers(org):
    result = import_statistics(ENGLISH.encode())
    assert result.created == 2
    got = calls()
    stats = {s.call_id: s for s in db.session.scalars(sa.select(CallStatistic))}
    assert stats[got["e-1"].id].started_at == datetime(2026, 11, 16, 8, 30, tzinfo=UTC)
    assert stats[got["e-2"].id].started_at == datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    assert got["e-2"].caller_hidden


def test_windows_1252_and_utf8_with_bom_read_the_same(org):
    text = SWEDISH.format(agent="")
    import_statistics(b"\xef\xbb\xbf" + text.replace("\ns-", "\nu-").encode("utf-8"))
    import_statistics(text.replace("\ns-", "\nw-").encode("cp1252"))
    got = calls()
    queues = dict(db.session.execute(sa.select(CallStatistic.call_id, CallStatistic.queue)).all())
    assert queues[got["u-1"].id] == queues[got["w-1"].id] == "Växeln"
    assert got["w-2"].state == CallState.ABANDONED


def test_tab_separated_and_unknown_columns_are_fine(org):
    data = (
        "uniqueid\tcalldate\tsrc\tdisposition\tbillsec\tdcontext\n"
        "x-1\t2026-11-16 12:00:00\t0701234567\tANSWERED\t42\tfrom-pstn\n"
    )
    result = import_statistics(data.encode())
    assert result.created == 1
    stat = db.session.scalars(sa.select(CallStatistic)).one()
    assert stat.queue is None  # no queue column: left unknown
    assert stat.talk_seconds == 42 and stat.answered


def test_the_same_file_twice_changes_nothing(org):
    data = swedish(org)
    import_statistics(data)
    before = {k: (c.state, c.caller_e164) for k, c in calls().items()}
    again = import_statistics(data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    after = {k: (c.state, c.caller_e164) for k, c in calls().items()}
    assert after == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Call)) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CallStatistic)) == 3


def test_a_call_known_from_events_is_not_counted_twice_and_events_win(org):
    t = datetime(2026, 11, 16, 8, 30, 5, tzinfo=UTC)
    for kind, at, extra in (
        (CallEventKind.RINGING, t, {"caller": "070-123 45 67", "caller_given": True}),
        (CallEventKind.ANSWERED, t.replace(second=45), {"queue_wait_seconds": 40}),
    ):
        call_events.record(
            call_events.EventData("s-1", kind, at=at, queue="Växeln", agent=org.agent, **extra)
        )
    result = import_statistics(swedish(org))
    assert (result.created, result.updated) == (2, 1)
    s1 = calls()["s-1"]
    assert s1.ringing_at == t  # the events' times, not the file's 08:30:00
    assert s1.answered_at == t.replace(second=45)
    assert s1.queue_wait_seconds == 40  # the event said 40, the file 38
    assert s1.agent_id == org.agent.id
    # The file lists finished calls: the call has ended; its end time stays the events' (none).
    assert s1.state == CallState.ENDED and s1.ended_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Call)) == 3


def test_an_event_after_the_import_keeps_the_call_one_call(org):
    import_statistics(swedish(org))
    call_events.record(call_events.EventData("s-2", CallEventKind.ABANDONED))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Call)) == 3
    assert calls()["s-2"].state == CallState.ABANDONED


def test_bad_rows_refuse_the_whole_file_with_line_numbers(org):
    data = (
        "Samtals-ID;Starttid;Kö;Kötid;Utfall;Samtalstid\n"
        "b-1;2026-11-16 09:30:00;Växeln;38;Besvarat;180\n"
        "b-2;16 nov kl 9;Växeln;38;Besvarat;180\n"
        "b-3;2026-11-16 09:40:00;Växeln;-5;Besvarat;180\n"
        "b-4;2026-11-16 09:41:00;Växeln;5;Kanske;\n"
        ";2026-11-16 09:42:00;Växeln;5;Besvarat;\n"
        "b-1;2026-11-16 09:43:00;Växeln;5;Besvarat;\n"
    ).encode()
    with pytest.raises(ImportRejected) as caught:
        import_statistics(data)
    errors = [(e.line, e.field) for e in caught.value.errors]
    assert errors == [(3, "start"), (4, "wait"), (5, "outcome"), (6, "call_id"), (7, "call_id")]
    assert "rad 2" in caught.value.errors[-1].message
    assert caught.value.message.startswith("Filen importerades inte (5 fel). Rad 3:")
    assert calls() == {}  # not even the good row


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Filen är tom."),
        (b"Queue;Caller\nA;070\n", "Kolumner saknas: samtals-id, starttid, besvarat/avbrutet."),
        (b"Call ID;Start;Result\n", "Filen har inga samtal."),
    ],
)
def test_files_that_are_not_statistics(org, data, message):
    with pytest.raises(ImportRejected) as caught:
        parse(data)
    assert message in caught.value.message


def test_a_row_limit(org):
    rows = "".join(f"r-{n};2026-11-16 09:00:00;besvarat\n" for n in range(MAX_ROWS + 1))
    with pytest.raises(ImportRejected) as caught:
        parse(("Call ID;Start;Result\n" + rows).encode())
    assert f"fler än {MAX_ROWS} rader" in caught.value.message


def test_quoted_fields_with_delimiters_and_line_breaks(org):
    data = (
        'Call ID,Start Time,Queue,Result\n"q-1","2026-11-16 09:00:00","Bygg, plan","answered"\n'
        '"q-2","2026-11-16 09:01:00","Rad\nbrytning",abandoned\n"q-3",2026-11-16 09:02,,nej\n'
    )
    assert import_statistics(data.encode()).created == 3
    queues = set(db.session.scalars(sa.select(CallStatistic.queue)))
    assert queues == {"Bygg, plan", "Rad\nbrytning", None}
    with pytest.raises(ImportRejected) as caught:
        parse(data.replace("nej", "kanske").replace("q-", "r-").encode())
    assert [e.line for e in caught.value.errors] == [5]  # physical line, after the line break


def test_an_asterisk_cdr_busy_failed_and_congestion_are_calls_not_answered(org):
    data = (
        "uniqueid,calldate,src,disposition,billsec\n"
        "k-1,2026-11-16 12:00:00,0701234567,ANSWERED,42\n"
        "k-2,2026-11-16 12:01:00,0701234567,BUSY,0\n"
        "k-3,2026-11-16 12:02:00,0701234567,FAILED,0\n"
        "k-4,2026-11-16 12:03:00,0701234567,CONGESTION,0\n"
        "k-5,2026-11-16 12:04:00,0701234567,NO ANSWER,0\n"
    )
    assert import_statistics(data.encode()).created == 5
    got = calls()
    assert got["k-1"].state == CallState.ENDED
    assert {got[f"k-{n}"].state for n in range(2, 6)} == {CallState.ABANDONED}


def test_a_reimport_never_brings_back_a_caller_gallring_erased(org):
    data = b"Call ID;Start;Caller;Wait;Result\ng-1;2026-11-16 09:00:00;070-123 45 67;10;ja\n"
    import_statistics(data)
    call = calls()["g-1"]
    assert call.caller_e164 == "+46701234567"  # a call the import creates gets the caller
    case = make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED)
    call.case_id = case.id
    db.session.commit()
    anonymise_cases([case.id], db.session)
    db.session.commit()
    assert calls()["g-1"].caller_e164 is None
    assert (import_statistics(data).updated, calls()["g-1"].caller_e164) == (0, None)


def test_a_call_known_from_events_never_gets_the_files_caller(org):
    call_events.record(call_events.EventData("n-1", CallEventKind.RINGING))
    import_statistics(b"Call ID;Start;Caller;Result\nn-1;2026-11-16 09:00:00;0701234567;ja\n")
    assert (calls()["n-1"].caller_e164, calls()["n-1"].caller_raw) == (None, None)


def test_a_corrected_file_corrects_the_calls_state(org):
    import_statistics(b"Call ID;Start;Wait;Result\nx-1;2026-11-16 09:00:00;95;abandoned\n")
    assert calls()["x-1"].state == CallState.ABANDONED
    again = import_statistics(b"Call ID;Start;Wait;Result\nx-1;2026-11-16 09:00:00;30;answered\n")
    assert (again.updated, calls()["x-1"].state) == (1, CallState.ENDED)
    stat = db.session.scalars(sa.select(CallStatistic)).one()
    assert (stat.answered, stat.wait_seconds) == (True, 30)
