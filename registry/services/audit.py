"""Writing and reading the audit trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select

from registry.extensions import db
from registry.models import AuditEvent
from registry.services.actor import Actor


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def record(
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: int,
    before: dict | None = None,
    after: dict | None = None,
    summary: str = "",
    org_id: int | None = None,
) -> AuditEvent:
    """Append an audit event for a create, update or delete."""
    event = AuditEvent(
        user_id=actor.user_id,
        actor=actor.label,
        org_id=org_id if org_id is not None else actor.org_id,
        channel=actor.channel,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        summary=summary[:500],
        before=_jsonable(before),
        after=_jsonable(after),
        import_batch_id=actor.import_batch_id,
    )
    db.session.add(event)
    return event


def changed_fields(before: dict | None, after: dict | None) -> list[str]:
    """Names of the fields whose value differs between two snapshots."""
    before, after = before or {}, after or {}
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def history(entity_type: str, entity_id: int) -> list[AuditEvent]:
    """The audit events of one object, newest first."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )
    return list(db.session.scalars(stmt))
