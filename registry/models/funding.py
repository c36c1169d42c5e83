"""Funding sources: pots of money with rules (who, what, how much, when)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import db
from registry.models.organisation import Organisation, enum_column
from registry.models.reference import Country, PriorityArea, RecipientCategory, Region
from registry.models.soft_delete import SoftDeleted
from registry.models.types import Instrument, SourceKind, UTCDateTime, utcnow


def _source_link(name: str, column: str, target: str) -> Table:
    """An association table from a funding source's eligibility rule to a reference row."""
    return Table(
        name,
        db.metadata,
        Column("funding_source_id", ForeignKey("funding_sources.id", ondelete="CASCADE"), primary_key=True),
        Column(column, ForeignKey(target), primary_key=True),
    )


funding_source_countries = _source_link("funding_source_countries", "country_iso3", "countries.iso3")
funding_source_regions = _source_link("funding_source_regions", "region_code", "regions.code")
funding_source_categories = _source_link("funding_source_categories", "category_code", "recipient_categories.code")
funding_source_areas = _source_link("funding_source_areas", "area_code", "priority_areas.code")


class FundingSourceInstrument(db.Model):
    __tablename__ = "funding_source_instruments"

    funding_source_id: Mapped[int] = mapped_column(
        ForeignKey("funding_sources.id", ondelete="CASCADE"), primary_key=True
    )
    instrument: Mapped[Instrument] = mapped_column(enum_column(Instrument, "instrument"), primary_key=True)


class FundingSource(SoftDeleted, db.Model):
    """A pot of money: who manages it, what it offers, who and what it funds."""

    __tablename__ = "funding_sources"
    __table_args__ = (
        CheckConstraint(
            "min_amount_minor IS NULL OR max_amount_minor IS NULL OR min_amount_minor <= max_amount_minor",
            name="amount_range",
        ),
        CheckConstraint(
            "window_from IS NULL OR window_until IS NULL OR window_from <= window_until",
            name="window_ordered",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(250))
    kind: Mapped[SourceKind] = mapped_column(enum_column(SourceKind, "source_kind"))
    managing_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # Eligible for every recipient when no country, region or category is listed.
    min_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    max_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    amount_currency: Mapped[str] = mapped_column(String(3), default="USD")
    window_from: Mapped[dt.date | None] = mapped_column(Date)
    window_until: Mapped[dt.date | None] = mapped_column(Date)
    website: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    demo: Mapped[bool] = mapped_column(default=False)
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    managing_org: Mapped[Organisation] = relationship()
    instrument_rows: Mapped[list[FundingSourceInstrument]] = relationship(
        cascade="all, delete-orphan", order_by=FundingSourceInstrument.instrument
    )
    countries: Mapped[list[Country]] = relationship(secondary=funding_source_countries, order_by=Country.iso3)
    regions: Mapped[list[Region]] = relationship(secondary=funding_source_regions, order_by=Region.code)
    categories: Mapped[list[RecipientCategory]] = relationship(
        secondary=funding_source_categories, order_by=RecipientCategory.code
    )
    areas: Mapped[list[PriorityArea]] = relationship(secondary=funding_source_areas, order_by=PriorityArea.code)

    __mapper_args__ = {"version_id_col": version}

    @property
    def instruments(self) -> list[str]:
        return [row.instrument.value for row in self.instrument_rows]

    def __repr__(self) -> str:
        return f"<FundingSource {self.ref}>"
