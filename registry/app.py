"""The application factory."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from config import INSTANCE_DIR, Config, check_settings
from registry.extensions import api, csrf, db, migrate
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
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))

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
    from registry.queue import init_app as init_queue

    init_queue(app)


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
    from registry.jobs_cli import jobs_cli

    init_cli(app)
    app.cli.add_command(jobs_cli)
