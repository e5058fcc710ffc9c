"""The integration API under /api/v1 (telephony platforms, e-services, mail gateways)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
