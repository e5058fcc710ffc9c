"""``flask import-mail PATH...``: .eml files, directories, mbox files and Maildirs."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import mailbox
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.models import Direction, MailMessage, MailStatus
from kontaktcenter.core.extensions import db
from tests.mailutil import SWEDISH, make_mail

# created, joined, duplicate, rejected (as named in expectations.json)
SUBSET = {
    "01_bygglov_utf8_8bit.eml": "created",
    "02_sophamtning_latin1_qp.eml": "created",
    "07_outlook_reply_sv_quoted_headers.eml": "joined",  # answers 01
    "20_ooo_franvaromeddelande_auto_submitted.eml": "rejected",  # out-of-office, no case
    "30_duplicate_message_id_first.eml": "created",
    "31_duplicate_message_id_second.eml": "duplicate",  # same Message-ID as 30
}
SUMMARY = re.compile(
    r"Nya ärenden: (\d+), i befintliga ärenden: (\d+), dubbletter: (\d+), "
    r"inte kopplade: (\d+), fel: (\d+)"
)


@pytest.fixture
def outbox(app, tmp_path):
    app.config["OUTBOX_DIR"] = str(tmp_path / "outbox")  # the acknowledgements
    yield tmp_path / "outbox"
    app.config["OUTBOX_DIR"] = None


@pytest.fixture
def import_mail(app, db_session, outbox):
    runner = app.test_cli_runner()

    def run(*paths: Path | str):
        return runner.invoke(args=["import-mail", *map(str, paths)])

    return run


def summary(result) -> tuple[int, ...]:
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("Nya ärenden:")]
    match = SUMMARY.fullmatch(line)
    assert match, line
    return tuple(int(n) for n in match.groups())


@contextlib.contextmanager
def file_leaks() -> Iterator[list[warnings.WarningMessage]]:
    """Collect ResourceWarnings of files left open in the block, so a known leak is checked
    where it happens instead of failing whichever test runs next."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield caught
        gc.collect()
    caught[:] = [w for w in caught if issubclass(w.category, ResourceWarning)]


def make_mbox(path: Path) -> Path:
    box = mailbox.mbox(path)
    try:
        box.lock()
        box.add(make_mail(message_id="<m1@example.se>", subject="Fråga om bygglov"))
        box.add(
            make_mail(
                message_id="<m2@example.se>",
                in_reply_to="<m1@example.se>",
                subject="Re: Fråga om bygglov",
                body="From the beginning: a line.",
            )
        )
        box.add(make_mail(sender="bo@example.se", message_id="<m3@example.se>", subject="Buller"))
        box.flush()
    finally:
        box.unlock()
        box.close()
    return path


def case_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Case))


def inbound_count() -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(MailMessage)
        .where(MailMessage.direction == Direction.INBOUND)
    )


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    directory = tmp_path / "export"
    directory.mkdir()
    for name in SUBSET:
        shutil.copy(SWEDISH / name, directory / name)
    (directory / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden files are skipped
    return directory


def test_directory_of_eml_files(import_mail, corpus_dir):
    result = import_mail(corpus_dir)

    assert result.exit_code == 0, result.output
    assert summary(result) == (3, 1, 1, 1, 0)
    assert case_count() == 3
    (rejected_line,) = [line for line in result.stdout.splitlines() if "inte kopplat:" in line]
    assert "20_ooo_franvaromeddelande_auto_submitted.eml" in rejected_line
    assert "Automatiskt meddelande" in rejected_line  # the reason, in Swedish
    assert result.stderr.count("FEL") == 0
    for name, outcome in SUBSET.items():  # each kept byte for byte, whatever became of it
        if outcome == "duplicate":
            continue
        raw = (corpus_dir / name).read_bytes()
        message = db.session.scalars(
            sa.select(MailMessage).where(MailMessage.raw_sha256 == hashlib.sha256(raw).hexdigest())
        ).one()
        assert mail_store.load(message.raw_sha256) == raw
        assert (message.case_id is None) == (outcome == "rejected")


def test_importing_the_same_directory_twice_creates_nothing_new(import_mail, corpus_dir):
    assert import_mail(corpus_dir).exit_code == 0
    cases, messages = case_count(), inbound_count()

    again = import_mail(corpus_dir)

    assert again.exit_code == 0, again.output
    assert summary(again) == (0, 0, len(SUBSET), 0, 0)
    assert (case_count(), inbound_count()) == (cases, messages)


def test_single_eml_files(import_mail, corpus_dir):
    result = import_mail(
        corpus_dir / "01_bygglov_utf8_8bit.eml", corpus_dir / "02_sophamtning_latin1_qp.eml"
    )
    assert result.exit_code == 0, result.output
    assert summary(result) == (2, 0, 0, 0, 0)


def test_mbox_file(import_mail, tmp_path):
    path = make_mbox(tmp_path / "export.mbox")

    with file_leaks():  # every mbox it opens is closed again
        result = import_mail(path)

    assert result.exit_code == 0, result.output
    assert summary(result) == (2, 1, 0, 0, 0)
    assert case_count() == 2
    joined = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.message_id == "<m2@example.se>")
    ).one()
    first = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.message_id == "<m1@example.se>")
    ).one()
    assert joined.case_id == first.case_id and joined.status == MailStatus.RECEIVED


def test_maildir_with_a_rejected_message(import_mail, tmp_path):
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    try:
        box.add(make_mail(message_id="<d1@example.se>", subject="Parkeringstillstånd"))
        box.add(
            make_mail(sender="bo@example.se", message_id="<d2@example.se>", subject="Snöröjning")
        )
        box.add(
            make_mail(
                sender="semester@example.se",
                message_id="<ooo@example.se>",
                subject="Frånvaro: Fråga",
                headers={"Auto-Submitted": "auto-replied"},
            )
        )
    finally:
        box.close()

    result = import_mail(tmp_path / "Maildir")

    assert result.exit_code == 0, result.output  # a rejected message is not a failure
    assert summary(result) == (2, 0, 0, 1, 0)
    (line,) = [line for line in result.stdout.splitlines() if "inte kopplat:" in line]
    assert str(tmp_path / "Maildir") in line and "Automatiskt meddelande" in line
    rejected = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.message_id == "<ooo@example.se>")
    ).one()
    assert rejected.status == MailStatus.REJECTED and rejected.case_id is None


def test_nonexistent_path_fails_but_the_rest_is_imported(import_mail, corpus_dir, tmp_path):
    missing = tmp_path / "finns-inte.mbox"

    result = import_mail(missing, corpus_dir / "01_bygglov_utf8_8bit.eml")

    assert result.exit_code == 1
    assert summary(result) == (1, 0, 0, 0, 1)
    assert f"FEL: {missing}: finns inte" in result.stderr
    assert case_count() == 1


def test_no_paths_is_a_usage_error(import_mail):
    result = import_mail()
    assert result.exit_code == 2 and "PATHS" in result.output


def test_import_mail_uses_no_deprecated_click_api(import_mail, corpus_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the module's ignore does not apply
        result = import_mail(corpus_dir / "01_bygglov_utf8_8bit.eml")
    assert result.exception is None, repr(result.exception)


def test_mbox_file_is_closed(import_mail, tmp_path):
    path = make_mbox(tmp_path / "export.mbox")
    with file_leaks() as leaks:
        result = import_mail(path)
    assert result.exit_code == 0, result.output
    assert [str(w.message) for w in leaks] == []
