"""Headline figures for the overview page."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import func, select, union

from registry.extensions import db
from registry.models import (
    FundingSource,
    Organisation,
    PriorityArea,
    Project,
    ProjectArea,
    ProjectRecipient,
    Transaction,
)
from registry.models.types import ProjectStatus, TransactionType
from registry.money import from_minor
from registry.services.shares import UNALLOCATED_AREA, allocate


@dataclass
class Headline:
    projects: int
    pipeline: int
    funding_sources: int
    organisations: int
    countries: int
    transactions: int
    usd_by_type: dict[str, Decimal]
    first_year: int | None
    last_year: int | None
    unconverted: int  # flows kept in their own currency (no rate): not in usd_by_type
    areas: list[tuple[str, str, Decimal]]  # (code, name, USD); code "" for the unallocated row
    demo: bool


def headline() -> Headline:
    """Counts and USD totals by transaction type, aggregated in the database."""
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    totals = dict(
        db.session.execute(select(Transaction.type, func.sum(Transaction.usd_minor)).group_by(Transaction.type)).all()
    )
    # The dates of the flows in the dollar totals; those kept in their own currency are counted apart.
    converted = Transaction.usd_minor.is_not(None)
    years = db.session.execute(
        select(func.min(Transaction.value_date), func.max(Transaction.value_date)).where(converted)
    ).one()
    unconverted = db.session.scalar(select(func.count()).select_from(Transaction).where(~converted))
    # Countries a project names as recipients, and those named on a flow itself.
    named = union(
        select(ProjectRecipient.country_iso3.label("iso3")).where(ProjectRecipient.country_iso3.is_not(None)),
        select(Transaction.recipient_country_iso3.label("iso3")).where(Transaction.recipient_country_iso3.is_not(None)),
    ).subquery()
    countries = db.session.scalar(select(func.count()).select_from(named))
    areas = _commitments_by_area()
    return Headline(
        projects=count(Project),
        pipeline=db.session.scalar(
            select(func.count()).select_from(Project).where(Project.status == ProjectStatus.PIPELINE)
        ),
        funding_sources=count(FundingSource),
        organisations=count(Organisation),
        countries=countries or 0,
        transactions=count(Transaction),
        usd_by_type={t.value: from_minor(int(totals.get(t) or 0), "USD") for t in TransactionType},
        first_year=years[0].year if years[0] else None,
        last_year=years[1].year if years[1] else None,
        unconverted=unconverted or 0,
        areas=areas,
        demo=bool(db.session.scalar(select(func.count()).select_from(Project).where(Project.demo.is_(True)))),
    )


def _commitments_by_area() -> list[tuple[str, str, Decimal]]:
    """USD commitments by priority area, as the reports give them to the cent: each project's
    commitments split by its area shares (normalised by their total), projects without an area
    as 'Unallocated', rounded by largest remainder so the rows add up to all commitments."""
    per_project = dict(
        db.session.execute(
            select(Transaction.project_id, func.sum(Transaction.usd_minor))
            .where(Transaction.type == TransactionType.COMMITMENT)
            .group_by(Transaction.project_id)
        ).all()
    )
    project_areas: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for project_id, code, ppm in db.session.execute(
        select(ProjectArea.project_id, ProjectArea.area_code, ProjectArea.share_ppm)
    ):
        project_areas[project_id].append((code, ppm))
    exact: dict[str, Fraction] = defaultdict(Fraction)
    for project_id, usd in per_project.items():
        usd = int(usd or 0)
        shares = project_areas.get(project_id)
        if not shares:
            exact[""] += usd
            continue
        whole = sum(ppm for _code, ppm in shares)
        for code, ppm in shares:
            exact[code] += Fraction(usd * ppm, whole)
    names = dict(db.session.execute(select(PriorityArea.code, PriorityArea.short_name)).all())
    codes = sorted(names) + ([""] if exact.get("") else [])
    shown, _total = allocate([exact.get(code, Fraction(0)) for code in codes], sum(exact.values(), Fraction(0)))
    return [
        (code, names.get(code, UNALLOCATED_AREA), from_minor(minor, "USD"))
        for code, minor in zip(codes, shown, strict=True)
    ]
