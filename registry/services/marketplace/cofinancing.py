"""Co-financing: a pipeline project stays in the marketplace with its remaining gap until
commitments cover its need, and donors see who else has committed or is interested.

The remaining gap is the one ``matching.funding_gaps`` computes (the need minus the
commitments, each converted to the need's currency at the rate of its value date); this
module only decides from it whether the need is covered, and lists, filters and sorts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.collector import collector_paused
from registry.extensions import db
from registry.models import PipelineInterest, Project, Transaction
from registry.models.types import ProjectStatus, TransactionType
from registry.services import matching, projects
from registry.services.actor import Actor

# How the marketplace list may be sorted: newest first (the default), or by remaining gap in USD.
SORTS = ("newest", "gap", "gap_asc")


def is_covered(gap: matching.Gap) -> bool:
    """True when commitments cover the need: the gap in the need's currency is zero or less
    (in USD when the need's currency cannot be converted); a project with no stated need or
    an unknown gap is never covered."""
    if gap.gap is not None:
        return gap.gap <= 0
    return gap.gap_usd is not None and gap.gap_usd <= 0


def settle(actor: Actor, project: Project) -> matching.Gap:
    """Move a pipeline project to active once its need is covered; return its gap."""
    gap = matching.funding_gaps([project])[project.id]
    if project.status is ProjectStatus.PIPELINE and is_covered(gap):
        projects.update_project(actor, project, {"status": ProjectStatus.ACTIVE})
    return gap


def has_commitments(gap: matching.Gap) -> bool:
    return bool(gap.committed_usd) or bool(gap.committed)


@dataclass
class Listing:
    """The marketplace's open projects under its filters, with each one's remaining gap:
    ``projects`` is the page asked for (all of them when no page was asked for), ``total``
    how many there are in all."""

    projects: list[Project]
    gaps: dict[int, matching.Gap]
    total: int = 0


def _usd_gap_key(gap: matching.Gap) -> Decimal:
    return gap.gap_usd if gap.gap_usd is not None else Decimal("-Infinity")


# What the list decides from: the gap needs only these, so thousands of pipeline projects are
# judged from plain rows and only the page shown is loaded as objects with its relations.
GAP_COLUMNS = (Project.id, Project.need_usd_minor, Project.need_minor, Project.need_currency)


def open_projects(filters: dict[str, Any] | None = None, page: int | None = None, per_page: int = 50) -> Listing:
    """Pipeline projects still seeking money (a covered one is left out even before its status
    moves), filtered by ``has_commitments`` and ``min_gap`` (USD) and sorted as ``sort`` says;
    only page ``page`` (of ``per_page``) when one is asked for."""
    filters = dict(filters or {})
    with_commitments = filters.pop("has_commitments", None)
    min_gap = filters.pop("min_gap", None)
    sort = filters.pop("sort", None) or "newest"
    with collector_paused():  # a gap for each of thousands of pipeline projects
        listed, gaps = matching.listed_gaps(matching.pipeline_statement(filters, *GAP_COLUMNS))
    kept = [row.id for row in listed if not is_covered(gaps[row.id])]
    if with_commitments is not None:
        kept = [i for i in kept if has_commitments(gaps[i]) is with_commitments]
    if min_gap is not None:
        kept = [i for i in kept if gaps[i].gap_usd is not None and gaps[i].gap_usd >= min_gap]
    if sort == "gap":
        kept.sort(key=lambda i: -_usd_gap_key(gaps[i]))  # stable: newest first among equals
    elif sort == "gap_asc":
        kept.sort(key=lambda i: (gaps[i].gap_usd is None, _usd_gap_key(gaps[i])))
    total = len(kept)
    if page is not None:
        kept = kept[(page - 1) * per_page : page * per_page]
    return Listing(matching.with_lists(kept), {i: gaps[i] for i in kept}, total)


def commitments_by_project(project_ids: list[int]) -> dict[int, list[Transaction]]:
    """Each project's commitments, oldest first, with their organisation and funding source."""
    if not project_ids:
        return {}
    stmt = (
        select(Transaction)
        .where(Transaction.project_id.in_(project_ids), Transaction.type == TransactionType.COMMITMENT)
        .options(selectinload(Transaction.provider_org), selectinload(Transaction.funding_source))
        .order_by(Transaction.value_date, Transaction.id)
    )
    out: dict[int, list[Transaction]] = defaultdict(list)
    for tx in db.session.scalars(stmt):
        out[tx.project_id].append(tx)
    return out


def commitments_to(project: Project) -> list[Transaction]:
    """Who has committed to the project: organisation, funding source, amount, date."""
    return commitments_by_project([project.id]).get(project.id, [])


def committer(tx: Transaction):
    """The organisation that committed: the provider, else the funding source's manager."""
    if tx.provider_org is not None:
        return tx.provider_org
    return tx.funding_source.managing_org if tx.funding_source is not None else None


def interests_by_project(project_ids: list[int]) -> dict[int, list[PipelineInterest]]:
    """Each project's interested organisations, first come first."""
    if not project_ids:
        return {}
    stmt = (
        select(PipelineInterest)
        .where(PipelineInterest.project_id.in_(project_ids))
        .options(selectinload(PipelineInterest.org))
        .order_by(PipelineInterest.created_at, PipelineInterest.id)
    )
    out: dict[int, list[PipelineInterest]] = defaultdict(list)
    for interest in db.session.scalars(stmt):
        out[interest.project_id].append(interest)
    return out


def can_see_who_is_interested(actor: Actor) -> bool:
    """Any logged-in reader sees which organisations declared interest (so donors can
    coordinate); their notes and contacts stay with the government (``can_see_interests``)."""
    return actor.user_id is not None
