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


def test_repeated_wrong_passwords_lock_the_account_for_a_while(client, org):
    from tests.factories import PASSWORD, csrf_token

    def attempt(password):
        token = csrf_token(client)
        return client.post(
            "/login", data={"email": org.agent.email, "password": password, "csrf_token": token}
        )

    for _ in range(10):
        assert attempt("fel-losenord").status_code == 422
    locked = attempt(PASSWORD)
    assert locked.status_code == 429
    assert "För många misslyckade inloggningar" in locked.get_data(as_text=True)
