"""Unit tests for kontaktcenter.channels.email.mime.parse_message with hand-made messages."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kontaktcenter.channels.email.mime import parse_message
from kontaktcenter.channels.email.mime.text import contains_personnummer

CORPUS = Path(__file__).resolve().parent / "data" / "mail-corpus"


def msg(headers: str, body: str | bytes = "Hej!\n", *, eol: bytes = b"\r\n") -> bytes:
    """Build a message from a header block ("\\n"-separated) and a body."""
    head = headers.strip("\n").encode("utf-8").replace(b"\n", eol)
    if isinstance(body, str):
        body = body.encode("utf-8")
    return head + eol + eol + body.replace(b"\n", eol)


BASIC = """From: "Anna Andersson" <Anna.Andersson@Example.COM>
To: kontaktcenter@exempelkommun.example, "Bo" <BO@example.org>
Cc: Cecilia <c@example.net>
Subject: Fråga
Date: Tue, 10 Mar 2026 09:14:02 +0100
Message-ID: <abc@example.com>
"""


# --- headers ------------------------------------------------------------------------------


def test_basic_fields():
    pm = parse_message(msg(BASIC))
    assert pm.parse_error is None
    assert pm.from_addr == "anna.andersson@example.com"
    assert pm.from_name == "Anna Andersson"
    assert pm.to_addrs == ["kontaktcenter@exempelkommun.example", "bo@example.org"]
    assert pm.cc_addrs == ["c@example.net"]
    assert pm.subject == "Fråga"
    assert pm.message_id == "<abc@example.com>"
    assert pm.date == datetime(2026, 3, 10, 8, 14, 2, tzinfo=UTC)
    assert pm.received_at == pm.date  # no Received header: falls back to Date
    assert pm.text == "Hej!"
    assert pm.html is None and pm.attachments == []
    assert pm.header("subject") == "Fråga"


def test_rfc2047_subject_and_from_name():
    raw = msg("""From: =?iso-8859-1?Q?=C5sa_=D6hman?= <asa@example.com>
Subject: =?utf-8?B?RsO2cnNrb2xlcGxhdHM=?= =?iso-8859-1?Q?_f=F6r_v=E5rt?=
 =?utf-8?Q?_barn?= [KC-2026-000123] och kc-2026-000124
""")
    pm = parse_message(raw)
    assert pm.subject == "Förskoleplats för vårt barn [KC-2026-000123] och kc-2026-000124"
    assert pm.from_name == "Åsa Öhman"
    assert pm.case_references == ["KC-2026-000123", "KC-2026-000124"]


def test_raw_8bit_headers_fall_back_to_windows_1252():
    raw = b"From: \xc5sa \xd6hman <asa@example.com>\nSubject: Fr\xe5ga \x96 svar\n\nHej\n"
    pm = parse_message(raw)
    assert pm.subject == "Fråga – svar"
    assert pm.from_name == "Åsa Öhman"
    raw_utf8 = "Subject: Ärende om färdtjänst\n\nHej\n".encode()
    assert parse_message(raw_utf8).subject == "Ärende om färdtjänst"


def test_message_ids_are_normalised():
    raw = msg("""From: a@example.com
