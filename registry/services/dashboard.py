"""Headline figures for the overview page."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select

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
from registry.models.project import SHARE_WHOLE
from registry.models.types import ProjectStatus, TransactionType
from registry.money import from_minor


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
    areas: list[tuple[str, str, Decimal]]
    demo: bool


def headline() -> Headline:
    """Counts and USD totals by transaction type, aggregated in the database."""
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    totals = dict(
        db.session.execute(select(Transaction.type, func.sum(Transaction.usd_minor)).group_by(Transaction.type)).all()
    )
    years = db.session.execute(select(func.min(Transaction.value_date), func.max(Transaction.value_date))).one()
    countries = db.session.scalar(
        select(func.count(func.distinct(ProjectRecipient.country_iso3))).where(
            ProjectRecipient.country_iso3.is_not(None)
        )
    )
    # Commitments by priority area, share-weighted (integer arithmetic, cents).
    weighted = (
        select(
            ProjectArea.area_code,
            func.sum(Transaction.usd_minor * ProjectArea.share_ppm),
        )
        .join(Transaction, Transaction.project_id == ProjectArea.project_id)
        .where(Transaction.type == TransactionType.COMMITMENT)
        .group_by(ProjectArea.area_code)
    )
    by_area = dict(db.session.execute(weighted).all())
    names = dict(db.session.execute(select(PriorityArea.code, PriorityArea.short_name)).all())
    areas = [
        (code, names[code], from_minor(round(Decimal(int(by_area.get(code) or 0)) / SHARE_WHOLE), "USD"))
        for code in sorted(names)
    ]
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
        areas=areas,
        demo=bool(db.session.scalar(select(func.count()).select_from(Project).where(Project.demo.is_(True)))),
    )
