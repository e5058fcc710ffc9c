"""Fetching mailboxes over IMAP, against a real Dovecot (see tests/mailservers.py)."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import warnings
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email import imap as imap_poll
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.imap import poll_all
from kontaktcenter.channels.email.models import Mailbox, MailMessage
from kontaktcenter.core.extensions import db
from tests import mailservers
from tests.mailservers import Dovecot, ImapAccount
from tests.mailutil import make_mail, record_parse_aheads

# Fixtures (a real Dovecot, fresh accounts on it, a test certificate).
dovecot = mailservers.dovecot
imap_account = mailservers.imap_account
tls_cert = mailservers.tls_cert
trust_test_cert = mailservers.trust_test_cert

NOTHING_NEW = "created 0, joined 0, duplicate 0, rejected 0"


@pytest.fixture
def make_mailbox(db_session, outbox, monkeypatch):
    """A Mailbox row for an account on the test Dovecot; the password in its own env variable."""

    def make(account: ImapAccount, password: str | None = None, **fields) -> Mailbox:
        env = f"KC_TEST_IMAP_PASSWORD_{account.user.replace('-', '_').upper()}"
        monkeypatch.setenv(env, account.password if password is None else password)
        values = {
            "address": f"{account.user}@kommun.example",
            "name": f"Brevlåda {account.user}",
            "imap_host": "127.0.0.1",
            "imap_port": account.server.port,
            "imap_security": "none",
            "imap_user": account.user,
            "password_env": env,
        } | fields
        mailbox = Mailbox(**values)
        db.session.add(mailbox)
        db.session.commit()
        return mailbox

    return make


@contextlib.contextmanager
def socket_leaks() -> Iterator[list[warnings.WarningMessage]]:
    """Collect the ResourceWarnings of connections left open in the block (after a GC), so a
    known leak is checked where it happens instead of failing whichever test runs next."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield caught
        gc.collect()
    caught[:] = [w for w in caught if issubclass(w.category, ResourceWarning)]


class WorkerKilled(BaseException):
    """Stands for the process dying (OOM, deploy, power): no ``except Exception`` stops it."""


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def case_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Case))


def citizen_mails() -> list[bytes]:
    """Two new questions and an answer to the first (which joins its case)."""
    return [
        make_mail(message_id="<q1@example.se>", subject="Fråga om bygglov"),
        make_mail(sender="bo@example.se", message_id="<q2@example.se>", subject="Sophämtning"),
        make_mail(message_id="<q3@example.se>", in_reply_to="<q1@example.se>", subject="Re: x"),
    ]


def test_poll_files_messages_then_marks_them_seen(imap_account, make_mailbox):
    for raw in citizen_mails():
        imap_account.append(raw)
    mailbox = make_mailbox(imap_account)

    ((address, outcome),) = poll_all()

    assert (address, outcome) == (mailbox.address, "created 2, joined 1, duplicate 0, rejected 0")
    assert case_count() == 2
    on_server = imap_account.messages()
    assert [m.flags for m in on_server] == [{"\\Seen", "$Kontaktcenter"}] * 3
    for stored in on_server:  # kept byte for byte as the server delivered it
        message = db.session.scalars(
            sa.select(MailMessage).where(MailMessage.raw_sha256 == _sha(stored.raw))
        ).one()
        assert message.mailbox_id == mailbox.id and message.case is not None
    assert mailbox.last_polled_at is not None and mailbox.last_error is None

    assert poll_all() == [(mailbox.address, NOTHING_NEW)]
    assert case_count() == 2

    imap_account.append(make_mail(message_id="<q4@example.se>", subject="Ny fråga"))
    assert poll_all() == [(mailbox.address, "created 1, joined 0, duplicate 0, rejected 0")]
    assert case_count() == 3


def test_a_backlog_is_filed_in_order_with_each_next_batch_parsed_ahead(
    app, imap_account, make_mailbox, monkeypatch
):
    """A batch per message: the answer joins the case filed two batches before it; the
    batches after the first were parsed in the helper (channels/email/parse_ahead.py)."""
    made = record_parse_aheads(monkeypatch)
    monkeypatch.setitem(app.config, "MAIL_BATCH_MESSAGES", 1)
    for raw in citizen_mails():
        imap_account.append(raw)
    mailbox = make_mailbox(imap_account)
    assert poll_all() == [(mailbox.address, "created 2, joined 1, duplicate 0, rejected 0")]
    assert [m.flags for m in imap_account.messages()] == [{"\\Seen", "$Kontaktcenter"}] * 3
    [ahead] = made
    assert ahead.parsed_by_helper == 2


