"""The phone platform's per-call statistics as CSV (#14): header aliases, delimiters, encodings,
times, bad rows (all or nothing, with line numbers), idempotence, and a call known from its
events not counted twice (the events win, the file fills the gaps)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from kontaktcenter.channels.phone import call_events, integration
from kontaktcenter.channels.phone.models import Call, CallEventKind, CallState
from kontaktcenter.channels.phone.stats_import import (
    MAX_ROWS,
    CallStatistic,
    ImportRejected,
    import_statistics,
    parse,
)
from kontaktcenter.core.extensions import db

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
    # 09:30 in Stockholm in November is 08:30 UTC.
    assert s1.ringing_at == datetime(2026, 11, 16, 8, 30, tzinfo=UTC)
    assert s1.state == CallState.ENDED
    assert s1.answered_at == datetime(2026, 11, 16, 8, 30, 38, tzinfo=UTC)
    assert s1.talk_seconds == 180
    assert s1.queue == "Växeln" and s1.queue_wait_seconds == 38
    assert s1.caller_e164 == "+46701234567"
    assert s2.state == CallState.ABANDONED
    assert s2.abandoned_at == datetime(2026, 11, 16, 8, 36, 45, tzinfo=UTC)
    assert s3.talk_seconds == 125  # 00:02:05
    stats = {s.call_id: s for s in db.session.scalars(sa.select(CallStatistic))}
    assert stats[s1.id].agent_id == org.agent.id
    assert stats[s3.id].agent_id == org.handler_bygg.id  # by the platform's agent id
    # An imported call is history: it never lands in an agent's "ologgade samtal".
    assert s1.agent_id is None


def test_english_headers_commas_offsets_and_hidden_numbers(org):
    result = import_statistics(ENGLISH.encode())
    assert result.created == 2
    got = calls()
    assert got["e-1"].ringing_at == datetime(2026, 11, 16, 8, 30, tzinfo=UTC)
    assert got["e-2"].ringing_at == datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    assert got["e-2"].caller_hidden


def test_windows_1252_and_utf8_with_bom_read_the_same(org):
    text = SWEDISH.format(agent="")
    import_statistics(b"\xef\xbb\xbf" + text.replace("\ns-", "\nu-").encode("utf-8"))
    import_statistics(text.replace("\ns-", "\nw-").encode("cp1252"))
    got = calls()
    assert got["u-1"].queue == got["w-1"].queue == "Växeln"
    assert got["w-2"].state == CallState.ABANDONED


def test_tab_separated_and_unknown_columns_are_fine(org):
    data = (
        "uniqueid\tcalldate\tsrc\tdisposition\tbillsec\tdcontext\n"
        "x-1\t2026-11-16 12:00:00\t0701234567\tANSWERED\t42\tfrom-pstn\n"
    )
    result = import_statistics(data.encode())
    assert result.created == 1
    assert calls()["x-1"].queue is None  # no queue column: left unknown
    stat = db.session.scalars(sa.select(CallStatistic)).one()
    assert stat.talk_seconds == 42 and stat.answered


def test_the_same_file_twice_changes_nothing(org):
    data = swedish(org)
    import_statistics(data)
    before = {k: (c.state, c.ringing_at, c.answered_at, c.ended_at) for k, c in calls().items()}
    again = import_statistics(data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    after = {k: (c.state, c.ringing_at, c.answered_at, c.ended_at) for k, c in calls().items()}
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
    # The file fills what the events lacked: the end (answered + talk time).
    assert s1.state == CallState.ENDED
    assert s1.talk_seconds == 180
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
    assert calls()["q-1"].queue == "Bygg, plan"
    with pytest.raises(ImportRejected) as caught:
        parse(data.replace("nej", "kanske").replace("q-", "r-").encode())
    assert [e.line for e in caught.value.errors] == [5]  # physical line, after the line break
