"""The untied share (Tunis Agenda, paragraph 27: financing "preferably untied"), written once.

Of the commitments whose OECD DAC tying status is known, the share that is untied:

    untied_share = untied / (tied + partially tied + untied)

A flow's status is its own (IATI transaction tied-status), else its project's default (IATI
default-tied-status); a flow with neither is unknown: shown apart, never counted as untied nor
in the denominator. The reports (``reports.tied``) compute the amounts by any dimension and
call ``untied_share``; the project page and the API call ``project_tied``.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from registry import money
from registry.models.types import TIED_STATUS_CODES, TransactionType

# Group -> the IATI TiedStatus code it holds ("": no status, unknown).
GROUPS = {"tied": "4", "partially_tied": "3", "untied": "5", "unknown": ""}
AMOUNTS = tuple(GROUPS)
SHARE_PLACES = Decimal("0.0001")


def untied_share(tied: Fraction | int, partially_tied: Fraction | int, untied: Fraction | int) -> Decimal | None:
    """untied / (tied + partially tied + untied) to four places; None when none is known."""
    known = Fraction(tied) + Fraction(partially_tied) + Fraction(untied)
    if known == 0:
        return None
    share = Fraction(untied) / known
    return (Decimal(share.numerator) / Decimal(share.denominator)).quantize(SHARE_PLACES)


def project_tied(project: Any) -> dict[str, Any]:
    """A project's commitments in USD by tied status (each flow's own status, else the
    project's default) and its untied share, as the project page and the API show them.

    Current-price commitments (IATI transaction type 2) with a USD value count, as in the
    reports; ``unconverted`` counts the commitments no rate converts, left out and said so."""
    minor = dict.fromkeys(AMOUNTS, 0)
    unconverted = 0
    for tx in project.transactions:
        if tx.type != TransactionType.COMMITMENT or tx.price_basis is not None:
            continue
        if tx.usd_minor is None:
            unconverted += 1
            continue
        minor[TIED_STATUS_CODES.get(tx.effective_tied_status or "", "unknown")] += tx.usd_minor
    return {
        "currency": "USD",
        "amounts": {group: money.from_minor(value, "USD") for group, value in minor.items()},
        "untied_share": untied_share(minor["tied"], minor["partially_tied"], minor["untied"]),
        "any": any(minor.values()),
        "unconverted": unconverted,
    }
