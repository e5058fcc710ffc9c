"""HTML sanitising (nh3), HTML -> text, and splitting off quoted earlier replies."""

from __future__ import annotations

import re
from html import escape, unescape

import nh3

# --- sanitising ---------------------------------------------------------------------------

_TAGS = {
    "a", "abbr", "acronym", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
    "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em",
    "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
}  # fmt: skip
# Removed together with their content (never shown as text either).
_CLEAN_CONTENT = {
    "script", "style", "title", "template", "noscript", "iframe", "frame", "frameset",
    "object", "embed", "applet", "noembed", "noframes", "xmp", "svg", "math", "select",
    "textarea", "head",
}  # fmt: skip
_TABLE_ATTRS = {"align", "valign", "width", "height", "bgcolor", "colspan", "rowspan"}
_ATTRIBUTES = {
    "*": {"title", "lang", "dir", "align", "style"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "table": {"width", "bgcolor", "border", "cellpadding", "cellspacing"},
    "td": _TABLE_ATTRS,
    "th": _TABLE_ATTRS,
    "tr": {"valign", "bgcolor"},
    "col": {"width", "span"},
    "colgroup": {"width", "span"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "li": {"value"},
    "blockquote": {"type"},
}
# Inline style is common in mail; keep only visual properties that cannot load anything,
# position anything over the page or hide text.
_STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style",
    "font-weight", "font-variant", "text-align", "text-decoration", "text-indent",
    "text-transform", "line-height", "letter-spacing", "white-space", "vertical-align",
    "width", "max-width", "min-width", "height", "margin", "margin-top", "margin-right",
    "margin-bottom", "margin-left", "padding", "padding-top", "padding-right",
    "padding-bottom", "padding-left", "border", "border-top", "border-right",
    "border-bottom", "border-left", "border-color", "border-style", "border-width",
    "border-collapse", "border-spacing", "list-style-type",
}  # fmt: skip
_STYLE_TRICKS = re.compile(r"url\s*\(|expression|javascript|behavior|@import|\\|/\*", re.I)
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid", "data"}  # narrowed per attribute below
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")
_STRIP_FOR_SCHEME = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_RASTER_DATA_URI = re.compile(r"^data:image/(png|gif|jpe?g|webp);base64,[a-z0-9+/=\s]*$", re.I)


def _scheme(value: str) -> str | None:
    m = _SCHEME.match(_STRIP_FOR_SCHEME.sub("", value).lower())
    return m.group(1) if m else None


def _attribute_filter_for(allow_remote_images: bool):
    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if attr == "style":
            return None if _STYLE_TRICKS.search(value) else value
        if attr == "src":
            scheme = _scheme(value)
            if tag != "img":
                return None
            if scheme == "cid" or (scheme == "data" and _RASTER_DATA_URI.match(value)):
                return value  # inline images: nothing is fetched
            if allow_remote_images and scheme in ("http", "https"):
                return value
            return None  # remote (tracking) images are never loaded; relative URLs mean nothing
        if attr == "href":
            scheme = _scheme(value)
            if scheme in ("http", "https", "mailto", "tel"):
                return value
            if value.strip().startswith("#"):
                return value.strip()
            return None
        return value

    return attribute_filter


def _cleaner(allow_remote_images: bool) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=_TAGS,
        clean_content_tags=_CLEAN_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter_for(allow_remote_images),
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
        url_schemes=_URL_SCHEMES,
        url_relative="deny",
        filter_style_properties=_STYLE_PROPERTIES,
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )


_CLEANERS: dict[bool, nh3.Cleaner] = {}


def sanitize_html(html: str, *, allow_remote_images: bool = False) -> str:
    """Sanitise mail HTML into a fragment that may be rendered with ``|safe``.

    Allow-list based (nh3/ammonia): no script/style elements, no event handlers, no forms,
    frames, objects, SVG/MathML, meta refresh, ids/classes/names (no DOM clobbering), no
    ``javascript:``/``data:`` links, relative links dropped, links get rel="noopener noreferrer
    nofollow" and target="_blank". Inline ``style`` keeps only harmless visual properties.

    Images: ``cid:`` sources are kept (the UI maps them to the message's inline attachments by
    Content-ID), as are embedded raster ``data:image/(png|gif|jpeg|webp);base64`` sources;
    remote ``http(s)`` sources are removed so nothing is fetched when an agent opens the case
    (tracking pixels). ``allow_remote_images=True`` keeps them, for an explicit
    "visa bilder" action.
    """
    if not isinstance(html, str) or not html:
        return ""
    cleaner = _CLEANERS.get(allow_remote_images)
    if cleaner is None:
        cleaner = _CLEANERS[allow_remote_images] = _cleaner(allow_remote_images)
    html = html.replace("\x00", "")
    if _too_complex(html):
        return _escaped_text_html(html)
    try:
        cleaned = cleaner.clean(html)
    except Exception:  # noqa: BLE001 - never fall back to the unsanitised input
        return ""
    # style emptied by the property filter; safe: '"' inside values is serialised as &quot;
    return cleaned.replace(' style=""', "").strip()


