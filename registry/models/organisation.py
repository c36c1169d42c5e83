"""Organisations: donors, funds, governments, implementers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import db
from registry.models.reference import Country
from registry.models.soft_delete import SoftDeleted
from registry.models.types import OrganisationKind, UTCDateTime, utcnow


def enum_column(enum_cls, name: str) -> Enum:
    """A portable enum: VARCHAR plus a CHECK constraint, storing the values."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Organisation(SoftDeleted, db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Short stable reference used by scripts and importers (e.g. "SE-SIDA").
    ref: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(250))
    kind: Mapped[OrganisationKind] = mapped_column(enum_column(OrganisationKind, "organisation_kind"))
    iati_ref: Mapped[str | None] = mapped_column(String(100), unique=True)
    country_iso3: Mapped[str | None] = mapped_column(ForeignKey("countries.iso3"))
    website: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(String(2000), default="")
    demo: Mapped[bool] = mapped_column(default=False)
    # The batch that created it. No foreign key: import batches point at organisations,
    # and a cycle of foreign keys would make table order ambiguous.
    import_batch_id: Mapped[int | None] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    country: Mapped[Country | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Organisation {self.ref}>"
