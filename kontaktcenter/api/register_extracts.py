"""/api/v1: Register extracts (GDPR art. 15), correction and erasure decisions (issue #15)."""

from __future__ import annotations

from kontaktcenter.api.schemas import Schema

PATHS: dict[str, Schema] = {}
SCHEMAS: dict[str, Schema] = {}
