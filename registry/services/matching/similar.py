"""Similar past projects: what a source (or its organisation) funded before in the areas asked
for, in the country or its region, closest in size to the need."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from sqlalchemy import func, select, union
from sqlalchemy.orm import selectinload

from registry import money
from registry.extensions import db
from registry.models import FundingSource, Project, ProjectArea, ProjectRecipient, Transaction
from registry.models.types import ProjectStatus
from registry.services.matching.evidence import (
    EVIDENCE_YEARS,
    commitments_between,
    evidence_regions,
    flows_in,
    org_keys,
    place_members,
    provider_key,
    recipients_in,
    years_before,
)

SIMILAR_LIMIT = 3


@dataclass
class Similar:
    """A past project like the need: same area, same country or region, similar size."""

    project_id: int
    title: str
    countries: list[str]
    areas: list[str]
    committed_usd: Decimal
    same_country: bool


@dataclass
class Candidate:
    """A past project near the need, with its commitments in USD and who funded them."""

    project: Project
    countries: list[str]
    areas: list[str]
    same_country: bool
    committed_minor: int = 0  # USD cents
    sources: set[int] = field(default_factory=set)
    orgs: set[int] = field(default_factory=set)

    @cached_property  # read once the rows are summed, then many times while ranking
    def committed_usd(self) -> Decimal:
        return money.from_minor(self.committed_minor, "USD")


def similar_candidates(
    countries: list[str] | str, areas: list[str], day: dt.date, regions: list[str] = ()
) -> list[Candidate]:
    """Past (non-pipeline) projects in the area and in the countries or their regions (or the
    regions asked for), with funders."""
    countries = [countries] if isinstance(countries, str) else list(countries)
    codes = evidence_regions(countries, list(regions))
    members, inside = place_members(codes)
    members += [iso3 for iso3 in countries if iso3 not in members]
    place = union(
        select(ProjectRecipient.project_id).where(recipients_in(members, inside)),
        # a project whose flows name the place themselves is there too
        select(Transaction.project_id).where(flows_in(members, inside)),
    )
    in_area = select(ProjectArea.project_id).where(ProjectArea.area_code.in_(areas or ["-"]))
    keys = (
        Transaction.project_id,
        Transaction.funding_source_id,
        provider_key().label("provider"),
        FundingSource.managing_org_id,
    )
    stmt = (
        commitments_between(
            select(*keys, func.sum(Transaction.usd_minor).label("usd_minor")),
            years_before(day, EVIDENCE_YEARS),
            day,
        )
        .where(
            Project.status != ProjectStatus.PIPELINE,
            Transaction.project_id.in_(place),
            Transaction.project_id.in_(in_area),
        )
        .group_by(*keys)
    )
    rows = db.session.execute(stmt).all()
    if not rows:
        return []
    ids = sorted({row.project_id for row in rows})
    projects = {
        p.id: p
        for p in db.session.scalars(
            select(Project)
            .where(Project.id.in_(ids))
            .options(selectinload(Project.recipients), selectinload(Project.areas))
        )
    }
    candidates: dict[int, Candidate] = {}
    for project_id in ids:
        project = projects[project_id]
        theirs = [r.country_iso3 for r in project.recipients if r.country_iso3]
        candidates[project_id] = Candidate(
            project=project,
            countries=theirs or [r.region_code for r in project.recipients if r.region_code],
            areas=[a.area_code for a in project.areas],
            same_country=bool(set(theirs) & set(countries)),
        )
    for row in rows:
        candidate = candidates[row.project_id]
        candidate.committed_minor += int(row.usd_minor or 0)
        if row.funding_source_id is not None:
            candidate.sources.add(row.funding_source_id)
        candidate.orgs.update(org_keys(row.provider, row.managing_org_id))
    return list(candidates.values())


def _size_distance(a: Decimal, b: Decimal) -> Decimal:
    """How unlike two sizes are: the larger over the smaller (1 = the same size)."""
    low, high = sorted((a, b))
    if low <= 0:
        return Decimal("Infinity")
    return high / low


def similar_projects(
    source: FundingSource,
    candidates: list[Candidate],
    amount_usd: Decimal | None,
    limit: int = SIMILAR_LIMIT,
) -> list[Similar]:
    """The source's (else its managing organisation's) past projects most like the need.

    Order: funded by the source itself first, then same country before same region, then
    closest in size to the amount (ratio of the larger to the smaller), then project id.
    """
    chosen = [c for c in candidates if source.id in c.sources or source.managing_org_id in c.orgs]

    def key(c: Candidate) -> tuple[bool, bool, Decimal, int]:
        size = _size_distance(c.committed_usd, amount_usd) if amount_usd else Decimal(0)
        return (source.id not in c.sources, not c.same_country, size, c.project.id)

    return [
        Similar(
            project_id=c.project.id,
            title=c.project.title,
            countries=c.countries,
            areas=c.areas,
            committed_usd=c.committed_usd,
            same_country=c.same_country,
        )
        for c in sorted(chosen, key=key)[:limit]
    ]
