"""Reading the audit trail: filtered and paged for the administrator, and one object's history
for whoever may change that object. The trail is append-only; nothing here writes it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from registry.errors import PermissionDenied, ValidationError
from registry.extensions import db
from registry.models import AuditEvent, FundingSource, Organisation, Project, User
from registry.services import permissions
from registry.services.history import project_history
from registry.services.lookup import load

ACTIONS = ("create", "update", "delete", "confirm")


@dataclass(frozen=True)
class AuditFilters:
    """What to show of the trail; None means any. ``until`` is inclusive (the whole day)."""

    entity_type: str | None = None
    entity_id: int | None = None
    user_id: int | None = None
    actor: str | None = None  # who, as the trail names them (an e-mail, "command line")
    action: str | None = None
    org_id: int | None = None
    since: dt.date | None = None
    until: dt.date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.until < self.since:
            raise ValidationError(_("The end date is before the start date"), {"until": [_("Before the start date")]})

    def query(self) -> Select:
        conditions = []
        for name in ("entity_type", "entity_id", "user_id", "action", "org_id"):
            value = getattr(self, name)
            if value is not None:
                conditions.append(getattr(AuditEvent, name) == value)
        if self.actor:
            conditions.append(func.lower(AuditEvent.actor) == self.actor.strip().lower())
        if self.since:
            conditions.append(AuditEvent.occurred_at >= _midnight(self.since))
        if self.until:
            conditions.append(AuditEvent.occurred_at < _midnight(self.until + dt.timedelta(days=1)))
        return select(AuditEvent).where(*conditions)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def newest_first(stmt: Select) -> Select:
    return stmt.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


def audit_page(filters: AuditFilters, page: int = 1, per_page: int = 50) -> tuple[list[AuditEvent], int]:
    """One page of the events that match, newest first, and how many match in all."""
    query = filters.query()
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    stmt = newest_first(query).limit(per_page).offset((max(page, 1) - 1) * per_page)
    return list(db.session.scalars(stmt)), total


def entity_types() -> list[str]:
    """The kinds of object the trail has events for, for the filter."""
    return sorted(db.session.scalars(select(AuditEvent.entity_type).distinct()))


# Objects with a history page, what to call them, and who may read it: whoever may change them.
HISTORY_KINDS = {
    "project": (Project, "project", permissions.can_edit_project),
    "funding_source": (FundingSource, "funding source", permissions.can_edit_source),
    "organisation": (Organisation, "organisation", permissions.can_edit_org),
}


def may_see_history(user: User | None, kind: str, obj) -> bool:
    """Whether ``user`` may read the object's full history (its editors and administrators)."""
    return kind in HISTORY_KINDS and HISTORY_KINDS[kind][2](user, obj)


def object_for_history(user: User | None, kind: str, object_id: int):
    """The object whose history ``user`` asks for: theirs to change, or any for an admin (404, 403)."""
    if kind not in HISTORY_KINDS:
        raise ValidationError(
            _("No history is kept for %(kind)s", kind=repr(kind)),
            {"kind": [_("One of %(choices)s", choices=", ".join(HISTORY_KINDS))]},
        )
    model, what, _may_see = HISTORY_KINDS[kind]
    obj = load(model, object_id, what)
    if not may_see_history(user, kind, obj):
        raise PermissionDenied(_history_refused(kind))
    return obj


def _history_refused(kind: str) -> str:
    if kind == "project":
        return _("Only the project's editors and administrators see its full history")
    if kind == "funding_source":
        return _("Only the funding source's editors and administrators see its full history")
    return _("Only the organisation's editors and administrators see its full history")


def object_history(kind: str, object_id: int, page: int = 1, per_page: int = 50) -> tuple[list[AuditEvent], int]:
    """The object's events, newest first (a project's include its money flows'), one page of them."""
    if kind == "project":
        events = project_history(object_id)
        start = (max(page, 1) - 1) * per_page
        return events[start : start + per_page], len(events)
    return audit_page(AuditFilters(entity_type=kind, entity_id=object_id), page, per_page)
