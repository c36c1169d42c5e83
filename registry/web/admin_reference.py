"""Reference data for the administrator: each table, a reload from the shipped files, and
what a reload changed (read back from its audit event)."""

from __future__ import annotations

from flask import render_template, url_for

from registry.auth import current_actor
from registry.services import admin_reference as service
from registry.web.admin import Args, admin_only, bp, page_url, pages_of
from registry.web.saving import save

ROWS_PER_PAGE = 100


@bp.get("/reference")
@admin_only
def reference():
    """Every reference table, its source and date, the rate files in force, the latest reloads."""
    return render_template(
        "admin/reference.html",
        tables=service.summaries(),
        rate_files=service.rate_files_in_force(),
        reloads=service.reloads(),
    )


@bp.get("/reference/<name>")
@admin_only
def reference_table(name: str):
    """The rows of one reference table, a hundred at a time."""
    table = service.get_table(name)
    page = Args().page()
    rows, total = service.table_rows(table, page, ROWS_PER_PAGE)
    return render_template(
        "admin/reference_table.html",
        table=table,
        rows=rows,
        total=total,
        page=page,
        pages=pages_of(total, ROWS_PER_PAGE),
        page_url=page_url,
    )


@bp.post("/reference/reload")
@admin_only
def reference_reload():
    """Load the shipped reference files again (as `flask --app wsgi reference load` does)."""
    return save(
        lambda: service.reload_reference(current_actor()),
        lambda done: done[1].summary,
        lambda done: url_for("admin.reference_reload_result", event_id=done[1].id),
        refused=url_for("admin.reference"),
    )


@bp.get("/reference/reloads/<int:event_id>")
@admin_only
def reference_reload_result(event_id: int):
    """What one reload added, changed and removed, table by table and row by row."""
    event = service.get_reload(event_id)
    return render_template("admin/reload.html", event=event, after=event.after or {})
