"""The integration API under /api/v1 (telephony platforms, e-services, mail gateways).

Described in openapi.py (served at /api/v1/openapi.json); authenticated per request in auth.py.
"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# The modules register their routes and hooks on bp: imported after it exists.
from kontaktcenter.api import auth, calendar, cases, catalog, mail, openapi  # noqa: E402, F401