# --- HTML -> text ---------------------------------------------------------------------------
# The stdlib html.parser is quadratic on inputs such as "<!--" * 100_000 (minutes of CPU for a
# 400 kB mail), so text extraction also goes through nh3 (html5ever), whose output is
# normalised HTML that a few linear regexes can turn into text.

_BLOCK = {
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "main",
    "nav", "ol", "p", "section", "table", "tr", "ul",
}  # fmt: skip
_TEXT_CLEANER = nh3.Cleaner(
    tags=_BLOCK | {"br", "hr", "li", "td", "th", "pre"},
    clean_content_tags=_CLEAN_CONTENT,
    attributes={},
    strip_comments=True,
    link_rel=None,
)
_TEXT_TAG = re.compile(r"<(/?)([a-z0-9]+)>")
_PRE_BLOCK = re.compile(r"(<pre>.*?</pre>)", re.DOTALL)
_ANY_TAG = re.compile(r"<[^<>]*>")
_WS = re.compile(r"[ \t\n\r\f\v\u200b]+")
_BLANK_LINES = re.compile(r"\n{3,}")

# html5ever is quadratic in the depth of truly nested elements ("<div>" * 100_000 takes about
# a minute) and in the number of "&" character references within one text node ("&" * 800_000:
# ten seconds). Both are estimated with linear scans first; absurd HTML gets plain text.
MAX_HTML_DEPTH = 1000
MAX_HTML_AMPERSANDS = 100_000
_TAG_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
_NO_NESTING = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup",
    "tbody", "thead", "tfoot", "colgroup", "rb", "rt", "rp",
}  # fmt: skip


def _too_complex(html: str) -> bool:
    if html.count("&") > MAX_HTML_AMPERSANDS:
        return True
    depth = 0
    for m in _TAG_TOKEN.finditer(html):
        if m.group(2).lower() in _NO_NESTING:
            continue
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > MAX_HTML_DEPTH:
                return True
    return False


def _crude_text(html: str) -> str:
    """Tag-stripped text for HTML too broken or too complex to parse (linear time)."""
    return unescape(_WS.sub(" ", _ANY_TAG.sub(" ", html))).strip()


def _escaped_text_html(html: str) -> str:
    return f"<div>{escape(_crude_text(html))}</div>"


def _tag_as_text(m: re.Match) -> str:
    closing, name = m.group(1), m.group(2)
    if name in ("br", "hr"):
        return "\n"
    if name == "li":
        return "" if closing else "\n- "
    if name in ("td", "th"):
        return "" if closing else " "
    return "\n" if name in _BLOCK else ""


def _render_text(cleaned: str) -> str:
    out = []
    for chunk in _PRE_BLOCK.split(cleaned):
        if chunk.startswith("<pre>") and chunk.endswith("</pre>"):
            body = _TEXT_TAG.sub(lambda m: "\n" if m.group(2) in ("br", "hr") else "", chunk[5:-6])
            out.append("\n" + unescape(body) + "\n")
        else:
            chunk = _TEXT_TAG.sub(_tag_as_text, _WS.sub(" ", chunk))
            chunk = re.sub(r" {2,}", " ", chunk)
            out.append(unescape(re.sub(r"\n +", "\n", chunk)))
    return "".join(out)


