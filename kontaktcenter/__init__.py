"""Kontaktcenter: one case queue for a Swedish municipality's contact center."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from kontaktcenter.core import jinja_env
from kontaktcenter.core.config import Config
from kontaktcenter.core.json_provider import OrjsonProvider

_TOP = Path(__file__).resolve().parent.parent


def create_app(config: type[Config] = Config, overrides: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(_TOP / "templates"),
        static_folder=str(_TOP / "static"),
        instance_path=os.environ.get("KONTAKTCENTER_INSTANCE_PATH") or str(_TOP / "instance"),
    )
    app.jinja_environment = jinja_env.Environment  # before app.jinja_env is first made
    app.json = OrjsonProvider(app)
    app.config.from_object(config)
    app.config.from_prefixed_env("KONTAKTCENTER")
    app.config.update(overrides or {})
    app.url_map.converters["id"] = IdConverter
    _configure_embedded_defaults(app)
    _trust_proxies(app)

    from kontaktcenter import (
        api,
        calendar,
        callbacks,
        cases,
        compliance,
        demo,
        distribution,
        goals,
        organisation,
        reports,
        search,
        workspace,
    )
    from kontaktcenter.channels import email, phone
    from kontaktcenter.core import (
        admin,
        auth,
        cli,
        error_pages,
        jobs,
        navigation,
        outbox,
        periodic,
        security,
        templating,
    )
    from kontaktcenter.core.extensions import (
        configure_sqlite,
        csrf,
        db,
        engine_options,
        init_limiter,
        login_manager,
        migrate,
    )

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    )
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                configure_sqlite(engine, immediate=app.config["SQLITE_BEGIN_IMMEDIATE"])
    migrate.init_app(
        app, db, directory=str(_TOP / "migrations"), render_as_batch=True, compare_type=True
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    init_limiter(app)
    for module in (
        auth,
        jobs,
        outbox,
        periodic,
        cli,
        error_pages,
        security,
        templating,
        navigation,
    ):
        module.init_app(app)
    # The areas, lowest first: each registers its blueprints, commands, menu entries, admin
    # panels and periodic jobs.
    for area in (
        calendar,
        organisation,
        goals,
        email,
        phone,
        callbacks,
        distribution,
        workspace,
        reports,
        search,
        compliance,
        demo,
    ):
        area.init_app(app)
    assert cases  # no pages of its own, but its models must be mapped
    navigation.add_item("Administration", "admin.index", order=90)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens, never with cookies
    return app


class IdConverter(IntegerConverter):
    """``<id:case_id>``: a database id; anything larger than the column can hold is a 404."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=2**31 - 1)


def _configure_embedded_defaults(app: Flask) -> None:
    """Fill in what an unconfigured single-machine install needs; refuse weak production setups."""
    embedded = not app.config.get("SQLALCHEMY_DATABASE_URI")
    if embedded:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        db_path = Path(app.instance_path) / "kontaktcenter.db"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_path}"
    if not app.config.get("SECRET_KEY"):
        if not embedded:
            raise RuntimeError(
                "SECRET_KEY must be set in production (DATABASE_URL is set). "
                "Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    elif not embedded and not app.testing and len(app.config["SECRET_KEY"]) < 32:
        raise RuntimeError("SECRET_KEY is too short for production: use at least 32 characters.")


def _trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, take the client address, scheme, host and port
    from their X-Forwarded-* headers (each proxy appends one hop; only that many are believed)."""
    hops = app.config.get("TRUSTED_PROXIES") or 0
    if isinstance(hops, str) and hops.strip().isdigit():
        hops = int(hops)
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise RuntimeError(
            "KONTAKTCENTER_TRUSTED_PROXIES must be the number of reverse proxies in front of "
            f"the app (0 or more), not {hops!r}."
        )
    app.config["TRUSTED_PROXIES"] = hops
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )


def _instance_secret(instance: Path) -> str:
    """The embedded install keeps a random secret in its instance folder (never in the repo)."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
