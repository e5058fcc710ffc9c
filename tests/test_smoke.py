from kontaktcenter.cases.enums import Outcome
from tests import factories


def test_login_and_home(client, org, login):
    login(org.agent)
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/ko/")


def test_reference_sequence(org):
    first = factories.make_case(org.agent, org.bygglov)
    second = factories.make_case(org.agent, org.bygglov, outcome=Outcome.ANSWERED)
    assert first.reference[:8] == second.reference[:8]
    assert int(second.reference[-6:]) == int(first.reference[-6:]) + 1
