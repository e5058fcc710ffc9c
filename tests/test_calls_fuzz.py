"""Schemathesis on POST /api/v1/calls/events as the telephony platform (test_api_fuzz.py runs
every operation as an agent, whose token this operation refuses): generated events, valid and
invalid, never a 5xx and always what the document promises."""

from __future__ import annotations

from kontaktcenter.channels.phone import integration
from kontaktcenter.core.roles import Role
from tests import factories
from tests.test_api_fuzz import SHARED_FIXTURES, _call, schema


@schema.include(path="/calls/events").parametrize()
@SHARED_FIXTURES
def test_call_events_keep_their_contract_for_the_platform(case, client, org, outbox):
    platform = factories.make_user(Role.AGENT, name="Telefoniplattformen")
    integration.mark_integration(platform)
    _call(case, client, platform)
