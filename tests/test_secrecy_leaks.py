"""Secrecy (issue #15): the side doors of a secret case stay shut outside its department — the
original e-mail and its attachments, and the timeline of a secret case merged into an open one."""

from __future__ import annotations

import sqlalchemy as sa

from kontaktcenter.cases import actions, merging, secrecy
from kontaktcenter.cases.models import Case
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.channels.email.models import RoutingRule, RuleKind
from kontaktcenter.core.extensions import db
from tests.factories import make_case
from tests.mailutil import SWEDISH


def test_the_original_mail_and_attachments_of_a_secret_case_only_for_its_department(
    client, org, login, app, tmp_path
):
    app.config["OUTBOX_DIR"] = str(tmp_path)
    db.session.add(
        RoutingRule(
            position=1,
            kind=RuleKind.RECIPIENT,
            pattern="kontaktcenter@exempelkommun.example",
            case_type=org.bygglov,
        )
    )
    org.bygglov.secrecy_ground = "OSL 26:1"
    db.session.commit()
    raw = (SWEDISH / "50_attachments_rfc2231_swedish_filenames.eml").read_bytes()
    reference = ingest(raw).reference
    case = db.session.scalars(sa.select(Case).where(Case.reference == reference)).one()
    assert case.department_id == org.bygglov.department_id and case.is_secret
    message = case.messages[0]
    urls = [
        f"/arenden/{case.id}/bilagor/{message.attachments[0].id}",
        f"/arenden/{case.id}/meddelanden/{message.id}/original",
    ]
    login(org.handler_bygg)
    assert [client.get(url).status_code for url in urls] == [200, 200]
    for outsider in (org.agent, org.manager, org.admin):
        login(outsider)
        assert [client.get(url).status_code for url in urls] == [404, 404], outsider.email
    app.config["OUTBOX_DIR"] = None


def test_a_secret_case_merged_into_an_open_one_keeps_its_timeline_to_the_department(
    client, org, login
):
    survivor = make_case(org.agent, org.bygglov, summary="Fråga om altanbygge")
    absorbed = make_case(org.agent, org.bygglov, summary="Skyddad uppgift Zebrafink")
    absorbed.secrecy_ground = "OSL 21:3"
    db.session.commit()
    actions.add_note(absorbed, org.handler_bygg, "Anteckning om Zebrafink")
    merging.merge(survivor, org.handler_bygg, absorbed.reference)
    assert survivor.is_secret  # the secrecy came with the merged case (test_compliance_seams)
    login(org.handler_bygg)
    assert "Zebrafink" in client.get(f"/arenden/{survivor.id}").get_data(as_text=True)
    # The department decides the survivor's own matter is not secret after all: the merged
    # case's timeline stays hidden from the first line all the same.
    secrecy.set_secrecy(survivor, org.handler_bygg, None)
    assert not survivor.is_secret
    login(org.agent)
    page = client.get(f"/arenden/{survivor.id}").get_data(as_text=True)
    assert "Fråga om altanbygge" in page  # the open case itself is shown
    assert "Zebrafink" not in page  # the reference (a register field) may show, not the text
