"""Reports: funding flows and gaps by region, category and priority area."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    """Register the reports' API, pages and commands (called by create_app)."""
    from registry.extensions import csrf
    from reports import api as reports_api
    from reports import cli, facts, models, web  # noqa: F401  (models: the facts tables join the metadata)

    @app.after_request
    def keep_refresh(response):
        # A report brought the facts up to date: keep that work for the next request.
        if response.status_code < 400:
            facts.commit_refresh()
        return response

    # The API is for scripts with tokens, not browser forms: no CSRF on it.
    csrf.exempt(reports_api.blp)
    api.register_blueprint(reports_api.blp)
    app.register_blueprint(web.bp)
    cli.init_app(app)
