"""sanitize_html, html_to_text, split_quoted and safe_filename."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kontaktcenter.channels.email.mime import (
    html_to_text,
    safe_filename,
    sanitize_html,
    split_quoted,
)

# --- sanitize_html ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dirty",
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        '<img src="x" onerror="alert(1)">',
        '<body onload="alert(1)">',
        '<svg onload="alert(1)"><circle r="1"/></svg>',
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" JaVaScRiPt:alert(1)">x</a>',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
        '<a href="vbscript:msgbox(1)">x</a>',
        '<iframe src="https://evil.example/"></iframe>',
        '<object data="https://evil.example/x.swf"></object>',
        '<embed src="https://evil.example/x.swf">',
        '<form action="https://evil.example/"><input name="pnr"><button>OK</button></form>',
        '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
        '<base href="https://evil.example/">',
        '<link rel="stylesheet" href="https://evil.example/x.css">',
        "<style>body{background:url(https://evil.example/t.gif)}</style>",
        '<p style="background:url(https://evil.example/t.gif)">x</p>',
        '<p style="width: expression(alert(1))">x</p>',
        '<p style="position:fixed;top:0;left:0;width:100%;height:100%">overlay</p>',
        '<table background="https://evil.example/t.gif"><tr><td>x</td></tr></table>',
        '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    ],
)
def test_dangerous_markup_is_removed(dirty: str):
    clean = sanitize_html(dirty).lower()
    for needle in (
        "<script",
        "onerror",
        "onload",
        "javascript",
        "vbscript",
        "evil.example",
        "<iframe",
        "<object",
        "<embed",
        "<form",
        "<input",
        "<meta",
        "<base",
        "<link",
        "<style",
        "<svg",
        "<math",
        "expression",
        "position",
        "data:",
    ):
        assert needle not in clean, (needle, clean)


def test_tracking_pixel_is_blocked_but_cid_images_stay():
    html = (
        '<p>Hej</p><img src="https://tracker.example/open.gif?u=1" width="1" height="1">'
        '<img src="cid:bild1@example" alt="Bild">'
        '<img srcset="https://tracker.example/2x.gif 2x">'
        '<img src="//tracker.example/rel.gif"><img src="/local.gif">'
    )
    html += '<img src="data:image/png;base64,iVBORw0KGgo=">'
    html += '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">'
    clean = sanitize_html(html)
    assert "tracker.example" not in clean and "local.gif" not in clean
    assert '<img src="data:image/png;base64,iVBORw0KGgo=">' in clean and "svg" not in clean
    assert '<img src="cid:bild1@example" alt="Bild">' in clean
    shown = sanitize_html(html, allow_remote_images=True)
    assert 'src="https://tracker.example/open.gif?u=1"' in shown
    assert "rel.gif" not in shown and "local.gif" not in shown


def test_links_are_kept_but_hardened():
    clean = sanitize_html(
        '<a href="https://www.exempelkommun.example/bygglov" id="x" '
        'class="btn" name="n" target="_self" ping="https://t.example">Läs</a>'
        '<a href="mailto:info@example.com">mejla</a><a href="/relativ">r</a>'
    )
    assert (
        '<a href="https://www.exempelkommun.example/bygglov" target="_blank" '
        'rel="noopener noreferrer nofollow">Läs</a>'
    ) in clean
    assert 'href="mailto:info@example.com"' in clean
    for gone in ("id=", "class=", "name=", "ping", "_self", "/relativ"):
        assert gone not in clean


def test_ordinary_formatting_survives():
    html = (
        '<div dir="ltr"><p style="color:red; font-weight:bold">Röd <b>fet</b> &amp; '
        '<i>kursiv</i></p><table border="1"><tr><td colspan="2">cell</td></tr></table>'
        "<blockquote>citat</blockquote><ul><li>ett</li></ul><br></div>"
    )
    clean = sanitize_html(html)
    for kept in (
        '<p style="color:red;font-weight:bold">',
        "<b>fet</b>",
        "&amp;",
        "<i>kursiv</i>",
        '<td colspan="2">cell</td>',
        "<blockquote>citat</blockquote>",
        "<li>ett</li>",
        "<br>",
    ):
        assert kept in clean.replace("color: red", "color:red"), kept


def test_full_documents_and_odd_input():
    doc = "<!DOCTYPE html><html><head><title>Titel</title></head><body><p>Text</p></body></html>"
    assert sanitize_html(doc) == "<p>Text</p>"
    assert sanitize_html("") == ""
    assert sanitize_html(None) == ""  # type: ignore[arg-type]
    assert sanitize_html("a\x00b<p>c") == "ab<p>c</p>"


# --- html_to_text -------------------------------------------------------------------------


def test_html_to_text():
    html = (
        "<html><head><style>p {color: red}</style><title>T</title></head><body>"
        "<h1>Rubrik</h1><p>Första   stycket\nmed radbrytning.</p><p>Andra&nbsp;&auml;r "
        "h&auml;r<br>ny rad</p><ul><li>ett</li><li>två</li></ul>"
        "<script>var x = 1;</script><pre>  kod\n    indrag</pre>"
        "<table><tr><td>A</td><td>B</td></tr></table></body></html>"
    )
    assert html_to_text(html) == (
        "Rubrik\n\nFörsta stycket med radbrytning.\n\nAndra\u00a0är här\nny rad\n\n"
        "- ett\n- två\n\n  kod\n    indrag\n\nA B"
    )
    assert html_to_text("") == ""
    assert html_to_text("<p>trasig <b>html") == "trasig html"
    assert html_to_text("<![if !supportLists]>x<![endif]><!-- kommentar -->y") == "xy"


# --- split_quoted -------------------------------------------------------------------------

OUTLOOK_SV = """Hej igen,

