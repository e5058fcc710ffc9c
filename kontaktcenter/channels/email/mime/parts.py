"""Walking the MIME tree: body parts, attachments, delivery-status blocks, defects."""

from __future__ import annotations

import io
import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.generator import BytesGenerator
from email.message import Message
from email.parser import Parser

from .headers import Headers, decode_text, decode_words, fix_surrogates
from .text import FALLBACK_FILENAME, normalise_newlines, safe_filename, unflow

MAX_DEPTH = 50  # MIME nesting deeper than this is not looked at (stack-overflow test mails)
MAX_PARTS = 2000
_EXTENSIONS = {
    "message/rfc822": ".eml", "message/global": ".eml", "message/partial": ".eml",
    "message/delivery-status": ".txt", "message/global-delivery-status": ".txt",
    "message/disposition-notification": ".txt", "message/feedback-report": ".txt",
    "text/rfc822-headers": ".txt", "message/global-headers": ".txt", "text/plain": ".txt",
    "text/html": ".html", "text/calendar": ".ics", "text/csv": ".csv", "image/jpeg": ".jpg",
    "image/png": ".png", "image/gif": ".gif", "application/pdf": ".pdf",
    "application/ms-tnef": ".dat", "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s", "application/pkcs7-mime": ".p7m",
    "application/x-pkcs7-mime": ".p7m", "application/pgp-signature": ".asc",
    "application/pgp-encrypted": ".asc", "application/octet-stream": "",
}  # fmt: skip
_MIMETYPES = mimetypes.MimeTypes(filenames=())  # built-in table only: same result everywhere
_META_CHARSET = re.compile(
    rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([a-zA-Z0-9_.:-]{1,40})", re.IGNORECASE
)
_ORIGINAL_TYPES = {"message/rfc822", "message/global"}
_ORIGINAL_HEADER_TYPES = {"text/rfc822-headers", "message/global-headers"}
_DSN_TYPES = {"message/delivery-status", "message/global-delivery-status"}
_DEFECT_TEXT = {
    "NoBoundaryInMultipartDefect": "multipart-del utan boundary-parameter",
    "StartBoundaryNotFoundDefect": "MIME-gränsen (boundary) hittades inte",
    "CloseBoundaryNotFoundDefect": "avslutande MIME-gräns saknas",
    "FirstHeaderLineIsContinuationDefect": "första rubrikraden är en fortsättningsrad",
    "MisplacedEnvelopeHeaderDefect": "kuvertrad ('From ') mitt bland rubrikerna",
    "MissingHeaderBodySeparatorDefect": "tom rad mellan rubriker och innehåll saknas",
    "MultipartInvariantViolationDefect": "multipart-meddelande utan delar",
    "InvalidMultipartContentTransferEncodingDefect": "ogiltig överföringskodning för multipart",
    "UndecodableBytesDefect": "oavkodbara byte",
    "InvalidBase64PaddingDefect": "felaktig base64-utfyllnad",
    "InvalidBase64CharactersDefect": "ogiltiga tecken i base64",
    "InvalidBase64LengthDefect": "felaktig base64-längd",
    "HeaderMissingRequiredValue": "rubrik saknar obligatoriskt värde",
    "NonPrintableDefect": "icke utskrivbara tecken i rubrik",
    "ObsoleteHeaderDefect": "föråldrad rubriksyntax",
    "InvalidHeaderDefect": "ogiltig rubrik",
    "NonASCIILocalPartDefect": "icke-ASCII i adressens lokala del",
    "InvalidDateDefect": "ogiltigt datum",
}


@dataclass
class Attachment:
    """One attached file or inline image (also attached messages, as .eml)."""

    filename: str  # safe to store/offer for download; never empty (fallback "bilaga.<ext>")
    content_type: str
    payload: bytes = field(repr=False)
    size: int = 0
    content_id: str | None = None  # without <>; matches "cid:" URLs in the html
    inline: bool = False
    declared_filename: str | None = None  # decoded name as the message gives it, else None


@dataclass
class PartScan:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    part_types: list[str] = field(default_factory=list)
    dsn_blocks: list[Headers] = field(default_factory=list)
    original_headers: Headers | None = None
    problems: list[str] = field(default_factory=list)
    # Parts kept as attachments that hold plain text: the body when the message has no other.
    text_attachments: list[Message] = field(default_factory=list)


