"""Links to pages that other parts of the registry may or may not provide yet."""

from __future__ import annotations

from flask import current_app, url_for

# The registry's own detail pages, under the names they have had or may have.
PROJECT_PAGES = ("web.project_detail", "web.project")
SOURCE_PAGES = ("web.funding_source_detail", "web.funding_source")


def has_endpoint(name: str) -> bool:
    """True when a view with this endpoint name is registered."""
    return name in current_app.view_functions


def _first(names: tuple[str, ...]) -> str | None:
    return next((n for n in names if has_endpoint(n)), None)


def project_url(project_id: int, pipeline: bool = False, external: bool = False) -> str:
    """The project's page: the registry's project page when it exists, else the pipeline page."""
    endpoint = None if pipeline else _first(PROJECT_PAGES)
    if endpoint is None:
        return url_for("finder.pipeline_project", project_id=project_id, _external=external)
    return url_for(endpoint, project_id=project_id, _external=external)


def source_url(source_id: int, external: bool = False) -> str | None:
    """The funding source's page, if the registry has one."""
    endpoint = _first(SOURCE_PAGES)
    return url_for(endpoint, source_id=source_id, _external=external) if endpoint else None
