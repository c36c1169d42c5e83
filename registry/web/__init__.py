"""Server-rendered pages (no CDN: every asset is served from registry/web/static)."""

from __future__ import annotations

from flask import Flask, g

from registry.models.types import label
from registry.money import format_amount

# (endpoint, label): links appear in the navigation once their page is registered.
NAV = [
    ("web.home", "Overview"),
    ("web.projects", "Projects"),
    ("web.funding_sources", "Funding sources"),
    ("web.organisations", "Organisations"),
    ("finder.find_funding", "Find funding"),
    ("finder.pipeline", "Pipeline"),
    ("reports_web.index", "Reports"),
    ("imports_web.index", "Import"),
]


def init_app(app: Flask) -> None:
    from registry.web import views

    app.register_blueprint(views.bp)
    from registry.web import finder

    app.register_blueprint(finder.bp)
    app.jinja_env.filters["money"] = format_amount
    app.jinja_env.filters["label"] = label

    @app.context_processor
    def navigation():
        endpoints = set(app.view_functions)
        return {
            "nav_items": [(e, text) for e, text in NAV if e in endpoints],
            "has_endpoint": lambda name: name in endpoints,
            "current_user": g.get("user"),
        }
