"""OECD DAC CRS microdata -> ProjectRecord stream, with problems.

The OECD distributes CRS as pipe-delimited text (UTF-8 or UTF-16, often zipped), and
people pass it around as CSV or XLSX. Column spellings change between years
(``CrsID``/``CRSid``, ``Finance_t``/``Finance_T``), so headers are matched on their
lower-cased letters and digits only. One row is one activity x recipient x year; rows
are grouped into projects by (donor code, CRS id), else (donor code, project number).

Amounts: every amount column of CRS (``USD_Commitment``, ``USD_Disbursement``,
``Commitment_National``, ``Disbursement_National``, and the deflated ``USD_Commitment_Defl``,
``USD_Disbursement_Defl``) is in MILLIONS of its currency. In current prices (the default)
the national-currency columns are used where present and non-empty (with
``currency_code``), otherwise the USD ones; the deflated columns (constant USD) are read
only with ``prices="constant"``, and then nothing else is, so that the two are never mixed.
Mapping rules are documented in docs/iati-crs.md.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from importers.allocate import shares_from_weights
from importers.areas import Sector, infer_areas
from importers.mapping import Mapping, dac_list_periods, load_mapping, on_dac_list
from importers.records import (
    AreaRecord,
    Location,
    Problem,
    ProjectRecord,
    RecipientRecord,
    TransactionRecord,
)

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
MILLION = 6  # decimal exponent: CRS amounts are in millions
# CRS FlowCode -> IATI FlowType: ODA grants (11), ODA loans (13) and equity (19) are ODA (10);
# other official flows (14) are OOF (20); private development finance (30) stays 30.
FLOW_TYPES = {"11": "10", "12": "10", "13": "10", "19": "10", "14": "20", "30": "30"}
CENT = Decimal("0.01")


class CrsFileError(ValueError):
    """The file cannot be read as CRS microdata (message says why)."""


def _normalise(header: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(header).lower())


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
                raise ValueError(f"Year range {part} runs backwards")
            years.update(range(a, b + 1))
        elif re.fullmatch(r"\d{4}", part):
            years.add(int(part))
        else:
            raise ValueError(f"{part!r} is not a year or a year range like 2019-2023")
    return years


def parse_purposes(text: str | None) -> tuple[str, ...] | None:
    """'22010,22020' -> codes; a 3-digit entry keeps its whole category (220 -> 220xx)."""
    if not text:
        return None
    codes = tuple(c.strip() for c in str(text).split(",") if c.strip())
    for code in codes:
        if not (code.isdigit() and len(code) in (3, 5)):
            raise ValueError(f"{code!r} is not a DAC purpose code (5 digits) or category (3 digits)")
    return codes


def _decode(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8")
    # UTF-16 without a BOM shows as every other byte NUL in the ASCII header.
    if len(raw) > 3 and raw[1] == 0 and raw[3] == 0:
        return raw.decode("utf-16-le")
    if len(raw) > 3 and raw[0] == 0 and raw[2] == 0:
        return raw.decode("utf-16-be")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _read_text(text: str) -> pd.DataFrame:
    first = text.split("\n", 1)[0]
    counts = {sep: first.count(sep) for sep in ("|", "\t", ";", ",")}
    sep = max(counts, key=lambda s: counts[s])
    if counts[sep] == 0:
        raise CrsFileError("No column separator found in the header line (expected | , ; or tab)")
    return pd.read_csv(
        io.StringIO(text),
        sep=sep,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        quoting=3 if sep == "|" else 0,  # the OECD's pipe files do not quote
        engine="c",
    )


def read_frame(source: str | Path | BinaryIO, filename: str = "") -> pd.DataFrame:
    """Read a CRS file (txt/csv, xlsx, or a zip holding one of them) as text cells."""
    raw = source.read() if hasattr(source, "read") else Path(source).read_bytes()
    name = (filename or (str(source) if isinstance(source, str | Path) else "")).lower()
    if raw[:4] == b"PK\x03\x04" and not name.endswith((".xlsx", ".xlsm")):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
            if not members:
                raise CrsFileError("The zip archive is empty")
            member = max(members, key=lambda i: i.file_size)
            if member.file_size > 4 * 1024**3:
                raise CrsFileError(f"{member.filename} declares {member.file_size} bytes: too large")
            if "xl/workbook.xml" in archive.namelist():
                return _read_excel(raw)
            raw = archive.read(member)
            name = member.filename.lower()
    if name.endswith((".xlsx", ".xlsm", ".xls", ".ods")) or raw[:4] == b"PK\x03\x04":
        return _read_excel(raw)
    return _read_text(_decode(raw))


def _read_excel(raw: bytes) -> pd.DataFrame:
    frame = pd.read_excel(io.BytesIO(raw), dtype=str, engine="calamine", keep_default_na=False, na_filter=False)
    return frame.astype(str)


def _millions(values: np.ndarray) -> list[Decimal | None]:
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


@dataclass
class _Issue:
    code: str
    message: str
    count: int = 0
    first_row: int | None = None
    value: str | None = None
    column: str | None = None
    rows: list[int] = field(default_factory=list)


@dataclass
class CrsReader:
    """Iterate over the projects of one CRS file; problems (aggregated by kind) in ``problems``."""

    source: str | Path | BinaryIO
    filename: str = ""
    years: set[int] | None = None
    purposes: tuple[str, ...] | None = None
    prices: str = "current"  # "constant": read the deflated columns (constant USD) instead
    mapping: Mapping = field(default_factory=load_mapping)
    counts: dict[str, int] = field(default_factory=dict)
    _issues: dict[tuple, _Issue] = field(default_factory=dict)
    _fatal: list[Problem] = field(default_factory=list)
    _area_cache: dict[tuple, list[AreaRecord]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.filename:
            self.filename = Path(self.source).name if isinstance(self.source, str | Path) else "upload"
        self.counts = {"rows": 0, "rows_kept": 0, "projects": 0, "transactions": 0}
        if self.prices not in PRICES:
            raise CrsFileError(f"Unknown price basis {self.prices!r} (current or constant)")

    @property
    def problems(self) -> list[Problem]:
        """Fatal problems, then one problem per kind and value, with its count and first row."""
        result = list(self._fatal)
        for issue in self._issues.values():
            suffix = f" ({issue.count} rows, first at row {issue.first_row})" if issue.count > 1 else ""
            result.append(
                Problem(
                    severity="error" if issue.code in ("bad_amount", "bad_year", "no_year") else "warning",
                    code=issue.code,
                    message=issue.message + suffix,
                    location=Location(file=self.filename, row=issue.first_row, column=issue.column),
                    value=issue.value,
                    rows=tuple(issue.rows),
                )
            )
        return result

    def _note(self, code: str, message: str, rows: list[int], value=None, column: str | None = None) -> None:
        key = (code, value)
        issue = self._issues.setdefault(key, _Issue(code, message, 0, rows[0] if rows else None, value, column))
        issue.count += len(rows)
        issue.rows.extend(rows)

    # -- reading -------------------------------------------------------------

    def _frame(self) -> pd.DataFrame:
        frame = read_frame(self.source, self.filename)
        self.counts["rows"] = len(frame)
        originals: dict[str, str] = {}
        rename = {}
        for column in frame.columns:
            key = _normalise(column)
            for canonical, spellings in COLUMNS.items():
                if key in spellings and canonical not in rename.values():
                    rename[column] = canonical
                    originals[canonical] = str(column)
        frame = frame.rename(columns=rename)[list(rename.values())]
        self.headers = originals
        missing = [c for c in REQUIRED if c not in frame.columns]
        if "year" not in frame.columns and "commitment_date" not in frame.columns:
            missing.insert(0, "year")
        if missing:
            wanted = ", ".join("Year (or CommitmentDate)" if c == "year" else COLUMNS[c][0] for c in missing)
            raise CrsFileError(f"{self.filename}: not CRS microdata: no column for {wanted}")
        self._check_amount_columns(frame)
        for column in COLUMNS:
            if column not in frame.columns:
                frame[column] = ""
        # Codes are compared exactly: trim them, and undo Excel's numbers ("5.0" -> "5").
        for column in CODE_COLUMNS:
            frame[column] = frame[column].str.strip().str.replace(r"\.0+$", "", regex=True)
        frame["row"] = np.arange(2, len(frame) + 2)  # the header is row 1
        return frame

    def _check_amount_columns(self, frame: pd.DataFrame) -> None:
        """The amount columns the price basis asks for are there; current and constant never mix."""
        current = [self.headers[c] for c in CURRENT_COLUMNS if c in frame.columns]
        constant = [self.headers[c] for c in CONSTANT_COLUMNS if c in frame.columns]
        if self.prices == "constant":
            if not constant:
                found = ", ".join(current) or "none"
                raise CrsFileError(
                    f"{self.filename}: constant prices were asked for, but the file has no USD_Commitment_Defl "
                    f"or USD_Disbursement_Defl column (amount columns found: {found}); import it without "
                    "--prices constant"
                )
            return
        if "usd_commitment" in frame.columns or "usd_disbursement" in frame.columns:
            return
        if constant:
            raise CrsFileError(
                f"{self.filename}: the amounts are in constant prices only ({', '.join(constant)}), and this "
                "import reads current prices (USD_Commitment, USD_Disbursement), which the file lacks. To import "
                "the constant-price amounts as such, kept apart from current prices, use --prices constant "
                "(prices=constant in the API)"
            )
        raise CrsFileError(f"{self.filename}: no USD_Commitment or USD_Disbursement column")

    def _filter(self, frame: pd.DataFrame) -> pd.DataFrame:
        if "year" in self.headers:
            year = pd.to_numeric(frame["year"], errors="coerce")
            bad = frame.loc[year.isna(), "row"].tolist()
            if bad:
                self._note("bad_year", "Year is not a number", bad, column=self.headers.get("year"))
        else:
            # Real extracts without a Year column: the CRS year is the year of the commitment date.
            days = frame["commitment_date"].map(_day)
            year = pd.to_numeric(days.map(lambda d: d.year if d else None), errors="coerce")
            bad = frame.loc[year.isna(), "row"].tolist()
            if bad:
                lost = frame.loc[year.isna()].copy()
                suffix = "_defl" if self.prices == "constant" else ""
                for kind in ("commitment", "disbursement"):
                    lost[kind] = _millions(lost[f"usd_{kind}{suffix}"].to_numpy())
                    lost[f"{kind}_currency"] = "USD"
                self._note(
                    "no_year",
                    "The file has no Year column and CommitmentDate is empty or not a date, so the row has no "
                    f"year and cannot be imported ({_amounts_text(lost)} in USD columns)",
                    bad,
                    column=self.headers.get("commitment_date"),
                )
        keep = year.notna()
        if self.years is not None:
            keep &= year.isin(list(self.years))
        if self.purposes is not None:
            codes = frame["purpose_code"]
            full = [c for c in self.purposes if len(c) == 5]
            prefixes = tuple(c for c in self.purposes if len(c) == 3)
            match = codes.isin(full)
            if prefixes:
                match |= codes.str.startswith(prefixes)
            keep &= match
        frame = frame.loc[keep].copy()
        frame["year"] = year[keep].astype(int)
        self.counts["rows_kept"] = len(frame)
        return frame

    def _money(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per row: currency, commitment and disbursement in units (Decimal), exactly."""
        if self.prices == "constant":
            # Constant USD only: the national and current-price columns are not read at all.
            frame["commitment_currency"] = frame["disbursement_currency"] = "USD"
            frame["commitment"] = _millions(frame["usd_commitment_defl"].to_numpy())
            frame["disbursement"] = _millions(frame["usd_disbursement_defl"].to_numpy())
            frame["usd_weight"] = [c if c is not None and c.is_finite() else Decimal(0) for c in frame["commitment"]]
            self._note_bad_amounts(frame)
            return frame
        national = frame["currency_code"].map(lambda c: self.mapping.currencies.get(c, c if len(c) == 3 else ""))
        has_national = (national != "") & (
            (frame["commitment_national"] != "") | (frame["disbursement_national"] != "")
        )
        unknown = frame.loc[(frame["currency_code"] != "") & (national == ""), ["row", "currency_code"]]
        for code, rows in unknown.groupby("currency_code")["row"]:
            self._note(
                "unknown_currency",
                f"Currency code {code} is not in crs_currencies.csv: the USD columns were used",
                rows.tolist(),
                code,
                self.headers.get("currency_code"),
            )
        usd_c, usd_d = (
            _millions(frame["usd_commitment"].to_numpy()),
            _millions(frame["usd_disbursement"].to_numpy()),
        )
        nat_c = _millions(frame["commitment_national"].to_numpy())
        nat_d = _millions(frame["disbursement_national"].to_numpy())
        use = has_national.to_numpy()
        codes = national.to_numpy()
        # Per amount: the national one where the row gives it, else the USD one (a row with a
        # national commitment but only a USD disbursement keeps its disbursement, in USD).
        for kind, nat, usd in (("commitment", nat_c, usd_c), ("disbursement", nat_d, usd_d)):
            national_here = [u and n is not None for u, n in zip(use, nat, strict=True)]
            frame[kind] = [n if h else c for n, c, h in zip(nat, usd, national_here, strict=True)]
            frame[f"{kind}_currency"] = np.where(national_here, codes, "USD")
        frame["usd_weight"] = [c if c is not None and c.is_finite() else Decimal(0) for c in usd_c]
        self._note_bad_amounts(frame)
        return frame

    def _note_bad_amounts(self, frame: pd.DataFrame) -> None:
        bad = [
            r
            for r, c, d in zip(frame["row"], frame["commitment"], frame["disbursement"], strict=True)
            if (c is not None and not c.is_finite()) or (d is not None and not d.is_finite())
        ]
        if bad:
            self._note("bad_amount", "An amount column holds something that is not a number", bad)

    def __iter__(self) -> Iterator[ProjectRecord]:
        frame = self._money(self._filter(self._frame()))
        if frame.empty:
            return
        frame["project_key"] = np.where(
            frame["crs_id"] != "",
            frame["crs_id"],
            np.where(
                frame["project_number"] != "",
                "PN-" + frame["project_number"],
                "ROW-" + frame["row"].astype(str),
            ),
        )
        self._check_codes(frame)
        # Plain lists: reading one Python object from a list is many times cheaper than from a
        # numpy array (which boxes a scalar each time), and the records take a million reads.
        columns = {c: frame[c].to_numpy().tolist() for c in frame.columns}
        groups = frame.groupby(["donor_code", "project_key"], sort=False).indices
        for (donor_code, key), index in groups.items():
            record = self._project(donor_code, key, index.tolist(), columns)
            if record is not None:
                self.counts["projects"] += 1
                yield record

    def _check_codes(self, frame: pd.DataFrame) -> None:
        for code, rows in frame.groupby("donor_code")["row"]:
            if code not in self.mapping.donors:
                self._note(
                    "unknown_donor",
                    f"Donor code {code} is not in crs_donors.csv: its rows are imported under an "
                    f"organisation CRS-DONOR-{code}",
                    rows.tolist(),
                    code,
                    self.headers.get("donor_code"),
                )
        for code, group in frame.groupby("recipient_code"):
            rows = group["row"]
            known = self.mapping.recipients.get(code)
            if known is None or (known.iso3 is None and known.region is None):
                why = (
                    f"Recipient code {code} is not in crs_recipients.csv"
                    if known is None
                    else f"Recipient {code} ({known.name}) is not a place"
                )
                self._note(
                    "unknown_recipient" if known is None else "unspecified_recipient",
                    f"{why}: the money of those rows stays unallocated (no country or region): {_amounts_text(group)}",
                    rows.tolist(),
                    code,
                    self.headers.get("recipient_code"),
                )
            elif known.iso3 and known.iso3 in dac_list_periods():
                # Former recipients keep their rows (the file says where the money went); say when a
                # year falls outside the country's dated membership of the DAC list.
                years = group["year"]
                off_years = [
                    y
                    for y in years.unique().tolist()
                    if not (on_dac_list(known.iso3, dt.date(y, 1, 1)) or on_dac_list(known.iso3, dt.date(y, 12, 31)))
                ]
                off = years.isin(off_years)
                if off.any():
                    listed = ", ".join(
                        f"{a:%Y-%m-%d} to {b:%Y-%m-%d}" if b else f"from {a:%Y-%m-%d}"
                        for a, b in dac_list_periods()[known.iso3]
                    )
                    first_years = sorted({int(y) for y in years[off]})
                    self._note(
                        "not_on_dac_list",
                        f"Recipient {code} ({known.name}) was not on the DAC list of ODA recipients in "
                        f"{_years_text(first_years)} (on it {listed}): those rows are imported on "
                        f"{known.iso3} all the same, as the file gives them",
                        group.loc[off, "row"].tolist(),
                        code,
                        self.headers.get("recipient_code"),
                    )

    def _project(self, donor_code: str, key: str, index: list[int], col: dict) -> ProjectRecord | None:
        first = index[0]
        donor = self.mapping.donors.get(donor_code)
        title = next((col["title"][i] for i in index if col["title"][i]), "") or next(
            (col["short_description"][i] for i in index if col["short_description"][i]), ""
        )
        description = next((col["long_description"][i] for i in index if col["long_description"][i]), "") or next(
            (col["short_description"][i] for i in index if col["short_description"][i]), ""
        )
        reference = key[:120]
        record = ProjectRecord(
            reference=reference,
            title=(title or f"CRS activity {key}")[:500],
            org=donor.ref if donor else f"CRS-DONOR-{donor_code}",
            org_name=donor.name if donor else (col["donor_name"][first] or f"CRS donor {donor_code}"),
            description=description,
            location=Location(file=self.filename, row=int(col["row"][first])),
        )
        record.rows = [(None, int(col["row"][i])) for i in index]  # a problem on any row is the activity's
        # Recipients weighted by USD commitments (else equal), summed over the project's rows.
        weights: dict[tuple, Decimal] = {}
        unallocated = Decimal(0)  # the weight of rows whose recipient is no place
        sectors: dict[str, Decimal] = {}
        years = []
        for i in index:
            weight = col["usd_weight"][i]
            mapped = self.mapping.recipients.get(col["recipient_code"][i])
            place = None
            if mapped and (mapped.iso3 or mapped.region):
                place = k = (mapped.iso3, None if mapped.iso3 else mapped.region)
                weights[k] = weights.get(k, Decimal(0)) + abs(weight)
            else:
                unallocated += abs(weight)
            purpose = col["purpose_code"][i]
            sectors[purpose] = sectors.get(purpose, Decimal(0)) + abs(weight)
            years.append(int(col["year"][i]))
            self._transactions(record, i, col, place)
        if unallocated > 0:
            # A row's flows carry the row's own recipient; the flows of rows without a place have
            # none, and the project's list is then the unallocated row alone, so that they are
            # never spread over the recipients of the other rows (warned in _check_codes).
            record.recipients = [RecipientRecord(share=Decimal(100))]
        elif weights:
            # Every flow names its recipient: the list (by USD commitments) splits only the need.
            keys = list(weights)
            record.recipients = [
                RecipientRecord(country=k[0], region=k[1], share=s)
                for k, s in zip(keys, shares_from_weights([weights[k] for k in keys]), strict=True)
            ]
        # 3-digit categories only infer areas; any other code goes to the registry's rule, which
        # takes 5-digit purpose codes and refuses the rest (the same verdict as on every path).
        record.sectors = [c for c in sectors if c and not (len(c) == 3 and c.isdigit())]
        total = sum(sectors.values())
        sector_list = [
            Sector(c, "1" if len(c) == 5 else "2", (w * 100 / total) if total > 0 else None) for c, w in sectors.items()
        ]
        # Rows of one activity repeat across recipients and years, and titles repeat across
        # activities: inferring once per distinct input keeps a CRS year fast.
        if len(sector_list) == 1:  # one sector: its percentage is 100 whatever the weights
            sector_list = [Sector(sector_list[0].code, sector_list[0].vocabulary, None)]
        cache_key = (
            tuple(sorted((s.code, s.percentage) for s in sector_list)),
            record.title,
            record.description,
        )
        areas = self._area_cache.get(cache_key)
        if areas is None:
            areas = infer_areas(sector_list, [record.title, record.description], self.mapping)
            if len(self._area_cache) < 50_000:
                self._area_cache[cache_key] = areas
        record.areas = [AreaRecord(a.code, a.share, a.inferred) for a in areas]
        record.planned_start = _day(col["start_date"][first])
        record.planned_end = _day(col["end_date"][first])
        if record.planned_start and record.planned_end and record.planned_start > record.planned_end:
            record.planned_end = None
        record.status = "completed" if record.planned_end and record.planned_end < dt.date.today() else "active"
        return record

    def _transactions(self, record: ProjectRecord, i: int, col: dict, place: tuple | None) -> None:
        """The row's commitment and disbursement, each with the row's recipient (a CRS row is one
        activity x recipient x year: its money is that recipient's, whatever the project's others)."""
        year = int(col["year"][i])
        # CRS flows are annual totals: dated on the commitment date when given in that year,
        # else on 31 December of the year they were reported for.
        day = _day(col["commitment_date"][i])
        value_date = day if day and day.year == year else dt.date(year, 12, 31)
        common = {
            "flow_type": FLOW_TYPES.get(col["flow_code"][i], col["flow_code"][i] or None),
            "finance_type": col["finance_type"][i] or None,
            "aid_type": col["aid_type"][i] or None,
            "location": Location(file=self.filename, row=int(col["row"][i])),
        }
        constant = self.prices == "constant"
        for kind in ("commitment", "disbursement"):
            amount = col[kind][i]
            if amount is None or not amount.is_finite() or amount == 0:
                continue
            record.transactions.append(
                TransactionRecord(
                    type=kind,
                    amount=amount,
                    currency=col[f"{kind}_currency"][i],
                    value_date=dt.date(year, 12, 31) if kind == "disbursement" else value_date,
                    description=f"CRS {year}, recipient {col['recipient_code'][i]}"
                    + (", constant prices (USD_Commitment_Defl/USD_Disbursement_Defl)" if constant else ""),
                    price_basis="constant" if constant else None,
                    recipient_country=place[0] if place else None,
                    recipient_region=place[1] if place else None,
                    **common,
                )
            )
            self.counts["transactions"] += 1


