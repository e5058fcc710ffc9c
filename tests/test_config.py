import pytest

from kontaktcenter import create_app
from kontaktcenter.core.config import Config, normalise_database_url


def test_platform_database_urls_are_normalised():
    assert normalise_database_url("postgres://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert normalise_database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_production_refuses_to_start_without_a_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("KONTAKTCENTER_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(
            Config,
            {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://x@127.0.0.1/x", "SECRET_KEY": None},
        )
    with pytest.raises(RuntimeError, match="too short"):
        create_app(
            Config,
            {
                "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://x@127.0.0.1/x",
                "SECRET_KEY": "short",
            },
        )


def test_embedded_default_uses_sqlite_and_a_persisted_instance_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("KONTAKTCENTER_INSTANCE_PATH", str(tmp_path))
    app = create_app(
        Config,
        {"SQLALCHEMY_DATABASE_URI": None, "SECRET_KEY": None, "REDIS_URL": None, "JOBS_MODE": None},
    )
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'kontaktcenter.db'}"
    assert app.config["JOBS_MODE"] == "thread"
    secret = (tmp_path / "secret_key").read_text()
    assert app.config["SECRET_KEY"] == secret and len(secret) == 64
    again = create_app(
        Config,
        {"SQLALCHEMY_DATABASE_URI": None, "SECRET_KEY": None, "REDIS_URL": None, "JOBS_MODE": None},
    )
    assert again.config["SECRET_KEY"] == secret
