"""What the receiving mail servers said about a message's sender: its Authentication-Results
headers (RFC 8601, read with the ``authres`` library), and whether they vouch for the address in
its From header.

Anyone can write ``From: <a citizen>``; the receiving server checks DMARC, SPF and DKIM and
records what it found in an ``Authentication-Results: <authserv-id>; …`` header. A header is
only as good as the server that wrote it: a sender can add one of their own, naming any server.
So a *pass* counts only from the servers an administrator trusts (who must remove incoming
headers that carry their own authserv-id, as RFC 8601 section 5 asks and Postfix with
OpenDMARC, Rspamd, Exchange Online and Gmail do), while a *fail* for the From domain counts from
any server: it can only lower trust, so a forged one harms nobody but its sender.

Pure: no database, no Flask. Never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import authres

__all__ = [
    "HEADER",
    "Finding",
    "SenderCheck",
    "Verdict",
    "aligned",
    "check_sender",
    "read_results",
    "server_ids",
    "weigh",
]

# An authserv-id as admins write them: a host name (RFC 8601 allows any token; in practice the
# receiving server's name).
_SERVER_ID = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")
_SEPARATORS = re.compile(r"[\s,;]+")
MAX_HEADERS = 50  # a message with more is read as far as this (a flood of forged headers)
HEADER = "authentication-results"  # the header these are read from (lower-cased)


class Verdict(StrEnum):
    PASS = "pass"  # a trusted server: DMARC passed, or SPF or DKIM passed aligned with From
    FAIL = "fail"  # some server: DMARC or SPF failed for the From domain
    NONE = "none"  # nothing either way (no trusted server's header, or nothing decisive)


@dataclass(frozen=True)
class SenderCheck:
    verdict: Verdict
    # What decided it, for people: "dmarc=pass header.from=example.se (mx.kommun.se)".
    evidence: tuple[str, ...] = field(default=())

    @property
    def detail(self) -> str:
        return "; ".join(self.evidence)


def server_ids(text: str | Iterable[str] | None) -> list[str]:
    """Authserv-ids from an admin's text (separated by spaces, commas or new lines) or a list:
    lower-cased, without duplicates. Raises ValueError naming the first one that is not a host
    name."""
    if text is None:
        return []
    parts = _SEPARATORS.split(text) if isinstance(text, str) else list(text)
    ids: dict[str, None] = {}
    for part in parts:
        value = part.strip().lower().rstrip(".")
        if not value:
            continue
        if not _SERVER_ID.match(value):
            raise ValueError(part.strip())
        ids.setdefault(value, None)
    return list(ids)


def domain_of(value: str | None) -> str:
    """The domain of an address or a bare domain ("@example.se" and "a@example.se" alike)."""
    value = (value or "").strip().strip("<>").lower().rstrip(".")
    return value.rsplit("@", 1)[-1]


def aligned(domain: str, from_domain: str) -> bool:
    """Whether `domain` (what SPF or DKIM authenticated) vouches for `from_domain`: the same
    domain, or one a subdomain of the other (DMARC's relaxed alignment without the public
    suffix list). The shorter of the two must have two labels at least, so "se" or "com" never
    aligns with everything under it."""
    domain, from_domain = domain_of(domain), domain_of(from_domain)
    if not domain or not from_domain:
        return False
    if domain == from_domain:
        return True
    shorter, longer = sorted((domain, from_domain), key=len)
    return "." in shorter and longer.endswith("." + shorter)


@dataclass(frozen=True)
class Finding:
    """A pass or fail one server stated about the From domain ("dmarc=pass header.from=…")."""

    server: str  # its authserv-id, lower-cased
    verdict: Verdict
    text: str


def read_results(headers: Iterable[str], from_addr: str | None) -> tuple[Finding, ...]:
    """What a message's Authentication-Results headers (their values, top first, as
    ParsedMessage.header_all gives them) state about its From domain, in their order: the
    costly part of the check (the parsing), done when the message is parsed."""
    from_domain = domain_of(from_addr) if from_addr and "@" in from_addr else ""
    if not from_domain:
        return ()
    found: list[Finding] = []
    for index, value in enumerate(headers):
        if index >= MAX_HEADERS:
            break
        header = _parse(value)
        if header is None:
            continue
        server = str(header.authserv_id or "").lower().rstrip(".")
        for result in header.results:
            outcome = _judge(result, from_domain)
            if outcome is not None:
                found.append(Finding(server, *outcome))
    return tuple(found)


def weigh(findings: Iterable[Finding], trusted: Iterable[str]) -> SenderCheck:
    """The verdict of `findings`, trusting passes only from the authserv-ids in `trusted`.
    A fail outweighs any pass."""
    trusted_ids = {t.lower() for t in trusted}
    found = list(findings)
    fails = tuple(f"{f.text} ({f.server})" for f in found if f.verdict == Verdict.FAIL)
    if fails:
        return SenderCheck(Verdict.FAIL, fails)
    passes = tuple(
        f"{f.text} ({f.server})"
        for f in found
        if f.verdict == Verdict.PASS and f.server in trusted_ids
    )
    if passes:
        return SenderCheck(Verdict.PASS, passes)
    return SenderCheck(Verdict.NONE)


def check_sender(
    headers: Iterable[str], from_addr: str | None, trusted: Iterable[str]
) -> SenderCheck:
    """The verdict of a message's Authentication-Results headers on its From address (see
    read_results and weigh)."""
    return weigh(read_results(headers, from_addr), trusted)


def _parse(value: str) -> authres.AuthenticationResultsHeader | None:
    try:
        return authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
    except Exception:  # noqa: BLE001 - a header we cannot read says nothing
        return None


def _property(result: authres.BaseAuthenticationResult, ptype: str, *names: str) -> str | None:
    for name in names:
        for prop in result.properties or ():
            if str(prop.type).lower() == ptype and str(prop.name).lower() == name:
                return str(prop.value)
    return None


def _judge(
    result: authres.BaseAuthenticationResult, from_domain: str
) -> tuple[Verdict, str] | None:
    """A pass or fail that speaks about the From domain, with how it reads; else None."""
    method = str(result.method or "").lower()
    outcome = str(result.result or "").lower()
    if method == "dmarc":
        # DMARC is always about the From domain; header.from names it (RFC 7489 11.2).
        said = _property(result, "header", "from")
        if said is not None and domain_of(said) != from_domain:
            return None
        text = f"dmarc={outcome} header.from={domain_of(said) or from_domain}"
        if outcome == "pass":
            return Verdict.PASS, text
        if outcome == "fail":
            return Verdict.FAIL, text
        return None
    if method == "spf":
        said = _property(result, "smtp", "mailfrom", "mail")
        if said is None or not aligned(said, from_domain):
            return None  # the envelope sender of a list or forwarder: nothing about From
        text = f"spf={outcome} smtp.mailfrom={domain_of(said)}"
        if outcome == "pass":
            return Verdict.PASS, text
        if outcome == "fail":
            return Verdict.FAIL, text
        return None
    if method == "dkim" and outcome == "pass":
        # A broken signature is no fail of its own: lists alter messages (DMARC decides).
        said = _property(result, "header", "d") or _property(result, "header", "i")
        if said is not None and aligned(said, from_domain):
            return Verdict.PASS, f"dkim=pass header.d={domain_of(said)}"
    return None
