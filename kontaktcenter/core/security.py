"""Security headers on every response. The CSP matters most where e-mail HTML is shown: even
if the sanitiser missed something, no script runs and nothing is loaded from elsewhere."""

from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from kontaktcenter.core.error_pages import bad_request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NUL_MESSAGE = "Begäran innehåller ett otillåtet tecken (NUL, %00). Ta bort det och försök igen."

ENCODING_MESSAGE = (
    "Adressen innehåller tecken som inte är giltig UTF-8. Rätta adressen och försök igen."
)


def nul_parameter(values: MultiDict[str, str]) -> str | None:
    """The name of the first parameter whose name or value holds a NUL byte (the name without
    it), or None."""
    for name, items in values.lists():
        if "\x00" in name or any("\x00" in item for item in items):
            return name.replace("\x00", "")
    return None


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters() -> ResponseReturnValue | None:
        """A NUL byte can never be stored in PostgreSQL text, nor compared with it, and nobody
        types one: refuse it as bad input (400) in any query string or form, before any view,
        rather than fail deep inside a query. (JSON bodies: api/parsing.json_object.)"""
        try:
            args = request.args
        except UnicodeDecodeError:
            # Raw bytes in the query string that are not UTF-8 (a browser percent-encodes).
            return bad_request(ENCODING_MESSAGE)
        name = nul_parameter(args)
        if name is None and request.method == "POST" and request.mimetype in FORM_TYPES:
            name = nul_parameter(request.form)
        return None if name is None else bad_request(NUL_MESSAGE, name)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint not in CACHEABLE_ENDPOINTS:
            # Pages, downloads and API answers show personal data: no browser or proxy keeps
            # them (the back button after logout, a shared computer, a caching proxy).
            response.headers["Cache-Control"] = "no-store"
        # Behind a proxy request.is_secure is right with TRUSTED_PROXIES (create_app).
        if request.is_secure and app.config["HSTS_SECONDS"]:
            response.headers.setdefault(
                "Strict-Transport-Security",
                f"max-age={int(app.config['HSTS_SECONDS'])}; includeSubDomains",
            )
        return response

    app.session_interface = HttpsCookiesSessionInterface()


# Public and the same for everyone: the only responses a cache may keep.
CACHEABLE_ENDPOINTS = frozenset({"static", "branding.logo", "favicon"})


class HttpsCookiesSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, and: a request that came over HTTPS gets only Secure
    cookies (the session, the remember cookie, any other), also where the config does not
    demand HTTPS (the embedded default behind a TLS proxy). Saving the session is the last
    step of every response, after the after_request functions that set the other cookies."""

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        super().save_session(app, session, response)
        if request.is_secure:
            cookies = response.headers.getlist("Set-Cookie")
            response.headers.remove("Set-Cookie")
            for cookie in cookies:
                attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
                secure = cookie if "secure" in attributes else cookie + "; Secure"
                response.headers.add("Set-Cookie", secure)
