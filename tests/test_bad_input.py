"""Hand-crafted URLs and forms get a clear answer, never a 500."""

import re

import pytest

from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.core.extensions import db
from tests.factories import make_case, post

# Each hand-crafted URL and what it must answer. The queue ignores a filter value it cannot
# read (it lists what it would without it); an id that is not a number, or is too large, is
# nobody; a cursor that decodes to nonsense starts the list over with a message.
ODD_CURSOR = "WyI5OTk5LTEyLTMxVDIzOjU5OjU5LTE0OjAwIiwiMjAyNi0wMS0wMVQwMDowMDowMCswMDowMCIsMV0"
QUEUE_IGNORES = [
    "/ko/?department=99999999999999999999",
    "/ko/?assignee=99999999999999999999",
    "/ko/?case_type=%C2%B2",
]
NOBODY_PICKED = ["/samtal/ny?contact_id=%C2%B2", "/samtal/ny?contact_id=99999999999999999999"]


@pytest.mark.parametrize("path", QUEUE_IGNORES)
def test_an_unreadable_queue_filter_is_ignored(client, org, login, path):
    case = make_case(org.agent, org.bygglov)
    login(org.agent)
    page = client.get(path)
    assert page.status_code == 200
    assert f">{case.reference}</a>" in page.get_data(as_text=True)


def test_a_forged_cursor_starts_the_queue_over_with_a_message(client, org, login):
    login(org.agent)
    response = client.get(f"/ko/?cursor={ODD_CURSOR}")
    assert response.status_code == 302 and response.headers["Location"] == "/ko/"
    assert "Ogiltig sidmarkör." in client.get("/ko/").get_data(as_text=True)


@pytest.mark.parametrize("path", NOBODY_PICKED)
def test_an_unreadable_contact_id_opens_the_empty_call_form(client, org, login, path):
    make_case(org.agent, org.bygglov)  # Sven Svensson exists: he must not be picked
    login(org.agent)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'<input[^>]*name="contact_id"[^>]*value=""', html), "a contact was picked"
    assert "Sven Svensson" not in html


def test_an_unknown_last_case_shows_no_confirmation_link(client, org, login):
    make_case(org.agent, org.bygglov)
    login(org.agent)
    page = client.get("/samtal/ny?last=99999999999999999999")
    assert page.status_code == 200 and "Öppna KC-" not in page.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/arenden/99999999999999999999", "/arenden/2147483648"])
def test_a_case_id_out_of_range_is_a_swedish_404(client, org, login, path):
    login(org.agent)
    page = client.get(path)
    assert page.status_code == 404 and "Sidan finns inte" in page.get_data(as_text=True)


def test_an_unreadable_page_number_shows_the_first_page(client, org, login):
    login(org.admin)
    page = client.get("/admin/ej-kopplade/?sida=%C2%B2")
    assert page.status_code == 200 and "Nästa sida" not in page.get_data(as_text=True)
    assert "Föregående sida" not in page.get_data(as_text=True)


def test_a_version_that_is_not_a_number_is_a_missing_one(client, org, login):
    """The version is the page's optimistic lock; a form without a readable one is taken as a
    form without a version (an API client may leave it out): the note is saved, once."""
    case = make_case(org.agent, org.bygglov)
    login(org.agent)
    response = post(client, f"/arenden/{case.id}/note", {"version": "²", "text": "Hej"})
    assert response.status_code == 302 and response.headers["Location"] == f"/arenden/{case.id}"
    db.session.expire_all()
    assert [a.text for a in case.activities if a.kind == ActivityKind.NOTE] == ["Hej"]


@pytest.mark.parametrize(
    "path",
    [
        "/ko/?endpoint=x",
        "/ko/?_method=POST&channel=phone",
        "/ko/?_external=1",
        "/rapporter/?endpoint=x",
        "/rapporter/?_anchor=x&period=this_year",
    ],
)
def test_query_string_keys_that_mean_something_to_url_for_are_ignored(org, client, login, path):
    login(org.admin)
    assert client.get(path).status_code == 200, path


def test_the_inbox_ignores_them_too(org, client, login):
    login(org.handler_bygg)
    assert client.get("/inkorg/?endpoint=1").status_code == 200


@pytest.mark.parametrize("date", ["9999-12-31", "0001-01-01"])
def test_search_dates_out_of_range_are_explained(org, client, login, date):
    from tests.api_client import api_as, error_of

    login(org.agent)
    for key in ("from", "to"):
        page = client.get("/sok/", query_string={"q": "x", key: date})
        assert page.status_code == 422 and "mellan år 1900 och 2999" in page.get_data(as_text=True)
        api = api_as(client, org.agent).get(f"/api/v1/search?q=x&{key}={date}")
        assert api.status_code == 422 and error_of(api)["field"] == key


def test_a_contact_id_too_large_is_a_404(org, client, login):
    login(org.agent)
    assert client.get("/kontakter/99999999999999999999").status_code == 404
