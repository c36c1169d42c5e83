"""Database objects the reports own: the report facts, kept up to date on write.

``report_flow_facts`` holds, per project, value-date year, category-membership
period and the flows' own attributes (funding source, donor, finance and flow type,
and the recipient country or region given on the flow itself, if any),
the sums of the USD values of its pledges, commitments, disbursements and
expenditure: a few rows per project instead of every flow. Database triggers on
``transactions`` mark the projects whose flows change in ``report_dirty`` (in the same
database transaction as the change, whoever writes: services, importers, raw SQL,
cascading deletes), and :mod:`reports.facts` recomputes exactly those projects inside
the writer's commit (a report that finds them stale anyway recomputes them for itself,
without committing). ``report_state`` records which membership periods the facts were
built with, so that reloading the reference data rebuilds them.
"""

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db


class ReportFlowFact(db.Model):
    """USD sums of one project's flows in one year and membership period with the same
    funding source, donor, finance type and flow type (minor units)."""

    __tablename__ = "report_flow_facts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer, index=True)
    year: Mapped[int] = mapped_column(Integer)
    period: Mapped[int] = mapped_column(Integer)
    funding_source_id: Mapped[int | None] = mapped_column(Integer)
    provider_org_id: Mapped[int | None] = mapped_column(Integer)
    finance_type: Mapped[str | None] = mapped_column(String(8))
    flow_type: Mapped[str | None] = mapped_column(String(8))
    # The flow's own recipient (it wins over the project's shares); both empty for most flows.
    tx_country: Mapped[str | None] = mapped_column(String(3))
    tx_region: Mapped[str | None] = mapped_column(String(3))
    pledge: Mapped[int] = mapped_column(BigInteger)
    commitment: Mapped[int] = mapped_column(BigInteger)
    disbursement: Mapped[int] = mapped_column(BigInteger)
    expenditure: Mapped[int] = mapped_column(BigInteger)
    # The flows' direction (registry.services.direction): the same for every flow of the row,
    # whose provider, source, own recipient, project and DAC membership period it follows.
    direction: Mapped[str] = mapped_column(String(16))


