"""The IATI TransactionType codelist (version 2.03) and the 1.x letter codes still met in 2.x
files, written out from the standard once for every test that reads an IATI file on its own.

These tests compute what a file holds independently of the registry, so they do not import
the registry's table (registry/models/types.py); test_iati_meaning checks that table against
this one, and this one against the codelist file of the shared fixtures.
"""

import pytest
from lxml import etree

from tests.conftest import FIXTURES

# Code -> the registry's word for the type (the codelist's name, "Outgoing" left out).
TRANSACTION_TYPES = {
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
# IATI 1.x letter codes (no letter for types 11 to 13, which came with 2.x).
LETTER_CODES = {
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
ANY_TYPE_CODE = {**TRANSACTION_TYPES, **LETTER_CODES}


def active_codelist(name: str) -> dict[str, str]:
    """Code -> English name of the items of an IATI codelist of the shared fixtures that are
    not withdrawn; skips the test when the codelist is not there."""
    path = FIXTURES / "iati-codelists" / f"{name}.xml"
    if not path.is_file():
        pytest.skip("IATI codelists fixture not available")
    items = etree.parse(str(path)).getroot().iter("codelist-item")
    return {i.findtext("code"): i.findtext("name/narrative") for i in items if i.get("status") != "withdrawn"}
