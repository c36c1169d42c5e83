"""The CRS reader: one file's rows, read in stages, as a stream of project records.

The stages, in order: the file as text cells (``files``), the canonical columns
(``columns``), the rows kept (the year and purpose filters, here), their amounts
(``amounts``), the codes checked (``codes``), the rows grouped into projects by (donor code,
CRS id), else (donor code, project number), each made a record (``projects``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from importers.crs.amounts import amounts_text, millions, read_amounts
from importers.crs.codes import check_codes
from importers.crs.columns import PRICES, canonical_frame
from importers.crs.files import CrsFileError, read_frame
from importers.crs.issues import IssueLog
from importers.crs.projects import ProjectBuilder, day
from importers.mapping import Mapping, load_mapping
from importers.messages import Text
from importers.records import Problem, ProjectRecord
from registry.models.types import N_


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
    headers: dict[str, str] = field(default_factory=dict)  # canonical column -> its header in the file

    def __post_init__(self) -> None:
        if not self.filename:
            self.filename = Path(self.source).name if isinstance(self.source, str | Path) else "upload"
        self.counts = {"rows": 0, "rows_kept": 0, "projects": 0, "transactions": 0}
        self.issues = IssueLog(self.filename)
        if self.prices not in PRICES:
            unknown = N_("Unknown price basis %(prices)s (current or constant)")
            raise CrsFileError(Text(unknown, prices=repr(self.prices)))

    @property
    def problems(self) -> list[Problem]:
        """One problem per kind and value, with its count and first row."""
        return self.issues.problems()

    def __iter__(self) -> Iterator[ProjectRecord]:
        frame = read_frame(self.source, self.filename)
        self.counts["rows"] = len(frame)
        frame, self.headers = canonical_frame(frame, self.filename, self.prices)
        frame = read_amounts(self._filter(frame), self.prices, self.mapping, self.issues, self.headers)
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
        check_codes(frame, self.mapping, self.issues, self.headers)
        # Plain lists: reading one Python object from a list is many times cheaper than from a
        # numpy array (which boxes a scalar each time), and the records take a million reads.
        columns = {c: frame[c].to_numpy().tolist() for c in frame.columns}
        groups = frame.groupby(["donor_code", "project_key"], sort=False).indices
        builder = ProjectBuilder(self.filename, self.prices, self.mapping, self.counts)
        for (donor_code, key), index in groups.items():
            record = builder.project(donor_code, key, index.tolist(), columns)
            self.counts["projects"] += 1
            yield record

    def _filter(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows with a year, inside the year and purpose filters; each row's year as an int."""
        if "year" in self.headers:
            year = pd.to_numeric(frame["year"], errors="coerce")
            bad = frame.loc[year.isna(), "row"].tolist()
            if bad:
                self.issues.note("bad_year", N_("Year is not a number"), bad, column=self.headers.get("year"))
        else:
            # Real extracts without a Year column: the CRS year is the year of the commitment date.
            days = frame["commitment_date"].map(day)
            year = pd.to_numeric(days.map(lambda d: d.year if d else None), errors="coerce")
            bad = frame.loc[year.isna(), "row"].tolist()
            if bad:
                lost = frame.loc[year.isna()].copy()
                suffix = "_defl" if self.prices == "constant" else ""
                for kind in ("commitment", "disbursement"):
                    lost[kind] = millions(lost[f"usd_{kind}{suffix}"].to_numpy())
                    lost[f"{kind}_currency"] = "USD"
                self.issues.note(
                    "no_year",
                    Text(
                        N_(
                            "The file has no Year column and CommitmentDate is empty or not a date, so the row has "
                            "no year and cannot be imported (%(money)s in USD columns)"
                        ),
                        money=amounts_text(lost),
                    ),
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
