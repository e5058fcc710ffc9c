"""Fetching mailboxes over IMAP. A message is marked (or moved) on the server only after its
case is committed, so a crash at any moment loses nothing; a re-fetch is a duplicate.

Messages are found by our own keyword ``$Kontaktcenter`` rather than by \\Seen where the server
allows keywords: someone reading the mailbox in a mail program must not keep a message from
becoming a case. They are flagged \\Seen as well, for the people who look at the mailbox."""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import logging
import os
import ssl
from collections.abc import Iterator

import sqlalchemy as sa
from flask import current_app

from kontaktcenter.channels.email.intake import batches, ingest_batch
from kontaktcenter.channels.email.models import Mailbox
from kontaktcenter.channels.email.parse_ahead import ParseAhead, Parsed
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.jobs import app_job

log = logging.getLogger(__name__)
BATCH = 200
KEYWORD = "$Kontaktcenter"


class MailboxError(Exception):
    pass


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def connect(mailbox: Mailbox) -> imaplib.IMAP4:
    password = os.environ.get(mailbox.password_env)
    if password is None:
        raise MailboxError(f"Miljövariabeln {mailbox.password_env} saknas.")
    context = ssl.create_default_context()
    if mailbox.imap_security == "ssl":
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            mailbox.imap_host, mailbox.imap_port, ssl_context=context, timeout=60
        )
    else:
        if mailbox.imap_security == "none" and not _is_loopback(mailbox.imap_host):
            raise MailboxError("Okrypterad IMAP är bara tillåten mot den egna datorn.")
        client = imaplib.IMAP4(mailbox.imap_host, mailbox.imap_port, timeout=60)
    try:
        if mailbox.imap_security == "starttls":
            client.starttls(ssl_context=context)
        # AUTHENTICATE PLAIN sends UTF-8, so a password with å, ä or ö works (LOGIN is ASCII).
        credentials = f"\0{mailbox.imap_user}\0{password}".encode()
        client.authenticate("PLAIN", lambda _challenge: credentials)
        # Servers list some capabilities (MOVE, UIDPLUS) only after login.
        caps = _check(client.capability(), "capability")[-1]
        client.capabilities = tuple(caps.decode().upper().split())
    except BaseException:
        with contextlib.suppress(OSError):
            client.shutdown()
        raise
    return client


def _check(response: tuple[str, list], what: str) -> list:
    status, data = response
    if status != "OK":
        raise MailboxError(f"IMAP {what}: {status} {data!r}")
    return data


def poll(mailbox: Mailbox) -> dict[str, int]:
    """Fetch unseen messages, file them (a batch per transaction), then mark each on the
    server. A large message is stored first and marked once stored ("accepted": a job files
    it). Returns counts."""
    counts = {"created": 0, "joined": 0, "duplicate": 0, "rejected": 0, "accepted": 0, "failed": 0}
    mailbox_id = mailbox.id
    client = connect(mailbox)
    try:
        _check(client.select(_quote(mailbox.folder)), "select")
        keyword = _keywords_allowed(client)
        criteria = f"UNKEYWORD {KEYWORD} NOT DELETED" if keyword else "UNSEEN NOT DELETED"
        found = _check(client.uid("search", criteria), "search")[0].split()[:BATCH]
        uids = [uid.decode("ascii") for uid in found]  # numbers; imaplib sends str arguments
        config = current_app.config
        ahead = ParseAhead(config["MAIL_ASYNC_BYTES"], enabled=config["MAIL_PARSE_AHEAD"])
        with ahead:  # the next batch is fetched and parsed while this one is filed
            groups = ahead.groups(batches(_fetch(client, uids)))
            _file_groups(client, groups, mailbox_id, keyword, counts)
    finally:
        with contextlib.suppress(Exception):  # the connection may already be gone
            client.logout()
    return counts


def _file_groups(
    client: imaplib.IMAP4,
    groups: Iterator[tuple[list[tuple[str, bytes]], Parsed]],
    mailbox_id: int,
    keyword: bool,
    counts: dict[str, int],
) -> None:
    for group, parsed in groups:
        try:  # committed before we mark them
            results = ingest_batch(
                [raw for _uid, raw in group], mailbox_id=mailbox_id, parsed=parsed
            )
        except Exception:  # noqa: BLE001 - left unmarked: retried next poll, others go on
            db.session.rollback()
            log.exception("Could not file %d messages from %s", len(group), mailbox_id)
            counts["failed"] += len(group)
            continue
        current = db.session.get(Mailbox, mailbox_id)
        for (uid, _raw), result in zip(group, results, strict=True):
            counts[result.result] += 1
            _mark_done(client, uid, current, keyword)


def _fetch(client: imaplib.IMAP4, uids: list[str]) -> Iterator[tuple[str, bytes]]:
    for uid in uids:
        data = _check(client.uid("fetch", uid, "(BODY.PEEK[])"), "fetch")
        raw = next((part[1] for part in data if isinstance(part, tuple)), None)
        if raw is not None:
            yield uid, raw


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _keywords_allowed(client: imaplib.IMAP4) -> bool:
    """Whether the selected folder accepts keywords of our own (PERMANENTFLAGS has \\*)."""
    responses = client.untagged_responses.get("PERMANENTFLAGS", [])
    flags = b" ".join(v for v in responses if isinstance(v, bytes) and v)
    return b"\\*" in flags


def _mark_done(client: imaplib.IMAP4, uid: str, mailbox: Mailbox | None, keyword: bool) -> None:
    """Move the message to the processed folder, or else flag it. If the move fails it stays
    unflagged in the folder: the next poll files it as a duplicate and tries the move again."""
    if mailbox is not None and mailbox.processed_folder:
        target = _quote(mailbox.processed_folder)
        if "MOVE" in client.capabilities:
            _check(client.uid("move", uid, target), "move")
            return
        _check(client.uid("copy", uid, target), "copy")
        _check(client.uid("store", uid, "+FLAGS", "(\\Deleted)"), "store")
        if "UIDPLUS" in client.capabilities:
            _check(client.uid("expunge", uid), "expunge")  # only this message
        else:
            client.expunge()
        return
    flags = f"(\\Seen {KEYWORD})" if keyword else "(\\Seen)"
    _check(client.uid("store", uid, "+FLAGS", flags), "store")


def poll_all() -> list[tuple[str, str]]:
    outcomes = []
    for mailbox in db.session.scalars(sa.select(Mailbox).where(Mailbox.active.is_(True))).all():
        address, mailbox_id = mailbox.address, mailbox.id
        try:
            counts = poll(mailbox)
        except Exception as error:  # noqa: BLE001 - one broken mailbox must not stop the others
            db.session.rollback()
            outcome = f"fel: {error}"
            log.warning("Polling %s failed: %s", address, error)
        else:
            outcome = ", ".join(
                f"{k} {v}" for k, v in counts.items() if k not in ("accepted", "failed") or v
            )
        current = db.session.get(Mailbox, mailbox_id)
        if current is not None:  # not deleted meanwhile
            current.last_polled_at = utcnow()
            current.last_error = outcome if outcome.startswith("fel") else None
            db.session.commit()
        outcomes.append((address, outcome))
    return outcomes


@app_job
def poll_job() -> None:
    """The periodic entry point (every minute)."""
    poll_all()
