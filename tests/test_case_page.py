"""The case page's shape: actions in groups with only the two or three the case's state calls for
open, dates that never break, no empty headings, sizes in Swedish, a script of our own origin
that the page does not need."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import MailTemplate
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.workspace import case_page
from tests.factories import make_case, post
from tests.mailutil import make_mail

_OPEN_DETAILS = re.compile(r'<details class="action(?:-group)?" id="([\w-]+)"\s*open')


def _open(html: str) -> list[str]:
    return _OPEN_DETAILS.findall(html)


def _top_level_open(html: str) -> list[str]:
    return [i for i in _open(html) if i.startswith("group-") or i == "action-reply"]


def _mail_case() -> Case:
    raw = make_mail(subject="Fråga om bygglov")
    reference = ingest(raw).reference
    return db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()


@pytest.mark.parametrize(
    ("role", "make", "expected"),
    [
        # First line, by mail: answer it, or send it on.
        ("agent", "mail", ["group-forward", "action-reply"]),
        # A department's case: work it to its end.
        ("handler_bygg", "routed", ["group-finish"]),
        # A callback is due: record the attempt (its form open), then finish.
        ("handler_bygg", "callback", ["group-handle", "group-finish"]),
        # Closed: reopen.
        ("agent", "closed", ["group-reopen"]),
    ],
)
def test_only_the_actions_the_state_calls_for_are_open(
    client, org, login, outbox, role, make, expected
):
    if make == "mail":
        case = _mail_case()
    elif make == "routed":
        case = make_case(org.agent, org.bygglov, Outcome.ROUTED)
    elif make == "callback":
        case = make_case(org.agent, org.bygglov, Outcome.CALLBACK)
    else:
        case = make_case(org.agent, org.bygglov, Outcome.HANDED_OFF)
    login(getattr(org, role))
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    opened = _top_level_open(html)
    assert sorted(opened) == sorted(expected), opened
    assert len(opened) <= case_page.MAX_OPEN
    if make == "callback":
        assert "action-callback_attempt" in _open(html)
    if make == "closed":
        assert "action-reopen" in _open(html)
    # Every action is still there, one click away, in a group with a summary (a button to
    # screen readers and keyboards).
    assert html.count("<summary>") >= 3


def test_an_action_with_errors_opens_its_group_and_form(client, org, login):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_bygg)
    response = post(client, f"/arenden/{case.id}/note", {"version": case.version, "text": ""})
    assert response.status_code == 422
    opened = _open(response.get_data(as_text=True))
    assert "group-handle" in opened and "action-note" in opened
    assert len([i for i in opened if i.startswith("group-")]) <= case_page.MAX_OPEN


def test_arrange_never_opens_more_than_three():
    class Stub:
        is_open = True
        merged_into_id = None
        callback_pending = True
        department_id = None
        channel = Channel.EMAIL
        status = None

        class contact:  # noqa: N801 - a stand-in for the relationship
            email = "a@example.se"

    allowed = {"reply", "note", "callback_attempt", "route", "close", "merge", "link", "wait"}
    groups, reply_open = case_page.arrange(Stub(), allowed, posted="close", has_mail=True)  # type: ignore[arg-type]
    opened = [g.key for g in groups if g.open] + (["reply"] if reply_open else [])
    assert len(opened) == 3 and "finish" in opened


def test_dates_do_not_break_and_no_heading_is_empty(client, org, login, outbox):
    case = _mail_case()
    login(org.agent)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    dates = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", html)
    assert dates
    # Every printed date sits in an element that keeps it on one line.
    for match in re.finditer(r"(<[^<>]*>)([^<>]*\d{4}-\d\d-\d\d \d\d:\d\d)", html):
        assert "nowrap" in match.group(1), match.group(0)
    for heading in re.findall(r"<(h[1-6])[^>]*>(.*?)</\1>", html, re.S):
        assert re.sub(r"<[^>]+>|\s", "", heading[1]), heading


def test_attachment_sizes_are_swedish(client, org, login, outbox):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"] = "anna@example.se", "kontakt@kommun.example"
    message["Subject"], message["Message-ID"] = "Ritning", "<ritning@example.se>"
    message.set_content("Se bilaga")
    message.add_attachment(b"x" * 700, maintype="application", subtype="pdf", filename="r.pdf")
    reference = ingest(message.as_bytes()).reference
    case = db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()
    login(org.agent)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "0,7 kB" in html


def test_the_page_loads_its_own_script_and_works_without_it(client, org, login, outbox):
    case = _mail_case()
    db.session.add(MailTemplate(key="answer-tack", name="Tack", subject="", body="Tack!"))
    db.session.commit()
    login(org.agent)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert '<script src="/static/case_page.js" defer></script>' in html
    assert "<script>" not in html and " onclick=" not in html  # CSP: script-src 'self'
    script = client.get("/static/case_page.js")
    assert script.status_code == 200 and b"insertTemplate" in script.data
    script.close()
    # The template button is a real submit button of the reply form (no script needed).
    assert 'name="infoga"' in html and 'id="reply-form"' in html


def test_a_manager_sees_no_merge_and_a_merged_case_offers_only_a_note(client, org, login):
    one = make_case(org.agent, org.bygglov, summary="Ett")
    two = make_case(org.agent, org.bygglov, summary="Två")
    login(org.manager)
    html = client.get(f"/arenden/{one.id}").get_data(as_text=True)
    assert "action-link" in html and "action-merge" not in html
    login(org.handler_bygg)
    response = post(
        client,
        f"/arenden/{two.id}/merge",
        {"version": two.version, "reference": one.reference, "confirm": "y"},
    )
    assert response.status_code == 302
    html = client.get(f"/arenden/{two.id}").get_data(as_text=True)
    assert "action-note" in html
    for gone in ("action-close", "action-merge", "action-link", "Ta ärendet", "action-reply"):
        assert gone not in html
    assert _top_level_open(html) == []


def test_roles_without_actions_get_a_sentence_not_an_empty_section(client, org, login):
    case = make_case(org.agent, org.bygglov, Outcome.HANDED_OFF)  # closed
    org.manager.role = Role.MANAGER
    login(org.manager)
    html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
    assert "Åtgärder" in html and "group-reopen" in html
