"""Schemathesis against /api/v1/openapi.json: generated requests, valid and invalid, to every
operation, in process (the Flask app through its test client, inside the per-test transaction).

Whatever is sent, the answer is never a 5xx and always what the document promises: a documented
status code, a documented content type and headers, a body that matches the schema; invalid
input is refused with a 4xx. A fixed seed and a bounded number of examples per operation make
the run the same every time and keep it short.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from kontaktcenter.api.openapi import document
from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.enums import Outcome
from tests.api_client import api_as, error_of, token_for
from tests.factories import make_case

# Per operation; a longer run by hand: KONTAKTCENTER_FUZZ_EXAMPLES=500 pytest ...
EXAMPLES = int(os.environ.get("KONTAKTCENTER_FUZZ_EXAMPLES", "25"))
SEED = 20261206

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "base-url": "http://localhost/api/v1",  # in process: only the path is used
        "generation": {
            "max-examples": EXAMPLES,
            "deterministic": True,
            "database": "none",
            # The token is ours (a real user's); generated Authorization headers prove nothing.
            "with-security-parameters": False,
            # Every operation refuses a NUL character with a 400 (the document says so, in
            # words: JSON Schema cannot); tests/test_bad_input.py sends them on purpose.
            "allow-x00": False,
        },
        "checks": {
            # Whether a slug exists, or `to` is after `from` and at most 366 days on, is not in
            # the document: such a schema-valid request gets a 422 naming the field (which is
            # checked against the documented 422 like every other answer).
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
            },
        },
    }
)
schemathesis.serializer.alias("message/rfc822", "text/plain")  # raw mail for POST /inbound/email
schema = schemathesis.openapi.from_dict(document(), config=CONFIG)


@pytest.fixture
def cases(org):
    """Cases for the generated requests to find: half of the valid references point at them."""
    return [
        make_case(
            org.agent,
            org.bygglov,
            outcome=Outcome.CALLBACK,
            contact=ContactData(name="Anna Andersson", email="anna@example.se"),
        ),
        make_case(org.agent, org.miljotillsyn),
    ]


def _aim_at_a_real_case(case, cases) -> None:
    """A generated reference almost never exists: point every other valid one at a real case,
    so notes, closing and replies run too (chosen by the generated digits: deterministic)."""
    reference = (case.path_parameters or {}).get("reference")
    if reference is None or case.meta is None or case.meta.is_negative_at(ParameterLocation.PATH):
        return
    digit = int(reference[-1])
    if digit % 2 == 0:
        case.path_parameters["reference"] = cases[digit // 2 % len(cases)].reference


def _call(case, client, user) -> None:
    case.operation.schema.app = client.application  # checks that send more go in process too
    case.call_and_validate(
        app=client.application,
        session=client,
        headers={"Authorization": f"Bearer {token_for(user)}"},
    )


# One database transaction per operation (rolled back after it), shared by its examples.
SHARED_FIXTURES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@schema.parametrize()
@SHARED_FIXTURES
def test_the_api_keeps_its_contract_for_an_agent(case, client, org, cases, outbox):
    _aim_at_a_real_case(case, cases)
    _call(case, client, org.agent)


@schema.include(path="/reports/service").parametrize()
@SHARED_FIXTURES
def test_the_report_keeps_its_contract_for_an_admin(case, client, org, cases, outbox):
    """The agent may not read reports (403): an admin gets the report itself, in three formats."""
    _call(case, client, org.admin)


# -- What the fuzzer found, kept as plain tests --------------------------------------------------


@pytest.mark.parametrize("period", [("1108-09-04", "1108-09-04"), ("2100-12-01", "2101-01-31")])
def test_a_report_for_years_the_calendar_does_not_know_is_a_422(client, org, login, period):
    """The working days of a period come from the holiday tables (1953-2100): a report outside
    them was a 500 (found by schemathesis); now the period is refused, on the page too."""
    first, last = period
    api = api_as(client, org.admin)
    response = api.get("/reports/service", query_string={"from": first, "to": last})
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == ("from" if first < "1953" else "to")
    assert "1953" in error["message"] and "2100" in error["message"]
    login(org.admin)
    page = client.get("/rapporter/", query_string={"period": "custom", "from": first, "to": last})
    assert page.status_code == 400  # the page's answer to any filter it cannot use
    assert "Välj en period mellan åren 1953 och 2100." in page.get_data(as_text=True)


def test_a_405_says_which_methods_are_allowed(client, org):
    """RFC 9110: a 405 carries Allow (the JSON error handler dropped it; found by schemathesis)."""
    response = api_as(client, org.agent).open("DELETE", "/cases")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
