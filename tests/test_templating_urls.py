"""Addresses built for every row of a list (core.templating.id_url) and the menu's current
entry: the same as Flask's url_for, mounted at the root or under a prefix."""

from __future__ import annotations

import re

import pytest
from flask import url_for

from kontaktcenter.core.templating import id_url


@pytest.mark.parametrize("script_root", ["", "/kommun/kc"])
def test_id_url_is_url_for(app, script_root):
    for endpoint, name in (("cases.show", "case_id"), ("contacts.show", "contact_id")):
        for ident in (1, 7, 918273645, 10**12):
            with app.test_request_context("/", base_url=f"http://localhost{script_root}/"):
                assert id_url(endpoint, **{name: ident}) == url_for(endpoint, **{name: ident})
                assert id_url(endpoint, **{name: ident}).startswith(f"{script_root}/")


def test_id_url_takes_only_an_integer_id(app):
    with app.test_request_context("/"), pytest.raises(ValueError):
        id_url("cases.show", case_id="7/../../admin")


def test_the_menu_marks_the_page_the_user_is_on(org, login):
    client = login(org.agent)
    html = client.get("/direktnummer/").get_data(as_text=True)
    current = [line for line in html.splitlines() if 'aria-current="page"' in line]
    assert len(current) == 1 and 'href="/direktnummer/"' in current[0]
    html = client.get("/sok/?q=x").get_data(as_text=True)  # not in the menu: nothing marked
    assert 'aria-current="page"' not in html
    html = client.get("/ko/").get_data(as_text=True)
    current = [line for line in html.splitlines() if 'aria-current="page"' in line]
    assert len(current) == 1 and 'href="/ko/"' in current[0]


def _menu(html: str) -> list[str]:
    nav = html.split('<nav aria-label="Huvudmeny">', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="([^"]+)"', nav)


def test_each_role_and_each_mount_gets_its_own_menu(app, org, login):
    # The menu's HTML is kept per process (core/rendered.py): by role, area and mount point.
    assert not app.jinja_env.auto_reload
    agent = _menu(login(org.agent).get("/ko/").get_data(as_text=True))
    admin = _menu(login(org.admin).get("/ko/").get_data(as_text=True))
    assert "/ko/" in agent and not any(url.startswith("/admin") for url in agent)
    assert any(url.startswith("/admin") for url in admin)
    client = login(org.agent)
    mounted = client.get("/ko/", environ_overrides={"SCRIPT_NAME": "/kommun/kc"})
    assert _menu(mounted.get_data(as_text=True)) == [f"/kommun/kc{url}" for url in agent]


def test_the_screen_pop_is_on_the_pages_of_agents_only(app, org, login, client):
    # Kept per role and mount point (core/rendered.template): the login page first, then
    # a handler's page, must not make an agent's page lose it, nor the other way round.
    assert 'id="screen-pop"' not in client.get("/login").get_data(as_text=True)
    handler = login(org.handler_bygg).get("/inkorg/").get_data(as_text=True)
    assert "Logga ut" in handler and 'id="screen-pop"' not in handler
    page = login(org.agent).get("/ko/").get_data(as_text=True)
    assert 'id="screen-pop"' in page and 'data-stream="/samtal/' in page
    assert 'id="screen-pop"' not in login(org.manager).get("/ko/").get_data(as_text=True)
    assert 'id="screen-pop"' in login(org.admin).get("/ko/").get_data(as_text=True)
    mounted = login(org.agent).get("/ko/", environ_overrides={"SCRIPT_NAME": "/kommun/kc"})
    assert 'data-stream="/kommun/kc/samtal/' in mounted.get_data(as_text=True)
