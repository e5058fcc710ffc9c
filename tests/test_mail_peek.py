"""The header peek of a message stored before it is parsed (the HTTP door's respond-async):
what the admin's list of waiting messages shows must be what the full parse reads."""

from __future__ import annotations

import re

from kontaktcenter.channels.email.mime import parsing
from kontaktcenter.channels.email.mime.parsing import PEEK_BYTES, parse_message, peek
from tests.mailutil import corpus_messages

HEADER_END = re.compile(rb"\r?\n\r?\n")


def test_peek_reads_the_sender_and_subject_the_parser_reads():
    """Every readable message of the corpus whose headers fit in the peek (all but a few)."""
    compared = 0
    for path in corpus_messages():
        raw = path.read_bytes()
        parsed = parse_message(raw)
        end = HEADER_END.search(raw)
        headers = end.start() if end is not None else len(raw)
        if parsed.parse_error or headers >= PEEK_BYTES:
            continue  # unreadable, or headers beyond the peek: nothing to compare
        head = peek(raw)
        seen = (head.from_addr, head.from_name, head.subject)
        assert seen == (parsed.from_addr, parsed.from_name, parsed.subject), path
        compared += 1
    assert compared >= 390  # of 400: 8 are unreadable, 2 have headers longer than the peek


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


def test_peek_hands_the_parser_the_header_section_alone(monkeypatch):
    """The body is never read by the peek's parser (#16: it read the rest of the first 64 kB
    line by line), whichever line ends the message has."""
    given: list[bytes] = []
    real = parsing.BytesParser.parsebytes

    def parsebytes(self, text, headersonly=False):
        given.append(bytes(text))
        return real(self, text, headersonly)

    monkeypatch.setattr(parsing.BytesParser, "parsebytes", parsebytes)
    for eol in (b"\r\n", b"\n"):
        head = eol.join([b"From: Bo <bo@example.se>", b"Subject: Hej"])
        body = eol.join([b"line of the body"] * 4000)
        given.clear()
        assert peek(head + eol + eol + body).subject == "Hej"
        assert given == [head + b"\r\n\r\n"]
