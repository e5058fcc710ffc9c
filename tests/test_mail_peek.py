"""The header peek of a message stored before it is parsed (the HTTP door's respond-async):
what the admin's list of waiting messages shows must be what the full parse reads."""

from __future__ import annotations

from kontaktcenter.channels.email.mime.parsing import PEEK_BYTES, parse_message, peek
from tests.mailutil import corpus_messages


def test_peek_reads_the_sender_and_subject_the_parser_reads():
    """Every readable message of the corpus whose headers fit in the peek (all but a few)."""
    compared = 0
    for path in corpus_messages():
        raw = path.read_bytes()
        parsed = parse_message(raw)
        if parsed.parse_error or len(raw.split(b"\n\n", 1)[0]) >= PEEK_BYTES:
            continue  # unreadable, or headers beyond the peek: nothing to compare
        head = peek(raw)
        seen = (head.from_addr, head.from_name, head.subject)
        assert seen == (parsed.from_addr, parsed.from_name, parsed.subject), path
        compared += 1
    assert compared >= 380


def test_peek_stops_at_the_end_of_the_headers():
    """Header-like lines of the body (a forwarded message, LF line ends) are not headers."""
    raw = (
        b"From: =?utf-8?q?=C3=85sa_Str=C3=B6m?= <asa@example.se>\n"
        b"Subject: =?utf-8?q?Fr=C3=A5ga?=\n"
        b" om bygglov\n"
        b"\n"
        b"From: someone.else@example.com\n"
        b"Subject: not this one\n\n" + b"x" * 100_000
    )
    head = peek(raw)
    assert (head.from_addr, head.from_name, head.subject) == (
        "asa@example.se",
        "Åsa Ström",
        "Fråga om bygglov",
    )


def test_peek_reads_a_message_of_headers_alone_and_never_raises():
    assert peek(b"From: bo@example.se\r\nSubject: Hej").from_addr == "bo@example.se"
    assert peek(b"From: bo@example.se\r\nSubject: Hej\r\n").subject == "Hej"
    assert peek(b"\x00\xff garbage").from_addr is None