def _amounts_text(group: pd.DataFrame) -> str:
    """'commitments USD 1,500,000.00; disbursements USD 0.00' for some rows, by currency."""
    totals: dict[tuple[str, str], Decimal] = {}
    for kind in ("commitment", "disbursement"):
        for currency, amount in zip(group[f"{kind}_currency"], group[kind], strict=True):
            if amount is not None and amount.is_finite():
                totals[(f"{kind}s", currency)] = totals.get((f"{kind}s", currency), Decimal(0)) + amount
    if not totals:
        return "no amounts"
    return "; ".join(f"{kind} {currency} {amount:,.2f}" for (kind, currency), amount in sorted(totals.items()))


def _years_text(years: list[int]) -> str:
    """[1995, 1996, 1997, 2001] -> '1995-1997, 2001'."""
    spans: list[list[int]] = []
    for year in years:
        if spans and year == spans[-1][1] + 1:
            spans[-1][1] = year
        else:
            spans.append([year, year])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


@lru_cache(maxsize=65_536)  # a CRS year repeats a few thousand distinct dates over its rows
def _day(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        pass
    for fmt in ("%d/%m/%Y", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def read_crs(
    source: str | Path | BinaryIO,
    *,
    filename: str = "",
    years: set[int] | None = None,
    purposes: tuple[str, ...] | None = None,
    prices: str = "current",
) -> CrsReader:
    """A reader over one CRS file: iterate it for records, then read ``problems``."""
    return CrsReader(source, filename=filename, years=years, purposes=purposes, prices=prices)
