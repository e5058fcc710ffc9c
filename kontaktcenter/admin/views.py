from flask import Blueprint, render_template

from kontaktcenter.auth import role_required
from kontaktcenter.models import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@role_required(Role.ADMIN)
def index():
    return render_template("admin/index.html")
