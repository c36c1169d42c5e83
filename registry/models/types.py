"""Column helpers shared by the models."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from flask_babel import gettext
from sqlalchemy import DateTime, TypeDecorator


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; it is translated where it is shown."""
    return message


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
    """Money flows: the 13 IATI 2.03 transaction types (code in ``iati_code``).

    ``pledge`` is the outgoing pledge (IATI 12); incoming commitments and pledges (11, 13)
    are what an implementer receives, not what a donor gives, and are kept apart."""

    INCOMING_FUNDS = "incoming_funds"
    COMMITMENT = "commitment"
    DISBURSEMENT = "disbursement"
    EXPENDITURE = "expenditure"
    INTEREST_PAYMENT = "interest_payment"
    LOAN_REPAYMENT = "loan_repayment"
    REIMBURSEMENT = "reimbursement"
    PURCHASE_OF_EQUITY = "purchase_of_equity"
    SALE_OF_EQUITY = "sale_of_equity"
    CREDIT_GUARANTEE = "credit_guarantee"
    INCOMING_COMMITMENT = "incoming_commitment"
    PLEDGE = "pledge"
    INCOMING_PLEDGE = "incoming_pledge"

    @property
    def iati_code(self) -> str:
        return IATI_TRANSACTION_CODES[self.value]

    @classmethod
    def from_iati(cls, code: str) -> TransactionType | None:
        """The type of an IATI 2.x numeric code or 1.x letter code; None when unknown."""
        code = (code or "").strip().upper()
        value = IATI_TRANSACTION_TYPES.get(code) or IATI_1_LETTER_CODES.get(code)
        return cls(value) if value else None


# IATI TransactionType codelist (2.03) -> registry type value, and back.
IATI_TRANSACTION_TYPES = {
    "1": "incoming_funds",
    "2": "commitment",
    "3": "disbursement",
    "4": "expenditure",
    "5": "interest_payment",
    "6": "loan_repayment",
    "7": "reimbursement",
    "8": "purchase_of_equity",
    "9": "sale_of_equity",
    "10": "credit_guarantee",
    "11": "incoming_commitment",
    "12": "pledge",
    "13": "incoming_pledge",
}
IATI_TRANSACTION_CODES = {value: code for code, value in IATI_TRANSACTION_TYPES.items()}
# IATI 1.x letter codes, still met in 2.x files.
IATI_1_LETTER_CODES = {
    "IF": "incoming_funds",
    "C": "commitment",
    "D": "disbursement",
    "E": "expenditure",
    "IR": "interest_payment",
    "LR": "loan_repayment",
    "R": "reimbursement",
    "QP": "purchase_of_equity",
    "QS": "sale_of_equity",
    "CG": "credit_guarantee",
}


# IATI TiedStatus codelist (the OECD DAC tying status of a flow) -> registry value. Stored
# as the code; no code is "unknown", which no report counts as untied.
TIED_STATUS_CODES = {"3": "partially_tied", "4": "tied", "5": "untied"}
TIED_STATUS_VALUES = {value: code for code, value in TIED_STATUS_CODES.items()}


def tied_status_code(value: object) -> str | None:
    """The IATI TiedStatus code of what a form, a file or the API gives: the code (3, 4, 5,
    also 3.0 from a spreadsheet), or the words tied, partially tied, untied (any case, with
    spaces, hyphens or underscores). None for an empty value; ValueError for anything else."""
    text = str(value if value is not None else "").strip().lower()
    if not text:
        return None
    if text.endswith(".0"):
        text = text[:-2]
    if text in TIED_STATUS_CODES:
        return text
    words = "_".join(text.replace("-", " ").replace("_", " ").split())
    if words in TIED_STATUS_VALUES:
        return TIED_STATUS_VALUES[words]
    raise ValueError(f"unknown tied status {value!r}")


def tied_status_label(code: str | None) -> str:
    """The readable tied status of a code in the reader's language ("Unknown" for none)."""
    if not code:
        return gettext("Unknown")
    return label(TIED_STATUS_CODES.get(code, code))


class Role(StrEnum):
    ADMIN = "admin"
    DONOR = "donor"
    GOVERNMENT = "government"
    ANALYST = "analyst"


WSIS_ACTION_LINES = {
    "C1": N_("The role of governments and all stakeholders in the promotion of ICTs for development"),
    "C2": N_("Information and communication infrastructure"),
    "C3": N_("Access to information and knowledge"),
    "C4": N_("Capacity building"),
    "C5": N_("Building confidence and security in the use of ICTs"),
    "C6": N_("Enabling environment"),
    "C7": N_("ICT applications (e-government, e-business, e-learning, e-health, ...)"),
    "C8": N_("Cultural diversity and identity, linguistic diversity and local content"),
    "C9": N_("Media"),
    "C10": N_("Ethical dimensions of the Information Society"),
    "C11": N_("International and regional cooperation"),
}

LABELS: dict[str, str] = {
    "bilateral_oda": N_("Bilateral ODA"),
    "multilateral": N_("Multilateral"),
    "regional_fund": N_("Regional fund"),
    "digital_solidarity_fund": N_("Digital Solidarity Fund"),
    "universal_service_fund": N_("Universal service fund"),
    "private": N_("Private"),
    "south_south": N_("South-South cooperation"),
    "debt_swap": N_("Debt swap"),
    "trust_fund": N_("Trust fund"),
    "other": N_("Other"),
    "donor_agency": N_("Donor agency"),
    "regional_bank": N_("Regional development bank"),
    "fund": N_("Fund"),
    "government": N_("Government"),
    "implementer": N_("Implementer"),
    "ngo": N_("NGO"),
    "grant": N_("Grant"),
    "concessional_loan": N_("Concessional loan"),
    "non_concessional_loan": N_("Non-concessional loan"),
    "guarantee": N_("Guarantee"),
    "equity": N_("Equity"),
    "technical_assistance": N_("Technical assistance"),
    "in_kind": N_("In-kind"),
    "pipeline": N_("Pipeline"),
    "active": N_("Active"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "suspended": N_("Suspended"),
    "incoming_funds": N_("Incoming funds"),
    "commitment": N_("Commitment"),
    "disbursement": N_("Disbursement"),
    "expenditure": N_("Expenditure"),
    "pledge": N_("Pledge"),
    "interest_payment": N_("Interest payment"),
    "loan_repayment": N_("Loan repayment"),
    "reimbursement": N_("Reimbursement"),
    "purchase_of_equity": N_("Purchase of equity"),
    "sale_of_equity": N_("Sale of equity"),
    "credit_guarantee": N_("Credit guarantee"),
    "incoming_commitment": N_("Incoming commitment"),
    "incoming_pledge": N_("Incoming pledge"),
    "tied": N_("Tied"),
    "partially_tied": N_("Partially tied"),
    "untied": N_("Untied"),
    "admin": N_("Administrator"),
    "donor": N_("Donor editor"),
    "analyst": N_("Analyst"),
}


def label(value: str | None) -> str:
    """Readable label of an enumeration value, in the reader's language."""
    if value is None:
        return ""
    known = LABELS.get(str(value))
    return gettext(known) if known else str(value).replace("_", " ").capitalize()
