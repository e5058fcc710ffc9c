"""The queue's and the inbox's rows are built from rows (cases.queries.QueueRow), not ORM
cases, and written in Python (workspace/queue_rows.py), not by the template (issue #16): the
table's HTML must be what the template made of ORM cases before. The
row template as it was is kept below and rendered with ORM cases for the comparison, on varied
cases (secret by the case and by its type, with and without contact, type, department and
assignee, paused, overdue, a pending callback, a contact known only by phone or e-mail)."""

# ruff: noqa: E501 (the old template below, kept as it was)
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import render_template_string

from kontaktcenter.cases import access
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import CaseStatus, Channel, Outcome
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.queries import encode_cursor
from kontaktcenter.core import templating
from kontaktcenter.core.extensions import db, utcnow
from kontaktcenter.workspace import queue_rows
from tests.factories import make_case
from tests.statements import statements
from tests.test_list_rows import _cases

# templates/queue/_table.html before the rows (commit f98f7ca), rendered with ORM cases.
OLD_TABLE = """{% from "macros.html" import due_badge %}
<table class="case-table">
  <caption class="visually-hidden">Öppna ärenden, mest brådskande först</caption>
  <thead>
    <tr>
      <th scope="col">Ärende</th><th scope="col">Förfaller</th><th scope="col">Ärendetyp och hos</th>
      <th scope="col">Sammanfattning och kontakt</th><th scope="col">Status och handläggare</th>
    </tr>
  </thead>
  <tbody>
  {% for case in page.items %}
    <tr>
      <td data-label="Ärende"><a class="nowrap" href="{{ url_for('cases.show', case_id=case.id) }}">{{ case.reference }}</a><br><span class="muted">{{ case.channel.label }}</span></td>
      <td data-label="Förfaller">{% if case.has_promise %}<span class="nowrap">{{ case.due_at|dt }}</span><br><span class="muted">{{ case.due_at|relative }}</span> {{ due_badge(case) }}{% else %}<span class="muted">Inget löfte kvar</span>{% endif %}
        {% if case.callback_pending %}<br><span class="badge badge-ok"><span aria-hidden="true">☎</span> Ring upp</span>{% endif %}</td>
      <td data-label="Ärendetyp och hos">{{ case.case_type.name if case.case_type else '–' }}<br><span class="muted">{{ case.department.name if case.department else 'Kontaktcenter' }}</span></td>
      <td data-label="Sammanfattning och kontakt">{% if case.id in content_ids %}{{ case.summary|masked|truncate(90) }}<br><span class="muted">{{ case.contact.display_name if case.contact else 'Ingen kontakt' }}</span>{% else %}<span class="secret"><span aria-hidden="true">🔒</span> {{ secrecy_masked(case.effective_secrecy_ground) }}</span>{% endif %}</td>
      <td data-label="Status och handläggare">{{ case.status.label }}<br><span class="muted">{{ case.assignee.name if case.assignee else 'Ingen handläggare' }}</span></td>
    </tr>
  {% else %}
    <tr><td colspan="5">Inga öppna ärenden matchar filtret.</td></tr>
  {% endfor %}
  </tbody>
</table>
{% if page.next_cursor %}
  <p class="pagination"><a class="button" href="{{ url_for(request.endpoint, **dict(list_args, cursor=page.next_cursor)) }}">Nästa sida</a></p>
{% endif %}
"""


@pytest.fixture
def frozen_now(app, monkeypatch):  # noqa: ANN001, ANN201
    """One `now` for both renderings (relative times and the due badges read the clock)."""
    now = utcnow()
    monkeypatch.setattr(templating, "utcnow", lambda: now)
    monkeypatch.setitem(app.jinja_env.globals, "now", lambda: now)
    monkeypatch.setattr(queue_rows, "utcnow", lambda: now)  # the rows are written in Python
    return now