class ReportProjectFact(db.Model):
    """The same sums by project, year, membership period and flow recipient only (fewer rows:
    most reports). The flow recipient is empty for flows that follow the project's shares,
    so it cannot be part of a primary key: rows have an id."""

    __tablename__ = "report_project_facts"
    # In the order reports group by (project, then flow recipient): read in index order, no sort.
    __table_args__ = (Index("ix_report_project_facts_project", "project_id", "tx_country", "tx_region"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    period: Mapped[int] = mapped_column(Integer)
    tx_country: Mapped[str | None] = mapped_column(String(3))
    tx_region: Mapped[str | None] = mapped_column(String(3))
    pledge: Mapped[int] = mapped_column(BigInteger)
    commitment: Mapped[int] = mapped_column(BigInteger)
    disbursement: Mapped[int] = mapped_column(BigInteger)
    expenditure: Mapped[int] = mapped_column(BigInteger)


class ReportFxFact(db.Model):
    """The same sums as :class:`ReportFlowFact` in another report currency (``currency``), each
    flow converted on its own at the rate of its value date and rounded half-even to the
    currency's minor unit, as its stored USD value is (reports/fx_facts.py).

    Kept apart by the flows' own currency and by how they were converted (``rate_kind``:
    ``same`` needed no rate, ``daily`` an ECB or parity rate, ``annual`` an IMF annual average,
    ``none`` no rate at all: its sums are zero and the report lists those flows in their own
    currency); ``day`` is the value date of flows converted at an older rate than the report
    allows (planned flows beyond the published rates) or not at all, empty otherwise;
    ``rate_from`` / ``rate_to`` the dates of the earliest and latest rates used."""

    __tablename__ = "report_fx_facts"
    __table_args__ = (
        Index("ix_report_fx_facts_currency_project", "currency", "project_id"),
        # the few rows converted at an older rate or not at all (``day`` set): the notes list them
        Index("ix_report_fx_facts_currency_day", "currency", "day"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    project_id: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    period: Mapped[int] = mapped_column(Integer)
    funding_source_id: Mapped[int | None] = mapped_column(Integer)
    provider_org_id: Mapped[int | None] = mapped_column(Integer)
    finance_type: Mapped[str | None] = mapped_column(String(8))
    flow_type: Mapped[str | None] = mapped_column(String(8))
    tx_country: Mapped[str | None] = mapped_column(String(3))
    tx_region: Mapped[str | None] = mapped_column(String(3))
    source_currency: Mapped[str] = mapped_column(String(3))
    rate_kind: Mapped[str] = mapped_column(String(8))
    day: Mapped[dt.date | None] = mapped_column(Date)
    rate_from: Mapped[dt.date | None] = mapped_column(Date)
    rate_to: Mapped[dt.date | None] = mapped_column(Date)
    pledge: Mapped[int] = mapped_column(BigInteger)
    commitment: Mapped[int] = mapped_column(BigInteger)
    disbursement: Mapped[int] = mapped_column(BigInteger)
    expenditure: Mapped[int] = mapped_column(BigInteger)
    direction: Mapped[str] = mapped_column(String(16))  # as in ReportFlowFact


class ReportFxProjectFact(db.Model):
    """The sums of :class:`ReportFxFact` by currency, project, year, membership period and flow
    recipient only, as :class:`ReportProjectFact` is to the USD facts (most reports read these),
    with what the notes of a report read: ``annual_*`` the part of each sum converted at an IMF
    annual average, ``rate_from`` / ``rate_to`` the dates of the earliest and latest rates used,
    ``rated`` 1 when some of its flows needed a rate (converted or not), else 0, and
    ``pegged_from`` those of their currencies fixed to the euro, sorted and comma-separated (empty
    for most rows: a report reads them with MIN and MAX, no grouping)."""

    __tablename__ = "report_fx_project_facts"
    # In the order reports group by (currency, project, then flow recipient): read in index order.
    __table_args__ = (
        Index("ix_report_fx_project_facts_currency_project", "currency", "project_id", "tx_country", "tx_region"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    project_id: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    period: Mapped[int] = mapped_column(Integer)
    tx_country: Mapped[str | None] = mapped_column(String(3))
    tx_region: Mapped[str | None] = mapped_column(String(3))
    pledge: Mapped[int] = mapped_column(BigInteger)
    commitment: Mapped[int] = mapped_column(BigInteger)
    disbursement: Mapped[int] = mapped_column(BigInteger)
    expenditure: Mapped[int] = mapped_column(BigInteger)
    annual_pledge: Mapped[int] = mapped_column(BigInteger)
    annual_commitment: Mapped[int] = mapped_column(BigInteger)
    annual_disbursement: Mapped[int] = mapped_column(BigInteger)
    annual_expenditure: Mapped[int] = mapped_column(BigInteger)
    rate_from: Mapped[dt.date | None] = mapped_column(Date)
    rate_to: Mapped[dt.date | None] = mapped_column(Date)
    rated: Mapped[int] = mapped_column(Integer)
    pegged_from: Mapped[str | None] = mapped_column(Text)


class ReportFxNeed(db.Model):
    """A project's need converted into a report currency at the rate of its date (rounded as a
    flow is), with the need it was converted from (``need_minor``, ``need_currency``,
    ``need_date``): a report uses the stored value only while the project's need is still that
    one, and converts any other need itself. ``rate_kind`` as in :class:`ReportFxFact`;
    ``stale``: an older rate than the report's age rule allows was used."""

    __tablename__ = "report_fx_needs"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    need_minor: Mapped[int] = mapped_column(BigInteger)
    need_currency: Mapped[str] = mapped_column(String(3))
    need_date: Mapped[dt.date] = mapped_column(Date)
    minor: Mapped[int] = mapped_column(BigInteger)
    rate_kind: Mapped[str] = mapped_column(String(8))
    rate_date: Mapped[dt.date | None] = mapped_column(Date)
    stale: Mapped[bool] = mapped_column(Boolean)


class ReportCategoryMember(db.Model):
    """A country's recipient categories in each membership period the facts are numbered by.

    Rebuilt with the facts whenever the memberships change, so that a report by category
    joins it on (country, period) in the database."""

    __tablename__ = "report_category_members"

    country_iso3: Mapped[str] = mapped_column(String(3), primary_key=True)
    period: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    category_code: Mapped[str] = mapped_column(String(8), primary_key=True)


class ReportDirty(db.Model):
    """A project whose flows changed since its facts were computed (set by triggers).

    ``generation`` grows with every change, so a refresh removes only the marks it has
    seen: a change committed while it ran keeps its mark for the next refresh."""

    __tablename__ = "report_dirty"

    project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger)


class ReportDirtyInput(db.Model):
    """Something a flow's direction follows changed outside the flows (set by triggers): an
    organisation's kind, country, identifiers or deletion (``org``: its id, for the flows it
    provides; ``ref``: its identifiers, old and new, for the projects that name it among their
    funding partners) or a funding source's kind or deletion (``source``: its id).
    :func:`reports.facts.ensure_fresh` turns them into marks of the projects concerned, found in
    one pass however many changed: a trigger looking them up itself would scan every project
    for each organisation an import creates."""

    __tablename__ = "report_dirty_inputs"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)


class ReportState(db.Model):
    """Facts about the report facts (the signature of the periods they were built with)."""

    __tablename__ = "report_state"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
