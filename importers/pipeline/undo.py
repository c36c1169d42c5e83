"""Undo of a committed batch: remove what it created, restore what it changed from the undo
log, in one savepoint. The caller commits.

The projects a batch created are removed in bulk, a few hundred at a time: their flows, their
recipient, area and sector rows and the projects themselves by set-based DELETEs, and one
audit event each written by one multi-row INSERT (the "before" read with plain SELECTs, not
by loading each project). The projects it changed are restored one by one from their saved
snapshot, as before: there are few of those, and each needs the registry's rules."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, insert, select

from importers.models import ImportChange
from importers.pipeline.common import _chunks
from importers.pipeline.flows import _restore_row
from importers.pipeline.idempotence import _changed_later
from registry import money
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
from registry.models.types import utcnow
from registry.services import audit, organisations
from registry.services import projects as project_service
from registry.services.actor import Actor
from registry.services.shares import share_text

CHUNK = 500  # projects per DELETE ... IN (...): well under every driver's parameter limit
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
        removed = _remove_created(batch, created, undo_actor, progress, total)
        restored = 0
        for n, change_id in enumerate(changed, 1):
            restored += _restore_changed(batch, db.session.get(ImportChange, change_id), undo_actor)
            if progress is not None and n % 50 == 0:
                progress(len(created) + n, total, "undoing")
        db.session.flush()
        for row in rows:
            if row.entity_type == "organisation" and row.action == "create":
                org = db.session.get(Organisation, row.entity_id)
                if org is not None:
                    organisations.delete_organisation(undo_actor, org)
        batch.status = "undone"
        batch.finished_at = utcnow()
        undone = {"projects_removed": len(created), "projects_restored": len(changed), "transactions_removed": removed}
        batch.counts = {**(batch.counts or {}), "undone_at": utcnow().isoformat(), "undone": undone}
        db.session.flush()
    if progress is not None:
        progress(total, total, "undoing")
    return batch


def _remove_created(batch: ImportBatch, ids: list[int], actor: Actor, progress: Progress | None, total: int) -> int:
    """Delete the projects the batch created (those still there), their flows and rows, in bulk;
    one audit event each. Returns the number of flows removed."""
    removed = 0
    done = 0
    sync = {"synchronize_session": False}
    for chunk in _chunks(ids, CHUNK):
        befores = _snapshots(chunk)
        present = list(befores)
        if present:
            flows = dict(
                db.session.execute(
                    select(Transaction.project_id, func.count())
                    .where(Transaction.project_id.in_(present))
                    .group_by(Transaction.project_id)
                ).all()
            )
            db.session.execute(delete(Transaction).where(Transaction.project_id.in_(present)), execution_options=sync)
            for child in (ProjectRecipient, ProjectArea, ProjectSector, PipelineInterest):
                db.session.execute(delete(child).where(child.project_id.in_(present)), execution_options=sync)
            db.session.execute(delete(Project).where(Project.id.in_(present)), execution_options=sync)
            now = utcnow()
            events = []
            for pid, before in befores.items():
                n = flows.get(pid, 0)
                removed += n
                before["transactions"] = n
                events.append(
                    {
                        "occurred_at": now,
                        "user_id": actor.user_id,
                        "actor": actor.label,
                        "org_id": before.get("org_id") if before.get("org_id") is not None else actor.org_id,
                        "channel": actor.channel,
                        "action": "delete",
                        "entity_type": "project",
                        "entity_id": pid,
                        "summary": f"Undo of import {batch.id}: removed {before['title']} and its {n} transactions"[
                            :500
                        ],
                        "before": before,
                        "after": None,
                        "import_batch_id": actor.import_batch_id,
                    }
                )
            db.session.execute(insert(AuditEvent), events)
        done += len(chunk)
        if progress is not None:
            progress(done, total, "undoing")
    # Objects of the removed rows that the session may hold are stale now.
    db.session.expire_all()
    return removed


def _snapshots(ids: list[int]) -> dict[int, dict[str, Any]]:
    """The audit snapshot (``projects.snapshot``'s shape) of each project of ``ids`` that exists,
    read with four SELECTs instead of loading the objects."""
    fields = [getattr(Project, f) for f in project_service.SCALAR_FIELDS]
    rows = db.session.execute(
        select(
            Project.id, *fields, Project.org_id, Project.need_minor, Project.need_currency, Project.wsis_action_lines
        ).where(Project.id.in_(ids))
    ).all()
    recipients: dict[int, list] = defaultdict(list)
    for r in db.session.execute(
        select(
            ProjectRecipient.project_id,
            ProjectRecipient.country_iso3,
            ProjectRecipient.region_code,
            ProjectRecipient.share_ppm,
        )
        .where(ProjectRecipient.project_id.in_(ids))
        .order_by(ProjectRecipient.project_id, ProjectRecipient.id)
    ):
        recipients[r[0]].append({"country": r[1], "region": r[2], "share": share_text(r[3])})
    areas: dict[int, list] = defaultdict(list)
    for a in db.session.execute(
        select(ProjectArea.project_id, ProjectArea.area_code, ProjectArea.share_ppm, ProjectArea.inferred)
        .where(ProjectArea.project_id.in_(ids))
        .order_by(ProjectArea.project_id, ProjectArea.area_code)
    ):
        areas[a[0]].append({"code": a[1], "share": share_text(a[2]), "inferred": a[3]})
    sectors: dict[int, list] = defaultdict(list)
    for c in db.session.execute(
        select(ProjectSector.project_id, ProjectSector.code)
        .where(ProjectSector.project_id.in_(ids))
        .order_by(ProjectSector.project_id, ProjectSector.code)
    ):
        sectors[c[0]].append(c[1])
    names = project_service.SCALAR_FIELDS
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        pid = row[0]
        data: dict[str, Any] = dict(zip(names, row[1 : 1 + len(names)], strict=True))
        org_id, need_minor, need_currency, lines = row[1 + len(names) :]
        data["org_id"] = org_id
        data["need"] = (
            {"amount": str(money.from_minor(need_minor, need_currency)), "currency": need_currency}
            if need_minor is not None and need_currency
            else None
        )
        data["recipients"] = recipients.get(pid, [])
        data["areas"] = areas.get(pid, [])
        data["sectors"] = sectors.get(pid, [])
        data["wsis_action_lines"] = [c for c in (lines or "").split(",") if c]
        out[pid] = audit._jsonable(data)
    return out


def _restore_changed(batch: ImportBatch, change: ImportChange, undo_actor: Actor) -> int:
    """Restore a project the batch changed from the snapshot saved before the change."""
    project = db.session.get(Project, change.entity_id)
    if project is None:
        return 0
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
