"""The audit trail, read-only: /api/v1/audit-events. There is no way to write it here."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy import func, select

from registry.api.common import paginate, require_json_body, require_user
from registry.models import AuditEvent
from registry.schemas.audit import AuditEventPage, AuditQuery
from registry.services.history import changes

blp = Blueprint("audit_api", __name__, url_prefix="/api/v1", description="Who changed what, when (read-only)")
blp.before_request(require_json_body)


@blp.route("/audit-events")
class AuditEvents(MethodView):
    @blp.arguments(AuditQuery, location="query", unknown=RAISE)
    @blp.response(200, AuditEventPage)
    def get(self, args):
        """Audit events, newest first; filter by entity, organisation or action (signed in)."""
        require_user()
        conditions = [
            getattr(AuditEvent, key) == args[key]
            for key in ("entity_type", "entity_id", "org_id", "action")
            if args.get(key) is not None
        ]
        query = select(AuditEvent).where(*conditions).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        body, headers = paginate(query, select(func.count(AuditEvent.id)).where(*conditions), args)
        for event in body["items"]:
            event.changed = [c.field for c in changes(event)]
        return body, headers
