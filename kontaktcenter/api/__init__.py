"""The integration API under /api/v1 (telephony platforms, e-services, mail gateways).

Described in openapi.py (served at /api/v1/openapi.json); authenticated per request in auth.py.
The API is one contract with one OpenAPI document, so it is one package on top of the areas:
its serializers combine a case with its goals and messages, as the case page does.
"""

from kontaktcenter.api import (
    audit,
    auth,
    calendar,
    calls,
    case_export,
    cases,
    catalog,
    diarium,
    mail,
    openapi,
    register_extracts,
    reports,
    retention,
    search,
    secrecy,
)
from kontaktcenter.api.blueprint import bp

__all__ = [
    "audit",
    "auth",
    "bp",
    "calendar",
    "calls",
    "case_export",
    "cases",
    "catalog",
    "diarium",
    "mail",
    "openapi",
    "register_extracts",
    "reports",
    "retention",
    "search",
    "secrecy",
]
