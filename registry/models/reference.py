"""Reference data: countries, M49 regions, recipient categories, priority areas."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import db


class Region(db.Model):
    """A UN M49 region, sub-region or intermediate region."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))  # world, region, subregion, intermediate
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"


class Country(db.Model):
    """An ISO 3166-1 country or territory (and Kosovo, XK/XKX) with its M49 region and DAC status."""

    __tablename__ = "countries"

    iso3: Mapped[str] = mapped_column(String(3), primary_key=True)
    iso2: Mapped[str] = mapped_column(String(2), unique=True)
    # ISO 3166-1 numeric; NULL for Kosovo (XKX), which ISO 3166-1 does not code.
    numeric: Mapped[str | None] = mapped_column(String(3), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_fr: Mapped[str | None] = mapped_column(String(100))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    subregion_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    intermediate_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    dac_recipient: Mapped[bool] = mapped_column(default=False)
    # OECD DAC list income group: LDC, OLIC (other low income), LMIC, UMIC
    income_group: Mapped[str | None] = mapped_column(String(8))

    region: Mapped[Region | None] = relationship(foreign_keys=[region_code])
    subregion: Mapped[Region | None] = relationship(foreign_keys=[subregion_code])
    intermediate: Mapped[Region | None] = relationship(foreign_keys=[intermediate_code])
    memberships: Mapped[list[CategoryMembership]] = relationship(
        back_populates="country", order_by="CategoryMembership.valid_from"
    )

    def categories_on(self, day: dt.date) -> list[str]:
        """Codes of the recipient categories the country belongs to on ``day``."""
        return sorted({m.category_code for m in self.memberships if m.in_force(day)})

    def __repr__(self) -> str:
        return f"<Country {self.iso3}>"


class RecipientCategory(db.Model):
    """LDC, LLDC, SIDS, HIPC, EIT, FCS, OCC."""

    __tablename__ = "recipient_categories"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(300), default="")


class CategoryMembership(db.Model):
    """A country's membership of a category over ``[valid_from, valid_to)``."""

    __tablename__ = "category_memberships"
    __table_args__ = (
        UniqueConstraint("country_iso3", "category_code", "valid_from"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="dates_ordered"),
        Index("ix_category_memberships_lookup", "category_code", "country_iso3", "valid_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    country_iso3: Mapped[str] = mapped_column(ForeignKey("countries.iso3"))
    category_code: Mapped[str] = mapped_column(ForeignKey("recipient_categories.code"))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)  # exclusive; NULL = still a member
    source: Mapped[str] = mapped_column(String(300), default="")

    country: Mapped[Country] = relationship(back_populates="memberships")

    def in_force(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


class PriorityArea(db.Model):
    """A Tunis Agenda paragraph 23 priority area, 23a-23l."""

    __tablename__ = "priority_areas"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    short_name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(String(1000))
    main_list: Mapped[bool] = mapped_column(default=True)
