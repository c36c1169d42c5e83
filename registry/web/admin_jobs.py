"""Import jobs for the administrator: every organisation's recent imports."""

from __future__ import annotations

from flask import render_template

from registry.services import admin_jobs as service
from registry.web.admin import PER_PAGE, Args, admin_only, bp, page_url, pages_of


@bp.get("/imports")
@admin_only
def imports():
    """What the job queue is doing, and the recent imports of every organisation with owner,
    status and counts; filter the imports by status."""
    args = Args()
    status = args.choice("status", service.STATUSES)
    page = args.page()
    jobs, total = service.recent_imports(status, page, PER_PAGE)
    return render_template(
        "admin/imports.html",
        jobs=jobs,
        queued=service.queue_jobs(),
        total=total,
        page=page,
        pages=pages_of(total),
        page_url=page_url,
        statuses=service.STATUSES,
        status=status or "",
        filter_errors=args.errors,
    )
