"""The JSON API under /api/v1 (flask-smorest; OpenAPI at /api/v1/openapi.json)."""

from flask_smorest import Api


def register_api(api: Api) -> None:
    """Register every registry API blueprint on the Api object."""
    from registry.api import audit, funding, organisations, projects, reference

    # The API is for scripts with tokens, not browser forms: no CSRF on it.
    from registry.extensions import csrf

    from registry.api.common import require_json_body

    for blueprint in (reference.blp, projects.blp, funding.blp, organisations.blp, audit.blp):
        csrf.exempt(blueprint)
        blueprint.before_request(require_json_body)
        api.register_blueprint(blueprint)
