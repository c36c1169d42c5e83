"""CRS columns: their spellings over the years, the ones an import needs, and the options
that choose rows (years, purpose codes) and amounts (current or constant prices)."""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

from importers.crs.files import CrsFileError
from importers.messages import Text
from registry.models.types import N_

# Canonical column -> the normalised spellings seen in CRS files of different years.
COLUMNS: dict[str, tuple[str, ...]] = {
    "year": ("year",),
    "donor_code": ("donorcode",),
    "donor_name": ("donorname",),
    "agency_name": ("agencyname",),
    "crs_id": ("crsid",),
    "project_number": ("projectnumber",),
    "recipient_code": ("recipientcode",),
    "recipient_name": ("recipientname",),
    "purpose_code": ("purposecode",),
    "flow_code": ("flowcode",),
    "finance_type": ("financet", "financetype"),
    "aid_type": ("aidt", "aidtype"),
    "title": ("projecttitle",),
    "short_description": ("shortdescription",),
    "long_description": ("longdescription",),
    "usd_commitment": ("usdcommitment",),
    "usd_disbursement": ("usddisbursement",),
    "usd_commitment_defl": ("usdcommitmentdefl",),
    "usd_disbursement_defl": ("usddisbursementdefl",),
    "commitment_national": ("commitmentnational",),
    "disbursement_national": ("disbursementnational",),
    "currency_code": ("currencycode",),
    "commitment_date": ("commitmentdate",),
    "start_date": ("expectedstartdate", "startdate"),
    "end_date": ("completiondate", "expectedcompletiondate"),
    # The row's commitment by OECD DAC tying status (USD millions; the deflated spellings
    # when a file has only those): which of them holds the money is the row's tied status.
    "usd_untied": ("usdamountuntied", "usdamountuntieddefl"),
    "usd_partially_tied": ("usdamountpartialtied", "usdamountpartialtieddefl"),
    "usd_tied": ("usdamounttied", "usdamounttieddefl"),
}
CODE_COLUMNS = (
    "year",
    "donor_code",
    "recipient_code",
    "purpose_code",
    "flow_code",
    "finance_type",
    "aid_type",
    "crs_id",
    "project_number",
    "currency_code",
)
# The year may also come from CommitmentDate (real extracts without a Year column).
REQUIRED = ("donor_code", "recipient_code", "purpose_code")
PRICES = ("current", "constant")
CURRENT_COLUMNS = ("usd_commitment", "usd_disbursement", "commitment_national", "disbursement_national")
CONSTANT_COLUMNS = ("usd_commitment_defl", "usd_disbursement_defl")


class CanonicalFrame(NamedTuple):
    """The file's cells under the canonical column names, and each one's header in the file."""

    frame: pd.DataFrame
    headers: dict[str, str]


def normalise(header: str) -> str:
    """A header reduced to its lower-cased letters and digits (``CRSid`` and ``CrsID`` alike)."""
    return re.sub(r"[^0-9a-z]", "", str(header).lower())


def canonical_frame(frame: pd.DataFrame, filename: str, prices: str) -> CanonicalFrame:
    """The frame renamed to the canonical columns (every one present, codes trimmed) with a
    ``row`` column (the file's row number); CrsFileError when a needed column is missing."""
    headers: dict[str, str] = {}
    rename = {}
    for column in frame.columns:
        key = normalise(column)
        for canonical, spellings in COLUMNS.items():
            if key in spellings and canonical not in rename.values():
                rename[column] = canonical
                headers[canonical] = str(column)
    frame = frame.rename(columns=rename)[list(rename.values())]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if "year" not in frame.columns and "commitment_date" not in frame.columns:
        missing.insert(0, "year")
    if missing:
        wanted = [Text(N_("Year (or CommitmentDate)")) if c == "year" else COLUMNS[c][0] for c in missing]
        raise CrsFileError(
            Text(N_("%(file)s: not CRS microdata: no column for %(columns)s"), file=filename, columns=wanted)
        )
    check_amount_columns(frame, headers, filename, prices)
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    # Codes are compared exactly: trim them, and undo Excel's numbers ("5.0" -> "5").
    for column in CODE_COLUMNS:
        frame[column] = frame[column].str.strip().str.replace(r"\.0+$", "", regex=True)
    frame["row"] = np.arange(2, len(frame) + 2)  # the header is row 1
    return CanonicalFrame(frame, headers)


def check_amount_columns(frame: pd.DataFrame, headers: dict[str, str], filename: str, prices: str) -> None:
    """The amount columns the price basis asks for are there; current and constant never mix."""
    current = [headers[c] for c in CURRENT_COLUMNS if c in frame.columns]
    constant = [headers[c] for c in CONSTANT_COLUMNS if c in frame.columns]
    if prices == "constant":
        if not constant and current:
            raise CrsFileError(
                Text(
                    N_(
                        "%(file)s: constant prices were asked for, but the file has no USD_Commitment_Defl or "
                        "USD_Disbursement_Defl column (amount columns found: %(columns)s); import it without "
                        "--prices constant"
                    ),
                    file=filename,
                    columns=current,
                )
            )
        if not constant:
            raise CrsFileError(
                Text(
                    N_(
                        "%(file)s: constant prices were asked for, but the file has no USD_Commitment_Defl or "
                        "USD_Disbursement_Defl column (amount columns found: none); import it without "
                        "--prices constant"
                    ),
                    file=filename,
                )
            )
        return
    if "usd_commitment" in frame.columns or "usd_disbursement" in frame.columns:
        return
    if constant:
        raise CrsFileError(
            Text(
                N_(
                    "%(file)s: the amounts are in constant prices only (%(columns)s), and this import reads "
                    "current prices (USD_Commitment, USD_Disbursement), which the file lacks. To import the "
                    "constant-price amounts as such, kept apart from current prices, use --prices constant "
                    "(prices=constant in the API)"
                ),
                file=filename,
                columns=constant,
            )
        )
    raise CrsFileError(Text(N_("%(file)s: no USD_Commitment or USD_Disbursement column"), file=filename))


def parse_years(text: str | None) -> set[int] | None:
    """'2019-2023', '2021' or '2019,2021' -> a set of years (None = all)."""
    if not text:
        return None
    years: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        match = re.fullmatch(r"(\d{4})\s*-\s*(\d{4})", part)
        if match:
            a, b = int(match.group(1)), int(match.group(2))
            if a > b:
                raise ValueError(Text(N_("Year range %(range)s runs backwards"), range=part))
            years.update(range(a, b + 1))
        elif re.fullmatch(r"\d{4}", part):
            years.add(int(part))
        else:
            raise ValueError(Text(N_("%(value)s is not a year or a year range like 2019-2023"), value=repr(part)))
    return years


def parse_purposes(text: str | None) -> tuple[str, ...] | None:
    """'22010,22020' -> codes; a 3-digit entry keeps its whole category (220 -> 220xx)."""
    if not text:
        return None
    codes = tuple(c.strip() for c in str(text).split(",") if c.strip())
    for code in codes:
        if not (code.isdigit() and len(code) in (3, 5)):
            raise ValueError(
                Text(N_("%(value)s is not a DAC purpose code (5 digits) or category (3 digits)"), value=repr(code))
            )
    return codes
