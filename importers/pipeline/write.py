"""Stage 4, writing in bulk: changed projects through the ORM, new projects, their recipients,
areas and sectors, every flow, the audit events and the undo log by multi-row INSERT
(``importers.bulk``). Flushes, never commits: the batch's savepoint and the caller's commit
decide (see batches)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import selectinload

from importers.bulk import BulkInsert
from importers.models import ImportChange
from importers.pipeline.candidate import CHANGED_FIELDS, _Candidate
from importers.pipeline.common import TX_FIELDS, TX_INSERT, _chunks
from importers.pipeline.flows import _jsonable_row, same_prices
from registry.errors import ConflictError
from registry.extensions import db
from registry.models import AuditEvent, Project, Transaction
from registry.models.project import ProjectArea, ProjectRecipient, ProjectSector
from registry.models.types import utcnow
from registry.services import audit
from registry.services import projects as project_service
from registry.services.actor import Actor

if TYPE_CHECKING:
    from importers.pipeline.run import _Run


class Created(NamedTuple):
    """A new project of the file: its validated values and its flows (``TX_FIELDS`` tuples)."""

    project: _Candidate
    rows: list[tuple]


class Updated(NamedTuple):
    """A stored project the file changes.

    ``project`` is the stored project (a plain candidate while validating, the ORM object once
    ``orm_projects`` loaded it); ``candidate`` its new values, None when only its flows change;
    ``before`` its snapshot; ``old_rows`` the imported flows the file replaces (None: the file
    has no amounts and they stay); ``rows`` the file's flows.

    ``flows_updated`` (a file whose rows carry flow ids): the stored flows the file updates in
    place, each (stored row, new ``TX_FIELDS`` tuple); ``old_rows`` are then those stored rows
    (for the undo log), ``rows`` the flows it adds, and no other flow is replaced."""

    project: Any
    candidate: _Candidate | None
    before: dict
    old_rows: list[dict] | None
    rows: list[tuple]
    flows_updated: list[tuple[dict, tuple]] | None = None


def insert_created(run: _Run, created: list[Created]) -> list[int]:
    """New projects and their recipients, areas and sectors, by cursor executemany.

    The candidates were validated by the services' builders; inserting their values
    set-wise is what keeps a file of thousands of projects fast. The new ids are read
    back by (organisation, reference), which is unique. Returns them in order."""
    if not created:
        return []
    connection = db.session.connection()
    now, batch_id = utcnow(), run.batch.id
    table = Project.__table__
    fixed = {
        "import_batch_id": batch_id,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "demo": False,
    }
    # The candidate's values, then the batch's (columns a candidate lacks are NULL).
    names = [c.name for c in table.columns if c.name != "id" and c.name not in fixed]
    variable = [n for n in names if n in _Candidate.__dataclass_fields__]
    constant = tuple(fixed.values()) + (None,) * (len(names) - len(variable))
    columns = [*variable, *fixed, *(n for n in names if n not in variable)]
    values_of = operator.attrgetter(*variable)
    rows = []
    for project, _rows in created:
        project.description = project.description or ""
        project.wsis_action_lines = project.wsis_action_lines or ""
        rows.append(values_of(project) + constant)
    BulkInsert(connection, table, columns).execute(rows, run.chunk_size)
    org_id = run.org.id
    ids_by_ref: dict[str, int] = {}
    refs = [project.reference for project, _tx in created]
    for chunk in _chunks(refs, 500):
        stmt = select(table.c.reference, table.c.id).where(table.c.org_id == org_id, table.c.reference.in_(chunk))
        ids_by_ref.update((ref, pid) for ref, pid in db.session.execute(stmt))
    ids = [ids_by_ref[ref] for ref in refs]
    recipients, areas, sectors = [], [], []
    for (project, _tx), pid in zip(created, ids, strict=True):
        project.id = pid  # transient: only for snapshots and the audit trail
        recipients += [(pid, c, r, ppm) for c, r, ppm in project.recipients]
        areas += [(pid, code, ppm, inferred) for code, ppm, inferred in project.areas]
        sectors += [(pid, code, ppm) for code, ppm in project.sectors]
    for model, names, values in (
        (ProjectRecipient, ("project_id", "country_iso3", "region_code", "share_ppm"), recipients),
        (ProjectArea, ("project_id", "area_code", "share_ppm", "inferred"), areas),
        (ProjectSector, ("project_id", "code", "share_ppm"), sectors),
    ):
        if values:
            BulkInsert(connection, model.__table__, names).execute(values, run.chunk_size)
    return ids


def write_batch(run: _Run, created: list[Created], updated: list[Updated]) -> None:
    """Write a validated file: changed projects through the ORM, new ones and every flow, audit
    event and undo row by multi-row INSERT (``importers.bulk``). Flushes; never commits."""
    batch_id = run.batch.id
    previous = {u.project.id: u.project.import_batch_id for u in updated}
    updated = orm_projects(updated)
    aliases = {u.project.id: u.project.other_identifiers for u in updated}  # for the undo log
    changed = [(u.project, u.candidate) for u in updated if u.candidate is not None]
    if updated:
        # Updated projects go through the ORM (version counter, child collections).
        with db.session.no_autoflush:
            for project, candidate in changed:
                for name in CHANGED_FIELDS:
                    setattr(project, name, getattr(candidate, name))
                # Old rows go first: the unit of work would insert the new ones before
                # deleting the old and trip the (project, country) unique constraint.
                project.recipients, project.areas, project.sectors = [], [], []
        db.session.flush()
        with db.session.no_autoflush:
            for project, candidate in changed:
                project.recipients = [
                    ProjectRecipient(country_iso3=c, region_code=r, share_ppm=ppm) for c, r, ppm in candidate.recipients
                ]
                project.areas = [
                    ProjectArea(area_code=code, share_ppm=ppm, inferred=inferred)
                    for code, ppm, inferred in candidate.areas
                ]
                project.sectors = [ProjectSector(code=code, share_ppm=ppm) for code, ppm in candidate.sectors]
        for u in updated:
            project = u.project
            project.import_batch_id = batch_id
            project.updated_at = utcnow()
    db.session.flush()
    insert_created(run, created)
    # Replace the transactions earlier imports brought for the updated projects.
    replaced = [u.project.id for u in updated if u.old_rows is not None and u.flows_updated is None]
    for chunk in _chunks(replaced, 500):
        db.session.execute(
            delete(Transaction).where(
                Transaction.project_id.in_(chunk),
                Transaction.import_batch_id.is_not(None),
                same_prices(run.batch),
                # a flow deleted in the registry stays, deleted and restorable (see _Run._without_deleted)
                Transaction.deleted_at.is_(None),
            ),
            execution_options={"synchronize_session": False},
        )
    in_place = [(old, new) for u in updated for old, new in u.flows_updated or ()]
    if in_place:
        update_in_place(in_place, batch_id)
    connection = db.session.connection()
    now = utcnow()
    all_rows: list[tuple] = []
    for project, rows in created:
        head = (project.id, batch_id, now)
        all_rows += [head + row for row in rows]
    for u in updated:
        project, rows = u.project, u.rows
        head = (project.id, batch_id, now)
        all_rows += [head + row for row in rows]
    tx_insert = BulkInsert(connection, Transaction.__table__, TX_INSERT)
    total = len(all_rows)
    for done, chunk in enumerate(_chunks(all_rows, run.chunk_size), 1):
        tx_insert.execute(chunk, run.chunk_size)
        run.progress(min(done * run.chunk_size, total), total, "writing")
    del all_rows
    # The audit trail and the undo log: one event and one change row per project.
    event = event_row(run.actor, run.org.id)
    events, changes = [], []
    for project, rows in created:
        after = project.snapshot()
        after["transactions"] = len(rows)
        summary = f"Imported {project.title} with {len(rows)} transactions"
        events.append(event("create", project.id, None, after, summary))
        changes.append((batch_id, "project", project.id, "create", None))
    for u in updated:
        project, before, old_rows, rows = u.project, u.before, u.old_rows, u.rows
        after = project_service.snapshot(project)
        changed_names = audit.changed_fields(before, after)
        what = f"changed {', '.join(changed_names)}; " if changed_names else ""
        if u.flows_updated is not None:  # rows with flow ids: those flows updated, new ones added
            before = {**before, "transactions": len(old_rows)}
            after["transactions"] = len(old_rows) + len(rows)
            summary = f"Import {what}updated {len(old_rows)} transactions and added {len(rows)}"
        elif old_rows is None:  # a file without amounts: the flows were kept
            old_rows = []
            summary = f"Import {what}kept its transactions (the file has no amounts)"
        else:
            before = {**before, "transactions": len(old_rows)}
            after["transactions"] = len(rows)
            summary = f"Import {what}replaced {len(old_rows)} imported transactions with {len(rows)}"
        events.append(event("update", project.id, before, after, summary))
        undo = {
            "snapshot": before,
            "import_batch_id": previous.get(project.id),
            "transactions": [_jsonable_row(r) for r in old_rows],
            "other_identifiers": aliases[project.id],
        }
        changes.append((batch_id, "project", project.id, "update", undo))
    BulkInsert(connection, AuditEvent.__table__, EVENT_COLUMNS).execute(events, run.chunk_size)
    change_columns = ("batch_id", "entity_type", "entity_id", "action", "before")
    BulkInsert(connection, ImportChange.__table__, change_columns).execute(changes, run.chunk_size)
    run.counts["projects_created"] += len(created)
    run.counts["projects_updated"] += len(updated)
    run.counts["transactions"] += total
    run.counts["transactions_replaced"] += sum(len(u.old_rows or ()) for u in updated if u.flows_updated is None)
    run.counts["transactions_updated"] += len(in_place)
    db.session.flush()


def update_in_place(flows: list[tuple[dict, tuple]], batch_id: int) -> None:
    """Set the new values of flows a file updates (rows with a flow id), keeping their ids; the
    batch is recorded on them, and its undo puts the stored rows back (see undo)."""
    table = Transaction.__table__
    stmt = (
        update(table)
        .where(table.c.id == bindparam("flow_id"))
        .values({name: bindparam(f"new_{name}") for name in TX_FIELDS} | {"import_batch_id": batch_id})
    )
    params = [
        {"flow_id": old["id"], **{f"new_{n}": v for n, v in zip(TX_FIELDS, new, strict=True)}} for old, new in flows
    ]
    for chunk in _chunks(params, 1000):
        db.session.execute(stmt, chunk, execution_options={"synchronize_session": False})


def orm_projects(updated: list[Updated]) -> list[Updated]:
    """The updated entries with the ORM project in place of the stored candidate."""
    ids = [u.project.id for u in updated]
    projects: dict[int, Project] = {}
    for chunk in _chunks(ids, 500):
        stmt = (
            select(Project)
            .where(Project.id.in_(chunk))
            .options(
                selectinload(Project.recipients),
                selectinload(Project.areas),
                selectinload(Project.sectors),
            )
        )
        projects.update((p.id, p) for p in db.session.scalars(stmt))
    missing = [i for i in ids if i not in projects]
    if missing:
        raise ConflictError(f"Project {missing[0]} was deleted while the file was imported; import it again")
    return [u._replace(project=projects[u.project.id]) for u in updated]


def event_row(actor: Actor, org_id: int) -> Callable[[str, int, Any, Any, str], tuple]:
    """A maker of audit event rows (EVENT_COLUMNS) with the content ``audit.record`` writes."""
    now = utcnow()

    def row(action: str, project_id: int, before: Any, after: Any, summary: str) -> tuple:
        # Snapshots are JSON-ready already (projects.snapshot and _Candidate.snapshot).
        return (
            now,
            actor.user_id,
            actor.label,
            org_id,
            actor.channel,
            action,
            "project",
            project_id,
            summary[:500],
            before,
            after,
            actor.import_batch_id,
        )

    return row


EVENT_COLUMNS = (
    "occurred_at",
    "user_id",
    "actor",
    "org_id",
    "channel",
    "action",
    "entity_type",
    "entity_id",
    "summary",
    "before",
    "after",
    "import_batch_id",
)
