"""The application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g
from werkzeug.middleware.proxy_fix import ProxyFix

from config import INSTANCE_DIR, Config, check_settings
from registry.extensions import api, csrf, db, limiter, login_manager, migrate
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
    trust_proxies(app)

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    init_security(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXIES`` reverse proxies, take the client's address and scheme from the
    headers they set (the rate limits count by client address)."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A writer waits this long for another's lock (the driver's timeout is SQLite's busy
        # timeout); past it the request is a 503 with Retry-After (registry/errors.py).
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
            "connect_args": {"timeout": float(app.config["SQLITE_BUSY_TIMEOUT"])},
        }
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    api.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    from registry.i18n import init_app as init_i18n

    init_i18n(app)
    # Registered before the limiter's, so it runs after the limiter added its headers.
    app.after_request(_retry_after_only_when_asked)
    limiter.init_app(app)
    import registry.models  # noqa: F401  (the models must be known to metadata)
    from registry.queue import init_app as init_queue

    init_queue(app)
    from registry.alerts_jobs import init_app as init_alerts
    from registry.mail import init_app as init_mail

    init_mail(app)
    init_alerts(app)


def _retry_after_only_when_asked(response):
    """Flask-Limiter puts its window's reset as Retry-After on every response it counts, and
    raises a 503's own (``g.retry_after``, registry/errors.py) to it. Retry-After is kept for the answers that ask
    the client to come back, 429 and 503, each with its own; the X-RateLimit-* headers stay."""
    if response.status_code == 503 and g.get("retry_after"):
        response.headers["Retry-After"] = g.retry_after
    elif response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


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
    from registry.alerts_cli import alerts_cli
    from registry.cli import init_app as init_cli
    from registry.jobs_cli import jobs_cli
    from registry.translate_cli import translate_cli

    init_cli(app)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(translate_cli)
    app.cli.add_command(alerts_cli)
