"""Projects with their recipients (countries or regions) and priority areas, each with shares."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    literal,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import db
from registry.models.organisation import Organisation, enum_column
from registry.models.reference import Country, PriorityArea, Region
from registry.models.scope import derive_scope
from registry.models.soft_delete import SoftDeleted
from registry.models.types import Instrument, ProjectStatus, UTCDateTime, utcnow

# Shares are percentages kept exactly as integers: parts per million of the
# whole (33.3333 % == 333333, 100 % == 1_000_000). Integers are exact on SQLite
# and PostgreSQL alike; ``share`` gives the percentage as a Decimal.
SHARE_SCALE = 10_000  # share_ppm = percent * 10_000
SHARE_WHOLE = 1_000_000


class ProjectRecipient(db.Model):
    """One recipient of a project: a country, or a region when no country is named.

    A row with neither is the share a source gave to an empty or unknown recipient: it stays
    unallocated in reports rather than being handed to the other recipients."""

    __tablename__ = "project_recipients"
    __table_args__ = (
        CheckConstraint("country_iso3 IS NULL OR region_code IS NULL", name="country_or_region"),
        CheckConstraint("share_ppm > 0 AND share_ppm <= 1000000", name="share_range"),
        UniqueConstraint("project_id", "country_iso3", "region_code"),
        Index("ix_project_recipients_country", "country_iso3", "project_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    country_iso3: Mapped[str | None] = mapped_column(ForeignKey("countries.iso3"))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    share_ppm: Mapped[int] = mapped_column(Integer)

    country: Mapped[Country | None] = relationship()
    region: Mapped[Region | None] = relationship()

    @property
    def share(self) -> Decimal:
        return Decimal(self.share_ppm) / SHARE_SCALE


class ProjectArea(db.Model):
    """A paragraph 23 priority area of a project with its share."""

    __tablename__ = "project_areas"
    __table_args__ = (
        CheckConstraint("share_ppm > 0 AND share_ppm <= 1000000", name="share_range"),
        UniqueConstraint("project_id", "area_code"),
        Index("ix_project_areas_area", "area_code", "project_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("priority_areas.code"))
    share_ppm: Mapped[int] = mapped_column(Integer)
    # Set when the area was inferred (e.g. from DAC purpose codes) rather than stated.
    inferred: Mapped[bool] = mapped_column(default=False)

    area: Mapped[PriorityArea] = relationship()

    @property
    def share(self) -> Decimal:
        return Decimal(self.share_ppm) / SHARE_SCALE


class ProjectSector(db.Model):
    """An OECD DAC 5-digit purpose code of a project, with its share."""

    __tablename__ = "project_sectors"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(5))
    share_ppm: Mapped[int | None] = mapped_column(Integer)


class Project(SoftDeleted, db.Model):
    __tablename__ = "projects"
    __table_args__ = (
        UniqueConstraint("org_id", "reference"),
        CheckConstraint(
            "planned_start IS NULL OR planned_end IS NULL OR planned_start <= planned_end",
            name="planned_dates_ordered",
        ),
        CheckConstraint(
            "actual_start IS NULL OR actual_end IS NULL OR actual_start <= actual_end",
            name="actual_dates_ordered",
        ),
        CheckConstraint("need_minor IS NULL OR need_minor >= 0", name="need_positive"),
        Index("ix_projects_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    reference: Mapped[str] = mapped_column(String(120))
    iati_identifier: Mapped[str | None] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ProjectStatus] = mapped_column(enum_column(ProjectStatus, "project_status"))
    planned_start: Mapped[dt.date | None] = mapped_column(Date)
    planned_end: Mapped[dt.date | None] = mapped_column(Date)
    actual_start: Mapped[dt.date | None] = mapped_column(Date)
    actual_end: Mapped[dt.date | None] = mapped_column(Date)
    need_minor: Mapped[int | None] = mapped_column(BigInteger)
    need_currency: Mapped[str | None] = mapped_column(String(3))
    # The need converted to USD at the rate of ``need_date`` (start, else creation).
    need_usd_minor: Mapped[int | None] = mapped_column(BigInteger)
    need_date: Mapped[dt.date | None] = mapped_column(Date)
    # Comma-separated WSIS action line codes (C1..C11), kept small and ordered.
    wsis_action_lines: Mapped[str] = mapped_column(String(60), default="")
    # Other identifiers of the activity (IATI other-identifier), newline-separated: aliases.
    other_identifiers: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Pipeline projects: what the recipient asks for, and whom to contact.
    instrument_sought: Mapped[Instrument | None] = mapped_column(enum_column(Instrument, "instrument_sought"))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    # IATI TiedStatus code (3 partially tied, 4 tied, 5 untied) of the project's flows that
    # give none of their own (IATI default-tied-status); empty: unknown.
    default_tied_status: Mapped[str | None] = mapped_column(String(1))
    # IATI CollaborationType code of the activity (1 bilateral, 2 multilateral inflows, 4
    # multilateral outflows, 8 bilateral triangular co-operation...); empty: not given.
    collaboration_type: Mapped[str | None] = mapped_column(String(2))
    # The organisations the file names as funding the activity (IATI participating-org role 1)
    # besides its provider, one a line as "type|ref" (IATI OrganisationType code, may be empty,
    # and the organisation's identifier): a DAC member or a multilateral among them funding a
    # Southern provider makes the cooperation triangular (registry.services.direction).
    funding_partners: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The direction set by hand (north_south, south_south, triangular, multilateral) instead of
    # the derived one, with the reason, which is required (registry.services.direction).
    direction_override: Mapped[str | None] = mapped_column(String(16))
    direction_reason: Mapped[str | None] = mapped_column(String(1000))
    # Geographic scope as stated (national, multi_country, regional, global; registry.models.scope);
    # empty: derived from the recipients (``effective_scope``).
    scope: Mapped[str | None] = mapped_column(String(16))
    # The cross-border infrastructure the project builds (ixp, backbone, submarine_cable, ...,
    # or none); empty: not said.
    infrastructure: Mapped[str | None] = mapped_column(String(24))
    demo: Mapped[bool] = mapped_column(default=False)
    import_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_batches.id", ondelete="SET NULL"), index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    org: Mapped[Organisation] = relationship()
    recipients: Mapped[list[ProjectRecipient]] = relationship(
        cascade="all, delete-orphan", order_by=ProjectRecipient.id
    )
    areas: Mapped[list[ProjectArea]] = relationship(cascade="all, delete-orphan", order_by=ProjectArea.area_code)
    sectors: Mapped[list[ProjectSector]] = relationship(cascade="all, delete-orphan", order_by=ProjectSector.code)
    transactions: Mapped[list[Transaction]] = relationship(  # noqa: F821
        back_populates="project", cascade="all, delete-orphan", order_by="Transaction.value_date"
    )
    # Forward plans (registry.models.plans): budgets and planned disbursements by period.
    budgets: Mapped[list[ProjectBudget]] = relationship(  # noqa: F821
        cascade="all, delete-orphan", order_by="(ProjectBudget.period_start, ProjectBudget.id)"
    )
    planned_disbursements: Mapped[list[PlannedDisbursement]] = relationship(  # noqa: F821
        cascade="all, delete-orphan", order_by="(PlannedDisbursement.period_start, PlannedDisbursement.id)"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def action_lines(self) -> list[str]:
        return [c for c in self.wsis_action_lines.split(",") if c]

    @property
    def derived_scope(self) -> str | None:
        """The scope the recipients imply (registry.models.scope.derive_scope)."""
        return derive_scope(
            [r.country_iso3 for r in self.recipients if r.country_iso3],
            [r.region_code for r in self.recipients if r.region_code],
        )

    @property
    def effective_scope(self) -> str | None:
        """The stated scope, else the derived one (``scope_derived`` says which)."""
        return self.scope or self.derived_scope

    @property
    def scope_derived(self) -> bool:
        return self.scope is None and self.derived_scope is not None

    @classmethod
    def has_action_line(cls, codes, column=None):
        """SQL condition: the project is tagged with any of the WSIS action lines ``codes``."""
        tagged = literal(",") + (cls.wsis_action_lines if column is None else column) + literal(",")
        return or_(*[tagged.like(f"%,{code},%") for code in codes])

    def __repr__(self) -> str:
        return f"<Project {self.id} {self.reference}>"
