"""The search page's people link their numbers for a softphone (tel:, E.164), from the number
stored for lookups rather than by parsing the typed one again on every page (issue #16)."""

from __future__ import annotations

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Outcome
from tests import factories


def test_a_persons_number_is_a_tel_link_in_e164(org, client, login):
    factories.make_case(
        org.agent,
        outcome=Outcome.ANSWERED,
        contact=ContactData(name="Tora Telefonsson", phone="070-765 43 21"),
    )
    login(org.agent)
    for typed in ("Telefonsson", "070-765 43 21"):
        html = client.get("/sok/", query_string={"q": typed}).get_data(as_text=True)
        assert '<a href="tel:+46707654321" class="nowrap">070-765 43 21</a>' in html, typed
