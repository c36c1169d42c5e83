"""Undo of a committed batch: remove what it created, restore what it changed from the undo
log, in one savepoint. The caller commits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, insert, select

from importers.models import ImportChange
from importers.pipeline.flows import _restore_row
from importers.pipeline.idempotence import _changed_later
from registry.errors import ConflictError, NotFoundError
from registry.extensions import db
from registry.models import ImportBatch, Organisation, Project, Transaction
from registry.models.soft_delete import INCLUDE_DELETED
from registry.models.types import utcnow
from registry.services import audit, organisations
from registry.services import projects as project_service
from registry.services.actor import Actor


def undo_batch(batch_id: int, actor: Actor) -> ImportBatch:
    """Remove what a committed batch created and restore what it changed, all or nothing (in a
    savepoint). Never commits: the caller does."""
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFoundError(f"No import batch {batch_id}")
    if batch.status != "committed":
        raise ConflictError(f"Import batch {batch_id} is {batch.status}; only a committed batch can be undone")
    changes = list(
        db.session.scalars(select(ImportChange).where(ImportChange.batch_id == batch.id).order_by(ImportChange.id))
    )
    later = _changed_later(batch)
    if later:
        raise ConflictError(
            f"Import batch {later} changed the same projects later; undo it first",
            {"batch": [f"Undo batch {later} first"]},
        )
    undo_actor = actor.via("import", batch.id)
    table = Transaction.__table__
    with db.session.begin_nested():
        for change in reversed(changes):
            if change.entity_type != "project":
                continue
            project = db.session.get(Project, change.entity_id, execution_options=INCLUDE_DELETED)
            if project is None:
                continue
            n = db.session.execute(
                delete(Transaction).where(
                    Transaction.project_id == project.id, Transaction.import_batch_id == batch.id
                ),
                execution_options={"synchronize_session": False},
            ).rowcount
            db.session.expire(project, ["transactions"])
            if change.action == "create":
                before = project_service.snapshot(project)
                before["transactions"] = n
                audit.record(
                    undo_actor,
                    "delete",
                    "project",
                    project.id,
                    before,
                    None,
                    f"Undo of import {batch.id}: removed {project.title} and its {n} transactions",
                    project.org_id,
                )
                db.session.delete(project)
                continue
            if project.deleted_at is not None:
                # Undo would put the import's old flows back into a deleted project.
                raise ConflictError(
                    f"Project {project.id} ({project.reference}) was deleted after import {batch.id} changed it;"
                    " restore it before undoing the import",
                    {"batch": [f"Restore project {project.id} first"]},
                )
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
                db.session.execute(insert(table), old_rows)
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
        db.session.flush()
        for change in changes:
            if change.entity_type == "organisation" and change.action == "create":
                org = db.session.get(Organisation, change.entity_id, execution_options=INCLUDE_DELETED)
                if org is not None:
                    organisations.remove_organisation(undo_actor, org)
        batch.status = "undone"
        batch.finished_at = utcnow()
        batch.counts = {**(batch.counts or {}), "undone_at": utcnow().isoformat()}
        db.session.flush()
    return batch
