"""Logging in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo

from kontaktcenter.core.errors import ValidationError
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import login_throttle, password_reset, sessions
from kontaktcenter.organisation.models import User

bp = Blueprint("auth", __name__)


def home_for(user: User) -> str:
    """Where a user lands after logging in: the page their role works from."""
    if user.role == Role.HANDLER:
        return url_for("inbox.index")
    if user.role == Role.MANAGER:
        return url_for("overview.index")
    return url_for("queue.index")


class LoginForm(FlaskForm):
    email = EmailField(
        "E-postadress",
        validators=[DataRequired("Fyll i e-postadress."), Email("Ange en giltig e-postadress.")],
    )
    password = PasswordField("Lösenord", validators=[DataRequired("Fyll i lösenord.")])
    remember = BooleanField("Kom ihåg mig på den här datorn")


class ForgotForm(FlaskForm):
    email = EmailField(
        "E-postadress",
        validators=[DataRequired("Fyll i e-postadress."), Email("Ange en giltig e-postadress.")],
    )


class ResetForm(FlaskForm):
    password = PasswordField(
        "Nytt lösenord", validators=[DataRequired("Fyll i ett nytt lösenord.")]
    )
    repeat = PasswordField(
        "Upprepa lösenordet",
        validators=[
            DataRequired("Skriv lösenordet en gång till."),
            EqualTo("password", "Lösenorden är inte lika."),
        ],
    )


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = login_throttle.sign_in(form.email.data, form.password.data, request.remote_addr)
        except login_throttle.Throttled as error:
            form.password.errors.append(error.message)
            response = make_response(render_template("auth/login.html", form=form), 429)
            response.headers["Retry-After"] = str(error.retry_after)
            return response
        if user is None:
            form.password.errors.append(login_throttle.WRONG)
        else:
            sessions.start(user, remember=bool(form.remember.data))
            return redirect(_safe_next(request.args.get("next")) or home_for(user))
    status = 422 if form.is_submitted() and form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/glomt-losenord", methods=["GET", "POST"])
def forgot_password():
    """Anyone may ask; the answer is the same whether the address has an account or not."""
    form = ForgotForm()
    sent = False
    if password_reset.available() and form.validate_on_submit():
        password_reset.request_reset(form.email.data)
        sent = True
    status = 422 if form.is_submitted() and form.errors else 200
    return render_template(
        "auth/forgot.html", form=form, sent=sent, available=password_reset.available()
    ), status


@bp.route("/aterstall-losenord/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    # Nobody is logged out by merely opening a link (an <img> on any page could do that);
    # only a reset that succeeds ends the session of whoever is logged in here.
    form = ResetForm()
    try:
        password_reset.user_for_token(token)
    except ValidationError as error:
        return render_template("auth/reset.html", form=None, expired=error.message), 410
    if form.validate_on_submit():
        try:
            password_reset.reset_password(token, form.password.data)
        except ValidationError as error:
            target = form.password if error.field == "password" else None
            if target is None:
                return render_template("auth/reset.html", form=None, expired=error.message), 410
            target.errors.append(error.message)
        else:
            session.clear()  # the account's sessions ended with the reset; this one too
            logout_user()
            flash("Lösenordet är bytt. Logga in med det nya.", "success")
            return redirect(url_for("auth.login"))
    status = 422 if form.is_submitted() and form.errors else 200
    return render_template("auth/reset.html", form=form, expired=None), status


@bp.post("/logout")
def logout():
    """Ends every session and remember cookie of the user (a copied cookie dies with them)."""
    if current_user.is_authenticated:
        sessions.end_sessions(current_user._get_current_object())
    session.clear()
    logout_user()  # after clear(): it marks the remember cookie for deletion
    flash("Du är utloggad.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/")
def home():
    return redirect(home_for(current_user))