def _more_cases(org) -> None:  # noqa: ANN001
    _cases(org)
    by_phone = make_case(
        org.agent, outcome=None, channel=Channel.EMAIL, contact=ContactData(phone="070-765 43 21")
    )
    by_email = make_case(
        org.agent, outcome=None, channel=Channel.WEB, contact=ContactData(email="okand@example.se")
    )
    callback = make_case(
        org.agent, org.bygglov, outcome=Outcome.CALLBACK, callback_note="Ring efter lunch"
    )
    make_case(  # markup and a personnummer in the text, cut at 90 characters
        org.agent,
        org.bygglov,
        summary="Bygglov <script>x</script> & 19811218-9876, " + "en lång beskrivning " * 6,
        contact=ContactData(name="Bo <b>Ek</b>"),
    )
    db.session.commit()
    assert by_phone.id and by_email.id and callback.callback_due_at is not None
    # One case overdue, one at risk (the case's own due and risk times, which the badge reads).
    db.session.execute(
        sa.update(Case.__table__)
        .where(Case.__table__.c.id == by_phone.id)
        .values(due_at=utcnow() - timedelta(hours=1))
    )
    db.session.execute(
        sa.update(Case.__table__)
        .where(Case.__table__.c.id == callback.id)
        .values(at_risk_at=utcnow() - timedelta(minutes=5), due_at=utcnow() + timedelta(hours=1))
    )
    # One open case without any goal running (due_at the far-future sentinel).
    db.session.execute(
        sa.update(Case.__table__)
        .where(Case.__table__.c.id == by_email.id)
        .values(due_at=utcnow().replace(year=9999))
    )
    db.session.commit()
    db.session.expire_all()


def _old_table(app, path: str, user, size: int, after: Case | None = None) -> str:  # noqa: ANN001
    """The old template rendered with the ORM cases the page lists, in its order."""
    query = (
        sa.select(Case)
        .where(access.visible_clause(user), Case.status != CaseStatus.CLOSED)
        .order_by(Case.due_at, Case.received_at, Case.id)
        .limit(size + 1)
    )
    if path.startswith("/inkorg"):
        query = query.where(Case.department_id.in_(user.department_ids or [-1]))
    if after is not None:
        query = query.where(
            sa.tuple_(Case.due_at, Case.received_at, Case.id)
            > sa.tuple_(after.due_at, after.received_at, after.id)
        )
    db.session.expire_all()
    cases = list(db.session.scalars(query))
    next_cursor = None
    if len(cases) > size:
        cases = cases[:size]
        last = cases[-1]
        next_cursor = encode_cursor(
            [last.due_at.isoformat(), last.received_at.isoformat(), last.id]
        )

    class Page:
        items = cases

    Page.next_cursor = next_cursor  # type: ignore[attr-defined]
    with app.test_request_context(path):
        from flask import request

        request.url_rule = app.url_map.bind("localhost").match(path, return_rule=True)[0]
        return render_template_string(
            OLD_TABLE,
            page=Page,
            content_ids={c.id for c in cases if access.sees_content(user, c)},
            list_args={},
        )


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("agent", "/ko/"),
        ("manager", "/ko/"),
        ("handler_bygg", "/inkorg/"),
        ("handler_miljo", "/inkorg/"),
    ],
)
def test_the_rows_show_what_the_orm_cases_showed(app, client, org, login, frozen_now, who, path):
    _more_cases(org)
    user = getattr(org, who)
    login(user)
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    old = _old_table(app, path, user, app.config["QUEUE_PAGE_SIZE"]).strip()
    assert "<tbody>" in old and 'href="/arenden/' in old
    assert old in html


def test_every_kind_of_row_is_compared(app, client, org, login, frozen_now):
    """The data reaches each branch of the row (else the comparison above proves little)."""
    _more_cases(org)
    login(org.agent)
    html = client.get("/ko/").get_data(as_text=True)
    for shown in (
        "Ingen kontakt",
        "070-765 43 21",
        "okand@example.se",
        "Inget löfte kvar",
        "Ring upp",
        "Försenat",
        "Snart försenat",
        "Hugo Bygg",
        "Ingen handläggare",
        "Kontaktcenter",
        "Uppgiften omfattas av sekretess (OSL 26:1)",
        "Uppgiften omfattas av sekretess (OSL 23:2)",
        "Väntar",
        "Bygglov &lt;script&gt;x&lt;/script&gt; &amp; 19811218-****, en lång",
        "Bo &lt;b&gt;Ek&lt;/b&gt;",
    ):
        assert shown in html, shown
    assert "19811218-9876" not in html and "<script>x" not in html


def test_the_next_page_too(app, client, org, login, frozen_now):
    _more_cases(org)
    app.config["QUEUE_PAGE_SIZE"] = 3
    login(org.agent)
    first = client.get("/ko/").get_data(as_text=True)
    old = _old_table(app, "/ko/", org.agent, 3).strip()
    assert "Nästa sida" in old and old in first
    cursor = first.split("cursor=")[1].split('"')[0]
    second = client.get(f"/ko/?cursor={cursor}").get_data(as_text=True)
    third_case = db.session.scalars(
        sa.select(Case)
        .where(Case.status != CaseStatus.CLOSED)
        .order_by(Case.due_at, Case.received_at, Case.id)
        .offset(2)
        .limit(1)
    ).one()
    old = _old_table(app, "/ko/", org.agent, 3, after=third_case).strip()
    assert old in second


