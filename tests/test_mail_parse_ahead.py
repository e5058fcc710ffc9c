"""Parsing the next batch of mail in a helper process while this one is filed (issue #16,
channels/email/parse_ahead.py): the same messages, in the same order, whatever the helper does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from kontaktcenter.channels.email import parse_ahead
from kontaktcenter.channels.email.parse_ahead import ParseAhead, parse_all, parse_for_parent
from tests.mailutil import SWEDISH, record_parse_aheads
from tests.test_mail_import_cli import (  # noqa: F401 (fixtures)
    SUBSET,
    corpus_dir,
    import_mail,
    outbox,
    summary,
)

pytestmark = pytest.mark.skipif(not parse_ahead.available(), reason="no fork on this platform")


def _raws() -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted(SWEDISH.glob("*.eml"))]


def _groups(items: list[tuple[str, bytes]], size: int) -> list[list[tuple[str, bytes]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _die(raws: Sequence[bytes]) -> list:
    os._exit(7)  # the helper killed (out of memory, say)


def _short(raws: Sequence[bytes]) -> list:
    return parse_for_parent(raws)[:-1]  # a helper that lost a message


def test_every_group_after_the_first_is_parsed_in_the_helper_as_here():
    items = _raws()
    assert len(items) > 10
    groups = _groups(items, 4)
    with ParseAhead(10**9) as ahead:
        seen = list(ahead.groups(iter(groups)))
    assert [group for group, _parsed in seen] == groups  # every group, in order
    for group, parsed in seen:
        assert parsed == parse_all([raw for _label, raw in group], 10**9)
    assert ahead.parsed_by_helper == len(items) - len(groups[0])
    assert ahead.pool is None  # shut down on leaving


def test_a_single_group_starts_no_helper():
    [group] = _groups(_raws()[:3], 4)
    with ParseAhead(10**9) as ahead:
        [(found, parsed)] = list(ahead.groups([group]))
        assert ahead.pool is None
    assert found == group and ahead.parsed_by_helper == 0
    assert parsed == parse_all([raw for _label, raw in group], 10**9)


def test_messages_above_the_limit_are_left_unparsed():
    items = _raws()
    limit = sorted(len(raw) for _label, raw in items)[len(items) // 2]
    with ParseAhead(limit) as ahead:
        for group, parsed in ahead.groups(_groups(items, 3)):
            for (_label, raw), message in zip(group, parsed, strict=True):
                assert (message is None) == (len(raw) > limit)
    assert ahead.parsed_by_helper > 0


@pytest.mark.parametrize("work", [_die, _short], ids=["killed", "lost a message"])
def test_a_failing_helper_costs_nothing_but_time(work):
    items = _raws()
    groups = _groups(items, 4)
    with ParseAhead(10**9, work=work) as ahead:
        seen = list(ahead.groups(groups))
    assert [group for group, _parsed in seen] == groups
    for group, parsed in seen:
        assert parsed == parse_all([raw for _label, raw in group], 10**9)
    assert ahead.parsed_by_helper == 0
    assert not ahead.enabled  # the rest parsed here


def test_disabled_parses_here():
    groups = _groups(_raws(), 4)
    with ParseAhead(10**9, enabled=False) as ahead:
        assert [group for group, _parsed in ahead.groups(groups)] == groups
        assert ahead.pool is None
    assert ahead.parsed_by_helper == 0


def test_import_mail_files_alike_with_the_next_batch_parsed_ahead(app, monkeypatch, request):
    """Batches of two: the reply is filed a batch after its case, the duplicate in its
    original's batch; the helper parsed every batch after the first."""
    made = record_parse_aheads(monkeypatch)
    monkeypatch.setitem(app.config, "MAIL_BATCH_MESSAGES", 2)
    # The fixtures of tests/test_mail_import_cli.py, imported above.
    result = request.getfixturevalue("import_mail")(request.getfixturevalue("corpus_dir"))
    assert result.exit_code == 0, result.output
    assert summary(result) == (3, 1, 1, 1, 0)
    [ahead] = made
    assert ahead.parsed_by_helper == len(SUBSET) - 2


def test_ingest_batch_files_what_was_parsed_ahead_without_parsing_again(
    app, db_session, monkeypatch
):
    from kontaktcenter.channels.email import intake

    raws = [raw for _label, raw in _raws()[:5]]
    parsed = parse_all(raws, 10**9)

    def no_parsing(raw: bytes) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(intake, "parse_message", no_parsing)
    results = intake.ingest_batch(raws, parsed=parsed)
    assert [r.result for r in results] and all(r.result != "accepted" for r in results)
    with pytest.raises(AssertionError, match="parsed again"):  # without: parsed here
        intake.ingest_batch(raws[:1])


def test_a_failure_reading_the_next_group_comes_after_this_group():
    """An IMAP fetch that fails while the next batch is read: the batch already read is still
    handed out (and filed), then the error ends the poll as before."""
    groups = _groups(_raws(), 4)

    def reading() -> Iterator[list[tuple[str, bytes]]]:
        yield groups[0]
        yield groups[1]
        raise OSError("the server went away")

    handed: list[list[tuple[str, bytes]]] = []
    with ParseAhead(10**9) as ahead, pytest.raises(OSError, match="went away"):
        for group, _parsed in ahead.groups(reading()):
            handed.append(group)
    assert handed == groups[:2]


_KILLED = r"""
import os, signal, sys
from kontaktcenter.channels.email.parse_ahead import ParseAhead
groups = [[("a", b"Subject: hej\r\n\r\nhej")]] * 3
with ParseAhead(10**9) as ahead:
    for group, parsed in ahead.groups(groups):
        pids = [p.pid for p in ahead.pool._processes.values()]
        open(sys.argv[1], "w").write(" ".join(map(str, pids)))
        os.kill(os.getpid(), signal.SIGKILL)  # killed while it files the first batch
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
def test_the_helper_ends_when_its_worker_is_killed(tmp_path):
    """A helper that outlived a killed worker would hold what it inherited: with a plain fork,
    the worker's database session with its open transaction and locks."""
    out = tmp_path / "pids"
    root = Path(__file__).resolve().parent.parent
    parent = subprocess.Popen(
        [sys.executable, "-c", _KILLED, str(out)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert parent.wait(timeout=60) == -signal.SIGKILL
    [helper] = [int(p) for p in out.read_text().split()]
    try:
        deadline = time.monotonic() + 15
        while _alive(helper) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(helper), f"helper {helper} outlived its worker"
    finally:
        if _alive(helper):
            os.kill(helper, signal.SIGKILL)
