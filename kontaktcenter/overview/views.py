from flask import Blueprint

bp = Blueprint("overview", __name__, url_prefix="/oversikt")


@bp.get("/")
def index():
    return "todo"
