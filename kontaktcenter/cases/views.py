from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/arenden")


@bp.get("/")
def index():
    return "todo"