def test_a_message_someone_already_read_still_becomes_a_case(imap_account, make_mailbox):
    imap_account.append(make_mail(message_id="<read@example.se>"), flags="\\Seen")
    make_mailbox(imap_account)
    poll_all()
    assert case_count() == 1
    assert [m.flags for m in imap_account.messages()] == [{"\\Seen", "$Kontaktcenter"}]
    poll_all()
    assert case_count() == 1


def test_poll_moves_filed_messages_to_the_processed_folder(imap_account, make_mailbox):
    imap_account.create_folder("Behandlat")
    for raw in citizen_mails():
        imap_account.append(raw)
    mailbox = make_mailbox(imap_account, processed_folder="Behandlat")

    assert poll_all() == [(mailbox.address, "created 2, joined 1, duplicate 0, rejected 0")]

    assert imap_account.messages("INBOX") == []
    moved = imap_account.messages("Behandlat")
    assert len(moved) == 3 and all("\\Deleted" not in m.flags for m in moved)
    assert poll_all() == [(mailbox.address, NOTHING_NEW)]
    assert case_count() == 2


def test_missing_processed_folder_is_reported_and_nothing_is_lost(imap_account, make_mailbox):
    imap_account.append(make_mail(message_id="<kvar@example.se>"))
    mailbox = make_mailbox(imap_account, processed_folder="Behandlat")  # not created

    ((_, outcome),) = poll_all()

    assert outcome.startswith("fel: ") and mailbox.last_error == outcome
    assert case_count() == 1  # filed (committed) before the move failed
    assert [m.flags for m in imap_account.messages()] == [set()]  # still waiting in INBOX

    imap_account.create_folder("Behandlat")
    assert poll_all() == [(mailbox.address, "created 0, joined 0, duplicate 1, rejected 0")]
    assert case_count() == 1 and mailbox.last_error is None
    assert imap_account.messages() == [] and len(imap_account.messages("Behandlat")) == 1


def test_moving_leaves_other_messages_in_the_folder_alone(imap_account, make_mailbox):
    imap_account.create_folder("Behandlat")
    # Someone flagged this one deleted in their mail client but has not expunged it (yet).
    imap_account.append(make_mail(message_id="<old@example.se>"), flags="\\Seen \\Deleted")
    imap_account.append(make_mail(message_id="<new@example.se>"))
    make_mailbox(imap_account, processed_folder="Behandlat")

    poll_all()

    assert len(imap_account.messages("Behandlat")) == 1
    (left,) = imap_account.messages("INBOX")
    assert b"<old@example.se>" in left.raw


@pytest.mark.parametrize("processed_folder", [None, "Behandlat"])
def test_crash_after_filing_before_marking_loses_and_duplicates_nothing(
    app, imap_account, make_mailbox, monkeypatch, processed_folder
):
    if processed_folder:
        imap_account.create_folder(processed_folder)
    for raw in citizen_mails():
        imap_account.append(raw)
    mailbox = make_mailbox(imap_account, processed_folder=processed_folder)
    monkeypatch.setitem(app.config, "MAIL_BATCH_MESSAGES", 2)  # two transactions per poll
    real_ingest_batch = imap_poll.ingest_batch
    calls = []

    def ingest_then_crash(raws, **kwargs):
        results = real_ingest_batch(raws, **kwargs)  # committed
        calls.append([result.result for result in results])
        if len(calls) == 1:
            raise WorkerKilled("the worker died here")
        return results

    monkeypatch.setattr(imap_poll, "ingest_batch", ingest_then_crash)

    with pytest.raises(WorkerKilled):
        poll_all()
    assert case_count() == 2
    untouched = imap_account.messages()
    assert len(untouched) == 3 and all(m.flags == set() for m in untouched)

    # The next poll fetches the first batch again: duplicates, not more cases.
    assert poll_all() == [(mailbox.address, "created 0, joined 1, duplicate 2, rejected 0")]
    assert calls == [["created", "created"], ["duplicate", "duplicate"], ["joined"]]
    assert case_count() == 2
    if processed_folder:
        assert imap_account.messages() == []
        assert len(imap_account.messages(processed_folder)) == 3
    else:
        assert [m.flags for m in imap_account.messages()] == [{"\\Seen", "$Kontaktcenter"}] * 3
    assert poll_all() == [(mailbox.address, NOTHING_NEW)]


