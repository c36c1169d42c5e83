"""Import jobs for the administrator: what the job queue is doing (``queue_jobs``: jobs
waiting, running, and the latest that failed, with their progress) and the recent import
batches of every organisation, with their owner, status and counts (``recent_imports``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from registry.errors import ValidationError
from registry.extensions import db
from registry.models import ImportBatch, Job, Organisation, User
from registry.queue import job_view

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
        raise ValidationError(
            _("Unknown import status %(status)s", status=repr(status)),
            {"status": [_("One of %(choices)s", choices=", ".join(STATUSES))]},
        )
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


@dataclass(frozen=True)
class QueueEntry:
    """A job of the queue as the administrator sees it: its view (progress included), who
    asked, and for which organisation."""

    view: dict[str, Any]
    owner_email: str | None
    org_name: str | None


def queue_jobs(failed: int = 10) -> list[QueueEntry]:
    """Every job still waiting or running (oldest first, as the workers take them), then the
    ``failed`` latest that failed, with the reason they give."""
    owner = aliased(User)
    base = (
        select(Job, owner.email, Organisation.name)
        .outerjoin(owner, owner.id == Job.owner_id)
        .outerjoin(Organisation, Organisation.id == Job.org_id)
    )
    pending = db.session.execute(base.where(Job.status.in_(("queued", "running"))).order_by(Job.id)).all()
    latest_failed = db.session.execute(base.where(Job.status == "failed").order_by(Job.id.desc()).limit(failed)).all()
    return [QueueEntry(job_view(job), email, org) for job, email, org in [*pending, *latest_failed]]
