"""After the projects and flows are written: each project's forward plans (budgets and planned
disbursements) as the file gives them, replacing the stored ones, so that a re-import of the
same file changes nothing and a newer file's plans take the place of the older ones (never
beside them). A record without plans (``None``) leaves the stored plans as they are.

Written through ``registry.services.plans`` (the rules of every path); each replacement keeps
the plans it replaced in the undo log (``import_changes``, entity ``plans``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import selectinload

from importers.bulk import BulkInsert
from importers.models import ImportChange
from importers.pipeline.common import _chunks
from importers.pipeline.write import EVENT_COLUMNS, event_row
from importers.records import ProjectRecord
from registry.extensions import db
from registry.models import AuditEvent, PlannedDisbursement, Project, ProjectBudget
from registry.models.types import utcnow
from registry.services import plans as plan_service

if TYPE_CHECKING:
    from importers.pipeline.run import _Run


def write_plans(run: _Run, records: Iterable[ProjectRecord]) -> None:
    """Replace the plans of the file's projects that carry plans; flushes, never commits."""
    with_plans = {
        rec.reference: rec for rec in records if rec.budgets is not None or rec.planned_disbursements is not None
    }
    if not with_plans:
        return
    by_year = {ref: rec for ref, rec in with_plans.items() if rec.plan_years is not None}
    changes = _replace(run, {ref: rec for ref, rec in with_plans.items() if rec.plan_years is None})
    for chunk in _chunks(list(by_year), 500):
        stmt = (
            select(Project)
            .where(Project.org_id == run.org.id, Project.reference.in_(chunk))
            .options(selectinload(Project.budgets), selectinload(Project.planned_disbursements))
        )
        for project in db.session.scalars(stmt):
            before = plan_service.snapshot(project)
            rec = by_year[project.reference]
            _count(run, rec)
            if _set_years(run, project, rec):
                changes.append((run.batch.id, "plans", project.id, "update", before))
    run.counts["plans_replaced"] += len(changes)
    if changes:
        columns = ("batch_id", "entity_type", "entity_id", "action", "before")
        BulkInsert(db.session.connection(), ImportChange.__table__, columns).execute(changes, run.chunk_size)
    db.session.flush()


BUDGET_COLUMNS = (
    "project_id",
    "created_at",
    "kind",
    "status",
    "period_start",
    "period_end",
    "amount_minor",
    "currency",
    "value_date",
    "usd_minor",
    "usd_rate",
    "usd_rate_date",
    "usd_rate_source",
    "import_batch_id",
)
PLANNED_COLUMNS = tuple(c for c in BUDGET_COLUMNS if c != "status") + (
    "provider_ref",
    "provider_name",
    "receiver_ref",
    "receiver_name",
)


