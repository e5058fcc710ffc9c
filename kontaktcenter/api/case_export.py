"""/api/v1: Export of a case as an allmän handling (ZIP) (issue #15)."""

from __future__ import annotations

from kontaktcenter.api.schemas import Schema

PATHS: dict[str, Schema] = {}
SCHEMAS: dict[str, Schema] = {}
