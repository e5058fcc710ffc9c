"""The statistics import's two doors (#14): ``POST /api/v1/calls/statistics`` (the telephony
integration's token and admins; every response checked against the OpenAPI document) and the
upload page for managers and admins."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from kontaktcenter.channels.phone import integration
from kontaktcenter.channels.phone.models import Call
from kontaktcenter.channels.phone.stats_import import MAX_BYTES
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from tests import factories
from tests.api_client import api_as
from tests.factories import csrf_token

FILE = (
    "Call ID;Start Time;Queue;Wait Time;Result;Talk Time;Agent\n"
    "a-1;2026-11-16 09:30:00;Växeln;38;answered;180;{agent}\n"
    "a-2;2026-11-16 09:31:00;Växeln;95;abandoned;;\n"
)
BAD = "Call ID;Start Time;Result\na-1;igår;answered\na-2;2026-11-16 09:31:00;kanske\n"


def error_of_file(response) -> str:
    return response.get_json()["error"]["message"]


def calls() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Call))


@pytest.fixture
def platform(client, org):
    user = factories.make_user(Role.AGENT, name="Telefoniplattformen")
    integration.mark_integration(user)
    return api_as(client, user)


def post_csv(api, text: str, content_type: str = "text/csv; charset=utf-8"):
    return api.open(
        "POST", "/calls/statistics", data=text.encode(), headers={"Content-Type": content_type}
    )


def test_the_platform_posts_its_statistics_and_a_repeat_changes_nothing(platform, org):
    first = post_csv(platform, FILE.format(agent="ghost-9"))
    assert first.status_code == 200
    assert first.get_json() == {
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "unknown_agents": ["ghost-9"],
    }
    again = post_csv(platform, FILE.format(agent="ghost-9"))
    assert again.get_json()["unchanged"] == 2
    assert calls() == 2


def test_an_admin_may_post_too(client, org):
    answer = post_csv(api_as(client, org.admin), FILE.format(agent=org.agent.email))
    assert answer.status_code == 200
    assert answer.get_json()["unknown_agents"] == []


@pytest.mark.parametrize("role", ["agent", "manager", "handler_bygg"])
def test_other_tokens_may_not(client, org, role):
    answer = post_csv(api_as(client, getattr(org, role)), FILE.format(agent=""))
    assert answer.status_code == 403
    assert calls() == 0


def test_bad_rows_answer_422_with_every_line(platform):
    answer = post_csv(platform, BAD)
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["error"]["code"] == "invalid" and body["error"]["field"] == "file"
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(2, "start"), (3, "outcome")]
    assert body["error_count"] == 2
    assert calls() == 0


def test_not_csv_and_too_large(platform):
    assert post_csv(platform, "{}", "application/json").status_code == 415
    huge = post_csv(platform, "Call ID;Start;Result\n" + "x" * MAX_BYTES)
    assert huge.status_code == 422
    assert "större än" in huge.get_json()["errors"][0]["message"]
    empty = post_csv(platform, "", "text/csv")
    assert empty.status_code == 422
    assert error_of_file(empty) == "Filen importerades inte (1 fel). Filen är tom."


def _upload(client, text: bytes, filename: str = "statistik.csv"):
    token = csrf_token(client, "/samtal/statistik/")
    return client.post(
        "/samtal/statistik/",
        data={"csrf_token": token, "file": (io.BytesIO(text), filename)},
        content_type="multipart/form-data",
    )


def test_a_manager_uploads_a_file(client, login, org):
    login(org.manager)
    page = client.get("/samtal/statistik/")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    assert "Högst 20 000 rader" in page.get_data(as_text=True)  # a request's worth
    answer = _upload(client, FILE.format(agent=org.agent.email).encode("cp1252"))
    assert answer.status_code == 302
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "2 samtal importerade: 2 nya, 0 uppdaterade, 0 oförändrade." in shown
    assert calls() == 2


def test_a_bad_file_is_listed_by_line_and_nothing_is_saved(client, login, org):
    login(org.admin)
    answer = _upload(client, BAD.encode())
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Filen importerades inte" in html
    assert "<td>2</td><td>Starttiden ”igår” går inte att läsa" in html
    assert "<td>3</td><td>Okänt utfall ”kanske”" in html
    assert calls() == 0


FIELD_LIMIT = 131_072  # the csv module's longest field
BAD_FILES = {
    "wait-inf": (b"Call ID;Start;Wait;Result\nx-4;2026-11-16 09:00:00;inf;answered\n", 2),
    "wait-1e400": (b"Call ID;Start;Wait;Result\nx-4;2026-11-16 09:00:00;1e400;answered\n", 2),
    "year-1": (b"Call ID;Start;Wait;Result\nx-4;0001-01-01 00:00:00;1;answered\n", 2),
    "year-1999": (b"Call ID;Start;Wait;Result\nx-4;1999-12-31 23:00:00;1;answered\n", 2),
    "huge-field": (
        b'Call ID;Start;Wait;Result\nx-4;2026-11-16 09:00:00;"'
        + b"9" * (FIELD_LIMIT + 10)
        + b'";answered\n',
        2,
    ),
    "nul": (b"Call ID;Start;Queue;Result\nx-5;2026-11-16 09:00:00;V\x00x;answered\n", 0),
    "utf-16": ("Call ID;Start;Result\nx-6;2026-11-16 09:00:00;answered\n".encode("utf-16"), 0),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_broken_file_is_refused_with_a_message_never_a_crash(platform, name):
    data, line = BAD_FILES[name]
    answer = platform.open(
        "POST", "/calls/statistics", data=data, headers={"Content-Type": "text/csv"}
    )
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["line"] == line
    if name in ("nul", "utf-16"):
        assert "UTF-16" in error_of_file(answer)
    assert calls() == 0


def test_a_broken_file_on_the_upload_page_is_a_message(client, login, org):
    login(org.manager)
    answer = _upload(client, BAD_FILES["huge-field"][0])
    assert answer.status_code == 422
    assert "går inte att läsa som CSV" in answer.get_data(as_text=True)
    answer = _upload(client, BAD_FILES["utf-16"][0])
    assert answer.status_code == 422
    assert "troligen sparad som UTF-16" in answer.get_data(as_text=True)
    assert calls() == 0


def test_no_file_chosen(client, login, org):
    login(org.manager)
    token = csrf_token(client, "/samtal/statistik/")
    answer = client.post("/samtal/statistik/", data={"csrf_token": token})
    assert answer.status_code == 422
    assert "Välj en CSV-fil." in answer.get_data(as_text=True)


@pytest.mark.parametrize("role", ["agent", "handler_bygg"])
def test_agents_and_handlers_may_not_upload(client, login, org, role):
    login(getattr(org, role))
    assert client.get("/samtal/statistik/").status_code == 403
