"""Parsing the next batch of mail in a helper process while this one is filed (issue #16,
channels/email/parse_ahead.py): the same messages, in the same order, whatever the helper does."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from kontaktcenter.channels.email import parse_ahead
from kontaktcenter.channels.email.parse_ahead import ParseAhead, parse_all
from tests.mailutil import SWEDISH
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


def _die(raws: Sequence[bytes], limit: int) -> list:
    os._exit(7)  # the helper killed (out of memory, say)


def _short(raws: Sequence[bytes], limit: int) -> list:
    return parse_all(raws, limit)[:-1]  # a helper that lost a message


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
    made: list[ParseAhead] = []
    original = ParseAhead.__init__

    def recording(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(ParseAhead, "__init__", recording)
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