def html_to_text(html: str) -> str:
    """Readable plain text from HTML (for search, previews and HTML-only mail)."""
    if not isinstance(html, str) or not html:
        return ""
    html = html.replace("\x00", "")
    text = None
    if not _too_complex(html):
        try:
            text = _render_text(_TEXT_CLEANER.clean(html))
        except Exception:  # noqa: BLE001
            text = None
    if text is None:
        text = _crude_text(html)
    lines = [line.rstrip(" \t\u00a0") for line in text.replace("\r", "").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# --- quoted replies -------------------------------------------------------------------------

_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(ursprungligt meddelande|original message|originalmeddelande|"
    r"forwarded message|vidarebefordrat meddelande|videresendt melding|"
    r"oprindelig meddelelse|opprinnelig melding)\s*-{2,}\s*$"
    r"|^\s*(begin forwarded message|början på vidarebefordrat meddelande)\s*:\s*$",
    re.IGNORECASE,
)
# "On <date>, <name> wrote:", "Den <datum> skrev <namn> <adress>:" (Gmail, Swedish)
_ATTRIBUTION_END = re.compile(
    r"\b(?:wrote|skrev|schrieb|a écrit|escribió|kirjoitti|написал)\b[^:]{0,200}:\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^[\s-]*(?:on|den|am|le|el)\s", re.IGNORECASE)
_FOOTER = re.compile(r"^(?:-- ?|_{8,}|-{8,})\s*$")
_HEADER_FROM = re.compile(r"^\s*\*?(?:från|from|fra|von|de)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_OTHER = re.compile(
    r"^\s*\*?(?:skickat|sent|datum|date|till|to|ämne|subject|kopia|cc|sendt|gesendet|envoyé)"
    r"\s*:",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{8,}\s*$")


def _attribution_start(line: str) -> bool:
    """Could this line begin an attribution? ("On ...", "Den ...", or a date and an address)"""
    return bool(
        len(line) < 500
        and not line.lstrip().startswith(">")
        and (_ATTRIBUTION_START.match(line) or (any(c.isdigit() for c in line) and "@" in line))
    )


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _answered_below(lines: list[str], start: int) -> bool:
    """True when a "> " block after an attribution is followed by new, unquoted text
    (bottom-posting / interleaved answers): then the attribution does not start the tail.
    A signature or list footer after the quote ("-- ", "_____") is not an answer."""
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or not _is_quoted(lines[i]):
        return False
    while i < len(lines) and (_is_quoted(lines[i]) or not lines[i].strip()):
        i += 1
    return i < len(lines) and not _FOOTER.match(lines[i])


def _attribution_at(lines: list[str], i: int) -> int | None:
    """Index of the first line after an attribution starting at line i, else None."""
    line = lines[i]
    if not _attribution_start(line):
        return None
    if _ATTRIBUTION_END.search(line):
        return i + 1
    if i + 1 < len(lines) and not line.rstrip().endswith(":"):
        nxt = lines[i + 1].strip()
        joined = line.rstrip() + " " + nxt
        # e.g. Gmail wrapping "On ..., Name <\naddr> wrote:"
        if (
            len(nxt) < 200
            and ("@" in joined or "<" in joined)
            and _ATTRIBUTION_END.search(joined)
            and not _attribution_start(lines[i + 1])
        ):
            return i + 2
    return None


def _quote_start(lines: list[str]) -> int | None:
    """Index of the first line of the quoted/forwarded tail, or None."""
    for i, line in enumerate(lines):
        if _SEPARATOR.match(line):
            return i
        after = _attribution_at(lines, i)
        if after is not None and not _answered_below(lines, after):
            return i
        if _HEADER_FROM.match(line):
            following = [ln for ln in lines[i + 1 : i + 6] if ln.strip()]
            if sum(1 for ln in following if _HEADER_OTHER.match(ln)) >= 2:
                j = i
                while j > 0 and not lines[j - 1].strip():
                    j -= 1
                if j > 0 and _UNDERSCORES.match(lines[j - 1]):
                    return j - 1
                return i
    # a trailing block of "> " lines (blank lines allowed inside), maybe followed by a footer
    j = len(lines)
    last_quoted = max((n for n, ln in enumerate(lines) if _is_quoted(ln)), default=None)
    if last_quoted is None:
        return None
    footer = next((n for n in range(last_quoted + 1, len(lines)) if _FOOTER.match(lines[n])), None)
    if footer is not None and all(not ln.strip() for ln in lines[last_quoted + 1 : footer]):
        j = footer
    while j > 0 and not lines[j - 1].strip():
        j -= 1
    k = j
    while k > 0 and (_is_quoted(lines[k - 1]) or not lines[k - 1].strip()):
        k -= 1
    while k < j and not lines[k].strip():
        k += 1
    return k if k < j else None


def split_quoted(text: str) -> tuple[str, str]:
    """Split a plain-text body into (new part, quoted earlier replies/forwarded text).

    Recognises "> " quoting (the trailing block; interleaved answers stay in the new part),
    attribution lines ("Den ... skrev:", "On ... wrote:", also wrapped over two lines),
    "-----Ursprungligt meddelande-----"/"-----Original Message-----" and forward separators,
    and Outlook header blocks ("Från:/From:" followed by "Skickat:/Sent:", "Till:/To:",
    "Ämne:/Subject:", optionally after a "________" line).

    Nothing is removed: ``new + quoted == text`` always holds. When the new part would be blank
    (the whole text is a forward or quote), nothing is split off: (text, "").
    """
    if not isinstance(text, str) or not text:
        return ("", "") if not isinstance(text, str) else (text, "")
    lines = text.split("\n")
    start = _quote_start(lines)
    if start is None:
        return text, ""
    offset = sum(len(line) + 1 for line in lines[:start])
    new, quoted = text[:offset], text[offset:]
    if not new.strip():
        return text, ""
    return new, quoted
