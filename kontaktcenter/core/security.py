"""Security headers on every response. The CSP matters most where e-mail HTML is shown: even
if the sanitiser missed something, no script runs and nothing is loaded from elsewhere."""

from __future__ import annotations

from flask import Flask, Response, abort, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters() -> None:
        """A NUL byte can never be stored in PostgreSQL text: refuse it as bad input (400)
        rather than fail deep inside a service."""
        if request.method == "POST" and request.mimetype in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            for values in request.form.listvalues():
                if any("\x00" in value for value in values):
                    abort(400)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
