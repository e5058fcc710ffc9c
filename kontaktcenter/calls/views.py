from flask import Blueprint

bp = Blueprint("calls", __name__, url_prefix="/samtal")


@bp.get("/")
def new():
    return "todo"