def test_the_newest_case_comes_with_the_counts_whatever_the_filter(app, client, org, login):
    """The page's high-water mark (the newest case's id, which the refresh counts from) is read
    with the counts by channel: the newest of all cases, not of the filter's; without any case
    in the filter, by its own statement."""
    phone = make_case(org.agent, org.bygglov)
    newest = make_case(org.agent, org.miljotillsyn, channel=Channel.EMAIL)
    db.session.commit()
    assert newest.id > phone.id
    login(org.agent)
    with statements(ours_only=True) as sent:
        html = client.get("/ko/?channel=phone").get_data(as_text=True)
    assert phone.reference in html and newest.reference not in html
    assert f"efter={newest.id}" in html
    assert not [s for s in sent if s.startswith("SELECT coalesce(max(cases.id)")]
    with statements(ours_only=True) as sent:
        html = client.get("/ko/?channel=visit").get_data(as_text=True)
    assert "Inga öppna ärenden matchar filtret." in html
    assert f"efter={newest.id}" in html
    assert [s for s in sent if s.startswith("SELECT coalesce(max(cases.id)")]


def test_an_empty_list_is_what_the_template_made(app, client, org, login, frozen_now):
    """No open case in the handler's departments: the table's one row that says so."""
    login(org.handler_miljo)
    html = client.get("/inkorg/").get_data(as_text=True)
    old = _old_table(app, "/inkorg/", org.handler_miljo, app.config["QUEUE_PAGE_SIZE"]).strip()
    assert "Inga öppna ärenden matchar filtret." in old
    assert old in html


def test_the_case_page_shows_the_same_due_badge(app, client, org, login, frozen_now):
    """macros.html's due_badge (the case page) is the rows' rule: overdue, at risk, none."""
    _more_cases(org)
    login(org.agent)
    # In id order, only cases that still promise something (the page shows "förfaller" for
    # those) and whose content the agent sees (a secret case of a department shows only its
    # register fields): which of the others is overdue depends on the time of day.
    open_cases = db.session.scalars(
        sa.select(Case).where(Case.status != CaseStatus.CLOSED).order_by(Case.id)
    ).all()
    promising = [c for c in open_cases if c.has_promise and not c.is_secret]
    overdue = next(c for c in promising if c.due_at <= frozen_now)
    at_risk = next(
        c
        for c in promising
        if c.due_at > frozen_now and c.at_risk_at and c.at_risk_at <= frozen_now
    )
    calm = next(
        c for c in promising if c.due_at > frozen_now and c.at_risk_at and c.at_risk_at > frozen_now
    )

    def due_line(case: Case) -> str:  # the page's first paragraph: status, due time, badge
        html = client.get(f"/arenden/{case.id}").get_data(as_text=True)
        return html.split("förfaller ", 1)[1].split("</p>", 1)[0]

    breached = (
        '<span class="badge badge-breached"><span aria-hidden="true">⚠</span> Försenat</span>'
    )
    risk = '<span class="badge badge-risk"><span aria-hidden="true">⏱</span> Snart försenat</span>'
    assert breached in due_line(overdue)
    assert risk in due_line(at_risk) and breached not in due_line(at_risk)
    assert "badge" not in due_line(calm)


# templates/macros.html's goal_state_badge before it became workspace.queue_rows.goal_state_badge
OLD_GOAL_BADGE = """{% macro goal_state_badge(state) -%}
  {% set icons = {'ok': '✓', 'at_risk': '⏱', 'breached': '⚠', 'met': '✔', 'paused': '⏸'} %}
  <span class="badge badge-{{ state.value }}"><span aria-hidden="true">{{ icons[state.value] }}</span> {{ state.label }}</span>
{%- endmacro %}{{ goal_state_badge(state) }}"""


def test_the_goal_badges_are_what_the_macro_made(app):
    from kontaktcenter.goals.models import GoalState

    with app.test_request_context():
        for state in GoalState:
            old = render_template_string(OLD_GOAL_BADGE, state=state)
            assert queue_rows.goal_state_badge(state) == old.strip()