Tack för snabbt svar!

/Anna

________________________________
Från: Kontaktcenter <kontaktcenter@exempelkommun.example>
Skickat: den 10 mars 2026 10:02
Till: Anna Andersson <anna@example.com>
Ämne: [KC-2026-000123] Vi har tagit emot ditt ärende

Tack för ditt meddelande.
"""
GMAIL_SV = """Här kommer ritningen.

/Erik

Den mån 16 mars 2026 kl 10:30 skrev Maria Berg <maria.berg@exempelkommun.example>:

> Hej Erik,
>
> Vi behöver en fasadritning.
"""
GMAIL_EN_WRAPPED = """Thanks, see below.

On Mon, Mar 16, 2026 at 10:30 AM Maria Berg <
maria.berg@exempelkommun.example> wrote:

> Hello
"""
FORWARD_SV = """Kan ni registrera det här?

Lars

-----Ursprungligt meddelande-----
Från: Sara Ek <sara.ek@example.net>
Skickat: den 16 mars 2026 06:58
Ämne: Trasig gatubelysning

Lampan är trasig.
"""
OUTLOOK_EN = """Sounds good.

-----Original Message-----
From: Bob <bob@example.com>
Sent: Monday, March 9, 2026 4:22 PM
To: Dan
Subject: Plans

Hi Dan
"""
OUTLOOK_EN_NO_SEPARATOR = """Yes.

From: Bob <bob@example.com>
Sent: Monday, March 9, 2026 4:22 PM
To: Dan
Subject: Plans

Hi Dan
"""
PLAIN_QUOTE = """Ja, det stämmer.