def test_wrong_password_is_recorded_and_other_mailboxes_still_polled(
    dovecot: Dovecot, make_mailbox, monkeypatch
):
    bad, good = dovecot.add_account(), dovecot.add_account()
    bad.append(make_mail(message_id="<bad@example.se>"))
    good.append(make_mail(message_id="<good@example.se>"))
    bad_box = make_mailbox(bad, password="fel-losenord")
    good_box = make_mailbox(good)

    with socket_leaks():  # connect() must close its socket when LOGIN fails
        outcomes = dict(poll_all())  # no exception escapes

    assert outcomes[bad_box.address].startswith("fel: ")
    assert bad_box.last_error == outcomes[bad_box.address]
    assert "AUTHENTICATIONFAILED" in bad_box.last_error
    assert bad_box.last_polled_at is not None
    assert [m.flags for m in bad.messages()] == [set()]  # left for the next attempt
    assert outcomes[good_box.address] == "created 1, joined 0, duplicate 0, rejected 0"
    assert good_box.last_error is None and case_count() == 1

    # Once the password is right, the error clears and the waiting message is filed.
    monkeypatch.setenv(bad_box.password_env, bad.password)
    assert dict(poll_all())[bad_box.address] == "created 1, joined 0, duplicate 0, rejected 0"
    assert bad_box.last_error is None


def test_failed_login_closes_the_connection(imap_account, make_mailbox):
    make_mailbox(imap_account, password="fel")
    with socket_leaks() as leaks:
        ((_, outcome),) = poll_all()
    assert outcome.startswith("fel: ")
    assert [str(w.message) for w in leaks] == []


def test_password_with_swedish_letters(dovecot: Dovecot, make_mailbox):
    account = dovecot.add_account(password="Sommaräng-på-Öland-2026")
    account.append(make_mail(message_id="<utf8-password@example.se>"))
    mailbox = make_mailbox(account)
    with socket_leaks():
        try:
            outcomes = poll_all()
        except Exception as error:  # noqa: BLE001 - caught here so the leak is collected here
            outcomes = f"poll_all raised {error!r}"
    assert outcomes == [(mailbox.address, "created 1, joined 0, duplicate 0, rejected 0")]


def test_missing_password_variable_is_recorded(imap_account, make_mailbox, monkeypatch):
    mailbox = make_mailbox(imap_account)
    monkeypatch.delenv(mailbox.password_env)
    ((_, outcome),) = poll_all()
    assert outcome.startswith("fel: Miljövariabeln") and mailbox.password_env in outcome
    assert mailbox.last_error == outcome


def test_unencrypted_imap_is_refused_off_loopback(imap_account, make_mailbox):
    mailbox = make_mailbox(imap_account, imap_host="imap.kommun.example")
    ((_, outcome),) = poll_all()
    assert outcome == "fel: Okrypterad IMAP är bara tillåten mot den egna datorn."
    assert mailbox.last_error == outcome


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_poll_over_tls(imap_account, make_mailbox, trust_test_cert, security):
    imap_account.append(make_mail(message_id=f"<tls-{security}@example.se>"))
    port = imap_account.server.imaps_port if security == "ssl" else imap_account.server.port
    mailbox = make_mailbox(imap_account, imap_security=security, imap_port=port)
    assert poll_all() == [(mailbox.address, "created 1, joined 0, duplicate 0, rejected 0")]
    assert [m.flags for m in imap_account.messages()] == [{"\\Seen", "$Kontaktcenter"}]


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_untrusted_certificate_is_recorded_not_ignored(imap_account, make_mailbox, security):
    imap_account.append(make_mail(message_id=f"<untrusted-{security}@example.se>"))
    port = imap_account.server.imaps_port if security == "ssl" else imap_account.server.port
    mailbox = make_mailbox(imap_account, imap_security=security, imap_port=port)
    ((_, outcome),) = poll_all()
    assert outcome.startswith("fel: ") and "CERTIFICATE_VERIFY_FAILED" in outcome
    assert mailbox.last_error == outcome and case_count() == 0
    assert [m.flags for m in imap_account.messages()] == [set()]


def test_stored_bytes_are_what_the_server_returned(imap_account, make_mailbox):
    imap_account.append(make_mail(message_id="<bytes@example.se>", body="Hej!\n\nÅäö.\n"))
    make_mailbox(imap_account)
    poll_all()
    (on_server,) = imap_account.messages()
    message = db.session.scalars(
        sa.select(MailMessage).where(MailMessage.message_id == "<bytes@example.se>")
    ).one()
    assert mail_store.load(message.raw_sha256) == on_server.raw
