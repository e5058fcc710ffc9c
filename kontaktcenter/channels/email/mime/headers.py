"""Header decoding that survives real-world mail.

Header values are taken from ``Message.raw_items()`` (the source text, 8-bit bytes kept as
surrogate escapes), the bytes are decoded as UTF-8 with a windows-1252 fall-back, and only then
handed to the stdlib's RFC 5322/2047/2231 header parser (``policy.default.header_factory``).
That way raw ISO-8859-1 header bytes (corpus file 55) do not turn into U+FFFD, while encoded
words, address lists and MIME parameters are still parsed by the standard library.
"""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime
from email import policy
from email.utils import getaddresses, parsedate_to_datetime

_FACTORY = policy.default.header_factory
# Chars handed to the stdlib header parser, which is slow on long values: address lists may be
# long (thousands of recipients), MIME parameter headers (Content-Type/-Disposition) are not.
_MAX_STRUCTURED = 100_000
_MAX_MIME_HEADER = 8_192
_NEWLINES = re.compile(r"\r\n|\r|\n")
_MSGID = re.compile(r"<([^<>]*)>")
_ADDR_FALLBACK = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")
_EW_CHARSET = re.compile(r"=\?([^?*\s]{1,60})((?:\*[^?\s]*)?\?[qQbB]\?)")
_ESCAPE_CODECS = {"unicode-escape", "raw-unicode-escape", "punycode", "idna"}
_CHARSET_ALIASES = {
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
    "iso-8859-8-i": "iso-8859-8",
    # WHATWG-style supersets of labels that mail clients use loosely
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gbk",
    "shift_jis": "cp932",
    "ansi_x3.4-1968": "ascii",
}


def _latin1_for_undefined(exc: UnicodeError) -> tuple[str, int]:
    """Error handler: bytes windows-1252 leaves undefined (0x81, 0x8D, ...) map like ISO-8859-1."""
    if isinstance(exc, UnicodeDecodeError):
        bad = exc.object[exc.start : exc.end]
        return bad.decode("latin-1"), exc.end
    raise exc


codecs.register_error("kontaktcenter-latin1", _latin1_for_undefined)


def decode_fallback(data: bytes) -> str:
    """UTF-8 when the bytes are valid UTF-8, else windows-1252 (never fails)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "kontaktcenter-latin1")


def lookup_charset(charset: str | None) -> str | None:
    """Python codec name for a MIME charset label, or None when unknown/unusable."""
    if not charset or not isinstance(charset, str):
        return None
    label = charset.strip().strip("\"'").lower()
    label = _CHARSET_ALIASES.get(label, label)
    candidates = [label]
    if label.startswith("x-"):
        candidates.append(label[2:])
    for name in candidates:
        if not name:
            continue
        try:
            info = codecs.lookup(name)
        except (LookupError, ValueError, TypeError):
            continue
        if not getattr(info, "_is_text_encoding", True) or info.name in _ESCAPE_CODECS:
            continue
        return info.name
    return None


def decode_text(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode a body with its declared charset; fall back to UTF-8, then windows-1252.

    Returns (text, problem) where problem describes a fall-back, or None.
    """
    codec = known = lookup_charset(charset)
    if codec == "ascii":
        codec = None  # 8-bit bytes under a us-ascii label: guess UTF-8 / windows-1252
    elif codec == "iso8859-1":
        # windows-1252 is a printable superset of ISO-8859-1 (what WHATWG and MUAs do).
        return data.decode("cp1252", "kontaktcenter-latin1"), None
    problem: str | None
    if codec:
        try:
            return data.decode(codec), None
        except Exception:  # noqa: BLE001 - UnicodeDecodeError, or odd codecs failing oddly
            problem = f"texten stämmer inte med teckenkodningen {charset!r}"
        try:
            return data.decode("utf-8"), problem
        except UnicodeDecodeError:
            pass
        try:
            return data.decode(codec, "replace"), problem
        except Exception:  # noqa: BLE001
            pass
        return decode_fallback(data), problem
    problem = f"okänd teckenkodning {charset!r}" if charset and known is None else None
    return decode_fallback(data), problem


