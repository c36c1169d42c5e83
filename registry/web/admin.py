"""The administrator's pages, under /admin: users, the audit trail, reference data, import jobs.

Every page here is for administrators only (403 for any other role, the login for a visitor);
the rules live in the services (``registry/services/admin_*.py``), the views load, call and
render, and every form post ends through ``registry.web.saving.save``.
"""

from __future__ import annotations

import datetime as dt
from math import ceil

from flask import Blueprint, Flask, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from registry.auth import roles_required
from registry.models.types import Role
from registry.services.lookup import MAX_ID

bp = Blueprint("admin", __name__, url_prefix="/admin")
admin_only = roles_required(Role.ADMIN)
PER_PAGE = 50

# The administrator's pages, in the order of the sub-navigation: (endpoint, label).
SECTIONS = [
    ("admin.users", _l("Users")),
    ("admin.audit", _l("Audit trail")),
    ("admin.reference", _l("Reference data")),
    ("admin.imports", _l("Import jobs")),
]

# What an audit event did, as its badge and the audit trail's filter say it.
ACTION_LABELS = {
    "create": _l("Create"),
    "update": _l("Update"),
    "delete": _l("Delete"),
    "confirm": _l("Confirm"),
    "restore": _l("Restore"),
}

# The state of an import or of a job on the queue, as its badge says it.
STATUS_WORDS = {
    "pending": _l("pending"),
    "previewed": _l("previewed"),
    "committed": _l("committed"),
    "failed": _l("failed"),
    "undone": _l("undone"),
    "discarded": _l("discarded"),
    "queued": _l("queued"),
    "running": _l("running"),
    "done": _l("done"),
}


def action_label(action: str) -> str:
    known = ACTION_LABELS.get(action)
    return str(known) if known else action.capitalize()


def status_word(status: str) -> str:
    known = STATUS_WORDS.get(status)
    return str(known) if known else status


class Args:
    """The query string of a list page: values read one by one, what could not be read kept
    to be shown ("ignored"), never a 500."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def text(self, name: str) -> str | None:
        value = request.args.get(name, "").strip()
        return value or None

    def number(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if value.isdigit() and 0 < int(value) <= MAX_ID:
            return int(value)
        self.errors[name] = _("%(value)s is not an id", value=repr(value))
        return None

    def day(self, name: str) -> dt.date | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.errors[name] = _("%(value)s is not a date (YYYY-MM-DD)", value=repr(value))
            return None

    def choice(self, name: str, options: tuple[str, ...] | list[str]) -> str | None:
        value = self.text(name)
        if value is None or value in options:
            return value
        self.errors[name] = _("%(value)s is not one of the choices", value=repr(value))
        return None

    def page(self) -> int:
        value = self.text("page") or "1"
        return int(value) if value.isdigit() and 0 < int(value) <= 100_000 else 1


def pages_of(total: int, per_page: int = PER_PAGE) -> int:
    return max(1, ceil(total / per_page))


def page_url(page: int) -> str:
    """This list page with the same filters, at another page."""
    args = request.args.to_dict()
    args["page"] = str(page)
    return url_for(request.endpoint, **(request.view_args or {}), **args)


@bp.get("/")
@admin_only
def index():
    """Where the administrator's pages are."""
    return render_template("admin/index.html")


def init_app(app: Flask) -> None:
    """Register the administrator's pages and the invitation page their links open."""
    from registry.web import admin_audit, admin_jobs, admin_reference, admin_users  # noqa: F401  (routes attach to bp)

    app.register_blueprint(bp)
    app.register_blueprint(admin_users.invitations)
    app.jinja_env.globals["admin_sections"] = SECTIONS
    app.jinja_env.globals["history_link"] = history_link
    app.jinja_env.globals["action_label"] = action_label
    app.jinja_env.globals["status_word"] = status_word


def history_link(kind: str, obj) -> str | None:
    """The object's full history page, for a user who may read it (its editors, admins), else None."""
    from flask import g

    from registry.services.admin_audit import may_see_history

    if not may_see_history(g.get("user"), kind, obj):
        return None
    return url_for("admin.history", kind=kind, object_id=obj.id)
