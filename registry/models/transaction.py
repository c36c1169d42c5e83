"""Money flows: pledges, commitments, disbursements, expenditure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import db
from registry.models.funding import FundingSource
from registry.models.organisation import Organisation, enum_column
from registry.models.soft_delete import SoftDeleted
from registry.models.types import TransactionType, UTCDateTime, utcnow
from registry.money import from_minor

NOT_DAILY = "usd_minor IS NULL OR usd_rate_source = 'imf_annual'"


class Transaction(SoftDeleted, db.Model):
    """An amount in its original currency and value date, with its USD value and the rate used."""

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("usd_rate_date IS NULL OR usd_minor IS NOT NULL", name="usd_has_rate"),
        CheckConstraint("recipient_country_iso3 IS NULL OR recipient_region_code IS NULL", name="one_recipient"),
        Index("ix_transactions_project_type", "project_id", "type"),
        # Only the flows that name a source (most do not); every look-up gives one.
        Index(
            "ix_transactions_source",
            "funding_source_id",
            sqlite_where=text("funding_source_id IS NOT NULL"),
            postgresql_where=text("funding_source_id IS NOT NULL"),
        ),
        # The flows a report's conversion note lists (annual rates, not converted): few or none.
        Index(
            "ix_transactions_not_daily",
            "project_id",
            sqlite_where=text(NOT_DAILY),
            postgresql_where=text(NOT_DAILY),
        ),
        # The flows a report's notes count apart (constant prices; not confirmed): few or none.
        Index(
            "ix_transactions_constant_prices",
            "type",
            sqlite_where=text("price_basis IS NOT NULL"),
            postgresql_where=text("price_basis IS NOT NULL"),
        ),
        Index(
            "ix_transactions_unconfirmed",
            "type",
            sqlite_where=text("confirmed IS 0"),
            postgresql_where=text("confirmed IS false"),
        ),
        # Projects by the recipient their flows name (few flows name one): "a project is in a
        # country when a recipient row or one of its flows is there" stays a look-up.
        Index(
            "ix_transactions_recipient_country",
            "recipient_country_iso3",
            "project_id",
            sqlite_where=text("recipient_country_iso3 IS NOT NULL"),
            postgresql_where=text("recipient_country_iso3 IS NOT NULL"),
        ),
        Index(
            "ix_transactions_recipient_region",
            "recipient_region_code",
            "project_id",
            sqlite_where=text("recipient_region_code IS NOT NULL"),
            postgresql_where=text("recipient_region_code IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    funding_source_id: Mapped[int | None] = mapped_column(ForeignKey("funding_sources.id", ondelete="SET NULL"))
    provider_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    type: Mapped[TransactionType] = mapped_column(enum_column(TransactionType, "transaction_type"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    value_date: Mapped[dt.date] = mapped_column(Date)
    # IATI codes: FlowType (10 ODA, 20 OOF, ...), FinanceType (110 grant, 421 loan, ...)
    flow_type: Mapped[str | None] = mapped_column(String(8))
    finance_type: Mapped[str | None] = mapped_column(String(8))
    aid_type: Mapped[str | None] = mapped_column(String(8))
    # IATI TiedStatus code (3 partially tied, 4 tied, 5 untied); empty: the project's default
    # applies (see effective_tied_status), and when that is empty too, unknown.
    tied_status: Mapped[str | None] = mapped_column(String(1))
    description: Mapped[str] = mapped_column(String(1000), default="")
    # USD value at the rate of the value date; the rate (USD per unit), its date and its source
    # (RATE_SOURCES in registry.money). All empty when no source can convert the flow (a
    # currency no source has, an impossible date): the flow is kept in its own currency.
    usd_minor: Mapped[int | None] = mapped_column(BigInteger)
    usd_rate: Mapped[str | None] = mapped_column(String(40))
    usd_rate_date: Mapped[dt.date | None] = mapped_column(Date)
    usd_rate_source: Mapped[str | None] = mapped_column(String(16))
    # NULL: current prices (every flow but these). "constant": an amount the source gives in
    # constant prices (OECD CRS deflated columns); it has no USD value at its date (usd_minor
    # NULL), so no current-price total counts it (migration 0016).
    price_basis: Mapped[str | None] = mapped_column(String(16))
    # A recipient given on the flow itself (IATI transaction recipient-country/-region): it
    # wins over the project's recipient shares for this flow.
    recipient_country_iso3: Mapped[str | None] = mapped_column(ForeignKey("countries.iso3"))
    recipient_region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    # False while a flow recorded against another organisation's funding source waits for
    # that organisation's confirmation.
    confirmed: Mapped[bool] = mapped_column(default=True, server_default=text("1"))
    import_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_batches.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="transactions")  # noqa: F821
    funding_source: Mapped[FundingSource | None] = relationship()
    provider_org: Mapped[Organisation | None] = relationship()

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)

    @property
    def effective_tied_status(self) -> str | None:
        """The flow's own tied status, else its project's default; None: unknown."""
        return self.tied_status or (self.project.default_tied_status if self.project is not None else None)

    @property
    def usd_amount(self) -> Decimal | None:
        return None if self.usd_minor is None else from_minor(self.usd_minor, "USD")

    def __repr__(self) -> str:
        return f"<Transaction {self.type} {self.amount} {self.currency} {self.value_date}>"
