"""The registry's own pages: the overview dashboard."""

from __future__ import annotations

from flask import Blueprint, render_template

from registry.services import dashboard

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")


@bp.get("/")
def home():
    """What is in the registry, at a glance."""
    return render_template("home.html", stats=dashboard.headline())
