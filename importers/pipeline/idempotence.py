"""Idempotent re-imports: the fingerprint of how a file was read (``request_key``), and the
committed batch of the same file whose data the registry still holds (``_already``)."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from importers.models import ImportChange
from importers.pipeline.common import _chunks
from registry.extensions import db
from registry.models import AuditEvent, ImportBatch, Organisation, Project

# Options that are bookkeeping, not a choice about how the file is read.
_NOT_READING = frozenset({"org", "org_name", "_progress", "stored_file", "request", "owner"})


# What a reader reports it used (the columns as mapped, the sheets read, the decimal mark
# and date order), which stands for the options that only steer it there.
_EFFECTIVE = ("mapping", "sheets", "decimal", "dates")


def request_key(options: dict, info: dict | None = None) -> str:
    """How a file was read, as a short fingerprint: the same file read otherwise (another
    sheet, currency, mapping, decimal mark ...) is another import. The reader's own account
    of what it used counts, not how it was asked: a saved mapping that maps the columns as
    they were detected is the same reading."""
    empty = (None, "", {}, [])
    chosen = {k: v for k, v in options.items() if k not in _NOT_READING and v not in empty}
    for name in _EFFECTIVE:
        if (info or {}).get(name) not in empty:
            chosen[name] = info[name]  # type: ignore[index]
    text = json.dumps(chosen, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _already(org: Organisation | None, kind: str, sha: str, request: str) -> ImportBatch | None:
    """The committed batch of this file, read with the same choices, whose data the registry
    still holds: no later committed batch has changed any of its projects since (a corrected
    file imported after it, say). Importing that file again would change nothing."""
    if org is None:
        return None
    stmt = (
        select(ImportBatch)
        .where(
            ImportBatch.org_id == org.id,
            ImportBatch.kind == kind,
            ImportBatch.file_hash == sha,
            ImportBatch.status == "committed",
        )
        .order_by(ImportBatch.id.desc())
    )
    for batch in db.session.scalars(stmt):
        # Batches from before the fingerprint was kept match any choices, as they did then.
        if (batch.options or {}).get("request", request) == request:
            return None if _superseded(batch) else batch
    return None


def _changed_later(batch: ImportBatch) -> int | None:
    """The id of a batch committed after this one that created or changed one of its projects.

    "After" is by commit, not by batch id: a previewed batch keeps its id when it is committed
    later, but the change rows a commit writes are numbered in commit order."""
    mine = aliased(ImportChange)
    later = aliased(ImportChange)
    stmt = (
        select(later.batch_id)
        .join(mine, (mine.entity_type == later.entity_type) & (mine.entity_id == later.entity_id))
        .join(ImportBatch, ImportBatch.id == later.batch_id)
        .where(
            mine.batch_id == batch.id,
            mine.entity_type == "project",
            later.batch_id != batch.id,
            later.id > mine.id,
            ImportBatch.status == "committed",
        )
        .limit(1)
    )
    return db.session.scalar(stmt)


def _superseded(batch: ImportBatch) -> bool:
    """Whether the registry no longer holds what the batch wrote: a batch committed after it
    changed one of its projects, or one of them was deleted or edited by hand since."""
    if _changed_later(batch) is not None:
        return True
    ids = list(
        db.session.scalars(
            select(ImportChange.entity_id).where(
                ImportChange.batch_id == batch.id, ImportChange.entity_type == "project"
            )
        )
    )
    for chunk in _chunks(ids, 500):
        present = db.session.scalar(select(func.count()).select_from(Project).where(Project.id.in_(chunk)))
        if present < len(set(chunk)):
            return True
        edited = db.session.scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.entity_type == "project",
                AuditEvent.entity_id.in_(chunk),
                AuditEvent.occurred_at > batch.finished_at,
                AuditEvent.channel != "import",  # imports and undos are judged by their change rows
            )
            .limit(1)
        )
        if edited is not None:
            return True
        # a flow of these projects added, changed or deleted by hand
        flows = [AuditEvent.after["project_id"].as_integer(), AuditEvent.before["project_id"].as_integer()]
        edited = db.session.scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.entity_type == "transaction",
                or_(*(column.in_(chunk) for column in flows)),
                AuditEvent.occurred_at > batch.finished_at,
                AuditEvent.channel != "import",
            )
            .limit(1)
        )
        if edited is not None:
            return True
    return False
