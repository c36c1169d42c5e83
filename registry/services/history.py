"""A project's history: its own audit events and those of its transactions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select

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
    """Audit events of the project and of its transactions (deleted ones too), newest first.

    Only those since the last project removed for good under the same id (import undo; a
    soft delete keeps the row and its id): a database may give a new project the id of one
    removed before it (SQLite reuses the highest row id), and
    that project's past is not the new one's."""
    last_delete = (
        select(func.coalesce(func.max(AuditEvent.id), 0))
        .where(
            AuditEvent.entity_type == "project",
            AuditEvent.entity_id == project_id,
            AuditEvent.action == "delete",
            # a permanent removal (import undo); a soft delete keeps the id, its after says when
            AuditEvent.after["deleted_at"].as_string().is_(None),
        )
        .scalar_subquery()
    )
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
            ),
            AuditEvent.id > last_delete,
        )
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))
