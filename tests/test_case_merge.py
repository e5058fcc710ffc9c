"""Linking and merging cases: the older reference survives, both timelines and all messages are
on the surviving case, replies to the newer one still thread there, access rules, optimistic
locking, the timeline and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kontaktcenter.cases import merging
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import ActivityKind, CaseStatus, Channel, Outcome
from kontaktcenter.cases.models import Case, CaseLink
from kontaktcenter.cases.references import parse_reference
from kontaktcenter.channels.email import outbound
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import MailKind, MailMessage
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.errors import Conflict, Forbidden, ValidationError
from kontaktcenter.core.extensions import db
from tests.factories import make_case, post
from tests.mailutil import make_mail

OLD = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def _mail_case(subject: str, message_id: str, when: datetime, sender="anna@example.se") -> Case:
    result = ingest(make_mail(subject=subject, message_id=message_id, when=when, sender=sender))
    return db.session.scalars(sa.select(Case).where(Case.reference == result.reference)).one()


@pytest.fixture
def two_mail_cases(org, outbox):
    older = _mail_case("Fråga om bygglov", "<first@example.se>", OLD)
    newer = _mail_case("Bygglov igen", "<second@example.se>", OLD + timedelta(days=1))
    assert older.id != newer.id and older.received_at < newer.received_at
    return older, newer


def _kinds(case: Case) -> list[ActivityKind]:
    return [a.kind for a in case.activities]


def test_parse_reference_accepts_what_people_type():
    assert parse_reference("KC-2026-000303") == "KC-2026-000303"
    assert parse_reference("kc 2026 303") == "KC-2026-000303"
    assert parse_reference(" 2026-303 ") == "KC-2026-000303"
    for bad in ("", None, "KC-2026-0", "hej", "2026", "KC-1999-000001", "x" * 500):
        assert parse_reference(bad) is None


def test_merge_keeps_the_older_reference_and_everything_of_both(two_mail_cases, org):
    older, newer = two_mail_cases
    older_ref, newer_ref = older.reference, newer.reference
    # Asked from the newer case: the older one still survives.
    survivor = merging.merge(newer, org.agent, older_ref, "Samma fråga", newer.version)
    assert survivor.id == older.id
    db.session.expire_all()
    older, newer = db.session.get(Case, older.id), db.session.get(Case, newer.id)
    assert newer.merged_into_id == older.id and newer.merged_at is not None
    assert (
        newer.status is CaseStatus.CLOSED and newer.resolution == f"Sammanslaget med {older_ref}."
    )
    assert older.is_open and older.reference == older_ref
    # All messages are on the survivor; the timelines stay where they were written.
    subjects = {m.subject for m in older.messages if m.kind is MailKind.MESSAGE}
    assert subjects == {"Fråga om bygglov", "Bygglov igen"}
    # The automatic receipt stays with its case (one per case); its entry is on the timeline.
    assert [m.kind for m in newer.messages] == [MailKind.ACKNOWLEDGEMENT]
    assert ActivityKind.MERGED in _kinds(older)
    assert {ActivityKind.MERGED_INTO, ActivityKind.CLOSED} <= set(_kinds(newer))
    merged = next(a for a in older.activities if a.kind is ActivityKind.MERGED)
    assert merged.data == {"other": newer_ref, "messages": 1} and merged.text == "Samma fråga"
    audited = db.session.scalars(
        sa.select(AuditEvent.case_id).where(AuditEvent.action == "merge_case")
    ).all()
    assert sorted(audited) == sorted([older.id, newer.id])


def test_merge_from_the_older_side_and_the_pages_show_both(two_mail_cases, org, client, login):
    older, newer = two_mail_cases
    login(org.agent)
    response = post(
        client,
        f"/arenden/{older.id}/merge",
        {"version": older.version, "reference": newer.reference, "confirm": "y"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/{older.id}")
    page = client.get(f"/arenden/{older.id}").get_data(as_text=True)
    assert "Ärendena är sammanslagna i " + older.reference in page
    assert "Bygglov igen" in page and "Fråga om bygglov" in page  # both messages
    assert f"i {newer.reference}" in page  # the newer case's timeline entries, marked
    assert "Sammanslaget hit" in page
    gone = client.get(f"/arenden/{newer.id}").get_data(as_text=True)
    assert "Det här ärendet är sammanslaget med" in gone
    assert f'href="/arenden/{older.id}"' in gone
    # The merged case takes no more work.
    response = post(
        client, f"/arenden/{newer.id}/reopen", {"version": newer.version, "note": "Igen"}
    )
    assert response.status_code == 422 and "sammanslaget med" in response.get_data(as_text=True)


def test_mail_for_the_newer_case_threads_to_the_survivor(two_mail_cases, org, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SENDER_TRUST", "as_before")  # no sender checks here
    older, newer = two_mail_cases
    sent = outbound.reply(newer, org.agent, "Vi tittar på det.")  # our Message-ID on the newer
    sent_id = sent.message_id
    merging.merge(older, org.agent, newer.reference)
    older_id, newer_ref = older.id, newer.reference
    # A reply to the citizen's own message, to our answer, and a new mail citing the reference.
    for raw in (
        make_mail(subject="Re: Bygglov igen", in_reply_to="<second@example.se>"),
        make_mail(subject="Re: svar", in_reply_to=sent_id),
        make_mail(subject=f"Komplettering [{newer_ref}]", message_id="<third@example.se>"),
    ):
        result = ingest(raw)
        assert result.result == "joined", result
        assert result.reference == older.reference
    db.session.expire_all()
    mail = sa.select(MailMessage.case_id).where(MailMessage.kind != MailKind.ACKNOWLEDGEMENT)
    assert set(db.session.scalars(mail)) == {older_id}
    # A stranger citing the reference is not joined, but linked to the survivor.
    result = ingest(
        make_mail(sender="other@example.net", subject=f"Angående [{newer_ref}]", body="Hej")
    )
    assert result.result == "created"
    stranger = db.session.scalars(sa.select(Case).where(Case.reference == result.reference)).one()
    assert stranger.linked_case_id == older_id


def test_merging_into_a_closed_older_case_reopens_it_and_keeps_a_callback(org):
    contact = ContactData(name="Sven", phone="070-111 22 33")
    older = make_case(org.agent, org.bygglov, Outcome.HANDED_OFF, contact=contact)  # closed
    newer = make_case(org.agent, org.bygglov, Outcome.CALLBACK, contact=contact)
    assert not older.is_open and newer.callback_pending
    survivor = merging.merge(newer, org.handler_bygg, older.reference)
    assert survivor.id == older.id and survivor.is_open
    assert survivor.callback_pending and survivor.callback_due_at is not None
    kinds = _kinds(survivor)
    assert ActivityKind.REOPENED in kinds and ActivityKind.CALLBACK_BOOKED in kinds


def test_merge_repoints_earlier_merges_and_moves_links(org):
    a = make_case(org.agent, org.bygglov, summary="A")
    b = make_case(org.agent, org.bygglov, summary="B")
    c = make_case(org.agent, org.bygglov, summary="C")
    other = make_case(org.agent, org.bygglov, summary="Grannens fråga")
    merging.link(c, org.handler_bygg, other.reference)
    merging.merge(c, org.handler_bygg, b.reference)  # c into b
    merging.merge(b, org.handler_bygg, a.reference)  # b into a: c now points at a too
    db.session.expire_all()
    assert db.session.get(Case, c.id).merged_into_id == a.id
    assert db.session.get(Case, b.id).merged_into_id == a.id
    links = db.session.scalars(sa.select(CaseLink)).all()
    assert [(link.case_id, link.other_case_id) for link in links] == [(a.id, other.id)]


def test_merge_refuses_what_it_must(org):
    bygg = make_case(org.agent, org.bygglov)
    bygg2 = make_case(org.agent, org.bygglov)
    miljo = make_case(org.agent, org.miljotillsyn)
    first_line = make_case(org.agent, None, outcome=None, channel=Channel.EMAIL, summary="KC")
    with pytest.raises(ValidationError, match="olika enheter"):
        merging.merge(bygg, org.admin, first_line.reference)
    with pytest.raises(ValidationError, match="ett annat ärende än det här"):
        merging.merge(bygg, org.admin, bygg.reference)
    with pytest.raises(ValidationError, match="Skriv ett ärendenummer"):
        merging.merge(bygg, org.admin, "inte ett nummer")
    # A handler cannot reach another department's case: it does not exist for them.
    with pytest.raises(ValidationError, match=f"Det finns inget ärende {miljo.reference}"):
        merging.merge(bygg, org.handler_bygg, miljo.reference)
    with pytest.raises(ValidationError, match="inget ärende KC-2026-999999"):
        merging.merge(bygg, org.admin, "KC-2026-999999")
    # The first line may not merge a department's case away (issue #15).
    with pytest.raises(Forbidden):
        merging.merge(bygg, org.agent, bygg2.reference)
    # Managers may link, not merge.
    with pytest.raises(Forbidden):
        merging.merge(bygg, org.manager, bygg2.reference)
    # A stale page: nothing is changed.
    with pytest.raises(Conflict):
        merging.merge(bygg, org.admin, bygg2.reference, expected_version=bygg.version - 1)
    db.session.expire_all()
    assert db.session.get(Case, bygg2.id).merged_into_id is None
    merging.merge(bygg, org.admin, bygg2.reference)
    with pytest.raises(ValidationError, match="redan sammanslaget"):
        merging.merge(miljo, org.admin, bygg2.reference)


def test_link_and_unlink_both_ways_on_the_timeline_and_audited(org, client, login):
    one = make_case(org.agent, org.bygglov, summary="Altan")
    two = make_case(org.agent, org.bygglov, summary="Staket")
    login(org.manager)
    response = post(
        client, f"/arenden/{one.id}/link", {"version": one.version, "reference": two.reference}
    )
    assert response.status_code == 302
    for case, other in ((one, two), (two, one)):
        page = client.get(f"/arenden/{case.id}").get_data(as_text=True)
        assert "Kopplade ärenden" in page and other.reference in page
    db.session.expire_all()
    assert ActivityKind.LINKED in _kinds(one) and ActivityKind.LINKED in _kinds(two)
    one = db.session.get(Case, one.id)
    response = post(
        client, f"/arenden/{one.id}/link", {"version": one.version, "reference": two.reference}
    )
    assert response.status_code == 422
    assert "Ärendena är redan kopplade." in response.get_data(as_text=True)
    response = post(client, f"/arenden/{one.id}/unlink", {"version": one.version, "other": two.id})
    assert response.status_code == 302
    assert db.session.scalars(sa.select(CaseLink)).all() == []
    db.session.expire_all()
    assert ActivityKind.UNLINKED in _kinds(db.session.get(Case, two.id))
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions.count("link_cases") == 2 and actions.count("unlink_cases") == 2


def test_links_to_cases_a_handler_cannot_see_are_not_shown(org, client, login):
    bygg = make_case(org.agent, org.bygglov, summary="Bygg")
    miljo = make_case(org.agent, org.miljotillsyn, summary="Miljö")
    merging.link(bygg, org.agent, miljo.reference)
    login(org.handler_bygg)
    page = client.get(f"/arenden/{bygg.id}").get_data(as_text=True)
    assert miljo.reference not in page and "Kopplade ärenden" not in page
    # Nor can they remove it, or link to it.
    response = post(
        client, f"/arenden/{bygg.id}/unlink", {"version": bygg.version, "other": miljo.id}
    )
    assert response.status_code == 422 and miljo.reference not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["agent", "handler_bygg", "manager", "admin"])
@pytest.mark.parametrize("action", ["merge", "link", "unlink"])
def test_relation_actions_by_role(client, org, login, role, action):
    case = make_case(org.agent, org.bygglov)
    login(getattr(org, role))
    response = post(client, f"/arenden/{case.id}/{action}", {"version": case.version})
    # Managers do not merge; the first line does not merge a department's case (issue #15).
    allowed = role not in ("manager", "agent") or action != "merge"
    assert response.status_code == (422 if allowed else 403)


@pytest.mark.parametrize("action", ["merge", "link", "unlink"])
def test_relation_actions_on_another_departments_case_are_404(client, org, login, action):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_miljo)
    response = post(client, f"/arenden/{case.id}/{action}", {"version": case.version})
    assert response.status_code == 404


def test_bad_input_to_the_relation_forms_is_never_a_500(client, org, login):
    case = make_case(org.agent, org.bygglov)
    login(org.handler_bygg)
    for action, data in (
        ("merge", {"reference": "x" * 5000, "confirm": "y"}),
        ("merge", {"reference": case.reference}),  # not confirmed
        ("merge", {"reference": "\x00KC", "confirm": "y"}),
        ("link", {"reference": "KC-2026-99999999999"}),
        ("unlink", {"other": "99999999999999999999"}),
        ("unlink", {"other": "-1"}),
    ):
        response = post(client, f"/arenden/{case.id}/{action}", {"version": "x", **data})
        # 400: a NUL byte is refused before any view (core); never a 500.
        assert response.status_code in (400, 422), (action, data, response.status_code)


def test_a_department_never_sees_the_first_line_case_it_did_not_get(org, client, login, outbox):
    """Merged, then routed on: the survivor's department sees the survivor, not the absorbed
    first-line case, whose notes and reference stay off the timeline it is shown."""
    older = _mail_case("Fråga om bygglov", "<a1@example.se>", OLD)
    newer = _mail_case("Igen", "<a2@example.se>", OLD + timedelta(days=1))
    from kontaktcenter.cases import actions

    actions.add_note(newer, org.agent, "Intern anteckning om grannen")
    merging.merge(newer, org.agent, older.reference)
    actions.route(older, org.agent, org.bygg)
    login(org.handler_bygg)
    assert client.get(f"/arenden/{newer.id}").status_code == 404
    page = client.get(f"/arenden/{older.id}").get_data(as_text=True)
    assert newer.reference not in page and "Intern anteckning om grannen" not in page


def test_a_merged_callback_is_pending_even_if_the_survivor_had_one_done(org, outbox):
    from kontaktcenter.cases import actions
    from kontaktcenter.cases.enums import CallbackResult

    older = _mail_case("Fråga om bygglov", "<b1@example.se>", OLD)
    newer = _mail_case("Igen", "<b2@example.se>", OLD + timedelta(days=1))
    actions.book_callback(older, org.agent)
    actions.record_callback_attempt(older, org.agent, CallbackResult.REACHED)
    actions.book_callback(newer, org.agent)
    assert not older.callback_pending and newer.callback_pending
    merging.merge(newer, org.agent, older.reference)
    db.session.refresh(older)
    assert older.callback_pending


def test_a_merge_keeps_the_callbacks_number_slot_and_attempts(org):
    from kontaktcenter.callbacks import hooks, services
    from kontaktcenter.callbacks.models import Callback, CallbackSource, CallbackStatus
    from kontaktcenter.cases.enums import CallbackResult
    from kontaktcenter.core.extensions import utcnow

    assert hooks
    survivor = make_case(
        org.agent,
        None,
        None,
        channel=Channel.EMAIL,
        summary="Mejl om bygglov",
        contact=ContactData(name="Sara", email="sara@example.se"),
    )
    start = utcnow() - timedelta(minutes=10)  # the slot has begun: it may be tried now
    request = services.CallbackRequest(
        source=CallbackSource.PLATFORM,
        number="0701234567",
        slot_start=start,
        slot_end=start + timedelta(hours=1),
        platform_ref="ace-5",
    )
    callback = services.request(request, by=org.agent).callback
    callback = services.record_attempt(callback, org.agent, CallbackResult.NO_ANSWER)
    next_attempt, absorbed = callback.next_attempt_at, callback.case
    assert next_attempt is not None

    merging.merge(absorbed, org.agent, survivor.reference, "samma person")
    db.session.expire_all()
    [moved] = db.session.scalars(sa.select(Callback)).all()
    assert moved.id == callback.id and moved.case_id == survivor.id
    assert moved.status == CallbackStatus.PENDING and moved.number_e164 == "+46701234567"
    assert (moved.slot_start, moved.slot_end) == (start, start + timedelta(hours=1))
    assert moved.attempts == 1 and moved.next_attempt_at == next_attempt
    assert moved.source == CallbackSource.PLATFORM and moved.platform_ref == "ace-5"
    assert moved.due_at == moved.case.callback_due_at is not None
