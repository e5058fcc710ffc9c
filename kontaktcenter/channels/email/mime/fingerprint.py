"""A message's content fingerprint: what its author sent, without what each delivery added.

Two deliveries of one message differ in their trace headers (Received, Return-Path,
Delivered-To, X-Original-To, X-Forwarded-To, spam and virus scanners' verdicts, Exchange's
X-MS-Exchange-* stamps, ARC and Authentication-Results) and sometimes in their line endings
(CRLF on the wire, LF in an mbox or Maildir file, CR in old Mac exports). Rather than list
every header a server may add (new ones appear all the time, and one missing from a deny-list
would split one message into two cases), the fingerprint takes what only the author writes:

- the originator and content headers in :data:`CONTENT_HEADERS` and every ``Content-*``
  header of the top level, in header-name order (repeats in their own order), their values
  unfolded with runs of white space made one space;
- the body (everything after the first empty line) byte for byte, with line endings made LF
  and trailing empty lines ignored.

A different message that reuses a Message-ID differs in one of these (its subject, date,
text or attachments); the same message delivered to two of our mailboxes does not.
"""

from __future__ import annotations

import hashlib

VERSION = b"kontaktcenter-fingerprint-1\n"
CONTENT_HEADERS = frozenset(
    {
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "mime-version",
    }
)


def _lines(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def fingerprint(raw: bytes) -> str:
    """SHA-256 (hex) of the message's content headers and body; never raises."""
    data = _lines(raw.removeprefix(b"\xef\xbb\xbf")).lstrip(b"\n")
    head, blank, body = data.partition(b"\n\n")
    if not blank and b":" not in head.split(b"\n", 1)[0]:
        head, body = b"", data  # no header block at all: the whole message is body
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if fields:  # a folded continuation of the previous header
                name, value = fields[-1]
                fields[-1] = (name, value + b" " + line)
            continue
        name, colon, value = line.partition(b":")
        fields.append((name.strip().lower() if colon else b"", value))
    digest = hashlib.sha256(VERSION)
    wanted = [
        (name, b" ".join(value.split()))
        for name, value in fields
        if name.decode("latin-1") in CONTENT_HEADERS or name.startswith(b"content-")
    ]
    for name, value in sorted(wanted, key=lambda field: field[0]):
        digest.update(name + b":" + value + b"\n")
    digest.update(b"\n")
    digest.update(body.rstrip(b"\n"))
    return digest.hexdigest()
