"""The /api/v1 blueprint; the modules of this package add their routes and hooks to it."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
