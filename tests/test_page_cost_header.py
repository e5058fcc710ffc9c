"""Every page's fixed cost (issue #16): the signed-in user, their departments and their agent
status are read in one statement, and the municipality's name and logo come from a per-process
cache that forgets a change at once in the process that made it. The status stays exact: it is
read with the user, never cached."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.core.roles import Role
from kontaktcenter.core.templating import format_datetime
from kontaktcenter.distribution.models import AgentPresence, AgentStatus
from kontaktcenter.organisation import branding
from kontaktcenter.organisation.models import Branding
from tests import factories
from tests.statements import statements


@pytest.fixture
def brand_cached(app: Flask) -> Iterator[None]:
    """The per-process cache on, as in production (the tests' config turns it off)."""
    app.config["ORGANISATION_CACHE_SECONDS"] = 60
    branding.forget()
    yield
    branding.forget()
    app.config["ORGANISATION_CACHE_SECONDS"] = 0


def _selects(sent: list[str], table: str) -> list[str]:
    """The statements that read `table`'s rows (not a subquery of another table's)."""
    return [s for s in sent if s.startswith(f"SELECT {table}.")]


def test_a_page_reads_the_user_departments_and_status_in_one_statement(
    org, client, login, brand_cached
):
    handler = factories.make_user(Role.HANDLER, [org.bygg, org.miljo])
    login(org.agent)
    factories.post(client, "/status", {"status": "available"})
    client.get("/sok/")  # fills the brand's cache
    with statements() as sent:
        html = client.get("/sok/").get_data(as_text=True)
    assert "Status: <strong>Tillgänglig</strong>" in html
    users = _selects(sent, "users")
    assert len(users) == 1 and "agent_presence" in users[0] and "departments" in users[0]
    assert [s for s in sent if s.startswith("SELECT") and "user_departments" in s] == users
    assert _selects(sent, "agent_presence") == [] and _selects(sent, "branding") == []

    login(handler)  # several departments: one row each, still one user with both
    with statements() as sent:
        html = client.get("/sok/", query_string={"department": org.miljo.id}).get_data(as_text=True)
    assert len(_selects(sent, "users")) == 1
    assert f'<option value="{org.miljo.id}" selected>' in html  # offered: one of theirs
    assert f'<option value="{org.bygg.id}">' in html


def test_a_status_set_elsewhere_shows_on_the_next_page(org, client, login):
    """Another process (the phone platform's event, another tab's worker) sets the status: the
    next page shows it, whatever this process read before."""
    login(org.agent)
    factories.post(client, "/status", {"status": "available"})
    assert "Status: <strong>Tillgänglig</strong>" in client.get("/sok/").get_data(as_text=True)
    db.session.execute(
        sa.update(AgentPresence)
        .where(AgentPresence.user_id == org.agent.id)
        .values(status=AgentStatus.IN_CALL, set_by_system=True)
    )
    db.session.commit()
    assert "Status: <strong>I samtal</strong>" in client.get("/sok/").get_data(as_text=True)


def test_a_status_changed_during_the_request_is_read_again(org, client, login):
    """What was read with the user counts only until the request writes: the status that
    lapses at the request's start (back after the presence window) shows in that same page."""
    login(org.agent)
    factories.post(client, "/status", {"status": "available"})
    db.session.execute(
        sa.update(AgentPresence)
        .where(AgentPresence.user_id == org.agent.id)
        .values(seen_at=utcnow() - timedelta(days=3))
    )
    db.session.commit()
    with client.session_transaction() as session:
        session["distribution_seen"] -= 3 * 24 * 3600  # the browser was away as long
    html = client.get("/sok/").get_data(as_text=True)
    assert "Status: <strong>Utloggad</strong>" in html


def test_the_brand_is_cached_and_a_change_here_is_seen_at_once(org, client, login, brand_cached):
    branding.set_name("Exempelby kommun")
    login(org.agent)
    html = client.get("/sok/").get_data(as_text=True)
    assert '<span class="brand-name">Exempelby kommun</span>' in _header(html)

    # Changed by another process (no ORM flush here): this process keeps its copy for the
    # cache time, as the organisation's names (decision 109).
    db.session.execute(sa.update(Branding).where(Branding.id == 1).values(name="Annanby"))
    db.session.commit()
    with statements() as sent:
        html = client.get("/sok/").get_data(as_text=True)
    assert "Exempelby kommun" in html and _selects(sent, "branding") == []

    # Changed in this process (the admin's form): seen on the next page.
    branding.set_name("Nyby kommun")
    html = client.get("/sok/").get_data(as_text=True)
    assert "Nyby kommun" in html and "Exempelby" not in html
    assert '<span class="brand-name">Nyby kommun</span>' in _header(html)  # the kept header


def test_a_transaction_changing_the_brand_never_fills_the_cache(org, app, brand_cached):
    branding.set_name("Gammalby")
    with app.test_request_context():
        row = db.session.get(Branding, 1)
        assert row is not None
        row.name = "Ångrad"
        db.session.flush()  # uncommitted: this transaction sees it, others must not
        assert branding.current().name == "Ångrad"
        # Not in the process's cache, where another request (a thread) would find it.
        assert app.extensions[branding.BRAND_KEY].get("brand") is None
        db.session.rollback()
    with app.test_request_context():
        assert branding.current().name == "Gammalby"


def test_without_the_cache_every_page_reads_the_brand(org, client, login):
    """The tests' default (cache time 0): a change made anywhere shows at once."""
    branding.set_name("Förstaby")
    login(org.agent)
    client.get("/sok/")
    db.session.execute(sa.update(Branding).where(Branding.id == 1).values(name="Andraby"))
    db.session.commit()
    assert "Andraby" in client.get("/sok/").get_data(as_text=True)


# --- the header kept per process (core.navigation.page_header, presence.header_status_html) --


def _header(html: str) -> str:
    return html.split('<header class="site-header">', 1)[1].split("</header>", 1)[0]


def test_the_kept_header_names_the_user_it_is_for(app, org, login):
    """Kept per area, role and user: two agents in turn each see their own name."""
    assert not app.jinja_env.auto_reload  # kept HTML is used in the tests
    other = factories.make_user(Role.AGENT, [], name="Agnes Annansson")
    first = _header(login(org.agent).get("/ko/").get_data(as_text=True))
    second = _header(login(other).get("/ko/").get_data(as_text=True))
    assert org.agent.name in first and "Agnes Annansson" not in first
    assert "Agnes Annansson" in second and org.agent.name not in second
    assert "Logga ut" in second
    anonymous = _header(app.test_client().get("/login").get_data(as_text=True))
    assert "Logga ut" not in anonymous and "Agnes Annansson" not in anonymous


def test_the_kept_status_form_returns_to_its_own_page_with_the_sessions_token(org, client, login):
    login(org.agent)
    factories.post(client, "/status", {"status": "available"})
    for path, back in (
        ("/sok/?q=bygglov", "/sok/?q=bygglov"),
        ("/direktnummer/", "/direktnummer/"),
    ):
        header = _header(client.get(path).get_data(as_text=True))
        assert f'name="next" value="{back}"' in header
    login(org.agent)  # a new session, a new token: the kept header must not keep the old one
    header = _header(client.get("/direktnummer/").get_data(as_text=True))
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', header))
    assert len(tokens) == 1  # the search, the status and the logout form
    (token,) = tokens
    # the kept forms' token is this session's: the status form posts with it
    response = client.post("/status", data={"status": "break", "next": "/ko/", "csrf_token": token})
    assert response.status_code in (302, 303)
    assert "Status: <strong>Rast</strong>" in client.get("/ko/").get_data(as_text=True)


def test_the_kept_status_form_shows_when_the_status_was_set(org, client, login):
    """Kept per status and the time it was set: the same status set again later shows the
    new time."""
    login(org.agent)
    factories.post(client, "/status", {"status": "break"})
    for since in (datetime(2026, 3, 2, 8, 15, tzinfo=UTC), datetime(2026, 3, 3, 9, 45, tzinfo=UTC)):
        db.session.execute(
            sa.update(AgentPresence)
            .where(AgentPresence.user_id == org.agent.id)
            .values(since=since)
        )
        db.session.commit()
        header = _header(client.get("/ko/").get_data(as_text=True))
        shown = re.search(r"sedan ([^<]+)</span>", header)
        assert shown and shown[1] == format_datetime(since), header


def test_two_users_of_one_name_in_different_roles_each_see_their_own_menu(app, org, login):
    """Kept per role (the name is put in): the same name must not bring another role's menu."""
    agent = factories.make_user(Role.AGENT, [], name="Kim Lind")
    admin = factories.make_user(Role.ADMIN, [], name="Kim Lind")
    first = _header(login(agent).get("/sok/").get_data(as_text=True))
    second = _header(login(admin).get("/sok/").get_data(as_text=True))
    assert "(Kommunvägledare)" in first and "/admin" not in first
    assert "(Administratör)" in second and "/admin" in second


def test_the_status_form_posts_to_its_own_mount_point(org, client, login):
    login(org.agent)
    factories.post(client, "/status", {"status": "available"})
    client.get("/ko/")  # kept at the root first
    html = client.get("/ko/", environ_overrides={"SCRIPT_NAME": "/kommun/kc"})
    forms = re.findall(
        r'<form method="post" action="([^"]+)" class="inline header-status"',
        html.get_data(as_text=True),
    )
    assert len(forms) == 1 and forms[0].startswith("/kommun/kc/")


def test_the_status_forms_return_address_is_escaped(org, client, login):
    """The page's own path goes into the kept form: percent-decoded, it may hold markup, and a
    NUL that spells a placeholder (values go in in one pass, never read again)."""
    login(org.agent)
    factories.post(client, "/status", {"status": "available"})
    html = client.get("/ko/%22%3E%3Cscript%3Ex%3C/script%3E").get_data(as_text=True)
    assert "<script>x</script>" not in html and "&lt;script&gt;x" in _header(html)
    header = _header(client.get("/ko/%00csrf%00/x").get_data(as_text=True))
    tokens = re.findall(r'name="csrf_token" value="([^"]*)"', header)
    assert len(set(tokens)) == 1 and "\x00" not in tokens[0]
