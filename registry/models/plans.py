"""A project's forward plans: its budgets and its planned disbursements, by period (IATI
``budget`` and ``planned-disbursement``).

A plan is money not yet paid: it is never a flow and no flow total counts it. Each amount
keeps its currency and value date, and its USD value at the rate of that date with the rate
used, as flows do (``Transaction``); reports in another currency convert the original
amount at the value date's rate.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.extensions import db
from registry.models.types import N_, UTCDateTime, utcnow
from registry.money import from_minor

# IATI BudgetType: 1 original, 2 revised (budget/@type and planned-disbursement/@type).
PLAN_KINDS = {"1": "original", "2": "revised"}
PLAN_KIND_CODES = {value: code for code, value in PLAN_KINDS.items()}
# IATI BudgetStatus: 1 indicative, 2 committed (budget/@status).
BUDGET_STATUSES = {"1": "indicative", "2": "committed"}
BUDGET_STATUS_CODES = {value: code for code, value in BUDGET_STATUSES.items()}
PLAN_LABELS = {
    "original": N_("Original"),
    "revised": N_("Revised"),
    "indicative": N_("Indicative"),
    "committed": N_("Committed"),
}


class _PlanAmount:
    """What a budget and a planned disbursement share: a period and an amount in its currency
    at its value date, with its USD value at that date's rate (empty when no rate converts it)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="original")
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date | None] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    value_date: Mapped[dt.date] = mapped_column(Date)
    usd_minor: Mapped[int | None] = mapped_column(BigInteger)
    usd_rate: Mapped[str | None] = mapped_column(String(40))
    usd_rate_date: Mapped[dt.date | None] = mapped_column(Date)
    usd_rate_source: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)

    @property
    def usd_amount(self) -> Decimal | None:
        return None if self.usd_minor is None else from_minor(self.usd_minor, "USD")


class ProjectBudget(_PlanAmount, db.Model):
    """A budget of a project for one period (IATI ``budget``): original or revised, indicative
    or committed."""

    __tablename__ = "project_budgets"
    __table_args__ = (
        CheckConstraint("kind IN ('original', 'revised')", name="kind"),
        CheckConstraint("status IN ('indicative', 'committed')", name="status"),
        CheckConstraint("period_end IS NULL OR period_start <= period_end", name="period_ordered"),
        CheckConstraint("usd_rate_date IS NULL OR usd_minor IS NOT NULL", name="usd_has_rate"),
        Index("ix_project_budgets_project", "project_id", "period_start"),
    )

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="indicative")
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<ProjectBudget {self.kind} {self.period_start} {self.amount} {self.currency}>"


class PlannedDisbursement(_PlanAmount, db.Model):
    """Money a provider plans to pay in a period (IATI ``planned-disbursement``), with the
    provider and receiver organisations the source names (as it names them)."""

    __tablename__ = "planned_disbursements"
    __table_args__ = (
        CheckConstraint("kind IN ('original', 'revised')", name="kind"),
        CheckConstraint("period_end IS NULL OR period_start <= period_end", name="period_ordered"),
        CheckConstraint("usd_rate_date IS NULL OR usd_minor IS NOT NULL", name="usd_has_rate"),
        Index("ix_planned_disbursements_project", "project_id", "period_start"),
    )

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    provider_name: Mapped[str | None] = mapped_column(String(300))
    receiver_ref: Mapped[str | None] = mapped_column(String(200))
    receiver_name: Mapped[str | None] = mapped_column(String(300))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<PlannedDisbursement {self.period_start} {self.amount} {self.currency}>"
