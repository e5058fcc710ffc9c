"""The search page's filter lists are written by search.filter_form (#12, #16), once per
process for each set of names, viewer and selection. Their HTML must be what the template's
loops made, the chosen values selected, a handler offered only their departments, and a
renamed department shown at once."""

# ruff: noqa: E501 (the old template below, kept as it was)
from __future__ import annotations

import re

import pytest
from flask import render_template_string

from kontaktcenter.cases.enums import Channel
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import queries as organisation
from kontaktcenter.search.filter_form import STATUSES
from kontaktcenter.search.views import filters_from

# templates/search/results.html's filter lists before search.filter_form (commit 589599c).
OLD = """<select id="search-channel" name="channel"><option value="">Alla</option>
        {% for c in channels %}<option value="{{ c.value }}"{% if filters.channel == c %} selected{% endif %}>{{ c.label }}</option>{% endfor %}
      </select></div>
    <div class="field"><label for="search-status">Status</label>
      <select id="search-status" name="status"><option value="">Öppna och stängda</option>
        {% for value, label in statuses.items() %}<option value="{{ value }}"{% if filters.status == value %} selected{% endif %}>{{ label }}</option>{% endfor %}
      </select></div>
    <div class="field"><label for="search-department">Förvaltning</label>
      <select id="search-department" name="department"><option value="">Alla</option>
        {% for d in departments %}<option value="{{ d.id }}"{% if filters.department_id == d.id %} selected{% endif %}>{{ d.name }}</option>{% endfor %}
      </select></div>
    <div class="field"><label for="search-case-type">Ärendetyp</label>
      <select id="search-case-type" name="case_type"><option value="">Alla</option>
        {% for t in case_types %}<option value="{{ t.id }}"{% if filters.case_type_id == t.id %} selected{% endif %}>{{ t.name }}</option>{% endfor %}
      </select>"""


def _section(html: str) -> str:
    found = re.search(
        r'<select id="search-channel".*?<select id="search-case-type".*?</select>', html, re.S
    )
    assert found
    return found.group(0)


def _old(app, user, args: dict[str, str]) -> str:  # noqa: ANN001
    with app.test_request_context("/sok/", query_string=args):
        from flask import request

        filters, _ = filters_from(request.args)
        names = organisation.names()
        departments = [d for d in names.departments if d.active]
        case_types = list(names.case_types)
        if user.role is Role.HANDLER:
            departments = [d for d in departments if d.id in user.department_ids]
            case_types = [c for c in case_types if c.department_id in user.department_ids]
        return render_template_string(
            OLD,
            channels=list(Channel),
            statuses=STATUSES,
            departments=departments,
            case_types=case_types,
            filters=filters,
        )


@pytest.mark.parametrize("viewer", ["agent", "handler_bygg", "manager"])
@pytest.mark.parametrize("chosen", ["none", "all"])
def test_the_filter_lists_are_what_the_template_made(app, client, login, org, viewer, chosen):  # noqa: ANN001
    org.bygg.name = 'Stadsbyggnad <&> "Plan"'  # markup in a name stays text
    db.session.commit()
    user = getattr(org, viewer)
    args = {"q": "altan"}
    if chosen == "all":
        args.update(
            channel="email",
            status="closed",
            department=str(org.bygg.id),
            case_type=str(org.strandskydd.id),
        )
    html = login(user).get("/sok/", query_string=args).get_data(as_text=True)
    expected = _old(app, user, args)
    assert _section(html) == expected
    if chosen == "all":
        assert '<option value="email" selected>' in html
        assert '<option value="closed" selected>' in html
        assert (
            f'<option value="{org.bygg.id}" selected>Stadsbyggnad &lt;&amp;&gt; &#34;Plan&#34;</option>'
            in html
        )
        assert f'<option value="{org.strandskydd.id}" selected>' in html
    if viewer == "handler_bygg":
        assert "Miljöförvaltningen</option>" not in _section(html)
        assert "Miljötillsyn</option>" not in _section(html)
    else:
        assert "Miljöförvaltningen</option>" in _section(html)
        assert "Miljötillsyn</option>" in _section(html)


def test_a_renamed_department_is_offered_by_its_new_name(client, login, org):  # noqa: ANN001
    page = login(org.agent)
    assert "Miljöförvaltningen</option>" in page.get("/sok/?q=altan").get_data(as_text=True)
    org.miljo.name = "Miljö- och hälsoskydd"
    db.session.commit()
    html = page.get("/sok/?q=altan").get_data(as_text=True)
    assert "Miljö- och hälsoskydd</option>" in html
    assert "Miljöförvaltningen</option>" not in html


def test_viewers_sharing_the_process_cache_get_their_own_lists(app, client, login, org):  # noqa: ANN001
    """With the names cached for a minute (as in production), an agent's lists are not reused
    for a handler in the same process, nor one selection for another."""
    app.config["ORGANISATION_CACHE_SECONDS"] = 60
    agent = _section(login(org.agent).get("/sok/?q=altan").get_data(as_text=True))
    assert "Miljötillsyn</option>" in agent
    handler = _section(login(org.handler_bygg).get("/sok/?q=altan").get_data(as_text=True))
    assert "Miljötillsyn</option>" not in handler
    assert "Bygglov</option>" in handler
    chosen = login(org.handler_bygg).get(f"/sok/?q=altan&case_type={org.bygglov.id}")
    assert f'<option value="{org.bygglov.id}" selected>Bygglov</option>' in chosen.get_data(
        as_text=True
    )
