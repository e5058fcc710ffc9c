"""/api/v1: Export of a case as an allmän handling (ZIP) (issue #15).

The same ZIP as the case page's export button (compliance/case_export.py), with the same rules:
a secret case's content masked and its originals withheld, register fields only for a user
who may not see the content, and every export in the audit log.
"""

from __future__ import annotations

import re

from flask import send_file
from flask.typing import ResponseReturnValue

from kontaktcenter.api.auth import api_user
from kontaktcenter.api.blueprint import bp
from kontaktcenter.api.parsing import Query
from kontaktcenter.api.schemas import REFERENCE_PATTERN, Schema
from kontaktcenter.api.spec import std
from kontaktcenter.cases import access
from kontaktcenter.cases.models import Case
from kontaktcenter.compliance import case_export
from kontaktcenter.core.errors import NotFound

_REFERENCE = re.compile(r"KC-\d{4}-\d{1,12}", re.IGNORECASE)
REFERENCE_PARAMETER: Schema = {
    "name": "reference",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": REFERENCE_PATTERN},
    "description": "The case reference, e.g. KC-2024-000123 (case-insensitive).",
}


def visible_case(reference: str) -> Case:
    """The case the token's user may see, else 404 (also for a malformed reference)."""
    if not _REFERENCE.fullmatch(reference):
        raise NotFound(access.NOT_FOUND)
    return access.get_visible_case(api_user(), reference=reference)


@bp.get("/cases/<reference>/export")
def export_case(reference: str) -> ResponseReturnValue:
    Query(set())
    case = visible_case(reference)
    export = case_export.export_cases(api_user(), [case], via="api")
    return send_file(
        export.file, mimetype="application/zip", as_attachment=True, download_name=export.filename
    )


PATHS: dict[str, Schema] = {
    "/cases/{reference}/export": {
        "parameters": [REFERENCE_PARAMETER],
        "get": {
            "operationId": "exportCase",
            "summary": "The case as an allmän handling: a ZIP",
            "description": "`manifest.json` lists every file with its SHA-256 and what was "
            "withheld. Per case folder: `sammanfattning.html` (printable), `arende.json` "
            "(register fields, content, notes, timeline, messages), `e-post/*.eml` (each "
            "message byte for byte as received or sent) and `bilagor/*`. A secret case's "
            "content is masked and its originals withheld (listed in the manifest); a user who "
            "may see the case but not its content gets its register fields only. Every export "
            "is recorded in the audit log.",
            "responses": {
                "200": {
                    "description": "The ZIP file.",
                    "content": {
                        "application/zip": {"schema": {"type": "string", "format": "binary"}}
                    },
                }
            }
            | std("BadRequest", "Unauthorized", "NotFound", "Invalid"),
        },
    },
}
SCHEMAS: dict[str, Schema] = {}
