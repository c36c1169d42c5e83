"""The audit trail, read-only: /api/v1/audit-events. There is no way to write it here.

The whole trail is for administrators, as on the administrator's pages: it names every
account and what it changed. An object's own history is on its page and, for projects, at
``/api/v1/projects/<id>/history``."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy import func, select

from registry.api.common import paginate, require_json_body
from registry.auth import roles_required
from registry.models.types import Role
from registry.schemas.audit import AuditEventPage, AuditQuery
from registry.services.admin_audit import AuditFilters, newest_first
from registry.services.history import changes

blp = Blueprint("audit_api", __name__, url_prefix="/api/v1", description="Who changed what, when (read-only)")
blp.before_request(require_json_body)


@blp.route("/audit-events")
class AuditEvents(MethodView):
    @roles_required(Role.ADMIN)
    @blp.arguments(AuditQuery, location="query", unknown=RAISE)
    @blp.response(200, AuditEventPage)
    def get(self, args):
        """Audit events, newest first; filter by entity, organisation or action (administrators)."""
        filters = AuditFilters(**{k: args.get(k) for k in ("entity_type", "entity_id", "org_id", "action")})
        query = filters.query()
        body, headers = paginate(newest_first(query), select(func.count()).select_from(query.subquery()), args)
        for event in body["items"]:
            event.changed = [c.field for c in changes(event)]
        return body, headers
