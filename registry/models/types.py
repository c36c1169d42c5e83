"""Column helpers shared by the models."""

import datetime as dt
from enum import StrEnum

from sqlalchemy import DateTime, TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite (which has no time zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class OrganisationKind(StrEnum):
    DONOR_AGENCY = "donor_agency"
    MULTILATERAL = "multilateral"
    REGIONAL_BANK = "regional_bank"
    FUND = "fund"
    GOVERNMENT = "government"
    IMPLEMENTER = "implementer"
    NGO = "ngo"
    PRIVATE = "private"


class SourceKind(StrEnum):
    BILATERAL_ODA = "bilateral_oda"
    MULTILATERAL = "multilateral"
    REGIONAL_FUND = "regional_fund"
    DIGITAL_SOLIDARITY_FUND = "digital_solidarity_fund"
    UNIVERSAL_SERVICE_FUND = "universal_service_fund"
    PRIVATE = "private"
    SOUTH_SOUTH = "south_south"
    DEBT_SWAP = "debt_swap"
    TRUST_FUND = "trust_fund"
    OTHER = "other"


class Instrument(StrEnum):
    GRANT = "grant"
    CONCESSIONAL_LOAN = "concessional_loan"
    NON_CONCESSIONAL_LOAN = "non_concessional_loan"
    GUARANTEE = "guarantee"
    EQUITY = "equity"
    DEBT_SWAP = "debt_swap"
    TECHNICAL_ASSISTANCE = "technical_assistance"
    IN_KIND = "in_kind"


class ProjectStatus(StrEnum):
    PIPELINE = "pipeline"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    SUSPENDED = "suspended"


class TransactionType(StrEnum):
    """Money flows, following IATI transaction types (code in ``iati_code``)."""

    INCOMING_FUNDS = "incoming_funds"
    COMMITMENT = "commitment"
    DISBURSEMENT = "disbursement"
    EXPENDITURE = "expenditure"
    PLEDGE = "pledge"

    @property
    def iati_code(self) -> str:
        return {"incoming_funds": "1", "commitment": "2", "disbursement": "3", "expenditure": "4", "pledge": "11"}[
            self.value
        ]


class Role(StrEnum):
    ADMIN = "admin"
    DONOR = "donor"
    GOVERNMENT = "government"
    ANALYST = "analyst"


WSIS_ACTION_LINES = {
    "C1": "The role of governments and all stakeholders in the promotion of ICTs for development",
    "C2": "Information and communication infrastructure",
    "C3": "Access to information and knowledge",
    "C4": "Capacity building",
    "C5": "Building confidence and security in the use of ICTs",
    "C6": "Enabling environment",
    "C7": "ICT applications (e-government, e-business, e-learning, e-health, ...)",
    "C8": "Cultural diversity and identity, linguistic diversity and local content",
    "C9": "Media",
    "C10": "Ethical dimensions of the Information Society",
    "C11": "International and regional cooperation",
}

LABELS: dict[str, str] = {
    "bilateral_oda": "Bilateral ODA",
    "multilateral": "Multilateral",
    "regional_fund": "Regional fund",
    "digital_solidarity_fund": "Digital Solidarity Fund",
    "universal_service_fund": "Universal service fund",
    "private": "Private",
    "south_south": "South-South cooperation",
    "debt_swap": "Debt swap",
    "trust_fund": "Trust fund",
    "other": "Other",
    "donor_agency": "Donor agency",
    "regional_bank": "Regional development bank",
    "fund": "Fund",
    "government": "Government",
    "implementer": "Implementer",
    "ngo": "NGO",
    "grant": "Grant",
    "concessional_loan": "Concessional loan",
    "non_concessional_loan": "Non-concessional loan",
    "guarantee": "Guarantee",
    "equity": "Equity",
    "technical_assistance": "Technical assistance",
    "in_kind": "In-kind",
    "pipeline": "Pipeline",
    "active": "Active",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "suspended": "Suspended",
    "incoming_funds": "Incoming funds",
    "commitment": "Commitment",
    "disbursement": "Disbursement",
    "expenditure": "Expenditure",
    "pledge": "Pledge",
    "admin": "Administrator",
    "donor": "Donor editor",
    "analyst": "Analyst",
}


def label(value: str | None) -> str:
    """Readable label of an enumeration value."""
    if value is None:
        return ""
    return LABELS.get(str(value), str(value).replace("_", " ").capitalize())
