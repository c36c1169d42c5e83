"""The donor side: open pipeline projects, their remaining funding gaps, and the projects
that fit one funding source, ranked by the same criteria and weights as the finder."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import selectinload

from registry import money
from registry.collector import collector_paused
from registry.errors import ConversionError
from registry.extensions import db
from registry.models import FundingSource, Project, ProjectArea, ProjectRecipient, Transaction
from registry.models.types import Instrument, ProjectStatus, TransactionType
from registry.services.matching.criteria import (
    UNKNOWN,
    Assessed,
    Criterion,
    ReferenceCache,
    assess,
    base_score,
)
from registry.services.matching.evidence import (
    BONUS_COUNTRY,
    countries_funded_by_sources,
    flows_in,
    place_members,
    recipients_in,
)
from registry.services.matching.need import codes_of, project_need
from registry.services.scope import projects_with_scope


@dataclass
class Gap:
    """A project's need minus its commitments, in USD and in the need's currency."""

    need_usd: Decimal | None
    committed_usd: Decimal
    gap_usd: Decimal | None
    need: Decimal | None
    currency: str | None
    committed: Decimal | None
    gap: Decimal | None


def _converted(commitment, currency: str) -> Decimal:
    """A commitment row's amount in ``currency`` at the rate of its own value date."""
    amount = money.from_minor(commitment.amount_minor, commitment.currency)
    return money.convert(amount, commitment.currency, currency, commitment.value_date).amount


def funding_gaps(projects: list) -> dict[int, Gap]:
    """Remaining funding gap of each project; commitments converted at their own value dates.

    ``projects``: ``Project`` objects, or rows with their ``id``, ``need_usd_minor``,
    ``need_minor`` and ``need_currency`` (what a list computes its gaps from)."""
    ids = [p.id for p in projects]
    rows = (
        db.session.execute(
            select(
                Transaction.project_id,
                Transaction.amount_minor,
                Transaction.currency,
                Transaction.value_date,
                Transaction.usd_minor,
            ).where(Transaction.project_id.in_(ids), Transaction.type == TransactionType.COMMITMENT)
        ).all()
        if ids
        else []
    )
    by_project: dict[int, list] = defaultdict(list)
    for row in rows:
        by_project[row.project_id].append(row)
    out = {}
    for project in projects:
        commits = by_project.get(project.id, [])
        committed_usd = money.from_minor(sum(r.usd_minor or 0 for r in commits), "USD")  # unconverted flows: none
        need_usd = money.from_minor(project.need_usd_minor, "USD") if project.need_usd_minor is not None else None
        need = cur = committed = gap = None
        if project.need_minor is not None and project.need_currency:
            cur = project.need_currency
            need = money.from_minor(project.need_minor, cur)
            try:
                committed = sum((_converted(r, cur) for r in commits), Decimal(0))
                committed = money.quantize(committed, cur)
                gap = need - committed
            except ConversionError:
                committed = gap = None
        out[project.id] = Gap(
            need_usd=need_usd,
            committed_usd=committed_usd,
            gap_usd=need_usd - committed_usd if need_usd is not None else None,
            need=need,
            currency=cur,
            committed=committed,
            gap=gap,
        )
    return out


def listed_gaps(stmt: Select) -> tuple[list, dict[int, Gap]]:
    """The rows of ``stmt`` (a ``pipeline_statement`` of ``Project.id``, ``need_usd_minor``,
    ``need_minor`` and ``need_currency``) and each one's gap, as ``funding_gaps`` computes it,
    for thousands of projects at once: the database sums each project's commitments (in USD,
    and those in the need's own currency, which need no conversion); only a project with a
    commitment in another currency than its need's goes through ``funding_gaps``, its
    commitments converted one by one at their own dates."""
    rows = db.session.execute(stmt).all()
    same = Transaction.currency == Project.need_currency
    sums = select(
        Transaction.project_id,
        func.coalesce(func.sum(Transaction.usd_minor), 0),  # unconverted flows: none (as funding_gaps)
        func.coalesce(func.sum(case((same, Transaction.amount_minor), else_=0)), 0),
        func.sum(case((same, 0), else_=1)),
    )
    sums = (
        sums.join(Project, Project.id == Transaction.project_id)
        .where(
            Transaction.type == TransactionType.COMMITMENT,
            Transaction.project_id.in_(stmt.with_only_columns(Project.id).order_by(None)),
        )
        .group_by(Transaction.project_id)
    )
    by_project = {pid: (usd, own, other) for pid, usd, own, other in db.session.execute(sums)}
    out: dict[int, Gap] = {}
    converted = []
    for row in rows:
        usd, own, other = by_project.get(row.id, (0, 0, 0))
        in_currency = row.need_minor is not None and bool(row.need_currency)
        if in_currency and other:
            converted.append(row)
            continue
        need_usd = money.from_minor(row.need_usd_minor, "USD") if row.need_usd_minor is not None else None
        committed_usd = money.from_minor(usd, "USD")
        need = committed = gap = None
        if in_currency:
            need = money.from_minor(row.need_minor, row.need_currency)
            committed = money.from_minor(own, row.need_currency)
            gap = need - committed
        out[row.id] = Gap(
            need_usd=need_usd,
            committed_usd=committed_usd,
            gap_usd=need_usd - committed_usd if need_usd is not None else None,
            need=need,
            currency=row.need_currency if in_currency else None,
            committed=committed,
            gap=gap,
        )
    out.update(funding_gaps(converted))
    return rows, out


