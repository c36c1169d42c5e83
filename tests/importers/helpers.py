"""Small workbooks and CSV files built inside the tests."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl


def xlsx(
    rows: list[list],
    path: Path,
    title: str = "Projects",
    merges: tuple[str, ...] = (),
    extra_sheets: dict[str, list[list]] | None = None,
) -> Path:
    """Write rows (None = empty cell) to an XLSX file."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    for rng in merges:
        ws.merge_cells(rng)
    for name, sheet_rows in (extra_sheets or {}).items():
        other = wb.create_sheet(name)
        for row in sheet_rows:
            other.append(row)
    wb.save(path)
    return path


def csv_bytes(rows: list[list], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    """Rows as CSV text in the given delimiter and encoding."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    for row in rows:
        writer.writerow(["" if c is None else str(c) for c in row])
    return out.getvalue().encode(encoding)
