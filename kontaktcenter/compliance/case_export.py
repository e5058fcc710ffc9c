"""Export of cases as allmänna handlingar: one ZIP per request, built in a temporary file.

For each case: a printable HTML summary, the case as JSON (register fields, content, notes,
timeline, messages), every e-mail as the ``.eml`` bytes we stored (byte for byte what was
received or sent) and its attachments. ``manifest.json`` lists every file with its SHA-256 and
what was withheld, and why.

Secrecy (OSL): a secret case's content is replaced by ``masked_text(ground)``, and its original
e-mails and attachments are left out (an unaltered original cannot be masked), each with a line
in the manifest. A user who may see a case but not its content (a secret case of another
department) gets its register fields only. Every exported case is written to the audit log.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import IO, Any

from flask import current_app, render_template

from kontaktcenter.cases import access
from kontaktcenter.cases.enums import ActivityKind
from kontaktcenter.cases.models import Activity, Case
from kontaktcenter.cases.secrecy import masked_text
from kontaktcenter.channels.email import store as mail_store
from kontaktcenter.channels.email.models import Direction, MailMessage
from kontaktcenter.core import audit
from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.extensions import utcnow
from kontaktcenter.organisation.models import User

FORMAT = "kontaktcenter-export/1"
MAX_CASES = 200  # a search result is exported up to this many cases
DEFAULT_MAX_BYTES = 500 * 1024 * 1024  # EXPORT_MAX_BYTES: the sum of the files, uncompressed
SPOOL_BYTES = 8 * 1024 * 1024  # a smaller ZIP is answered from memory
TOO_LARGE = "Exporten blir större än {mb} MB. Exportera färre ärenden åt gången."
JSON = dict[str, Any]
_UNSAFE = re.compile(r"[^\w.\-]+")


@dataclass
class Export:
    """A finished ZIP: an open temporary file positioned at its start (closed by the caller,
    or by Flask's send_file), its download name and what it holds."""

    file: IO[bytes]
    filename: str
    manifest: JSON


@dataclass
class _Zip:
    archive: zipfile.ZipFile
    limit: int
    total: int = 0
    files: list[JSON] = field(default_factory=list)
    withheld: list[JSON] = field(default_factory=list)

    def add(self, path: str, data: bytes) -> str:
        self.total += len(data)
        if self.total > self.limit:
            raise ValidationError(TOO_LARGE.format(mb=self.limit // (1024 * 1024)))
        self.archive.writestr(path, data)
        entry = {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        self.files.append(entry)
        return path

    def withhold(self, case: Case, item: str, reason: str) -> None:
        self.withheld.append({"case": case.reference, "item": item, "reason": reason})


def export_cases(
    user: User, cases: list[Case], *, via: str, extra: dict[str, bytes] | None = None
) -> Export:
    """The ZIP of `cases` (each visible to `user`) as `user` may see them, with the `extra`
    top-level files (listed in the manifest too); audit-logged."""
    if not cases:
        raise ValidationError("Det finns inga ärenden att exportera.")
    if len(cases) > MAX_CASES:
        raise ValidationError(f"Högst {MAX_CASES} ärenden kan exporteras åt gången.")
    limit = int(current_app.config.get("EXPORT_MAX_BYTES", DEFAULT_MAX_BYTES))
    now = utcnow()
    file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed below or by send_file
    try:
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            package = _Zip(archive, limit)
            shown = [(case, _add_case(package, user, case)) for case in cases]
            for path, data in (extra or {}).items():
                package.add(path, data)
            manifest: JSON = {
                "format": FORMAT,
                "created_at": now.isoformat(),
                "exported_by": {"name": user.name, "role": user.role.value},
                "cases": [case.reference for case in cases],
                "files": package.files,
                "withheld": package.withheld,
            }
            archive.writestr("manifest.json", _json(manifest))
    except BaseException:
        file.close()
        raise
    for case, content in shown:  # after the build: record() commits (and expires the rows)
        audit.record(user, "export_case", case, via=via, content=content, cases=len(cases))
    file = _small_in_memory(file)
    name = cases[0].reference if len(cases) == 1 else f"{via}-{now:%Y%m%d-%H%M}"
    return Export(file, f"{name}.zip", manifest)


def _small_in_memory(file: IO[bytes]) -> IO[bytes]:
    """A small ZIP is answered from memory (nothing to close); a large one from its temporary
    file, which the response closes when it has been sent."""
    if file.tell() > SPOOL_BYTES:
        file.seek(0)
        return file
    file.seek(0)
    data = file.read()
    file.close()
    return io.BytesIO(data)


def case_document(user: User, case: Case) -> tuple[JSON, bool]:
    """The case as `user` may have it in an export, and whether its content is in it."""
    document: JSON = {"register": _register(case)}
    if not access.sees_content(user, case):
        document["content_withheld"] = masked_text(case.effective_secrecy_ground)
        return document, False
    ground = case.effective_secrecy_ground
    secret = case.is_secret

    def text(value: str | None) -> str | None:
        return masked_text(ground) if secret and value else value

    contact = case.contact
    document["case"] = {
        "summary": text(case.summary),
        "resolution": text(case.resolution),
        "referred_to": text(case.referred_to),
        "outcome": case.outcome.label if case.outcome else None,
        "assignee": case.assignee.name if case.assignee else None,
        "closed_at": _iso(case.closed_at),
        "contact": None
        if contact is None
        else (
            {"masked": masked_text(ground)}
            if secret
            else {
                "kind": contact.kind.label,
                "name": contact.name,
                "phone": contact.phone,
                "email": contact.email,
                "organisation_number": contact.organisation_number,
                "personnummer": contact.personnummer_masked,
            }
        ),
    }
    timeline = [_activity(activity, text) for activity in case.activities]
    document["timeline"] = timeline
    document["notes"] = [entry for entry in timeline if entry["kind"] == ActivityKind.NOTE.value]
    document["messages"] = []
    return document, True


def _add_case(package: _Zip, user: User, case: Case) -> bool:
    folder = case.reference
    document, content = case_document(user, case)
    ground = case.effective_secrecy_ground
    if not content:
        package.withhold(case, "Ärendets innehåll, e-post och bilagor", masked_text(ground))
    else:
        for number, message in enumerate(case.messages, start=1):
            document["messages"].append(_message(package, case, folder, number, message))
    package.add(f"{folder}/arende.json", _json(document))
    html = render_template("compliance/export/summary.html", case=case, doc=document)
    package.add(f"{folder}/sammanfattning.html", html.encode())
    return content


def _message(package: _Zip, case: Case, folder: str, number: int, message: MailMessage) -> JSON:
    inbound = message.direction is Direction.INBOUND
    stem = f"{number:03d}-{'in' if inbound else 'ut'}"
    secret = case.is_secret
    ground = case.effective_secrecy_ground
    masked = masked_text(ground)
    described = f"E-post {number} ({'inkommande' if inbound else 'utgående'})"
    entry: JSON = {
        "number": number,
        "direction": message.direction.value,
        "kind": message.kind.value,
        "status": message.status.value,
        "received_at": _iso(message.received_at),
        "sent_at": _iso(message.sent_at),
        "created_at": _iso(message.created_at),
    }
    if secret:
        # No fingerprint or size of the withheld original: a hash identifies the message.
        entry |= {"from": masked, "to": masked, "subject": masked, "text": masked, "eml": None}
        package.withhold(case, described + " i original (.eml)", masked)
    else:
        raw = mail_store.load(message.raw_sha256)
        entry |= {
            "raw_sha256": message.raw_sha256,
            "size": message.size,
            "message_id": message.message_id,
            "from": message.from_addr,
            "from_name": message.from_name,
            "to": list(message.to_addrs or []),
            "subject": message.subject,
            "text": message.text_body,
            "eml": package.add(f"{folder}/e-post/{stem}.eml", raw),
        }
    attachments = []
    for index, attachment in enumerate(message.attachments, start=1):
        item: JSON = {}
        if secret:
            # Neither type nor size of a withheld attachment: they tell of its content.
            item |= {"filename": masked, "path": None}
            package.withhold(case, f"{described}, bilaga {index}", masked)
        else:
            safe = _UNSAFE.sub("_", attachment.filename).strip("._")[:100] or "bilaga"
            path = f"{folder}/bilagor/{stem}-{index:02d}-{safe}"
            item |= {
                "content_type": attachment.content_type,
                "size": attachment.size,
                "filename": attachment.filename,
                "path": package.add(path, mail_store.load(attachment.blob_sha256)),
            }
        attachments.append(item)
    entry["attachments"] = attachments
    return entry


def _register(case: Case) -> JSON:
    """The four OSL register fields and the fact that the case is secret: shown to anyone
    who may see the case at all."""
    return {
        "reference": case.reference,
        "received_at": _iso(case.received_at),
        "department": case.department.name if case.department else None,
        "case_type": case.case_type.name if case.case_type else None,
        "channel": case.channel.label,
        "status": case.status.label,
        "secret": case.is_secret,
        "secrecy_ground": case.effective_secrecy_ground,
    }


def _activity(activity: Activity, text: Any) -> JSON:
    return {
        "at": _iso(activity.created_at),
        "kind": activity.kind.value,
        "label": activity.kind.label,
        "by": activity.actor.name if activity.actor else None,
        "text": text(activity.text),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _json(value: JSON) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode()
