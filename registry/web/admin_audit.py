"""The audit trail for the administrator (filters, pages) and one object's full history for
whoever may change that object (linked from the project, funding source and organisation pages)."""

from __future__ import annotations

from flask import render_template

from registry.auth import current_user, login_required
from registry.errors import ValidationError
from registry.extensions import db
from registry.models import User
from registry.services import admin_audit as service
from registry.services.history import changes
from registry.web.admin import PER_PAGE, Args, admin_only, bp, page_url, pages_of


@bp.get("/audit")
@admin_only
def audit():
    """Every change: filter by kind of object, object id, who, action and dates; newest first."""
    args = Args()
    values = {
        "entity_type": args.text("entity_type"),
        "entity_id": args.number("entity_id"),
        "user_id": args.number("user_id"),
        "actor": args.text("actor"),
        "action": args.choice("action", service.ACTIONS),
        "since": args.day("since"),
        "until": args.day("until"),
    }
    try:
        filters = service.AuditFilters(**values)
    except ValidationError as exc:
        args.errors["until"] = exc.message
        filters = service.AuditFilters(**{**values, "until": None})
    page = args.page()
    events, total = service.audit_page(filters, page, PER_PAGE)
    return render_template(
        "admin/audit.html",
        events=[(e, changes(e)) for e in events],
        total=total,
        page=page,
        pages=pages_of(total),
        page_url=page_url,
        filters=filters,
        kinds=service.entity_types(),
        actions=service.ACTIONS,
        who=db.session.get(User, filters.user_id) if filters.user_id else None,
        filter_errors=args.errors,
    )


@bp.get("/history/<kind>/<int:object_id>")
@login_required
def history(kind: str, object_id: int):
    """One object's whole history, for its editors and administrators."""
    obj = service.object_for_history(current_user(), kind, object_id)
    args = Args()
    page = args.page()
    events, total = service.object_history(kind, object_id, page, PER_PAGE)
    return render_template(
        "admin/history.html",
        obj=obj,
        kind=kind,
        name=getattr(obj, "title", None) or getattr(obj, "name", ""),
        history=[(e, changes(e)) for e in events],
        total=total,
        page=page,
        pages=pages_of(total),
        page_url=page_url,
    )