> Stämmer det att hämtningen är på tisdag?
> /Olof
"""


@pytest.mark.parametrize(
    ("text", "new_end", "quoted_start"),
    [
        (OUTLOOK_SV, "/Anna\n\n", "________________________________\nFrån:"),
        (GMAIL_SV, "/Erik\n\n", "Den mån 16 mars 2026 kl 10:30 skrev Maria Berg"),
        (GMAIL_EN_WRAPPED, "see below.\n\n", "On Mon, Mar 16, 2026"),
        (FORWARD_SV, "Lars\n\n", "-----Ursprungligt meddelande-----"),
        (OUTLOOK_EN, "Sounds good.\n\n", "-----Original Message-----"),
        (OUTLOOK_EN_NO_SEPARATOR, "Yes.\n\n", "From: Bob"),
        (PLAIN_QUOTE, "stämmer.\n\n", "> Stämmer det"),
    ],
)
def test_split_quoted(text: str, new_end: str, quoted_start: str):
    new, quoted = split_quoted(text)
    assert new + quoted == text
    assert new.endswith(new_end)
    assert quoted.startswith(quoted_start)


def test_split_quoted_keeps_interleaved_and_bottom_posted_answers():
    bottom = "On 04/02/2012 06:26 PM, Megan wrote:\n> Hi\nHello, my answer is here\n"
    assert split_quoted(bottom) == (bottom, "")
    interleaved = "> Fråga 1?\nSvar 1.\n> Fråga 2?\nSvar 2.\n\n> Tack\n> /Olof\n"
    new, quoted = split_quoted(interleaved)
    assert new == "> Fråga 1?\nSvar 1.\n> Fråga 2?\nSvar 2.\n\n"
    assert quoted == "> Tack\n> /Olof\n"


def test_split_quoted_without_quote_or_only_quote():
    assert split_quoted("Bara ny text.\nMed två rader.") == ("Bara ny text.\nMed två rader.", "")
    only_forward = "-----Original Message-----\nFrom: a\nSent: b\nTo: c\n\nText"
    assert split_quoted(only_forward) == (only_forward, "")
    assert split_quoted("") == ("", "")
    # ordinary prose mentioning "skrev" is not an attribution line
    prose = "Min granne skrev till er förra veckan:\nom samma sak.\n"
    assert split_quoted(prose) == (prose, "")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "",
                "Hej",
                "> citat",
                ">> djupare",
                "On Mon, 1 Jan 2024, A <a@x> wrote:",
                "Den 1 jan skrev B:",
                "-----Original Message-----",
                "Från: x",
                "Skickat: y",
                "Till: z",
                "Ämne: w",
                "__________",
                "-- ",
                "text med @ och 12",
                "\r",
            ]
        ),
        max_size=30,
    )
)
def test_split_quoted_never_loses_text(lines):
    text = "\n".join(lines)
    new, quoted = split_quoted(text)
    assert new + quoted == text
    assert new.strip() or not quoted


# --- safe_filename ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("Ritning för ändrad fasad.pdf", "Ritning för ändrad fasad.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\anna\\Desktop\\ansökan.docx", "ansökan.docx"),
        ("a\x00b\x07c\r\n.txt", "a b c .txt"),
        ("faktura\u202efdp.exe", "faktura fdp.exe"),
        ('fil<>:"|?*.txt', "fil_______.txt"),
        ("  .hemlig  ", "hemlig"),
        ("...", "bilaga"),
        ("", "bilaga"),
        (None, "bilaga"),
        ("CON.txt", "_CON.txt"),
        ("nul", "_nul"),
        ("a\u0308ppelga\u030arden.png", "äppelgården.png"),  # macOS NFD -> NFC
    ],
)
def test_safe_filename(name, safe):
    assert safe_filename(name) == safe


def test_safe_filename_limits_length_and_keeps_extension():
    long_name = "ö" * 400 + ".pdf"
    safe = safe_filename(long_name)
    assert len(safe) <= 150 and safe.endswith(".pdf") and safe.startswith("ööö")
    assert len(safe_filename("x" * 400)) <= 150


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_safe_filename_is_always_safe(name):
    safe = safe_filename(name)
    assert safe and len(safe) <= 150
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not safe.startswith(".") and safe == safe.strip()
    assert safe_filename(safe) == safe


FRAGMENTS = [
    "<p>",
    "</p>",
    "<b>",
    "text",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<img src="https://t.example/p.gif">',
    '<a href="javascript:alert(1)">',
    '<a href="https://ok.example/">',
    "</a>",
    "<svg><script>alert(1)</script></svg>",
    "<style>@import 'x';</style>",
    '<div style="background:url(x)">',
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<textarea>",
    "<title>",
    "<noscript>",
    '"',
    "'",
    "<",
    ">",
    "&",
    "<iframe srcdoc='<script>alert(1)</script>'>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<form><button formaction=javascript:alert(1)>",
]


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "iframe", "svg", "math", "form", "button", "textarea"):
            self.bad.append(tag)
        for name, value in attrs:
            value = (value or "").lower()
            if name.startswith("on") or name in ("srcdoc", "formaction", "id", "class"):
                self.bad.append(name)
            if name == "src" and not value.startswith("cid:"):
                self.bad.append(value)
            if name == "href" and "javascript" in value:
                self.bad.append(value)

    handle_startendtag = handle_starttag


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=25))
def test_sanitize_html_fuzz(fragments):
    clean = sanitize_html("".join(fragments))
    audit = _Audit()
    audit.feed(clean)
    audit.close()
    assert audit.bad == []
    assert sanitize_html(clean) == clean  # idempotent: already-clean HTML stays as it is
    html_to_text(clean)


@pytest.mark.parametrize(
    "hostile",
    [
        "<!--" * 100_000,  # quadratic in CPython's html.parser
        "<![" * 100_000,
        "</" * 100_000,
        "<div>" * 100_000 + "<script>alert(1)</script>",  # quadratic nesting in html5ever
        "&" * 400_000,  # quadratic character references in html5ever
        "<a " * 100_000,
    ],
)
def test_pathological_html_is_handled_in_linear_time(hostile: str):
    start = time.perf_counter()
    clean = sanitize_html(hostile)
    text = html_to_text(hostile)
    assert time.perf_counter() - start < 3
    assert "<script" not in clean and "<div><div>" not in clean
    assert isinstance(text, str)