def _replace(run: _Run, records: dict[str, ProjectRecord]) -> list[tuple]:
    """The file's budgets and planned disbursements in place of the stored ones, for every project
    at once: the checks, the row values (USD at each value date's rate), the snapshots and the
    audit event of ``registry.services.plans.set_plans``, written as a few DELETEs and multi-row
    INSERTs (one project at a time through the ORM cost a flush each: 7 s for 5,700 projects).
    A project whose plans the file leaves as they are is not written. Returns the undo log rows."""
    if not records:
        return []
    ids: dict[str, int] = {}
    for chunk in _chunks(list(records), 500):
        stmt = select(Project.reference, Project.id).where(Project.org_id == run.org.id, Project.reference.in_(chunk))
        ids.update((reference, pid) for reference, pid in db.session.execute(stmt))
    stored_budgets = _stored(ProjectBudget, list(ids.values()))
    stored_planned = _stored(PlannedDisbursement, list(ids.values()))
    batch = run.actor.import_batch_id
    now = utcnow()
    event = event_row(run.actor, run.org.id)
    budget_rows: list[tuple] = []
    planned_rows: list[tuple] = []
    replaced: dict[type, list[int]] = {ProjectBudget: [], PlannedDisbursement: []}
    usd_updates: dict[type, list[dict]] = {ProjectBudget: [], PlannedDisbursement: []}
    events, changes = [], []
    for reference, pid in ids.items():
        rec = records[reference]
        _count(run, rec)
        old_budgets, old_planned = stored_budgets.get(pid, []), stored_planned.get(pid, [])
        budgets = planned = None
        if rec.budgets is not None:
            checked = plan_service.check_budgets([p.as_budget() for p in rec.budgets])
            budgets = [plan_service.plan_values(values, batch) for values in checked]
        if rec.planned_disbursements is not None:
            checked = plan_service.check_planned([p.as_planned() for p in rec.planned_disbursements])
            planned = [plan_service.plan_values(values, batch) for values in checked]
        before = plan_service.snapshot_of(old_budgets, old_planned)
        after = plan_service.snapshot_of(
            old_budgets if budgets is None else budgets, old_planned if planned is None else planned
        )
        if after == before:  # the rows stay; a USD value converted since is brought up to date
            for model, rows, values in (
                (ProjectBudget, old_budgets, budgets),
                (PlannedDisbursement, old_planned, planned),
            ):
                refreshed = plan_service.usd_refreshed(rows, values)
                usd_updates[model] += [{"plan_id": row.id, **usd} for row, usd in refreshed]
            continue
        head = {"project_id": pid, "created_at": now}
        if budgets is not None:
            replaced[ProjectBudget].append(pid)
            budget_rows += [tuple((head | values)[c] for c in BUDGET_COLUMNS) for values in budgets]
        if planned is not None:
            replaced[PlannedDisbursement].append(pid)
            planned_rows += [tuple((head | values)[c] for c in PLANNED_COLUMNS) for values in planned]
        events.append(event("update", pid, before, after, "Import replaced the forward plans"))
        changes.append((run.batch.id, "plans", pid, "update", before))
    connection = db.session.connection()
    for model, params in usd_updates.items():
        table = model.__table__
        stmt = update(table).where(table.c.id == bindparam("plan_id"))
        stmt = stmt.values({name: bindparam(name) for name in plan_service.USD_COLUMNS})
        for chunk in _chunks(params, 1000):
            connection.execute(stmt, chunk)
    for model, pids in replaced.items():
        table = model.__table__
        for chunk in _chunks(pids, 500):
            db.session.execute(delete(table).where(table.c.project_id.in_(chunk)))
    BulkInsert(connection, ProjectBudget.__table__, BUDGET_COLUMNS).execute(budget_rows, run.chunk_size)
    BulkInsert(connection, PlannedDisbursement.__table__, PLANNED_COLUMNS).execute(planned_rows, run.chunk_size)
    BulkInsert(connection, AuditEvent.__table__, EVENT_COLUMNS).execute(events, run.chunk_size)
    changed = {pid for pids in replaced.values() for pid in pids}
    moved = {(model, p["plan_id"]) for model, params in usd_updates.items() for p in params}
    for obj in list(db.session.identity_map.values()):  # what the session holds of them is stale now
        if isinstance(obj, Project) and obj.id in changed:
            db.session.expire(obj, ["budgets", "planned_disbursements"])
        elif isinstance(obj, ProjectBudget | PlannedDisbursement) and (type(obj), obj.id) in moved:
            db.session.expire(obj)
    return changes


def _count(run: _Run, rec: ProjectRecord) -> None:
    run.counts["budgets"] += len(rec.budgets or ())
    run.counts["planned_disbursements"] += len(rec.planned_disbursements or ())


def _stored(model: type, project_ids: list[int]) -> dict[int, list[Any]]:
    """The stored plans of the projects, by project, in the order a project's own list keeps them."""
    table = model.__table__
    out: dict[int, list[Any]] = {}
    for chunk in _chunks(project_ids, 500):
        stmt = (
            select(table)
            .where(table.c.project_id.in_(chunk))
            .order_by(table.c.project_id, table.c.period_start, table.c.id)
        )
        for row in db.session.execute(stmt):
            out.setdefault(row.project_id, []).append(row)
    return out


def _set_years(run: _Run, project: Project, rec: ProjectRecord) -> bool:
    """A sheet's plans by year: the years its cells state replace the planned disbursements
    within those years, unless these already total the same amounts (then they stay, their
    value dates too: an unchanged file changes nothing); other years' plans stay."""
    years: dict[int, dict[str, Decimal]] = {year: {} for year in rec.plan_years or ()}
    for plan in rec.planned_disbursements or ():
        amounts = years.setdefault(plan.period_start.year, {})
        amounts[plan.currency] = amounts.get(plan.currency, Decimal(0)) + plan.amount
    budgets_changed = rec.budgets is not None and plan_service.set_plans(
        run.actor, project, budgets=[p.as_budget() for p in rec.budgets], summary="Import replaced the budgets"
    )
    changed = plan_service.set_years(run.actor, project, years, summary="Import set the planned disbursements by year")
    return changed or budgets_changed


def restore_plans(change: ImportChange, actor) -> None:
    """Undo: put back the plans an import replaced (a project removed since has none to restore)."""
    project = db.session.get(Project, change.entity_id)
    if project is None:
        return
    saved = change.before or {}
    plan_service.set_plans(
        actor,
        project,
        budgets=[_dated(item) for item in saved.get("budgets", [])],
        planned=[_dated(item) for item in saved.get("planned_disbursements", [])],
        summary="Undo of an import: restored the forward plans",
    )


def _dated(item: dict) -> dict:
    """A snapshot's plan with its dates as dates again (snapshots keep them as ISO text)."""
    out = dict(item)
    for name in ("period_start", "period_end", "value_date"):
        if out.get(name):
            out[name] = dt.date.fromisoformat(out[name])
    return out
