"""The JSON API under /api/v1 (flask-smorest; OpenAPI at /api/v1/openapi.json)."""

from flask_smorest import Api


def register_api(api: Api) -> None:
    """Register every registry API blueprint on the Api object."""
    from registry.api import alerts, audit, funding, jobs, matching, organisations, projects, reference, restore

    # The API is for scripts with tokens, not browser forms: no CSRF on it.
    from registry.extensions import csrf

    blueprints = (
        reference.blp,
        projects.blp,
        funding.blp,
        organisations.blp,
        audit.blp,
        matching.blp,
        restore.blp,
        jobs.blp,
        alerts.blp,
    )
    for blueprint in blueprints:
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)
