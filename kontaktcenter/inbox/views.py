from flask import Blueprint

bp = Blueprint("inbox", __name__, url_prefix="/inkorg")


@bp.get("/")
def index():
    return "todo"
