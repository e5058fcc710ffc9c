"""Upload the phone platform's per-call statistics (CSV) from the browser: managers and admins.

The same import as ``POST /api/v1/calls/statistics`` (stats_import.py): all or nothing, every
error with its line number."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField

from kontaktcenter.channels.phone import stats_import
from kontaktcenter.core.auth import role_required
from kontaktcenter.core.roles import Role

bp = Blueprint("phone_stats", __name__, url_prefix="/samtal/statistik")


class ImportForm(FlaskForm):
    file = FileField(
        f"Statistikfil (CSV, högst {stats_import.MAX_BYTES // 2**20} MB)",
        render_kw={"accept": ".csv,text/csv,text/plain"},
    )


def _page(form: ImportForm, rejected: stats_import.ImportRejected | None = None) -> str:
    return render_template(
        "calls/import.html", form=form, rejected=rejected, max_rows=stats_import.MAX_ROWS
    )


@bp.get("/")
@role_required(Role.MANAGER)
def form():
    return _page(ImportForm())


@bp.post("/")
@role_required(Role.MANAGER)
def upload():
    form = ImportForm()
    if not form.validate_on_submit():
        flash("Formuläret hade gått ut. Välj filen igen.", "error")
        return _page(form), 400
    upload = form.file.data
    if upload is None or not upload.filename:
        form.file.errors = ["Välj en CSV-fil."]
        return _page(form), 422
    data = upload.read(stats_import.MAX_BYTES + 1)
    try:
        result = stats_import.import_statistics(data)
    except stats_import.ImportRejected as rejected:
        return _page(form, rejected), 422
    flash(
        f"{result.rows} samtal importerade: {result.created} nya, {result.updated} uppdaterade, "
        f"{result.unchanged} oförändrade.",
        "success",
    )
    if result.unknown_agents:
        names = ", ".join(result.unknown_agents[:10])
        flash(f"Okända handläggare (sparade som text): {names}.", "info")
    return redirect(url_for("phone_stats.form"))
