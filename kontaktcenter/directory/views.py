from flask import Blueprint

bp = Blueprint("directory", __name__, url_prefix="/direktnummer")


@bp.get("/")
def index():
    return "todo"