def content_type(part: Message) -> str:
    try:
        return fix_surrogates(part.get_content_type()).lower()
    except Exception:  # noqa: BLE001
        return "application/octet-stream"


def _children(part: Message) -> list[Message]:
    try:
        payload = part.get_payload()
    except Exception:  # noqa: BLE001
        return []
    if not isinstance(payload, list):
        return []
    return [p for p in payload if isinstance(p, Message)]


def _is_container(part: Message, ctype: str) -> bool:
    return ctype.startswith("multipart/") and part.is_multipart()


def iter_parts(msg: Message, descend_messages: bool = False):
    """(part, parent subtype, depth) in document order, iteratively (no recursion limit)."""
    stack: list[tuple[Message, str | None, int]] = [(msg, None, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, parent, depth = stack.pop()
        seen += 1
        yield part, parent, depth
        ctype = content_type(part)
        if depth >= MAX_DEPTH:
            continue
        if _is_container(part, ctype) or (
            descend_messages and ctype.startswith("message/") and part.is_multipart()
        ):
            sub = ctype.split("/", 1)[1]
            stack.extend((child, sub, depth + 1) for child in reversed(_children(part)))


def defects(msg: Message) -> list[str]:
    out: dict[str, None] = {}
    for count, (part, _parent, depth) in enumerate(iter_parts(msg, descend_messages=True), 1):
        if count >= MAX_PARTS:
            out.setdefault(f"fler än {MAX_PARTS} MIME-delar; resten har inte lästs", None)
        if depth >= MAX_DEPTH:
            out.setdefault(f"MIME-strukturen är djupare än {MAX_DEPTH} nivåer", None)
        for defect in getattr(part, "defects", ()) or ():
            name = type(defect).__name__
            text = _DEFECT_TEXT.get(name, "formfel")
            out.setdefault(f"{text} ({name})", None)
    return list(out)


def _filename(part: Message, headers: Headers) -> str | None:
    name = None
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        obj = headers.structured(header)
        try:
            name = obj.params.get(param) if obj is not None else None
        except Exception:  # noqa: BLE001
            name = None
        if name:
            break
    if not name:
        try:
            name = part.get_filename() or part.get_param("name")
        except Exception:  # noqa: BLE001
            name = None
    if not name or not isinstance(name, str):
        return None
    name = fix_surrogates(name)
    if "=?" in name:
        name = decode_words(name)  # Outlook: RFC 2047 word inside a quoted parameter
    return name.strip() or None


def _disposition(part: Message) -> str | None:
    try:
        value = part.get_content_disposition()
    except Exception:  # noqa: BLE001
        return None
    return value.strip().lower() if isinstance(value, str) else None


def _charset(part: Message) -> str | None:
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001
        return None
    return fix_surrogates(charset) if isinstance(charset, str) else None


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        data = None
    if isinstance(data, bytes):
        return data
    try:
        raw = part.get_payload()
        if isinstance(raw, str):
            return raw.encode("utf-8", "surrogateescape")
    except Exception:  # noqa: BLE001
        pass
    return b""


def serialise(msg: Message, linesep: str) -> bytes:
    """Bytes of an embedded message (re-generated by the stdlib, headers not refolded)."""
    buf = io.BytesIO()
    try:
        gen = BytesGenerator(
            buf, mangle_from_=False, maxheaderlen=0, policy=policy.compat32.clone(linesep=linesep)
        )
        gen.flatten(msg, linesep=linesep)
    except Exception:  # noqa: BLE001
        return b""
    return buf.getvalue()


def part_text(part: Message, ctype: str) -> tuple[str, str | None]:
    data = _payload_bytes(part)
    charset = _charset(part)
    if charset is None and ctype == "text/html":
        found = _META_CHARSET.search(data[:4096])
        charset = found.group(1).decode("ascii") if found else None
    text, problem = decode_text(data, charset)
    text = fix_surrogates(normalise_newlines(text))  # e.g. UTF-7 can smuggle lone surrogates
    if ctype == "text/plain":
        try:
            fmt, delsp = part.get_param("format"), part.get_param("delsp")
            # RFC 2231-encoded parameters come back as tuples: those are not looked into.
            if isinstance(fmt, str) and fmt.lower() == "flowed" and not isinstance(delsp, tuple):
                text = unflow(text, (delsp or "").lower() == "yes")
        except Exception:  # noqa: BLE001
            pass
    return text, problem


def _fallback_name(ctype: str, inner: Message | None) -> str:
    if inner is not None:
        subject = decode_words(Headers(inner).get("subject") or "")
        if subject:
            return safe_filename(subject + ".eml")
    ext = _EXTENSIONS.get(ctype)
    if ext is None:
        ext = _MIMETYPES.guess_extension(ctype) or ""
    return FALLBACK_FILENAME + ext


def _attachment(
    part: Message,
    headers: Headers,
    ctype: str,
    declared: str | None,
    disposition: str | None,
    linesep: str,
) -> Attachment:
    inner = None
    if ctype.startswith("message/") and part.is_multipart():
        children = _children(part)
        inner = children[0] if ctype in _ORIGINAL_TYPES and len(children) == 1 else None
        payload = linesep.encode().join(serialise(c, linesep) for c in children)
    else:
        payload = _payload_bytes(part)
    cid = (headers.get("content-id") or "").strip().strip("<>").strip() or None
    filename = safe_filename(declared) if declared else _fallback_name(ctype, inner)
    return Attachment(
        filename=filename,
        content_type=ctype,
        payload=payload,
        size=len(payload),
        content_id=cid,
        inline=disposition == "inline" or (disposition is None and bool(cid)),
        declared_filename=declared,
    )


def _header_blocks(text: str) -> list[Headers]:
    parser = Parser(policy=policy.compat32)
    blocks = []
    for chunk in re.split(r"\n\s*\n", normalise_newlines(text)):
        if chunk.strip():
            try:
                blocks.append(Headers(parser.parsestr(chunk.strip() + "\n", headersonly=True)))
            except Exception:  # noqa: BLE001
                continue
    return blocks


def scan(msg: Message, linesep: str) -> PartScan:
    """Split the message (not descending into attached messages) into body text, HTML and
    attachments, and collect what bounce detection needs."""
    result = PartScan()
    for part, parent, _depth in iter_parts(msg):
        ctype = content_type(part)
        if _is_container(part, ctype):
            continue
        result.part_types.append(ctype)
        headers = Headers(part)
        declared = _filename(part, headers)
        disposition = _disposition(part)
        nameless_inline = declared is None and disposition != "attachment"
        if ctype in _DSN_TYPES:
            children = _children(part)
            if children:
                result.dsn_blocks.extend(Headers(c) for c in children)
            else:
                result.dsn_blocks.extend(_header_blocks(part_text(part, ctype)[0]))
        elif ctype in _ORIGINAL_TYPES and result.original_headers is None:
            children = _children(part)
            if children:
                result.original_headers = Headers(children[0])
        elif ctype in _ORIGINAL_HEADER_TYPES and result.original_headers is None:
            blocks = _header_blocks(part_text(part, ctype)[0])
            result.original_headers = blocks[0] if blocks else None
        if nameless_inline and (
            ctype in ("text/plain", "text/html") or ctype.startswith("multipart/")
        ):
            text, problem = part_text(part, "text/plain" if ctype != "text/html" else ctype)
            (result.html if ctype == "text/html" else result.plain).append(text)
            if problem:
                result.problems.append(problem)
        elif nameless_inline and parent == "alternative":
            continue  # another rendering of the body (text/calendar, text/enriched, ...)
        else:
            result.attachments.append(
                _attachment(part, headers, ctype, declared, disposition, linesep)
            )
            if _TOKEN_JUNK.sub("", ctype) == "text/plain":
                result.text_attachments.append(part)
    return result


_TOKEN_JUNK = re.compile(r"[^a-z0-9/.+-]")  # "text/plain>" is still meant as text/plain


def all_texts(msg: Message, limit: int = 5_000_000) -> list[tuple[str, str]]:
    """(content type, decoded text) of every text/* leaf, attached messages included."""
    out, total = [], 0
    for part, _parent, _depth in iter_parts(msg, descend_messages=True):
        ctype = content_type(part)
        if not ctype.startswith("text/") or part.is_multipart():
            continue
        text = part_text(part, ctype)[0][: limit - total]
        out.append((ctype, text))
        total += len(text)
        if total >= limit:
            break
    return out
