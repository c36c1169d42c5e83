"""Reports: funding flows and gaps by region, category and priority area."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    """Register the reports' API, pages and commands (called by create_app)."""
    from registry.extensions import csrf
    from reports import api as reports_api

    # models: the facts tables join the metadata; forward_api and country: their routes join
    # the reports' blueprint before it is registered
    from reports import cli, country, downloads_api, facts, forward_api, models, web  # noqa: F401

    # The writer's commit brings the facts up to date; a read never commits (reports/facts.py).
    facts.install()
    from reports import jobs

    jobs.register()

    # The API is for scripts with tokens, not browser forms: no CSRF on it.
    csrf.exempt(reports_api.blp)
    csrf.exempt(downloads_api.blp)
    api.register_blueprint(reports_api.blp)
    api.register_blueprint(downloads_api.blp)
    app.register_blueprint(web.bp)
    app.register_blueprint(country.bp)
    cli.init_app(app)