@dataclass
class ProjectMatch(Assessed):
    """A pipeline project assessed against a funding source."""

    project: Project
    criteria: list[Criterion]
    gap: Gap
    score: int = 0


def project_sort_key(match: ProjectMatch) -> tuple[int, Decimal, str, int]:
    """Score high to low, then the larger remaining USD gap first, then title, then id."""
    gap = match.gap.gap_usd if match.gap.gap_usd is not None else Decimal("-Infinity")
    return (-match.score, -gap, match.project.title.casefold(), match.project.id)


def pipeline_statement(filters: dict | None = None, *columns) -> Select:
    """The open pipeline projects under ``filters`` (country, region, scope, priority area,
    instrument sought, text), newest first: as ``Project`` objects, or as rows of ``columns``."""
    filters = filters or {}
    stmt = (
        select(*columns or (Project,))
        .where(Project.status == ProjectStatus.PIPELINE)
        .order_by(Project.created_at.desc(), Project.id.desc())
    )
    countries = filters.get("countries") or codes_of(filters.get("country"))
    if countries:
        # a project over several countries is found from any of them
        countries = [c.upper() for c in countries]
        stmt = stmt.where(in_places(countries, set()))
    if filters.get("regions"):
        # ... and from a region holding any of its countries, or recorded against the region itself
        members, inside = place_members(filters["regions"])
        stmt = stmt.where(in_places(members, inside))
    if filters.get("scopes"):
        stmt = stmt.where(Project.id.in_(projects_with_scope(filters["scopes"])))
    if filters.get("priority_area"):
        stmt = stmt.where(
            Project.id.in_(select(ProjectArea.project_id).where(ProjectArea.area_code == filters["priority_area"]))
        )
    if filters.get("instrument"):
        stmt = stmt.where(Project.instrument_sought == Instrument(filters["instrument"]))
    if filters.get("q"):
        stmt = stmt.where(Project.title.ilike(f"%{filters['q']}%"))
    return stmt


def pipeline_projects(filters: dict | None = None) -> list[Project]:
    """Open pipeline projects, optionally by country, priority area, instrument sought."""
    stmt = pipeline_statement(filters).options(
        selectinload(Project.recipients), selectinload(Project.areas), selectinload(Project.org)
    )
    return list(db.session.scalars(stmt))


def with_lists(ids: list[int]) -> list[Project]:
    """The projects of ``ids``, in that order, with what lists show (recipients, areas, organisation)."""
    found: dict[int, Project] = {}
    for start in range(0, len(ids), 1000):  # bounded lists of bound parameters, whatever the count
        stmt = (
            select(Project)
            .where(Project.id.in_(ids[start : start + 1000]))
            .options(selectinload(Project.recipients), selectinload(Project.areas), selectinload(Project.org))
        )
        found.update((p.id, p) for p in db.session.scalars(stmt))
    return [found[i] for i in ids]


def in_places(countries: list[str], regions: set[str]):
    """SQL condition: the project has a recipient (or a flow naming one) among ``countries`` or
    ``regions``."""
    return or_(
        Project.id.in_(select(ProjectRecipient.project_id).where(recipients_in(countries, regions))),
        Project.id.in_(select(Transaction.project_id).where(flows_in(countries, regions))),
    )


def matching_projects(
    source: FundingSource, day: dt.date | None = None, include_failing: bool = False
) -> list[ProjectMatch]:
    """Pipeline projects ranked by fit to the source; only eligible ones unless asked.

    The amount judged is the project's remaining gap; a track record in the project's
    country earns the same bonus as on the finder side."""
    return matching_projects_by_source([source], day, include_failing)[source]


def matching_projects_by_source(
    sources: list[FundingSource], day: dt.date | None = None, include_failing: bool = False
) -> dict[FundingSource, list[ProjectMatch]]:
    """``matching_projects`` for each of ``sources``: the pipeline projects, their gaps, their
    needs and the sources' track records are read once for them all."""
    with collector_paused():  # thousands of pipeline projects loaded as objects
        return _matching_projects_by_source(sources, day or dt.date.today(), include_failing)


def _matching_projects_by_source(
    sources: list[FundingSource], day: dt.date, include_failing: bool
) -> dict[FundingSource, list[ProjectMatch]]:
    ref = ReferenceCache(day)
    projects = pipeline_projects()
    gaps = funding_gaps(projects)
    asked = []
    for project in projects:
        gap = gaps[project.id]
        ask = gap.gap if gap.gap is not None and gap.gap > 0 else None
        need = project_need(project, day, ask, gap.currency if ask is not None else None)
        asked.append((project, gap, need, ask is None and gap.need is not None, set(need.countries)))
    known_by_source = countries_funded_by_sources(sources, day)
    covered = None
    found: dict[FundingSource, list[ProjectMatch]] = {}
    for source in sources:
        known = known_by_source[source]
        out = []
        for project, gap, need, nothing_left, countries in asked:
            criteria = assess(source, need, ref)
            if nothing_left:
                if covered is None:
                    covered = _("Nothing left to fund: commitments cover the need")
                criteria = [Criterion("amount", UNKNOWN, covered) if c.key == "amount" else c for c in criteria]
            match = ProjectMatch(project, criteria, gap)
            match.score = base_score(criteria) + (BONUS_COUNTRY if countries & known else 0)
            if match.eligible or include_failing:
                out.append(match)
        out.sort(key=project_sort_key)
        found[source] = out
    return found
