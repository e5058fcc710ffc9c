"""Search: what agents and handlers rely on to find a case or a person, and what it must never
reveal (another department's cases, a personnummer in a URL or log)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from click.testing import Result

from kontaktcenter.cases import actions
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Channel, Outcome
from kontaktcenter.cases.models import Case, Contact
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import MailMessage
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from kontaktcenter.search.models import SearchDocument
from kontaktcenter.search.parsing import Kind, parse
from kontaktcenter.search.queries import SearchFilters, search
from kontaktcenter.search.text import snippet, stem, stems_text
from tests import factories
from tests.factories import post
from tests.mailutil import make_mail

PNR = "19121212-1212"


def make_case(by, case_type=None, **kwargs) -> Case:
    """A call answered at once unless told otherwise (a routed case needs its case type)."""
    if case_type is None:
        kwargs.setdefault("outcome", Outcome.ANSWERED)
    return factories.make_case(by, case_type, **kwargs)


def _doc(case: Case) -> SearchDocument | None:
    db.session.expire_all()
    return db.session.get(SearchDocument, case.id)


def _refs(result) -> list[str]:
    return [hit.case.reference for hit in result.cases]


# --- what the box's text is -------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, kind, value",
    [
        ("KC-2026-000303", Kind.REFERENCE, "KC-2026-000303"),
        ("kc 2026 303", Kind.REFERENCE, "KC-2026-000303"),
        ("2026-303", Kind.REFERENCE, "KC-2026-000303"),
        ("070-123 45 67", Kind.PHONE, "+46701234567"),
        ("+46 70 123 45 67", Kind.PHONE, "+46701234567"),
        ("0046701234567", Kind.PHONE, "+46701234567"),
        ("Anna.Berg@Example.SE", Kind.EMAIL, "anna.berg@example.se"),
        ("19121212-1212", Kind.PERSONNUMMER, "19121212-1212"),
        ("121212-1212", Kind.PERSONNUMMER, "20121212-1212"),
        ("556036-0793", Kind.ORGANISATION_NUMBER, "556036-0793"),
        ("19121212-1213", Kind.TEXT, ""),  # fails the check digit: not a personnummer
        ("bygglovet altan", Kind.TEXT, ""),
        ("", Kind.EMPTY, ""),
    ],
)
def test_the_search_box_recognises_what_was_typed(typed, kind, value):
    query = parse(typed)
    assert (query.kind, query.value) == (kind, value)


def test_a_personnummer_is_masked_wherever_the_query_is_shown():
    assert parse(PNR).masked == "19121212-****"
    assert parse(PNR).sensitive


def test_swedish_stems_reduce_definite_forms():
    assert stem("bygglovet") == stem("bygglov") == "bygglov"
    assert stems_text("Ansökningarna om bygglovet") == "ansökning om bygglov"


def test_a_snippet_marks_the_matching_words_and_nothing_else():
    fragments = snippet("Hej, jag undrar om mitt bygglov för altanen.", ["bygglov"])
    assert [f.text for f in fragments if f.match] == ["bygglov"]
    assert "".join(f.text for f in fragments) == "Hej, jag undrar om mitt bygglov för altanen."


# --- the index is kept in the transaction that changes the case -------------------------------


def test_a_new_case_a_note_and_a_closing_are_indexed_at_once(org):
    case = make_case(org.agent, org.strandskydd, summary="Fråga om strandskydd vid sjön")
    doc = _doc(case)
    assert doc is not None and "strandskydd" in doc.body
    actions.add_note(case, org.agent, "Ringde upp, lämnade besked om dispens")
    assert "dispens" in _doc(case).body
    actions.close(case, org.handler_bygg, "Hänvisad till länsstyrelsen")
    assert "länsstyrelsen" in _doc(case).body


def test_mail_subject_and_body_are_searchable(org, outbox):
    ingest(make_mail(subject="Oljeutsläpp", body="Det luktar diesel vid bäcken bakom skolan."))
    result = search(org.agent, parse("diesel bäcken"))
    assert len(result.cases) == 1
    assert [f.text for f in result.cases[0].fragments if f.match] == ["diesel", "bäcken"]


def test_a_rolled_back_change_leaves_no_document(org):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(SearchDocument))
    case = Case(
        reference="KC-2026-999999",
        channel=Channel.PHONE,
        summary="aldrig sparad",
        received_at=db.func.now(),
        due_at=db.func.now(),
    )
    db.session.add(case)
    db.session.flush()
    db.session.rollback()
    after = db.session.scalar(sa.select(sa.func.count()).select_from(SearchDocument))
    assert after == before
    assert search(org.agent, parse("aldrig sparad")).cases == []


def test_a_contacts_new_name_is_found_in_their_cases(org):
    case = make_case(org.agent, contact=ContactData(phone="070-111 22 33"))
    contact = db.session.get(Contact, case.contact_id)
    contact.name = "Gunvor Pettersson"
    db.session.commit()
    assert _refs(search(org.agent, parse("Pettersson"))) == [case.reference]


def test_a_merge_moves_the_messages_words_to_the_surviving_case(org, outbox):
    from kontaktcenter.cases import merging

    def mail_case(subject: str, body: str, day: int) -> Case:
        when = datetime(2026, 11, day, 9, 0, tzinfo=UTC)
        result = ingest(make_mail(subject=subject, body=body, when=when))
        return db.session.scalars(sa.select(Case).where(Case.reference == result.reference)).one()

    older = mail_case("Fråga om bygglov", "Hej, gäller det altanen?", 16)
    newer = mail_case("Igen", "Nu undrar jag om vindkraftverket också.", 17)
    assert _refs(search(org.agent, parse("vindkraftverket"))) == [newer.reference]
    merging.merge(newer, org.agent, older.reference)
    assert _refs(search(org.agent, parse("vindkraftverket"))) == [older.reference]


def test_a_message_moved_alone_moves_its_words(org, outbox):
    first = ingest(make_mail(subject="Ett", body="Om fjärrvärmen i kvarteret."))
    second = ingest(make_mail(subject="Två", body="Om något annat.", sender="bo@example.se"))
    message = db.session.get(MailMessage, first.message_pk)
    target = db.session.scalars(sa.select(Case).where(Case.reference == second.reference)).one()
    message.case = target  # nothing else changes on either case
    db.session.commit()
    assert _refs(search(org.agent, parse("fjärrvärmen"))) == [second.reference]


def test_reindex_catches_up_cases_written_past_the_orm(app, org):
    case = make_case(org.agent, summary="Skolskjutsen kom inte")
    db.session.execute(sa.delete(SearchDocument))
    db.session.commit()
    assert search(org.agent, parse("skolskjutsen")).cases == []
    result: Result = app.test_cli_runner().invoke(args=["search", "reindex", "--missing"])
    assert result.exit_code == 0, result.output
    assert "1 ärenden indexerade" in result.output
    assert _refs(search(org.agent, parse("skolskjutsen"))) == [case.reference]


# --- finding -----------------------------------------------------------------------------------


def test_a_definite_form_finds_the_base_form_and_compounds(org):
    plain = make_case(org.agent, summary="Fråga om bygglov för altan")
    compound = make_case(org.agent, summary="Komplettering av bygglovsansökan")
    make_case(org.agent, summary="Fråga om strandskydd")
    assert set(_refs(search(org.agent, parse("bygglovet")))) == {
        plain.reference,
        compound.reference,
    }


def test_every_word_must_match(org):
    both = make_case(org.agent, summary="Trasig gatubelysning på Storgatan")
    make_case(org.agent, summary="Trasig parkbänk")
    assert _refs(search(org.agent, parse("trasig storgatan"))) == [both.reference]


def test_a_misspelt_surname_finds_the_person_and_their_cases(org):
    case = make_case(org.agent, contact=ContactData(name="Anna Sundqvist", phone="070-222 33 44"))
    make_case(org.agent, contact=ContactData(name="Bo Lind", phone="070-222 33 45"))
    result = search(org.agent, parse("Sundkvist"))
    assert [hit.contact.name for hit in result.contacts] == ["Anna Sundqvist"]
    assert _refs(result) == [case.reference]


def test_a_short_first_name_with_a_surname_finds_the_person(org):
    case = make_case(org.agent, contact=ContactData(name="Bo Svensson", phone="070-333 44 55"))
    make_case(org.agent, contact=ContactData(name="Bo Lind", phone="070-333 44 56"))
    result = search(org.agent, parse("Bo Svensson"))
    assert [hit.contact.name for hit in result.contacts] == ["Bo Svensson"]
    assert case.reference in _refs(result)


def test_a_phone_number_in_any_form_finds_the_person(org):
    case = make_case(org.agent, contact=ContactData(name="Per Holm", phone="+46 70 555 12 34"))
    for typed in ("0705551234", "070-555 12 34", "+46705551234"):
        result = search(org.agent, parse(typed))
        assert [h.contact.name for h in result.contacts] == ["Per Holm"], typed
        assert _refs(result) == [case.reference]


def test_an_organisation_number_and_an_email_address_find_the_business(org):
    case = make_case(
        org.agent,
        contact=ContactData(
            name="Byggbolaget AB", email="info@bygg.example", organisation_number="5560360793"
        ),
    )
    assert _refs(search(org.agent, parse("556036-0793"))) == [case.reference]
    assert _refs(search(org.agent, parse("INFO@bygg.example"))) == [case.reference]


def test_closed_cases_are_listed_with_the_filters(org):
    open_case = make_case(org.agent, org.bygglov, summary="Öppen fråga")
    closed = make_case(org.agent, org.bygglov, summary="Stängd fråga")
    actions.close(closed, org.handler_bygg, "Besvarad")
    only_closed = search(org.agent, parse(""), SearchFilters(status="closed"))
    assert closed.reference in _refs(only_closed)
    assert open_case.reference not in _refs(only_closed)
    both = search(org.agent, parse("fråga"))
    assert {open_case.reference, closed.reference} <= set(_refs(both))


def test_pages_follow_each_other_without_gaps_or_repeats(org):
    made = {make_case(org.agent, summary=f"Snöröjning på gata {n}").reference for n in range(25)}
    first = search(org.agent, parse("snöröjning"), limit=20)
    assert len(first.cases) == 20 and first.next_cursor
    second = search(org.agent, parse("snöröjning"), cursor=first.next_cursor, limit=20)
    assert second.next_cursor is None
    assert set(_refs(first)) | set(_refs(second)) == made
    assert not set(_refs(first)) & set(_refs(second))


def test_too_many_matches_are_listed_newest_first_and_page_on(app, org):
    made = [make_case(org.agent, summary=f"Parkeringstillstånd nummer {n}") for n in range(5)]
    make_case(org.agent, contact=ContactData(name="Parkering Persson", phone="070-000 11 22"))
    app.config["SEARCH_RANK_LIMIT"] = 3
    try:
        first = search(org.agent, parse("parkeringstillstånd"), limit=2)
        assert first.newest_first
        assert _refs(first) == [made[4].reference, made[3].reference]
        assert all(hit.score is None for hit in first.cases)
        second = search(org.agent, parse("parkeringstillstånd"), cursor=first.next_cursor, limit=2)
        third = search(org.agent, parse("parkeringstillstånd"), cursor=second.next_cursor, limit=2)
        assert _refs(second) + _refs(third) == [m.reference for m in reversed(made[:3])]
        assert third.next_cursor is None
        handler_view = search(org.handler_miljo, parse("parkeringstillstånd"))
        assert handler_view.cases == []  # the probe counts only what the user may see
    finally:
        app.config["SEARCH_RANK_LIMIT"] = 1000
    ranked = search(org.agent, parse("parkeringstillstånd"))
    assert not ranked.newest_first and all(hit.score is not None for hit in ranked.cases)


def test_a_persons_cases_page_on_newest_first(org):
    data = ContactData(name="Ofta Ringer", phone="070-555 66 77")
    made = [make_case(org.agent, contact=data, summary=f"Samtal {n}").reference for n in range(7)]
    first = search(org.agent, parse("0705556677"), limit=5)
    assert _refs(first) == made[::-1][:5] and first.next_cursor
    second = search(org.agent, parse("0705556677"), cursor=first.next_cursor, limit=5)
    assert _refs(second) == made[::-1][5:] and second.next_cursor is None


# --- what a handler may see -------------------------------------------------------------------


def test_a_handler_never_finds_another_departments_case_or_person(org):
    secret = make_case(
        org.agent,
        case_type=org.miljotillsyn,
        summary="Anmälan om oljeutsläpp",
        contact=ContactData(name="Kerstin Ödman", phone="070-999 88 77", personnummer=PNR),
    )
    own = make_case(org.agent, case_type=org.bygglov, summary="Oljeutsläpp vid bygget")
    handler = org.handler_bygg
    assert _refs(search(handler, parse("oljeutsläpp"))) == [own.reference]
    for typed in ("Ödman", "Odman", "070-999 88 77", PNR, secret.reference):
        result = search(handler, parse(typed))
        assert result.contacts == [] and result.cases == [] and result.case is None, typed
    assert _refs(search(org.handler_miljo, parse("Ödman"))) == [secret.reference]


def test_routing_and_closing_move_a_case_in_the_index_at_once(org):
    case = make_case(org.agent, org.bygglov, summary="Fråga om cisternen på gården")
    assert _refs(search(org.handler_bygg, parse("cisternen"))) == [case.reference]
    assert search(org.handler_miljo, parse("cisternen")).cases == []
    actions.route(case, org.admin, org.miljo)  # first line no longer routes a routed case
    assert search(org.handler_bygg, parse("cisternen")).cases == []
    assert _refs(search(org.handler_miljo, parse("cisternen"))) == [case.reference]
    closed_only = SearchFilters(status="closed")
    assert search(org.agent, parse("cisternen"), closed_only).cases == []
    actions.close(case, org.handler_miljo, "Klart")
    assert _refs(search(org.agent, parse("cisternen"), closed_only)) == [case.reference]


def test_a_handlers_search_page_says_nothing_about_a_hidden_reference(org, client, login):
    secret = make_case(org.agent, case_type=org.miljotillsyn, summary="Tillsyn")
    login(org.handler_bygg)
    page = client.get("/sok/", query_string={"q": secret.reference})
    assert page.status_code == 200
    assert "som du har tillgång till" in page.get_data(as_text=True)
    assert "Tillsyn" not in page.get_data(as_text=True)


# --- the pages ---------------------------------------------------------------------------------


def test_a_reference_typed_in_the_header_opens_the_case(org, client, login):
    case = make_case(org.agent)
    login(org.agent)
    number = int(case.reference.rsplit("-", 1)[1])
    year = case.reference.split("-")[1]
    response = post(client, "/sok/", {"q": f"kc {year} {number}"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/sok/?q=kc+{year}+{number}")
    opened = client.get(response.headers["Location"])
    assert opened.status_code == 303
    assert opened.headers["Location"].endswith(f"/arenden/{case.id}")


def test_every_page_has_the_search_field_for_every_role(org, client, login):
    for user in (org.agent, org.handler_bygg, org.manager, org.admin):
        login(user)
        html = client.get("/", follow_redirects=True).get_data(as_text=True)
        assert 'role="search"' in html and 'action="/sok/"' in html, user.role


def test_hits_are_highlighted_and_escaped(org, client, login):
    make_case(org.agent, summary="<script>alert(1)</script> Fråga om detaljplanen")
    login(org.agent)
    html = client.get("/sok/", query_string={"q": "detaljplan"}).get_data(as_text=True)
    assert "<mark>detaljplanen</mark>" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_a_personnummer_never_reaches_a_url_and_is_audited_masked(org, client, login):
    case = make_case(org.agent, contact=ContactData(name="Tolvan Tolvansson", personnummer=PNR))
    login(org.agent)
    response = post(client, "/sok/", {"q": PNR})
    assert response.status_code == 200  # answered in place: no redirect carrying the number
    html = response.get_data(as_text=True)
    assert case.reference in html and "Tolvan Tolvansson" in html
    assert PNR not in html and "19121212-****" in html
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "search")).all()
    assert [e.detail for e in events] == [{"kind": "personnummer", "query": "19121212-****"}]


def test_finding_a_person_by_name_is_audited_and_a_search_finding_nobody_is_not(org, client, login):
    sundqvist = make_case(org.agent, contact=ContactData(name="Anna Sundqvist")).contact
    make_case(org.agent, summary="Fråga om bygglovet för altanen")
    login(org.agent)
    searches = sa.select(AuditEvent).where(AuditEvent.action == "search")
    assert client.get("/sok/", query_string={"q": "altan"}).status_code == 200
    assert db.session.scalars(searches).all() == []
    assert client.get("/sok/", query_string={"q": "Sundkvist"}).status_code == 200
    events = db.session.scalars(searches).all()
    assert [(e.user_id, e.contact_id, e.detail) for e in events] == [
        (org.agent.id, sundqvist.id, {"kind": "name", "query": "Sundkvist"})
    ]


@pytest.mark.parametrize("dash", ["\u2011", "\u2010", "\u2013", "\u2212"])
def test_a_personnummer_typed_with_another_dash_finds_the_person(org, client, login, dash):
    """Copied from a document, the hyphen is often U+2011 or an en dash: still a personnummer
    (found, masked, audited as one), never read as a phone number."""
    case = make_case(org.agent, contact=ContactData(name="Tolvan Tolvansson", personnummer=PNR))
    login(org.agent)
    typed = PNR.replace("-", dash)
    response = post(client, "/sok/", {"q": typed})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert case.reference in html and "19121212-****" in html
    assert typed not in html and PNR not in html
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "search")).all()
    assert [e.detail for e in events] == [{"kind": "personnummer", "query": "19121212-****"}]


@pytest.mark.parametrize("typed", ["Tolvan 19121212-1212", "19121212-1213", "pnr 191212121212"])
def test_anything_shaped_like_a_personnummer_stays_out_of_urls(org, client, login, typed):
    login(org.agent)
    response = post(client, "/sok/", {"q": typed})
    assert response.status_code == 200  # answered in place, not redirected to ?q=
    html = response.get_data(as_text=True)
    assert "1212-1212" not in html and "1212-1213" not in html and "121212121212" not in html


def test_a_bad_date_is_explained_not_an_error_page(org, client, login):
    login(org.agent)
    response = client.get("/sok/", query_string={"q": "altan", "from": "igår"})
    assert response.status_code == 422
    assert "ÅÅÅÅ-MM-DD" in response.get_data(as_text=True)


def test_a_tampered_cursor_is_explained(org, client, login):
    make_case(org.agent, summary="Fråga om altan")
    login(org.agent)
    response = client.get("/sok/", query_string={"q": "altan", "cursor": "bm90LWpzb24"})
    assert response.status_code == 422
    assert "Ogiltig sidmarkör" in response.get_data(as_text=True)


def test_the_contact_page_lists_their_cases_newest_first(org, client, login):
    data = ContactData(name="Lisa Nord", phone="070-444 55 66")
    first = make_case(org.agent, case_type=org.bygglov, summary="Första", contact=data)
    second = make_case(org.agent, case_type=org.miljotillsyn, summary="Andra", contact=data)
    actions.close(first, org.handler_bygg, "Klart")
    login(org.agent)
    html = client.get(f"/kontakter/{first.contact_id}").get_data(as_text=True)
    assert html.index(second.reference) < html.index(first.reference)
    assert f"/samtal/ny?contact_id={first.contact_id}" in html
    login(org.handler_bygg)
    html = client.get(f"/kontakter/{first.contact_id}").get_data(as_text=True)
    assert first.reference in html and second.reference not in html
    login(org.handler_miljo)
    assert client.get(f"/kontakter/{first.contact_id}").status_code == 200
    only_bygg = make_case(
        org.agent, case_type=org.bygglov, contact=ContactData(name="Ove Bygg", phone="0708887766")
    )
    assert client.get(f"/kontakter/{only_bygg.contact_id}").status_code == 404


def test_a_search_without_the_form_token_is_refused(org, client, login):
    login(org.agent)
    assert client.post("/sok/", data={"q": PNR}).status_code in (400, 403)


def _ids(html: str) -> list[str]:
    return re.findall(r"KC-\d{4}-\d{6}", html)


def test_outcome_filter_keeps_agent_work_visible(org):
    # A case answered at once is still a case: found, with its channel filter.
    case = make_case(org.agent, outcome=Outcome.ANSWERED, summary="Öppettider biblioteket")
    assert _refs(search(org.agent, parse("biblioteket"), SearchFilters(channel=Channel.PHONE))) == [
        case.reference
    ]
    assert search(org.agent, parse("biblioteket"), SearchFilters(channel=Channel.EMAIL)).cases == []


# --- the API -----------------------------------------------------------------------------------


def test_the_api_finds_by_words_with_snippets_and_pages(org, client):
    from tests.api_client import api_as

    made = [make_case(org.agent, summary=f"Buller från fläkt nummer {n}") for n in range(3)]
    api = api_as(client, org.agent)
    first = api.get("/api/v1/search?q=fläkten&limit=2")
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["query"] == {"kind": "text", "text": "fläkten"}
    assert len(body["items"]) == 2 and body["next"]
    assert {s["text"] for s in body["items"][0]["snippet"] if s["match"]} == {"fläkt"}
    second = api.get(f"/api/v1/search?q=fläkten&limit=2&cursor={body['next']}").get_json()
    found = {i["case"]["reference"] for i in body["items"] + second["items"]}
    assert found == {c.reference for c in made}


def test_the_api_takes_a_personnummer_in_the_body_and_masks_it(org, client):
    from tests.api_client import api_as

    case = make_case(org.agent, contact=ContactData(name="Tolvan", personnummer=PNR))
    response = api_as(client, org.agent).post("/api/v1/search", {"q": PNR})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["query"] == {"kind": "personnummer", "text": "19121212-****"}
    assert [i["case"]["reference"] for i in body["items"]] == [case.reference]
    assert body["contacts"][0]["contact"]["personnummer"] == "19121212-****"
    assert PNR not in response.get_data(as_text=True)


def test_the_api_keeps_a_handler_to_their_departments(org, client):
    from tests.api_client import api_as

    secret = make_case(org.agent, org.miljotillsyn, summary="Tillsyn av cistern")
    api = api_as(client, org.handler_bygg)
    assert api.get("/api/v1/search?q=cistern").get_json()["items"] == []
    body = api.get(f"/api/v1/search?q={secret.reference}").get_json()
    assert body["case"] is None and body["items"] == []
    mine = api_as(client, org.handler_miljo).get(f"/api/v1/search?q={secret.reference}")
    assert mine.get_json()["case"]["reference"] == secret.reference


def test_the_api_explains_bad_filters(org, client):
    from tests.api_client import api_as, error_of

    api = api_as(client, org.agent)
    for query, field in (
        ("q=x&status=gone", "status"),
        ("q=x&from=igår", "from"),
        ("q=x&limit=0", "limit"),
        ("q=x&department=finns-inte", "department"),
        ("q=x&cursor=xyz", "cursor"),
        ("q=x&bogus=1", "bogus"),
    ):
        response = api.get(f"/api/v1/search?{query}")
        assert response.status_code == 422, query
        assert error_of(response)["field"] == field, query


def test_the_api_records_a_person_found_by_name(org, client):
    from tests.api_client import api_as

    sundqvist = make_case(org.agent, contact=ContactData(name="Anna Sundqvist")).contact
    body = api_as(client, org.agent).get("/api/v1/search?q=Sundkvist").get_json()
    assert [c["contact"]["name"] for c in body["contacts"]] == ["Anna Sundqvist"]
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "search")).all()
    assert [(e.contact_id, e.detail["kind"]) for e in events] == [(sundqvist.id, "name")]


def test_words_that_occur_together_are_listed_newest_first_from_the_newest_documents(
    app, org, monkeypatch
):
    """Two words always found together look rare to PostgreSQL's planner (it multiplies their
    shares), yet match more than can be ranked: their page comes from the newest documents,
    and from the index when it is not among them (search/newest.py) – the same page either way."""
    from kontaktcenter.search import newest

    made = []
    for n in range(12):  # every other one Stadsbyggnadskontoret's (a handler sees those only)
        case_type = org.bygglov if n % 2 else None
        made.append(make_case(org.agent, case_type, summary=f"Gatan är inte plogad {n}"))
        make_case(org.agent, summary=f"Annat ärende {n}")
    windows: list[int] = []
    in_window = newest._in_window

    def spy(*args):
        ids = in_window(*args)
        windows.append(len(ids))
        return ids

    monkeypatch.setattr(newest, "_in_window", spy)
    app.config["SEARCH_RANK_LIMIT"] = 3
    try:
        first = search(org.agent, parse("gatan plogad"), limit=5)
        assert first.newest_first
        assert _refs(first) == [m.reference for m in reversed(made)][:5]
        second = search(org.agent, parse("gatan plogad"), cursor=first.next_cursor, limit=5)
        assert _refs(second) == [m.reference for m in reversed(made)][5:10]
        monkeypatch.setattr(newest, "WINDOW", 4)  # the page is not among the newest 4
        narrow = search(org.agent, parse("gatan plogad"), limit=5)
        assert _refs(narrow) == _refs(first)
        # A handler's newest first holds only their department's cases, window or index.
        monkeypatch.setattr(newest, "WINDOW", 20_000)
        bygg = search(org.handler_bygg, parse("gatan plogad"), limit=5)
        assert bygg.newest_first
        assert _refs(bygg) == [m.reference for m in reversed(made) if m.department_id][:5]
    finally:
        app.config["SEARCH_RANK_LIMIT"] = 1000
    if db.engine.dialect.name == "postgresql":
        assert windows == [6, 6, 2, 6]  # pages from the window, then too few there: the index
    else:
        assert windows == []  # SQLite's FTS5 has no such misestimate: one statement
