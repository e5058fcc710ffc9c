"""Hand-crafted URLs and forms get a clear answer, never a 500."""

import pytest

from tests.factories import make_case, post


@pytest.mark.parametrize(
    "path",
    [
        "/ko/?department=99999999999999999999",
        "/ko/?assignee=99999999999999999999",
        "/ko/?case_type=%C2%B2",
        "/ko/?cursor=WyI5OTk5LTEyLTMxVDIzOjU5OjU5LTE0OjAwIiwiMjAyNi0wMS0wMVQwMDowMDowMCswMDowMCIsMV0",
        "/samtal/ny?contact_id=%C2%B2",
        "/samtal/ny?contact_id=99999999999999999999",
        "/samtal/ny?last=99999999999999999999",
        "/arenden/99999999999999999999",
        "/admin/ej-kopplade/?sida=%C2%B2",
    ],
)
def test_odd_ids_and_cursors_are_not_errors(client, org, login, path):
    login(org.admin if path.startswith("/admin") else org.agent)
    assert client.get(path).status_code in (200, 302, 404)


def test_odd_version_in_a_form_is_not_an_error(client, org, login):
    case = make_case(org.agent, org.bygglov)
    login(org.agent)
    response = post(client, f"/arenden/{case.id}/note", {"version": "²", "text": "Hej"})
    assert response.status_code in (302, 409, 422)


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