def fix_surrogates(text: str) -> str:
    """Turn surrogate-escaped raw bytes into text (UTF-8, else windows-1252); drop NULs."""
    if not isinstance(text, str):
        text = str(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        text = decode_fallback(raw)
        # anything still unencodable (e.g. lone surrogates that were real code points)
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text.replace("\x00", "")


def unfold(value: str) -> str:
    return _NEWLINES.sub("", value)


class Headers:
    """Read-only, decoded view of one message's (or part's) header block."""

    def __init__(self, msg) -> None:
        self._items: list[tuple[str, str]] = []
        try:
            items = list(msg.raw_items())
        except Exception:  # noqa: BLE001
            items = []
        for name, value in items:
            try:
                self._items.append((str(name).strip(), fix_surrogates(unfold(str(value)))))
            except Exception:  # noqa: BLE001
                continue

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self._items if k.lower() == name]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __len__(self) -> int:
        return len(self._items)

    def structured(self, name: str, limit: int = _MAX_MIME_HEADER):
        """The stdlib header object for the first `name` header (first `limit` chars), or None."""
        value = self.get(name)
        if value is None:
            return None
        try:
            return _FACTORY(name, normalise_encoded_words(_trim_params(value[:limit])))
        except Exception:  # noqa: BLE001 - stdlib bugs on odd input (see corpus notes)
            return None

    def text(self, name: str) -> str | None:
        """Fully decoded (RFC 2047) unstructured value."""
        value = self.get(name)
        if value is None:
            return None
        return decode_words(value)

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """(display name, addr-spec) for every mailbox in every `name` header; addr-spec may be
        "" (e.g. "MAILER-DAEMON <>")."""
        result: list[tuple[str, str]] = []
        for value in self.get_all(name):
            result.extend(parse_addresses(name, value))
        return result


_USEFUL_PARAMS = ("filename", "name", "charset", "boundary", "report-type", "format", "delsp")


def _trim_params(value: str) -> str:
    """Drop parameters nobody asks for from a header with absurdly many (the stdlib parser
    takes ~70 ms for a thousand); real headers carry a handful."""
    if value.count(";") <= 32:
        return value
    head, *params = value.split(";")
    useful = [p for p in params if p.strip().lower().startswith(_USEFUL_PARAMS)]
    return ";".join([head, *useful[:32]])


def _ew_charset(m: re.Match) -> str:
    codec = lookup_charset(m.group(1))
    if codec == "iso8859-1":
        codec = "cp1252"
    return f"=?{codec or m.group(1)}{m.group(2)}"


def normalise_encoded_words(value: str) -> str:
    """Map encoded-word charset labels Python does not know (iso-8859-8-i, x-mac-cyrillic) or
    knows too narrowly (gb2312, ks_c_5601-1987, iso-8859-1) to the codec mail clients mean."""
    return _EW_CHARSET.sub(_ew_charset, value) if "=?" in value else value


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words in an unstructured value (e.g. Subject)."""
    try:
        text = str(_FACTORY("subject", normalise_encoded_words(value[:_MAX_STRUCTURED])))
    except Exception:  # noqa: BLE001
        text = value
    return fix_surrogates(text).strip()


def parse_addresses(name: str, value: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    try:
        header = _FACTORY(name, normalise_encoded_words(value[:_MAX_STRUCTURED]))
        for addr in header.addresses:
            out.append((fix_surrogates(addr.display_name or ""), fix_surrogates(addr.addr_spec)))
    except Exception:  # noqa: BLE001 - e.g. AttributeError on "unlisted-recipients:; (...)"
        out = []
        try:
            pairs = getaddresses([value])
        except Exception:  # noqa: BLE001
            pairs = []
        for display, addr in pairs:
            if addr and "@" in addr:
                out.append((decode_words(display), addr))
    out = [(d.strip(), "" if a.strip() in ("<>", "") else a.strip()) for d, a in out]
    out = [(d, a) for d, a in out if d or a]  # "MAILER-DAEMON <>" keeps its display name
    if not any(a for _d, a in out):
        found = _ADDR_FALLBACK.search(value)
        if found:
            out.append(("", found.group(0)))
    return out


def message_ids(value: str | None) -> list[str]:
    """All <msg-id> tokens of a header value, whitespace removed, order kept, no duplicates."""
    if not value:
        return []
    seen: dict[str, None] = {}
    for inner in _MSGID.findall(value):
        inner = "".join(inner.split())
        if inner:
            seen.setdefault(f"<{inner}>", None)
    return list(seen)


def single_message_id(value: str | None) -> str | None:
    if value is None:
        return None
    ids = message_ids(value)
    if ids:
        return ids[0]
    token = value.strip().split()
    if not token:
        return None
    bare = token[0].strip("<>")
    return f"<{bare}>" if bare else None


def parse_date(value: str | None) -> datetime | None:
    """RFC 5322 date -> aware UTC datetime; None when absent or unparseable."""
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value.strip())
    except Exception:  # noqa: BLE001 - ValueError, TypeError, IndexError on junk
        return None
    if dt is None:
        return None
    try:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)  # "-0000": no zone information, treat as UTC
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def received_date(value: str) -> datetime | None:
    """The date-time after the last ';' of a Received header."""
    if ";" not in value:
        return None
    return parse_date(value.rsplit(";", 1)[1])
