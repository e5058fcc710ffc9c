from flask import Blueprint

bp = Blueprint("queue", __name__, url_prefix="/ko")


@bp.get("/")
def index():
    return "todo"
