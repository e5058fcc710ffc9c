"""Small text helpers: line endings, format=flowed, case references, personnummer, file names."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from stdnum import luhn
from stdnum.se import personnummer

CASE_REFERENCE = re.compile(r"(?<![A-Za-z0-9])KC-(\d{4})-(\d{6})(?!\d)", re.IGNORECASE)

# YYMMDD-NNNN, YYYYMMDD-NNNN (also "+" for people over 100) and the 12-digit form without
# separator (YYYYMMDDNNNN, common in e-forms). A 10-digit run without separator is NOT taken:
# too many phone numbers pass a 1-in-10 Luhn check.
_PNR = re.compile(r"(?<![\d-])(?:((?:19|20)?\d{6})([-+])(\d{4})|((?:19|20)\d{10}))(?![\d-])")
_NEWLINES = re.compile(r"\r\n|\r")
_BIDI_AND_CONTROL = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
_UNSAFE_FILENAME_CHARS = re.compile(r'[<>:"|?*\\/]')
FALLBACK_FILENAME = "bilaga"
MAX_FILENAME_CHARS = 150


def normalise_newlines(text: str) -> str:
    return _NEWLINES.sub("\n", text)


def unflow(text: str, delsp: bool = False) -> str:
    """Decode RFC 3676 format=flowed text (text must already use \\n line ends)."""
    out: list[str] = []
    buf: str | None = None
    buf_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        flowed = content.endswith(" ") and content != "-- "
        if buf is not None and depth != buf_depth:
            out.append(">" * buf_depth + (" " if buf_depth else "") + buf)
            buf = None
        if flowed and delsp:
            content = content[:-1]
        buf = content if buf is None else buf + content
        buf_depth = depth
        if not flowed:
            out.append(">" * depth + (" " if depth and buf else "") + buf)
            buf = None
    if buf is not None:
        out.append(">" * buf_depth + (" " if buf_depth else "") + buf)
    return "\n".join(out)


def find_case_references(subject: str) -> list[str]:
    """Case references (KC-YYYY-NNNNNN, upper-cased) in order of appearance, no duplicates."""
    seen: dict[str, None] = {}
    for year, number in CASE_REFERENCE.findall(subject or ""):
        seen.setdefault(f"KC-{year}-{number}", None)
    return list(seen)


def _is_coordination_number(digits: str) -> bool:
    """Samordningsnummer: day of birth + 60, same Luhn check over the last ten digits."""
    ymd = digits[:-4]
    try:
        if len(ymd) == 8:
            date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8]) - 60)
        else:
            date(2000, int(ymd[2:4]), int(ymd[4:6]) - 60)  # leap year: accepts 29 Feb
    except ValueError:
        return False
    return luhn.is_valid(digits[-10:])


def contains_personnummer(text: str) -> bool:
    """True when the text contains a valid Swedish personnummer or samordningsnummer."""
    for m in _PNR.finditer(text or ""):
        if m.group(4):
            candidate = m.group(4)
            digits = candidate
        else:
            candidate = m.group(1) + m.group(2) + m.group(3)
            digits = m.group(1) + m.group(3)
        if personnummer.is_valid(candidate) or _is_coordination_number(digits):
            return True
    return False


def safe_filename(name: object, fallback: str = FALLBACK_FILENAME) -> str:
    """A file name that is safe to store and to offer for download.

    No directory parts, no control/bidi characters, no characters Windows refuses, no leading
    dots, not a reserved device name, at most MAX_FILENAME_CHARS characters with the extension
    kept. Letters such as åäö are kept (NFC-normalised). Falls back to `fallback` ("bilaga").
    """
    if not isinstance(name, str):
        name = "" if name is None else str(name)
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(" " if unicodedata.category(ch) in _BIDI_AND_CONTROL else ch for ch in name)
    name = _UNSAFE_FILENAME_CHARS.sub("_", name)
    name = " ".join(name.split())
    name = name.strip(" .")
    if not name:
        return fallback
    if _WINDOWS_RESERVED.match(name):
        name = "_" + name
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 16 and " " not in ext:
            stem = stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip(" .")
            name = f"{stem}.{ext}"
        else:
            name = name[:MAX_FILENAME_CHARS].rstrip(" .")
    return name or fallback
