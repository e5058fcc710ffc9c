"""Fetching mailboxes over IMAP. A message is marked seen (or moved) on the server only after
its case is committed, so a crash at any moment loses nothing; a re-fetch is a duplicate."""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import logging
import os
import re
import ssl

import sqlalchemy as sa

from kontaktcenter.extensions import db, utcnow
from kontaktcenter.models import Mailbox
from kontaktcenter.services.mail_intake import ingest

log = logging.getLogger(__name__)
BATCH = 200


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
        if mailbox.imap_security == "starttls":
            client.starttls(ssl_context=context)
    client.login(mailbox.imap_user, password)
    return client


def _check(response: tuple[str, list], what: str) -> list:
    status, data = response
    if status != "OK":
        raise MailboxError(f"IMAP {what}: {status} {data!r}")
    return data


def poll(mailbox: Mailbox) -> dict[str, int]:
    """Fetch unseen messages, file each, then mark it on the server. Returns counts."""
    counts = {"created": 0, "joined": 0, "duplicate": 0, "rejected": 0}
    mailbox_id = mailbox.id
    client = connect(mailbox)
    try:
        _check(client.select(_quote(mailbox.folder)), "select")
        uids = _check(client.uid("search", None, "UNSEEN"), "search")[0].split()[:BATCH]
        for uid in uids:
            data = _check(client.uid("fetch", uid, "(BODY.PEEK[])"), "fetch")
            raw = next((part[1] for part in data if isinstance(part, tuple)), None)
            if raw is None:
                continue
            result = ingest(raw, mailbox_id=mailbox_id)  # committed before we touch the server
            counts[result.result] += 1
            _mark_done(client, uid, db.session.get(Mailbox, mailbox_id))
    finally:
        with contextlib.suppress(Exception):  # the connection may already be gone
            client.logout()
    return counts


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mark_done(client: imaplib.IMAP4, uid: bytes, mailbox: Mailbox | None) -> None:
    if mailbox is not None and mailbox.processed_folder:
        target = _quote(mailbox.processed_folder)
        capabilities = " ".join(
            c.decode() if isinstance(c, bytes) else c for c in client.capabilities
        )
        if re.search(r"\bMOVE\b", capabilities):
            _check(client.uid("move", uid, target), "move")
            return
        _check(client.uid("copy", uid, target), "copy")
        _check(client.uid("store", uid, "+FLAGS", "(\\Deleted)"), "store")
        client.expunge()
        return
    _check(client.uid("store", uid, "+FLAGS", "(\\Seen)"), "store")


def poll_all() -> list[tuple[str, str]]:
    outcomes = []
    for mailbox in db.session.scalars(sa.select(Mailbox).where(Mailbox.active.is_(True))).all():
        address, mailbox_id = mailbox.address, mailbox.id
        try:
            counts = poll(mailbox)
        except (OSError, imaplib.IMAP4.error, MailboxError) as error:
            db.session.rollback()
            outcome = f"fel: {error}"
            log.warning("Polling %s failed: %s", address, error)
        else:
            outcome = ", ".join(f"{k} {v}" for k, v in counts.items())
        mailbox = db.session.get(Mailbox, mailbox_id)
        mailbox.last_polled_at = utcnow()
        mailbox.last_error = outcome if outcome.startswith("fel") else None
        db.session.commit()
        outcomes.append((address, outcome))
    return outcomes
