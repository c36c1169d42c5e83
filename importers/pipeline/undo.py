"""Undo of a committed batch: remove what it created, restore what it changed from the undo
log, in one savepoint. The caller commits.

The projects a batch created are removed in bulk: their flows, their recipient, area and
sector rows and the projects themselves by one set-based DELETE a table, and one audit event
each, written by multi-row INSERTs a chunk at a time. A removed project's audit event names
it (reference, title, organisation, flows removed); its full state is the ``after`` of its
earlier events (the import's create, an edit since), so nothing is lost from its history.
The projects it changed are restored one by one from their saved snapshot, as before: there
are few of those, and each needs the registry's rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, delete, func, insert, select

from importers.bulk import BulkInsert
from importers.models import ImportChange
from importers.pipeline import plans
from importers.pipeline.common import _chunks
from importers.pipeline.flows import _restore_row
from importers.pipeline.idempotence import _changed_later
from registry.errors import ConflictError, NotFoundError
from registry.extensions import db
from registry.models import (
    AuditEvent,
    ImportBatch,
    Organisation,
    PipelineInterest,
    Project,
    ProjectArea,
    ProjectRecipient,
    Transaction,
)
from registry.models.project import ProjectSector
from registry.models.soft_delete import INCLUDE_DELETED
from registry.models.types import utcnow
from registry.services import audit, organisations
from registry.services import projects as project_service
from registry.services.actor import Actor

AUDIT_COLUMNS = ("occurred_at", "user_id", "actor", "org_id", "channel", "action", "entity_type", "entity_id",
                 "summary", "before", "after", "import_batch_id")  # fmt: skip
CHUNK = 2000  # projects whose audit events are read and written together
Progress = Callable[[int, int, str], None]


def check_undo(batch: ImportBatch) -> None:
    """Refuse the undo of a batch that is not committed, or whose projects a later batch changed."""
    if batch.status != "committed":
        raise ConflictError(f"Import batch {batch.id} is {batch.status}; only a committed batch can be undone")
    later = _changed_later(batch)
    if later:
        raise ConflictError(
            f"Import batch {later} changed the same projects later; undo it first",
            {"batch": [f"Undo batch {later} first"]},
        )


def undo_batch(batch_id: int, actor: Actor, progress: Progress | None = None) -> ImportBatch:
    """Remove what a committed batch created and restore what it changed, all or nothing (in a
    savepoint). Never commits: the caller does."""
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFoundError(f"No import batch {batch_id}")
    check_undo(batch)
    rows = db.session.execute(
        select(ImportChange.id, ImportChange.entity_type, ImportChange.entity_id, ImportChange.action)
        .where(ImportChange.batch_id == batch.id)
        .order_by(ImportChange.id)
    ).all()
    created = list(dict.fromkeys(r.entity_id for r in rows if r.entity_type == "project" and r.action == "create"))
    changed = [r.id for r in reversed(rows) if r.entity_type == "project" and r.action != "create"]
    undo_actor = actor.via("import", batch.id)
    total = len(created) + len(changed)
    with db.session.begin_nested():
        gone, removed = _remove_created(batch, created, undo_actor, progress, total)
        restored = 0
        for n, change_id in enumerate(changed, 1):
            restored += _restore_changed(batch, db.session.get(ImportChange, change_id), undo_actor)
            if progress is not None and n % 50 == 0:
                progress(len(created) + n, total, "undoing")
        db.session.flush()
        for row in reversed(rows):
            if row.entity_type == "plans":
                plans.restore_plans(db.session.get(ImportChange, row.id), undo_actor)
        db.session.flush()
        for row in rows:
            if row.entity_type == "organisation" and row.action == "create":
                org = db.session.get(Organisation, row.entity_id, execution_options=INCLUDE_DELETED)
                if org is not None:
                    organisations.remove_organisation(undo_actor, org)
        batch.status = "undone"
        batch.finished_at = utcnow()
        undone = {"projects_removed": gone, "projects_restored": len(changed), "transactions_removed": removed}
        batch.counts = {**(batch.counts or {}), "undone_at": utcnow().isoformat(), "undone": undone}
        db.session.flush()
    if progress is not None:
        progress(total, total, "undoing")
    return batch


def _remove_created(
    batch: ImportBatch, ids: list[int], actor: Actor, progress: Progress | None, total: int
) -> tuple[int, int]:
    """Delete the projects the batch created (those still there), their flows and rows, in bulk;
    one audit event each. Returns how many projects and flows were removed.

    The audit events are written a chunk of projects at a time (their snapshots read by range of
    ids); the rows go by one DELETE a table, each naming the batch's created projects by a
    subquery of its undo log rather than by a list of ids."""
    created = select(ImportChange.entity_id).where(
        ImportChange.batch_id == batch.id, ImportChange.entity_type == "project", ImportChange.action == "create"
    )
    removed = gone = 0
    done = 0
    events_table = BulkInsert(db.session.connection(), AuditEvent.__table__, AUDIT_COLUMNS)
    for chunk in _chunks(sorted(ids), CHUNK):
        low, high = chunk[0], chunk[-1]
        befores = _snapshots(created, low, high)
        now = utcnow()
        events = []
        for pid, before in befores.items():
            n = before["transactions"]
            removed += n
            owner = before.get("org_id") if before.get("org_id") is not None else actor.org_id
            summary = f"Undo of import {batch.id}: removed {before['title']} and its {n} transactions"
            events.append(
                (now, actor.user_id, actor.label, owner, actor.channel, "delete", "project", pid, summary[:500],
                 before, None, actor.import_batch_id)
            )  # fmt: skip
        if events:
            events_table.execute(events)
        gone += len(events)
        done += len(chunk)
        if progress is not None:
            progress(done, total, "undoing")
    sync = {"synchronize_session": False}
    db.session.execute(delete(Transaction).where(Transaction.project_id.in_(created)), execution_options=sync)
    for child in (ProjectRecipient, ProjectArea, ProjectSector, PipelineInterest):
        db.session.execute(delete(child).where(child.project_id.in_(created)), execution_options=sync)
    db.session.execute(delete(Project).where(Project.id.in_(created)), execution_options=sync)
    # Objects of the removed rows that the session may hold are stale now.
    db.session.expire_all()
    return gone, removed


def _snapshots(created: Select, low: int, high: int) -> dict[int, dict[str, Any]]:
    """What the audit event of a removed project says it was: reference, title, organisation and
    how many flows go with it (one SELECT a chunk). The project's full state is the ``after`` of
    its latest earlier audit event (the import's create, or an edit since), so the history loses
    nothing."""
    flows = (
        select(func.count())
        .select_from(Transaction)
        .where(Transaction.project_id == Project.id)
        .correlate(Project)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Project.id, Project.reference, Project.title, Project.org_id, Project.import_batch_id, flows).where(
            Project.id.between(low, high), Project.id.in_(created)
        ),
        execution_options=INCLUDE_DELETED,  # a created project deleted since is removed all the same
    ).all()
    return {
        pid: {"reference": reference, "title": title, "org_id": org_id, "import_batch_id": batch_id, "transactions": n}
        for pid, reference, title, org_id, batch_id, n in rows
    }


def _restore_changed(batch: ImportBatch, change: ImportChange, undo_actor: Actor) -> int:
    """Restore a project the batch changed from the snapshot saved before the change."""
    project = db.session.get(Project, change.entity_id, execution_options=INCLUDE_DELETED)
    if project is None:
        return 0
    if project.deleted_at is not None:
        # Undo would put the import's old flows back into a deleted project.
        raise ConflictError(
            f"Project {project.id} ({project.reference}) was deleted after import {batch.id} changed it;"
            " restore it before undoing the import",
            {"batch": [f"Restore project {project.id} first"]},
        )
    n = db.session.execute(
        delete(Transaction).where(Transaction.project_id == project.id, Transaction.import_batch_id == batch.id),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.expire(project, ["transactions"])
    saved = change.before or {}
    snap = dict(saved.get("snapshot") or {})
    old_rows = [_restore_row(r) for r in saved.get("transactions", [])]
    data = {k: snap[k] for k in project_service.SCALAR_FIELDS if k in snap}
    for k in ("planned_start", "planned_end", "actual_start", "actual_end"):
        if data.get(k):  # the snapshot keeps dates as ISO text
            data[k] = dt.date.fromisoformat(data[k])
    for k in ("recipients", "areas", "sectors", "wsis_action_lines", "need"):
        if k in snap:
            data[k] = snap[k]
    # Empty the child collections first: the unit of work would insert the restored
    # rows before deleting the current ones and trip the unique constraints.
    before = project_service.snapshot(project)
    project.recipients, project.areas, project.sectors = [], [], []
    db.session.flush()
    with db.session.no_autoflush:
        project_service._apply(project, data)
    if "other_identifiers" in saved:
        project.other_identifiers = saved["other_identifiers"]
    project.import_batch_id = saved.get("import_batch_id")
    project.updated_at = utcnow()
    db.session.flush()
    if old_rows:
        db.session.execute(insert(Transaction.__table__), old_rows)
    after = project_service.snapshot(project)
    before["transactions"], after["transactions"] = n, len(old_rows)
    audit.record(
        undo_actor,
        "update",
        "project",
        project.id,
        before,
        after,
        f"Undo of import {batch.id}: restored the project and {len(old_rows)} transactions",
        project.org_id,
    )
    return 1