Message-ID:   <  id1@example.com >  (comment)
In-Reply-To: <parent@example.com> (Anna's message)
References: <root@example.com>
 <parent@example.com>   <root@example.com>
""")
    pm = parse_message(raw)
    assert pm.message_id == "<id1@example.com>"
    assert pm.in_reply_to == ["<parent@example.com>"]
    assert pm.references == ["<root@example.com>", "<parent@example.com>"]
    assert parse_message(msg("Message-ID: bare@example.com")).message_id == "<bare@example.com>"


def test_missing_headers():
    pm = parse_message(msg("X-Whatever: 1", "Bara text\n"))
    assert pm.parse_error is None
    assert (pm.from_addr, pm.from_name, pm.message_id, pm.date, pm.received_at) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert pm.subject == "" and pm.to_addrs == [] and pm.reply_to is None
    assert pm.text == "Bara text"
    assert pm.response_address is None and not pm.may_acknowledge


def test_received_dates():
    raw = msg("""Received: from b by mx1.example; Tue, 10 Mar 2026 07:59:31 +0100 (CET)
Received: from a by b.example; Mon, 9 Mar 2026 21:00:00 -0800
From: a@example.com
Date: Sat, 7 Mar 2026 12:00:00 +0100
""")
    pm = parse_message(raw)
    assert pm.received_at == datetime(2026, 3, 10, 6, 59, 31, tzinfo=UTC)
    assert pm.date == datetime(2026, 3, 7, 11, 0, tzinfo=UTC)
    assert pm.hop_count == 2 and not pm.is_loop_suspect


def test_bad_and_zoneless_dates():
    pm = parse_message(msg("From: a@example.com\nDate: not a date at all"))
    assert pm.date is None and pm.received_at is None
    assert any("Date" in d for d in pm.defects)
    pm = parse_message(msg("Date: Tue, 10 Mar 2026 09:14:02 -0000"))
    assert pm.date == datetime(2026, 3, 10, 9, 14, 2, tzinfo=UTC)


def test_return_path_and_reply_to():
    pm = parse_message(msg("Return-Path: <>\nFrom: a@example.com\nReply-To: B <B@example.org>"))
    assert pm.return_path == "" and pm.reply_to == "b@example.org"
    pm = parse_message(msg("Return-Path: <Bounce+X@example.com>\nFrom: a@example.com"))
    assert pm.return_path == "Bounce+X@example.com"


def test_stdlib_crashing_to_header_is_survived():
    pm = parse_message(
        msg("From: a@example.com\nTo: unlisted-recipients:; (no To-header on input)\nSubject: x")
    )
    assert pm.to_addrs == [] and pm.subject == "x"


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_line_endings_are_kept_and_understood(eol: bytes):
    raw = msg(BASIC, "rad 1\nrad 2\n", eol=eol)
    pm = parse_message(raw)
    assert pm.raw == raw
    assert pm.subject == "Fråga" and pm.text == "rad 1\nrad 2"


def test_bom_and_leading_blank_lines_are_tolerated():
    raw = b"\xef\xbb\xbf\r\n" + msg(BASIC)
    pm = parse_message(raw)
    assert pm.raw == raw and pm.subject == "Fråga"
    assert any("BOM" in d for d in pm.defects)


# --- input robustness ---------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n", b"\x00\x01\x02"])
def test_empty_or_junk_input(raw: bytes):
    pm = parse_message(raw)
    assert pm.raw == raw
    assert pm.parse_error


def test_non_bytes_input_never_raises():
    assert parse_message("Subject: x\n\nbody").parse_error  # type: ignore[arg-type]
    assert parse_message(None).parse_error  # type: ignore[arg-type]
    pm = parse_message(bytearray(msg(BASIC)))  # type: ignore[arg-type]
    assert pm.subject == "Fråga" and pm.raw == msg(BASIC)


def test_outlook_msg_file_is_reported():
    pm = parse_message(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200)
    assert pm.parse_error and "Outlook" in pm.parse_error


def test_deep_nesting_does_not_crash():
    nested = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(400)
    )
    pm = parse_message(b"From: a@example.com\nSubject: djup\n" + nested + b"\nbotten\n")
    assert pm.subject == "djup"
    assert any("djupare" in d for d in pm.defects)


HEADER_LINES = st.sampled_from(
    [
        b"From: ",
        b"To: ",
        b"Subject: ",
        b"Date: ",
        b"Message-ID: ",
        b"Content-Type: ",
        b"Content-Type: multipart/mixed; boundary=x",
        b"Content-Transfer-Encoding: base64",
        b"Content-Disposition: attachment; filename*=",
        b"Received: ",
        b"--x",
        b"--x--",
        b"",
        b"Content-Type: message/rfc822",
        b"Content-Type: text/html; charset=fakescii",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(HEADER_LINES, st.binary(max_size=40)), max_size=25),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_fuzzed_messages_never_raise(lines, eol):
    raw = eol.join(prefix + junk for prefix, junk in lines)
    pm = parse_message(raw)
    assert pm.raw == raw
    assert isinstance(pm.subject, str) and isinstance(pm.text, str)
    for dt in (pm.date, pm.received_at):
        assert dt is None or dt.utcoffset().total_seconds() == 0
    (pm.subject + pm.text + (pm.html or "")).encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(raw):
    assert parse_message(raw).raw == raw


# --- bodies -------------------------------------------------------------------------------


def test_windows_1252_body_without_charset():
    body = "Hej \u201dParkering\u201d \u2013 boten var 500 \u20ac\u2026 Åsa".encode("cp1252")
    pm = parse_message(msg("From: a@example.com\nContent-Transfer-Encoding: 8bit", body))
    assert pm.text == "Hej \u201dParkering\u201d \u2013 boten var 500 \u20ac\u2026 Åsa"


def test_declared_latin1_quoted_printable_body():
    pm = parse_message(
        msg(
            "Content-Type: text/plain; charset=iso-8859-1\n"
            "Content-Transfer-Encoding: quoted-printable",
            "Soph=E4mtningen p=E5 Storgatan=\n 12 missad. Pnr 121212-1212\n",
        )
    )
    assert pm.text == "Sophämtningen på Storgatan 12 missad. Pnr 121212-1212"
    assert pm.contains_personnummer


def test_unknown_charset_falls_back():
    pm = parse_message(msg("Content-Type: text/plain; charset=fakescii", "Hej då ✔\n"))
    assert pm.text == "Hej då ✔"
    assert any("fakescii" in d for d in pm.defects)


def test_html_only_mail():
    raw = msg(
        "From: a@example.com\nContent-Type: text/html; charset=utf-8",
        "<html><head><style>p{}</style><title>T</title></head><body>"
        "<p>Hej!</p><p>Trasig <b>gatlampa</b>&nbsp;p&aring; Björkvägen.</p>"
        "<script>alert(1)</script></body></html>",
    )
    pm = parse_message(raw)
    assert pm.text == "Hej!\n\nTrasig gatlampa\u00a0på Björkvägen."
    assert "<b>gatlampa</b>" in pm.html and "script" not in pm.html


def test_html_charset_from_meta_tag():
    body = '<meta charset="windows-1252"><p>V\xe4lkommen</p>'.encode("latin-1")
    pm = parse_message(msg("Content-Type: text/html", body))
    assert pm.text == "Välkommen"


@pytest.mark.parametrize(
    ("params", "body"),
    [
        (
            "format=flowed",
            "Papperskorgarna i Stadsparken \n\u00e4r fulla.\n>> citat som \n>> flyter",
        ),
        (
            "format=flowed; delsp=yes",  # the space before the soft break is not content
            "Papperskorgarna i Stadsparken  \n\u00e4r fulla.\n>> citat som  \n>> flyter",
        ),
    ],
)
def test_format_flowed_is_unwrapped(params: str, body: str):
    pm = parse_message(
        msg(f"Content-Type: text/plain; charset=utf-8; {params}", body + "\n-- \nNils\n")
    )
    assert pm.text == "Papperskorgarna i Stadsparken är fulla.\n>> citat som flyter\n-- \nNils"


ALTERNATIVE_WITH_ATTACHMENTS = """From: a@example.com
Subject: Bilagor
Content-Type: multipart/mixed; boundary="OUTER"

--OUTER
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset=utf-8

Se bifogade ritningar.
--ALT
Content-Type: multipart/related; boundary="REL"

--REL
Content-Type: text/html; charset=utf-8

<p>Se bifogade ritningar.</p><img src="cid:bild1@x"><img src="https://t.example/p.gif">
--REL
Content-Type: image/png
Content-ID: <bild1@x>
Content-Disposition: attachment; filename="logga.png"
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--REL--
--ALT
Content-Type: text/calendar; method=REQUEST

BEGIN:VCALENDAR
END:VCALENDAR
--ALT--
--OUTER
Content-Type: application/pdf
Content-Disposition: attachment; filename*=utf-8''Ritning%20f%C3%B6r%20%C3%A4ndrad%20fasad.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQ=
--OUTER
Content-Type: application/pdf
Content-Disposition: attachment;
 filename*0*=iso-8859-1''Situationsplan%20%F6ver;
 filename*1*=%20%C4ngby.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQ=
--OUTER
Content-Type: application/pdf; name="=?iso-8859-1?Q?Fasad_s=F6der.pdf?="
Content-Disposition: attachment; filename="=?iso-8859-1?Q?Fasad_s=F6der.pdf?="

%PDF-1.4
--OUTER
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="../../etc/\u202egpj.exe"

MZ
--OUTER--
"""


def test_attachments_and_filenames():
    pm = parse_message(msg(ALTERNATIVE_WITH_ATTACHMENTS))
    assert pm.text == "Se bifogade ritningar."
    assert 'src="cid:bild1@x"' in pm.html and "t.example" not in pm.html
    names = [a.filename for a in pm.attachments]
    assert names == [
        "logga.png",
        "Ritning för ändrad fasad.pdf",
        "Situationsplan över Ängby.pdf",
        "Fasad söder.pdf",
        "gpj.exe",
    ]
    assert pm.attachment_filenames == names  # the text/calendar alternative is not a file
    logo, ritning = pm.attachments[:2]
    assert logo.inline and logo.content_id == "bild1@x"  # referenced from the html via cid:
    assert logo.payload == base64.b64decode("iVBORw0KGgo=") and logo.size == len(logo.payload)
    assert not ritning.inline and ritning.content_type == "application/pdf"
    assert ritning.payload == b"%PDF-1.4"
    assert pm.attachments[4].declared_filename == "../../etc/\u202egpj.exe"


FORWARD = """From: Lars <lars@exempelkommun.example>
Subject: VB: Klagomål
Content-Type: multipart/mixed; boundary="F"

--F
Content-Type: text/plain; charset=utf-8

Se bifogat.
--F
Content-Type: message/rfc822

From: Ingrid <ingrid@example.org>
Subject: =?utf-8?Q?Klagom=C3=A5l_buller?=
Message-ID: <inner@example.org>
Content-Type: multipart/mixed; boundary="I"

--I
Content-Type: text/plain; charset=utf-8

Mitt personnummer är 19121212-1212.
--I
Content-Type: image/png
Content-Disposition: attachment; filename="balkong.png"

PNG
--I--
--F--
"""


def test_nested_rfc822_forward_is_one_attachment():
    pm = parse_message(msg(FORWARD))
    assert pm.text == "Se bifogat."
    (forwarded,) = pm.attachments
    assert forwarded.content_type == "message/rfc822"
    assert forwarded.filename == "Klagomål buller.eml" and forwarded.declared_filename is None
    assert pm.attachment_filenames == []  # no name in the message; inner files not listed
    inner = parse_message(forwarded.payload)
    assert inner.message_id == "<inner@example.org>"
    assert [a.filename for a in inner.attachments] == ["balkong.png"]
    # personnummer detection is a data-protection flag: it looks inside attached messages
    assert pm.contains_personnummer


def test_large_attachment_from_corpus_generator():
    spec = importlib.util.spec_from_file_location(
        "gen_large_attachment", CORPUS / "tools" / "gen_large_attachment.py"
    )
    assert spec and spec.loader, f"mail corpus missing: {CORPUS}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    raw, data = module.build(10)
    pm = parse_message(raw)
    assert pm.raw == raw
    assert pm.subject == "Flygfoto över Östra hamnen (stor bilaga)"
    assert pm.attachment_filenames == ["Flygfoto Östra hamnen.tif"]
    assert pm.attachments[0].size == 10 * 1024 * 1024
    assert hashlib.sha256(pm.attachments[0].payload).hexdigest() == (
        "ce9959d27884be17b149ab56caa470b3db60a2e3a8023ff6c1d12e3836f9dafe"
    )


# --- classification -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "auto"),
    [
        ("Auto-Submitted: auto-replied", True),
        ("Auto-Submitted: auto-generated; owner-email=x@example.com", True),
        ("Auto-Submitted: no", False),
        ("X-Autoreply: yes", True),
        ("X-Autorespond: Out of office", True),
        ("Precedence: bulk", True),
        ("Precedence: junk", True),
        ("Precedence: list", True),
        ("Precedence: first-class", False),
        ("X-Auto-Response-Suppress: All", True),
        ("X-Auto-Response-Suppress: DR, RN, NRN", False),
        ("Return-Path: <>", True),
        ("Subject: Automatiskt svar: [KC-2026-000125] Vi har tagit emot ditt ärende", True),
        ("Subject: Autosvar: semester", True),
        ("Subject: Auto: Frånvarande", True),
        ("Subject: Automatic reply: Ditt ärende", True),
        ("Subject: Out of Office: back Monday", True),
        ("Subject: Frånvaro: åter 1 april", True),
        ("Subject: Frånvaromeddelande: [KC-2026-000124]", True),
        ("Subject: Frånvaro för min dotter idag", False),
        ("Subject: Re: Automatiskt svar på min fråga?", False),
    ],
)
def test_auto_reply_detection(extra: str, auto: bool):
    pm = parse_message(msg(f"From: Anna <anna@example.com>\n{extra}"))
    assert pm.is_auto_reply is auto
    assert pm.is_bounce is False
    assert pm.may_acknowledge is (not auto)


DSN = """From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Content-Type: multipart/report; report-type=delivery-status; boundary="R"

--R
Content-Type: text/plain

Your message could not be delivered.
--R
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; ok@example.net
Action: delivered
Status: 2.0.0

Final-Recipient: rfc822; Okand@Example.NET
Original-Recipient: rfc822;okand@example.net
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown
--R
Content-Type: text/rfc822-headers

From: kontaktcenter@exempelkommun.example
Subject: [KC-2026-000125] Vi har tagit emot ditt =?utf-8?Q?=C3=A4rende?=
Message-ID: <kc-2026-000125.ack.1@exempelkommun.example>
--R--
"""


def test_dsn_bounce():
    pm = parse_message(msg(DSN))
    assert pm.is_bounce and pm.is_auto_reply and pm.is_no_reply_sender
    b = pm.bounce
    assert b.original_message_id == "<kc-2026-000125.ack.1@exempelkommun.example>"
    assert b.original_subject == "[KC-2026-000125] Vi har tagit emot ditt ärende"
    assert b.case_references == ["KC-2026-000125"]
    assert b.failed_recipients == ["okand@example.net"]
    assert (b.action, b.status, b.reporting_mta) == ("failed", "5.1.1", "mx.example.net")
    assert b.diagnostic == "smtp; 550 5.1.1 User unknown" and b.is_permanent
    assert pm.text == "Your message could not be delivered."


def test_plain_text_bounce_heuristics():
    body = "Delivery failed.\n\n--- original ---\nMessage-ID: <orig@example.com>\nSubject: Hej\n"
    pm = parse_message(msg("From: postmaster@example.com\nSubject: Mail delivery failed", body))
    assert pm.is_bounce and pm.bounce.original_message_id == "<orig@example.com>"
    pm = parse_message(
        msg(
            "From: MAILER-DAEMON@example.com\nSubject: Det gick inte att leverera: Hej\n"
            "X-Failed-Recipients: x@example.org"
        )
    )
    assert pm.is_bounce and pm.bounce.failed_recipients == ["x@example.org"]
    # a postmaster writing an ordinary message is not a bounce
    pm = parse_message(msg("From: postmaster@example.com\nSubject: Fråga om er server"))
    assert not pm.is_bounce and not pm.is_auto_reply and pm.is_no_reply_sender


def test_mailing_list_and_no_reply_senders():
    pm = parse_message(msg("From: nyhetsbrev@example.com\nList-Unsubscribe: <mailto:u@x>"))
    assert pm.is_mailing_list and not pm.is_auto_reply and not pm.may_acknowledge
    for sender in (
        "noreply@example.com",
        "no-reply@example.com",
        "do-not-reply@x.se",
        "NoReply+abc@example.com",
        "mailer-daemon@x.se",
        "postmaster@x.se",
    ):
        assert parse_message(msg(f"From: {sender}")).is_no_reply_sender, sender
    assert not parse_message(msg("From: noreplyanna@example.com")).is_no_reply_sender
    webform = parse_message(msg("From: noreply@kommun.example\nReply-To: Anna <anna@x.se>"))
    assert webform.response_address == "anna@x.se" and webform.may_acknowledge


def test_many_received_headers_are_a_loop_suspect():
    hops = "".join(
        f"Received: from h{i} by h{i + 1}; Tue, 10 Mar 2026 09:00:00 +0000\n" for i in range(30)
    )
    pm = parse_message(msg(hops + "From: a@example.com"))
    assert pm.hop_count == 30 and pm.is_loop_suspect and not pm.may_acknowledge
    assert not pm.is_auto_reply


# --- personnummer -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Mitt personnummer är 19121212-1212.", True),
        ("pnr: 121212-1212", True),
        ("pnr 191212121212 (utan bindestreck)", True),
        ("Hundraåring: 121212+1212", True),
        ("Samordningsnummer 701063-2391", True),
        ("Samordningsnummer 121272-1219", True),
        ("Samordningsnummer med fel kontrollsiffra 121272-1218", False),
        ("Fel kontrollsiffra 19121212-1213", False),
        ("Ogiltigt datum 19121312-1212", False),
        ("Diarienummer 2026-0007 och KC-2026-000123", False),
        ("Ring 070-123 45 67 eller 0701234567 eller 08-123 456 78", False),
        ("Tio siffror utan streck 1212121212", False),
        ("Längre nummer 1191212121212", False),
    ],
)
def test_personnummer(text: str, found: bool):
    assert contains_personnummer(text) is found


def test_personnummer_in_subject_and_html():
    assert parse_message(msg("Subject: Ang. 19121212-1212")).contains_personnummer
    pm = parse_message(msg("Content-Type: text/html", "<p>19121212<b>-</b>1212</p>"))
    assert pm.contains_personnummer


def test_a_failing_stage_does_not_lose_the_other_fields(monkeypatch):
    from kontaktcenter.channels.email.mime import parsing

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(parsing, "sanitize_html", broken)
    monkeypatch.setattr(parsing.classify, "detect_bounce", broken)
    pm = parse_message(msg(BASIC + "Content-Type: text/html", "<p>Hej</p>"))
    assert pm.subject == "Fråga" and pm.from_addr == "anna.andersson@example.com"
    assert pm.parse_error is None
    assert any("MIME-delarna" in d for d in pm.defects)
    assert any("klassningen" in d for d in pm.defects)


def test_header_bombs_stay_fast():
    import time

    parts = b"".join(
        b"--X\nContent-Disposition: attachment; " + b"a=b; " * 1000 + b"filename=f.txt\n\nx\n"
        for _ in range(300)
    )
    to = b"To: " + b", ".join(b"User %d <u%d@example.com>" % (i, i) for i in range(2000))
    raw = to + b"\nContent-Type: multipart/mixed; boundary=X\n\n" + parts + b"--X--\n"
    start = time.perf_counter()
    pm = parse_message(raw)
    assert time.perf_counter() - start < 5
    assert len(pm.to_addrs) == 2000
    assert [a.filename for a in pm.attachments] == ["f.txt"] * 300
