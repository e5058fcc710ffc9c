"""/admin/diarier: diarier per nämnd, their departments, endpoint and signing secret."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from kontaktcenter.compliance import diarium_settings
from kontaktcenter.compliance.diarium_models import Diarium
from kontaktcenter.compliance.diarium_settings import DiariumData
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import db
from tests.factories import post

SECRET = re.compile(r'id="secret" value="(kcd_[^"]+)"')


def _create(client, org, **overrides):
    data = {
        "name": "Byggnadsnämndens diarium",
        "endpoint_url": "https://diarium.kommun.example/kc",
        "departments": [str(org.bygg.id)],
        "active": "y",
    } | overrides
    return post(client, "/admin/diarier/ny", data)


def test_an_admin_creates_a_diarium_and_sees_its_secret_once(org, login):
    client = login(org.admin)
    response = _create(client, org)
    assert response.status_code == 200
    secret = SECRET.search(response.get_data(as_text=True)).group(1)
    diarium = db.session.scalars(sa.select(Diarium)).one()
    assert diarium.signing_secret == secret
    assert [d.id for d in diarium.departments] == [org.bygg.id]
    for page in ("/admin/diarier/", f"/admin/diarier/{diarium.id}", "/admin/"):
        html = client.get(page).get_data(as_text=True)
        assert secret not in html, page
        assert "Byggnadsnämndens diarium" in html or page == "/admin/"


def test_a_new_secret_replaces_the_old_one(org, login):
    client = login(org.admin)
    old = SECRET.search(_create(client, org).get_data(as_text=True)).group(1)
    diarium = db.session.scalars(sa.select(Diarium)).one()
    response = post(client, f"/admin/diarier/{diarium.id}/ny-nyckel")
    new = SECRET.search(response.get_data(as_text=True)).group(1)
    db.session.refresh(diarium)
    assert new != old and diarium.signing_secret == new


@pytest.mark.parametrize(
    "url",
    ["http://diarium.kommun.example/kc", "ftp://diarium.kommun.example", "diarium", ""],
)
def test_an_endpoint_must_be_https_except_on_this_machine(org, login, url):
    response = _create(login(org.admin), org, endpoint_url=url)
    assert response.status_code == 422
    assert db.session.scalars(sa.select(Diarium)).first() is None


def test_a_local_http_endpoint_is_allowed():
    assert diarium_settings.validate_url("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080/x"


def test_a_department_is_served_by_one_diarium(org):
    diarium_settings.create(DiariumData("A", "https://a.example/", [org.bygg]))
    with pytest.raises(ValidationError) as error:
        diarium_settings.create(DiariumData("B", "https://b.example/", [org.bygg, org.miljo]))
    assert error.value.field == "departments"


def test_the_edit_page_keeps_the_diarium(org, login):
    client = login(org.admin)
    _create(client, org)
    diarium = db.session.scalars(sa.select(Diarium)).one()
    response = post(
        client,
        f"/admin/diarier/{diarium.id}",
        {
            "name": "BN diarium",
            "endpoint_url": "https://ny.kommun.example/kc",
            "departments": [str(org.bygg.id), str(org.miljo.id)],
        },
    )
    assert response.status_code == 302
    db.session.refresh(diarium)
    assert (diarium.name, diarium.active) == ("BN diarium", False)
    assert {d.id for d in diarium.departments} == {org.bygg.id, org.miljo.id}


@pytest.mark.parametrize("who", ["agent", "handler_bygg", "manager"])
def test_only_admins_reach_the_diarium_pages(org, login, who):
    client = login(getattr(org, who))
    assert client.get("/admin/diarier/").status_code == 403
    assert _create(client, org).status_code == 403
    assert db.session.scalars(sa.select(Diarium)).first() is None


def _routes(diarium_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/admin/diarier/"),
        ("GET", "/admin/diarier/ny"),
        ("POST", "/admin/diarier/ny"),
        ("GET", f"/admin/diarier/{diarium_id}"),
        ("POST", f"/admin/diarier/{diarium_id}"),
        ("GET", f"/admin/diarier/{diarium_id}/export.zip"),
        ("POST", f"/admin/diarier/{diarium_id}/ny-nyckel"),
    ]


def test_every_diarium_admin_route_is_closed_to_non_admins(app, org, login):
    created, secret = diarium_settings.create(DiariumData("A", "https://a.example/", [org.bygg]))
    routes = _routes(created.id)
    adapter = app.url_map.bind("localhost")
    listed = {(adapter.match(path, method)[0], method) for method, path in routes}
    registered = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if app.view_functions[rule.endpoint].__module__ == "kontaktcenter.compliance.diarium_views"
        and rule.endpoint.startswith("admin.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert listed == registered  # a new admin route must be added here (and so tested)
    for who in ("agent", "handler_bygg", "manager"):
        client = login(getattr(org, who))
        for method, path in routes:
            if method == "GET":
                response = client.get(path)
            else:
                response = post(client, path, {"name": "X", "endpoint_url": "https://x.example"})
            assert response.status_code == 403, (who, method, path)
            assert secret not in response.get_data(as_text=True)
    db.session.refresh(created)
    assert (created.name, created.signing_secret) == ("A", secret)


def test_the_admin_index_shows_the_diaries(org, login):
    diarium_settings.create(DiariumData("A", "https://a.example/", [org.bygg]))
    html = login(org.admin).get("/admin/").get_data(as_text=True)
    assert 'href="/admin/diarier/"' in html and "1 aktiva av 1" in html
