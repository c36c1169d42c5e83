"""Import jobs for the administrator: the recent import batches of every organisation, with
their owner, status and counts.

The page reads them through ``recent_imports`` only, so that when the jobs move to a table
of their own this function is the one place to change.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from registry.errors import ValidationError
from registry.extensions import db
from registry.models import ImportBatch, Organisation, User

STATUSES = ("pending", "previewed", "committed", "failed", "undone", "discarded")


@dataclass(frozen=True)
class ImportJob:
    """One import as the administrator sees it."""

    batch: ImportBatch
    org_name: str | None
    user_email: str | None

    @property
    def counts(self) -> dict:
        return self.batch.counts or {}

    @property
    def problems(self) -> int:
        return len(self.batch.problems or [])


def recent_imports(status: str | None = None, page: int = 1, per_page: int = 50) -> tuple[list[ImportJob], int]:
    """The imports of every organisation, newest first (one page), and how many in all."""
    if status is not None and status not in STATUSES:
        raise ValidationError(f"Unknown import status {status!r}", {"status": [f"One of {', '.join(STATUSES)}"]})
    owner = aliased(User)
    conditions = [ImportBatch.status == status] if status else []
    total = db.session.scalar(select(func.count(ImportBatch.id)).where(*conditions)) or 0
    stmt = (
        select(ImportBatch, Organisation.name, owner.email)
        .outerjoin(Organisation, Organisation.id == ImportBatch.org_id)
        .outerjoin(owner, owner.id == ImportBatch.user_id)
        .where(*conditions)
        .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    )
    return [ImportJob(batch, org, email) for batch, org, email in db.session.execute(stmt)], total
