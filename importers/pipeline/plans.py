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
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from importers.bulk import BulkInsert
from importers.models import ImportChange
from importers.pipeline.common import _chunks
from importers.records import ProjectRecord
from registry.extensions import db
from registry.models import Project
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
    changes = []
    for chunk in _chunks(list(with_plans), 500):
        stmt = (
            select(Project)
            .where(Project.org_id == run.org.id, Project.reference.in_(chunk))
            .options(selectinload(Project.budgets), selectinload(Project.planned_disbursements))
        )
        for project in db.session.scalars(stmt):
            rec = with_plans[project.reference]
            before = plan_service.snapshot(project)
            if rec.plan_years is not None:
                changed = _set_years(run, project, rec)
            else:
                changed = plan_service.set_plans(
                    run.actor,
                    project,
                    budgets=None if rec.budgets is None else [p.as_budget() for p in rec.budgets],
                    planned=None
                    if rec.planned_disbursements is None
                    else [p.as_planned() for p in rec.planned_disbursements],
                    summary="Import replaced the forward plans",
                )
            if changed:
                changes.append((run.batch.id, "plans", project.id, "update", before))
                run.counts["plans_replaced"] += 1
            run.counts["budgets"] += len(rec.budgets or ())
            run.counts["planned_disbursements"] += len(rec.planned_disbursements or ())
    if changes:
        columns = ("batch_id", "entity_type", "entity_id", "action", "before")
        BulkInsert(db.session.connection(), ImportChange.__table__, columns).execute(changes, run.chunk_size)
    db.session.flush()


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
