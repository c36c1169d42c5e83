"""CRS amounts: cells in millions read as exact Decimals, and the currency of each amount.

Every amount column of CRS (``USD_Commitment``, ``USD_Disbursement``,
``Commitment_National``, ``Disbursement_National``, and the deflated ``USD_Commitment_Defl``,
``USD_Disbursement_Defl``) is in MILLIONS of its currency. In current prices (the default)
the national-currency columns are used where present and non-empty (with
``currency_code``), otherwise the USD ones; the deflated columns (constant USD) are read
only with ``prices="constant"``, and then nothing else is, so that the two are never mixed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import numpy as np
import pandas as pd

from importers.crs.issues import IssueLog
from importers.mapping import Mapping
from importers.messages import Text
from registry.models.types import N_

MILLION = 6  # decimal exponent: CRS amounts are in millions
CENT = Decimal("0.01")


def millions(values: np.ndarray) -> list[Decimal | None]:
    """Text cells in millions -> exact Decimals in units, rounded half-even to the cent."""
    out: list[Decimal | None] = []
    for cell in values:
        cell = cell.strip().replace(",", "") if cell else ""
        if not cell:
            out.append(None)
            continue
        try:
            out.append(Decimal(cell).scaleb(MILLION).quantize(CENT, rounding=ROUND_HALF_EVEN))
        except InvalidOperation:
            out.append(Decimal("NaN"))
    return out


def read_amounts(
    frame: pd.DataFrame, prices: str, mapping: Mapping, issues: IssueLog, headers: dict[str, str]
) -> pd.DataFrame:
    """Per row: currency, commitment and disbursement in units (Decimal), exactly, and the USD
    commitment that weighs the row's recipient and sector (``usd_weight``)."""
    if prices == "constant":
        # Constant USD only: the national and current-price columns are not read at all.
        frame["commitment_currency"] = frame["disbursement_currency"] = "USD"
        frame["commitment"] = millions(frame["usd_commitment_defl"].to_numpy())
        frame["disbursement"] = millions(frame["usd_disbursement_defl"].to_numpy())
        frame["usd_weight"] = [c if c is not None and c.is_finite() else Decimal(0) for c in frame["commitment"]]
        _note_bad_amounts(frame, issues)
        return frame
    national = frame["currency_code"].map(lambda c: mapping.currencies.get(c, c if len(c) == 3 else ""))
    has_national = (national != "") & ((frame["commitment_national"] != "") | (frame["disbursement_national"] != ""))
    unknown = frame.loc[(frame["currency_code"] != "") & (national == ""), ["row", "currency_code"]]
    for code, rows in unknown.groupby("currency_code")["row"]:
        issues.note(
            "unknown_currency",
            Text(N_("Currency code %(code)s is not in crs_currencies.csv: the USD columns were used"), code=code),
            rows.tolist(),
            code,
            headers.get("currency_code"),
        )
    usd_c, usd_d = (
        millions(frame["usd_commitment"].to_numpy()),
        millions(frame["usd_disbursement"].to_numpy()),
    )
    nat_c = millions(frame["commitment_national"].to_numpy())
    nat_d = millions(frame["disbursement_national"].to_numpy())
    use = has_national.to_numpy()
    codes = national.to_numpy()
    # Per amount: the national one where the row gives it, else the USD one (a row with a
    # national commitment but only a USD disbursement keeps its disbursement, in USD).
    for kind, nat, usd in (("commitment", nat_c, usd_c), ("disbursement", nat_d, usd_d)):
        national_here = [u and n is not None for u, n in zip(use, nat, strict=True)]
        frame[kind] = [n if h else c for n, c, h in zip(nat, usd, national_here, strict=True)]
        frame[f"{kind}_currency"] = np.where(national_here, codes, "USD")
    frame["usd_weight"] = [c if c is not None and c.is_finite() else Decimal(0) for c in usd_c]
    _note_bad_amounts(frame, issues)
    return frame


def _note_bad_amounts(frame: pd.DataFrame, issues: IssueLog) -> None:
    bad = [
        r
        for r, c, d in zip(frame["row"], frame["commitment"], frame["disbursement"], strict=True)
        if (c is not None and not c.is_finite()) or (d is not None and not d.is_finite())
    ]
    if bad:
        issues.note("bad_amount", N_("An amount column holds something that is not a number"), bad)


def amounts_text(group: pd.DataFrame) -> str:
    """'commitments USD 1,500,000.00; disbursements USD 0.00' for some rows, by currency."""
    totals: dict[tuple[str, str], Decimal] = {}
    for kind in ("commitment", "disbursement"):
        for currency, amount in zip(group[f"{kind}_currency"], group[kind], strict=True):
            if amount is not None and amount.is_finite():
                totals[(f"{kind}s", currency)] = totals.get((f"{kind}s", currency), Decimal(0)) + amount
    if not totals:
        return "no amounts"
    return "; ".join(f"{kind} {currency} {amount:,.2f}" for (kind, currency), amount in sorted(totals.items()))
