"""Links to pages that other parts of the registry may or may not provide yet."""

from __future__ import annotations

from flask import current_app, url_for


def has_endpoint(name: str) -> bool:
    """True when a view with this endpoint name is registered."""
    return name in current_app.view_functions


def project_url(project_id: int, pipeline: bool = False, external: bool = False) -> str:
    """The project's page: the registry's project page when it exists, else the pipeline page."""
    if pipeline or not has_endpoint("web.project_detail"):
        return url_for("finder.pipeline_project", project_id=project_id, _external=external)
    return url_for("web.project_detail", project_id=project_id, _external=external)


def source_url(source_id: int, external: bool = False) -> str | None:
    """The funding source's page, if the registry has one."""
    if has_endpoint("web.funding_source_detail"):
        return url_for("web.funding_source_detail", source_id=source_id, _external=external)
    return None
