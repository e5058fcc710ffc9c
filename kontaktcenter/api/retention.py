"""/api/v1: Retention rules (gallring), legal holds and the dry run (issue #15)."""

from __future__ import annotations

from kontaktcenter.api.schemas import Schema

PATHS: dict[str, Schema] = {}
SCHEMAS: dict[str, Schema] = {}
