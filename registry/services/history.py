"""A project's history: its own audit events and those of its transactions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select

from registry.extensions import db
from registry.models import AuditEvent
from registry.services.audit import changed_fields


@dataclass
class Change:
    """One field of an update: its value before and after."""

    field: str
    before: Any
    after: Any


def changes(event: AuditEvent) -> list[Change]:
    """The fields an event changed, with before and after values."""
    before, after = event.before or {}, event.after or {}
    if event.action == "update":
        names = changed_fields(before, after)
    else:
        names = sorted(k for k, v in (after or before).items() if v not in (None, "", [], {}))
    return [Change(name, before.get(name), after.get(name)) for name in names]


def project_history(project_id: int, limit: int | None = None) -> list[AuditEvent]:
    """Audit events of the project and of its transactions (deleted ones too), newest first."""
    tx_of_project = and_(
        AuditEvent.entity_type == "transaction",
        or_(
            AuditEvent.after["project_id"].as_integer() == project_id,
            AuditEvent.before["project_id"].as_integer() == project_id,
        ),
    )
    stmt = (
        select(AuditEvent)
        .where(
            or_(
                and_(AuditEvent.entity_type == "project", AuditEvent.entity_id == project_id),
                tx_of_project,
            )
        )
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))
