"""Reading Authentication-Results (channels/email/mime/authentication.py), where mutation
testing (scripts/mutation) found the tests silent: the evidence shown for a verdict, domains
written with brackets, capitals or a trailing dot, server lists given as a list, a From without
an address, more headers than are read, and results that decide nothing next to ones that do."""

from __future__ import annotations

from kontaktcenter.channels.email.mime.authentication import (
    Verdict,
    check_sender,
    domain_of,
    server_ids,
)

SERVER = "mx.kommun.example"
CITIZEN = "anna@example.se"


def _check(*headers: str, sender: str | None = CITIZEN):
    return check_sender(list(headers), sender, [SERVER])


def test_server_ids_from_a_list_are_cleaned_like_text():
    assert server_ids(["MX.Kommun.Example.", " mx.kommun.example ", "", "mx2.kommun.example"]) == [
        "mx.kommun.example",
        "mx2.kommun.example",
    ]
    assert server_ids("mx.kommun.example.") == ["mx.kommun.example"]
    assert server_ids(None) == [] and server_ids([]) == []


def test_the_domain_of_an_address_as_it_is_written():
    assert domain_of("Anna@Example.SE.") == "example.se"
    assert domain_of("<anna@example.se>") == "example.se"
    assert domain_of("ANNA@EXAMPLE.BOX") == "example.box"
    assert domain_of('"a@b"@example.se') == "example.se"  # the last @ separates the domain
    assert domain_of("@example.se") == domain_of("example.se") == "example.se"
    assert domain_of(None) == "" and domain_of("") == ""


def test_a_from_without_an_address_is_never_vouched_for():
    for sender in ("Anna", "example.se", "", None):
        assert _check(f"{SERVER}; dmarc=pass", sender=sender).verdict == Verdict.NONE
        assert _check(f"{SERVER}; dmarc=pass header.from=example.se", sender=sender).evidence == ()


def test_the_evidence_names_what_decided_and_which_server_said_it():
    check = _check(f"{SERVER}; dmarc=pass header.from=example.se")
    assert check.evidence == ("dmarc=pass header.from=example.se (mx.kommun.example)",)
    # Without header.from DMARC still speaks of the From domain, and says which.
    assert _check(f"{SERVER}; dmarc=pass").detail == (
        "dmarc=pass header.from=example.se (mx.kommun.example)"
    )
    assert _check(f"{SERVER}; spf=pass smtp.mailfrom=Bounce.Example.SE").detail == (
        "spf=pass smtp.mailfrom=bounce.example.se (mx.kommun.example)"
    )
    assert _check(f"{SERVER}; dkim=pass header.d=post.example.se").detail == (
        "dkim=pass header.d=post.example.se (mx.kommun.example)"
    )
    failed = _check(
        "mx.anywhere.example; dmarc=fail header.from=example.se",
        f"{SERVER}; spf=fail smtp.mailfrom=example.se",
        f"{SERVER}; dmarc=pass header.from=example.se",
    )
    assert failed.verdict == Verdict.FAIL
    assert failed.evidence == (
        "dmarc=fail header.from=example.se (mx.anywhere.example)",
        "spf=fail smtp.mailfrom=example.se (mx.kommun.example)",
    )
    assert failed.detail == (
        "dmarc=fail header.from=example.se (mx.anywhere.example); "
        "spf=fail smtp.mailfrom=example.se (mx.kommun.example)"
    )
    passed = _check(
        f"{SERVER}; spf=pass smtp.mailfrom=example.se; dkim=pass header.d=example.se",
    )
    assert passed.evidence == (
        "spf=pass smtp.mailfrom=example.se (mx.kommun.example)",
        "dkim=pass header.d=example.se (mx.kommun.example)",
    )


def test_spf_may_name_the_envelope_sender_as_smtp_mail():
    check = _check(f"{SERVER}; spf=pass smtp.mail=example.se")
    assert check.verdict == Verdict.PASS
    assert check.detail == "spf=pass smtp.mailfrom=example.se (mx.kommun.example)"


def test_only_the_first_fifty_headers_are_read():
    filler = [f"{SERVER}; none"] * 49
    headers = [f"{SERVER}; dmarc=pass header.from=example.se", *filler]
    late_fail = "mx.anywhere.example; dmarc=fail header.from=example.se"
    assert len(headers) == 50
    assert _check(*headers, late_fail).verdict == Verdict.PASS  # the 51st is not read
    assert _check(*headers[:-1], late_fail).verdict == Verdict.FAIL  # the 50th is


def test_an_unreadable_header_or_an_undecided_result_does_not_hide_the_rest():
    assert _check("garbage ;;;", f"{SERVER}; dmarc=pass header.from=example.se").verdict == (
        Verdict.PASS
    )
    mixed = f"{SERVER}; spf=softfail smtp.mailfrom=example.se; dmarc=pass header.from=example.se"
    assert _check(mixed).verdict == Verdict.PASS
    listed = f"{SERVER}; spf=pass smtp.mailfrom=list.example; dkim=pass header.d=example.se"
    assert _check(listed).verdict == Verdict.PASS


def test_dkim_counts_the_signing_domain_and_only_a_pass():
    # header.d is the signing domain, whatever other header properties come first.
    assert _check(f"{SERVER}; dkim=pass header.s=sel header.d=example.se").verdict == Verdict.PASS
    signed = f"{SERVER}; dkim=pass header.i=@evil.example header.d=example.se"
    assert _check(signed).verdict == Verdict.PASS
    assert _check(f"{SERVER}; dkim=pass header.s=example.se").verdict == Verdict.NONE
    # A broken signature is neither a pass nor a fail.
    for result in ("fail", "neutral", "none"):
        assert _check(f"{SERVER}; dkim={result} header.d=example.se").verdict == Verdict.NONE
    # Nor does another method's pass count.
    assert _check(f"{SERVER}; iprev=pass header.d=example.se").verdict == Verdict.NONE
