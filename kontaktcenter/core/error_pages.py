"""Error pages in Swedish, and JSON errors under /api. Never a stack trace to the user."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from kontaktcenter.core.errors import DomainError

MESSAGES = {
    400: ("Felaktig begäran", "Begäran kunde inte tolkas."),
    401: ("Inloggning krävs", "Du behöver logga in."),
    403: ("Åtkomst nekad", "Du har inte behörighet till den här sidan."),
    404: (
        "Sidan finns inte",
        "Sidan eller ärendet finns inte, eller så har du inte tillgång till det.",
    ),
    405: ("Metoden stöds inte", "Det går inte att göra så här på den här adressen."),
    409: ("Konflikt", "Någon annan har ändrat uppgifterna samtidigt. Ladda om och försök igen."),
    413: ("För stort", "Det du skickade är för stort."),
    422: ("Ogiltiga uppgifter", "Uppgifterna kunde inte sparas. Rätta felen och försök igen."),
    500: ("Något gick fel", "Ett oväntat fel inträffade. Försök igen om en stund."),
}

API_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    500: "internal_error",
}


def api_error(status: int, message: str, code: str | None = None, **extra: object):
    body: dict[str, object] = {"code": code or API_CODES.get(status, "error"), "message": message}
    body.update(extra)
    return jsonify({"error": body}), status


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def bad_request(message: str, field: str | None = None) -> ResponseReturnValue:
    """400 with this (Swedish) message: the API's error shape (naming the field) under /api,
    the error page elsewhere."""
    if _wants_json():
        return api_error(400, message, "bad_request", **({"field": field} if field else {}))
    return render_template("error.html", status=400, title=MESSAGES[400][0], message=message), 400


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if _wants_json():
            return api_error(400, "CSRF token missing or invalid.", "csrf")
        return (
            render_template(
                "error.html",
                status=400,
                title="Formuläret har gått ut",
                message=(
                    "Sidan var för gammal eller saknade säkerhetstoken. "
                    "Ladda om sidan och försök igen."
                ),
            ),
            400,
        )

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        """A rule of the domain said no (not found, forbidden, conflict) and no view caught it:
        its own status and Swedish message, never a 500."""
        if _wants_json():
            return api_error(error.status, error.message, error.code)
        title = MESSAGES.get(error.status, ("Det gick inte", ""))[0]
        return (
            render_template("error.html", status=error.status, title=title, message=error.message),
            error.status,
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        if _wants_json():
            response, _ = api_error(status, error.description or MESSAGES.get(status, ("", ""))[1])
            # A 405 names the methods the URL takes (RFC 9110); the error's other headers are
            # for the HTML body Werkzeug would have rendered.
            response.headers.update({k: v for k, v in error.get_headers() if k == "Allow"})
            return response, status
        title, message = MESSAGES.get(status, (error.name, error.description))
        return render_template("error.html", status=status, title=title, message=message), status

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return http_error(InternalServerError())
