"""The application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import INSTANCE_DIR, Config, check_settings
from registry.extensions import api, csrf, db, migrate
from registry.logging_setup import init_app as init_logging
from registry.security import init_app as init_security

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    # A production start with a default key, a cookie sent over http or the debugger on stops here.
    check_settings({**app.config, "DEBUG": app.debug})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    # First of the hooks: every later hook and log line of a request knows its id.
    init_logging(app)
    if app.config.get("TRUSTED_PROXY_HOPS"):
        # Behind that many reverse proxies: the client's address, scheme and host come from
        # their X-Forwarded-* headers (rate limits and logs see the client, not the proxy).
        hops = app.config["TRUSTED_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    init_security(app)
    return app


def register_extensions(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # The default pool shares one connection per thread; keep a timeout for writers.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
            "connect_args": {"timeout": 30},
        }
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    api.init_app(app)
    csrf.init_app(app)
    import registry.models  # noqa: F401  (the models must be known to metadata)


def register_blueprints(app: Flask) -> None:
    from importers import init_app as init_importers
    from registry.api import register_api
    from registry.auth import init_app as init_auth
    from registry.health import init_app as init_health
    from registry.web import init_app as init_web
    from reports import init_app as init_reports

    init_auth(app)
    init_health(app, str(MIGRATIONS_DIR))
    register_api(api)
    init_web(app)
    init_importers(app, api)
    init_reports(app, api)


def register_errorhandlers(app: Flask) -> None:
    from registry.errors import register_errorhandlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from registry.cli import init_app as init_cli

    init_cli(app)
