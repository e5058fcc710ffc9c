"""Allmän-handling export: the ZIP of a case (page, API) and of a search result."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from kontaktcenter.cases.contacts import ContactData
from kontaktcenter.cases.models import Case
from kontaktcenter.cases.secrecy import masked_text
from kontaktcenter.channels.email.intake import ingest
from kontaktcenter.core.audit import AuditEvent
from kontaktcenter.core.extensions import db
from tests.api_client import api_as
from tests.factories import make_case

ATTACHMENT = b"%PDF-1.4 ritning over altanen\n" + bytes(range(256))
SECRET_WORDS = "Mamma behöver stöd i hemmet"


def _mail_with_attachment() -> bytes:
    message = EmailMessage()
    message["From"] = "Anna Andersson <anna@example.se>"
    message["To"] = "bygglov@kommun.example"
    message["Subject"] = "Ritning till bygglovet"
    message["Message-ID"] = "<ritning-1@example.se>"
    message["Date"] = "Mon, 16 Nov 2026 09:00:00 +0000"
    message.set_content("Hej! Här kommer ritningen.\r\nMvh Anna")
    message.add_attachment(
        ATTACHMENT, maintype="application", subtype="pdf", filename="ritning altan.pdf"
    )
    # Odd but legal bytes a re-serialisation would change: the export must keep them.
    return message.as_bytes().replace(b"Subject:", b"Subject:  ", 1)


@pytest.fixture
def mail_case(org, outbox):
    raw = _mail_with_attachment()
    result = ingest(raw)
    case = db.session.scalars(sa.select(Case).where(Case.reference == result.reference)).one()
    case.department_id = org.bygg.id
    case.case_type_id = org.bygglov.id
    db.session.commit()
    return case, raw


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/zip"
    data = response.get_data()
    response.close()  # the temporary file behind send_file, as the WSGI server would
    return zipfile.ZipFile(io.BytesIO(data))


def _everything(archive: zipfile.ZipFile) -> bytes:
    return b"".join(archive.read(name) for name in archive.namelist())


def _exports(case: Case) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.case_id == case.id, AuditEvent.action == "export_case"
            )
        )
    )


def test_the_eml_is_byte_identical_and_the_manifest_holds_every_file(org, login, mail_case):
    case, raw = mail_case
    client = login(org.handler_bygg)
    archive = _zip(client.get(f"/arenden/{case.id}/export.zip"))
    folder = case.reference
    assert archive.read(f"{folder}/e-post/001-in.eml") == raw
    attachments = [n for n in archive.namelist() if n.startswith(f"{folder}/bilagor/")]
    assert [archive.read(n) for n in attachments] == [ATTACHMENT]
    assert attachments[0].endswith("ritning_altan.pdf")
    manifest = json.loads(archive.read("manifest.json"))
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == set(archive.namelist()) - {"manifest.json"}
    for path, entry in listed.items():
        data = archive.read(path)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), path
        assert entry["size"] == len(data)
    assert manifest["withheld"] == []
    document = json.loads(archive.read(f"{folder}/arende.json"))
    assert document["register"]["reference"] == case.reference
    assert document["messages"][0]["subject"] == "Ritning till bygglovet"
    assert "Ritning till bygglovet" in archive.read(f"{folder}/sammanfattning.html").decode()


def test_an_export_is_recorded_in_the_audit_log(org, login, mail_case):
    case, _raw = mail_case
    assert _exports(case) == []
    login(org.handler_bygg).get(f"/arenden/{case.id}/export.zip").close()
    (event,) = _exports(case)
    assert event.user_id == org.handler_bygg.id
    assert event.detail["via"] == "web" and event.detail["content"] is True


def test_a_secret_case_is_masked_and_its_originals_withheld(org, login, mail_case):
    case, raw = mail_case
    case.summary = SECRET_WORDS
    case.secrecy_ground = "OSL 26:1"
    db.session.commit()
    archive = _zip(login(org.handler_bygg).get(f"/arenden/{case.id}/export.zip"))
    names = archive.namelist()
    assert not [n for n in names if n.endswith(".eml") or "/bilagor/" in n]
    everything = _everything(archive)
    for leak in (SECRET_WORDS.encode(), b"Anna Andersson", b"anna@example.se", b"ritning altan"):
        assert leak not in everything, leak
    masked = masked_text("OSL 26:1")
    document = json.loads(archive.read(f"{case.reference}/arende.json"))
    assert document["case"]["summary"] == masked
    assert document["messages"][0]["subject"] == masked
    assert document["messages"][0]["eml"] is None
    withheld = json.loads(archive.read("manifest.json"))["withheld"]
    assert [entry["item"] for entry in withheld] == [
        "E-post 1 (inkommande) i original (.eml)",
        "E-post 1 (inkommande), bilaga 1",
        "E-post 2 (utgående) i original (.eml)",  # the receipt
    ]
    assert all(entry["reason"] == masked for entry in withheld)


def test_who_sees_only_register_fields_gets_only_those(org, login, mail_case):
    case, _raw = mail_case
    case.summary = SECRET_WORDS
    case.secrecy_ground = "OSL 26:1"
    db.session.commit()
    archive = _zip(login(org.manager).get(f"/arenden/{case.id}/export.zip"))
    assert sorted(archive.namelist()) == sorted(
        ["manifest.json", f"{case.reference}/arende.json", f"{case.reference}/sammanfattning.html"]
    )
    document = json.loads(archive.read(f"{case.reference}/arende.json"))
    assert set(document) == {"register", "content_withheld"}
    assert document["register"]["department"] == org.bygg.name
    assert document["register"]["secret"] is True
    assert SECRET_WORDS.encode() not in _everything(archive)
    (event,) = _exports(case)
    assert event.detail["content"] is False


def test_a_case_outside_the_users_reach_is_a_404(org, login, mail_case):
    case, _raw = mail_case
    response = login(org.handler_miljo).get(f"/arenden/{case.id}/export.zip")
    assert response.status_code == 404
    assert _exports(case) == []


def test_the_case_page_offers_the_export(org, login, mail_case):
    case, _raw = mail_case
    html = login(org.handler_bygg).get(f"/arenden/{case.id}").get_data(as_text=True)
    assert f"/arenden/{case.id}/export.zip" in html


def test_the_api_exports_the_same_zip(client, org, mail_case):
    case, raw = mail_case
    response = api_as(client, org.handler_bygg).get(f"/cases/{case.reference.lower()}/export")
    archive = _zip(response)
    assert archive.read(f"{case.reference}/e-post/001-in.eml") == raw
    assert _exports(case)[0].detail["via"] == "api"
    other = api_as(client, org.handler_miljo).get(f"/cases/{case.reference}/export")
    assert other.status_code == 404


def test_a_search_result_is_exported(org, login):
    cases = [make_case(org.agent, org.bygglov, summary=f"Altanbygge nummer {n}") for n in (1, 2)]
    make_case(org.agent, org.bygglov, summary="Något helt annat")
    client = login(org.agent)
    archive = _zip(client.get("/sok/export.zip?q=altanbygge"))
    manifest = json.loads(archive.read("manifest.json"))
    assert sorted(manifest["cases"]) == sorted(c.reference for c in cases)
    assert all(_exports(c) for c in cases)


def test_the_search_page_offers_its_hits_as_an_export(org, login):
    make_case(org.agent, org.bygglov, summary="Altanbygge vid sjön")
    page = login(org.agent).get("/sok/?q=altanbygge").get_data(as_text=True)
    assert 'href="/sok/export.zip?q=altanbygge"' in page
    nothing = login(org.agent).get("/sok/?q=zzzyyyxxx").get_data(as_text=True)
    assert "/sok/export.zip" not in nothing


def test_a_search_by_personnummer_is_not_exported_from_a_url(org, login):
    make_case(org.agent, org.bygglov, contact=ContactData(name="Tolv", personnummer="191212121212"))
    response = login(org.agent).get("/sok/export.zip?q=19121212-1212")
    assert response.status_code == 302
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "export_case")
        )
        == 0
    )


def test_an_export_over_the_size_cap_is_refused(app, org, login, mail_case):
    case, _raw = mail_case
    app.config["EXPORT_MAX_BYTES"] = 100
    try:
        response = login(org.handler_bygg).get(f"/arenden/{case.id}/export.zip")
    finally:
        del app.config["EXPORT_MAX_BYTES"]
    assert response.status_code == 302
    assert _exports(case) == []


def test_a_large_export_is_answered_from_its_temporary_file(org, mail_case, monkeypatch):
    from kontaktcenter.compliance import case_export

    case, raw = mail_case
    small = case_export.export_cases(org.handler_bygg, [case], via="test")
    assert isinstance(small.file, io.BytesIO)
    monkeypatch.setattr(case_export, "SPOOL_BYTES", 100)
    large = case_export.export_cases(org.handler_bygg, [case], via="test")
    try:
        assert not isinstance(large.file, io.BytesIO)
        archive = zipfile.ZipFile(large.file)
        assert archive.read(f"{case.reference}/e-post/001-in.eml") == raw
    finally:
        large.file.close()
