"""/api/v1: Secrecy on case types and cases (issue #15)."""

from __future__ import annotations

from kontaktcenter.api.schemas import Schema

PATHS: dict[str, Schema] = {}
SCHEMAS: dict[str, Schema] = {}
