"""The sheet reader: one donor file read sheet by sheet, through the stages of this package.

For each sheet: the first rows as text (``text``), the header found and its columns mapped
(``columns``), questions asked about headers that may mean two fields, the file's date
convention learnt (``dates``), then the data rows in blocks (``blocks``), each read by the
fast block reader (``fast``) or, for the rows it hands over and for the previewed ones, by
the row-by-row reader (``rows``), into projects (``projects``); amounts are settled with
their sheet (``sheet_amounts``). Once every sheet is read, the projects are finished.

``SheetReader`` keeps the state of one reading (the lookups, the conventions, the caches,
the projects and the problems); its fast, row-by-row and project parts are in those modules.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

from importers.messages import Text
from importers.pipeline import ReadResult
from importers.records import Location, Problem, TransactionRecord
from importers.sheets.blocks import Block, Plan, TextBlock, head_block, text_blocks
from importers.sheets.columns import (
    HEADER_SCAN_ROWS,
    HeaderFound,
    ask_about,
    explicit_mapping,
    fill_merged,
    find_header,
)
from importers.sheets.dates import DATE_XY, infer_date_convention, parse_date
from importers.sheets.fast import FastRows
from importers.sheets.fields import AMOUNT_FIELDS, DATE_FIELDS, PLANNED
from importers.sheets.files import Sheet, TooManyRows, config_limit, gc_paused, open_sheets
from importers.sheets.lookups import Lookups
from importers.sheets.projects import ProjectBuilder, ProjectCells
from importers.sheets.rows import RowReader
from importers.sheets.sheet_amounts import SheetAmounts
from importers.sheets.text import cell_text
from registry import money
from registry.models.types import N_

# A file's dates read in the order its unambiguous dates show, by that order.
_DATES_INFERRED = {
    "dmy": N_(
        "Dates such as %(ambiguous)s (row %(ambiguous_row)s) are read as day/month/year, %(ambiguous)s as %(date)s: "
        "the file also writes %(example)s (row %(row)s), which can only be read that way. Say how the file writes "
        "dates if that is wrong (on the upload page 'Dates like 03/04/2021 mean'; --dates dmy or mdy on the command "
        "line; dates=dmy or mdy in the API)."
    ),
    "mdy": N_(
        "Dates such as %(ambiguous)s (row %(ambiguous_row)s) are read as month/day/year, %(ambiguous)s as %(date)s: "
        "the file also writes %(example)s (row %(row)s), which can only be read that way. Say how the file writes "
        "dates if that is wrong (on the upload page 'Dates like 03/04/2021 mean'; --dates dmy or mdy on the command "
        "line; dates=dmy or mdy in the API)."
    ),
}

PREVIEW_ROWS = 20  # data rows shown under the header on the preview, with what each gave

# What a sheet without the columns every project needs is told (whole sentences, translated
# when shown: importers.messages).
NO_COLUMN = {
    "reference": N_("No column for the project reference was found"),
    "title": N_("No column for the project title was found"),
}
SHEET_SKIPPED = {
    ("reference",): N_("Sheet skipped: it has no column for the project reference"),
    ("title",): N_("Sheet skipped: it has no column for the project title"),
    ("reference", "title"): N_("Sheet skipped: it has no column for the project reference and project title"),
}


def _amount_as_read(t: TransactionRecord) -> str:
    """'1,250,500.00 EUR': with the currency's decimals when the amount has no more than those."""
    amount, currency = t.amount, t.currency
    if money.is_currency(currency):
        try:
            if money.quantize(amount, currency) == amount:
                return money.format_amount(amount, currency)
        except ArithmeticError:
            pass
    return f"{amount:,} {currency}".strip()


class SheetReader(FastRows, RowReader, ProjectCells):
    """Reads one file; keeps the lookups, the conventions, the projects and the problems."""

    def __init__(self, filename: str, options: dict) -> None:
        self.filename = Path(filename).name
        self.options = options
        self.problems: list[Problem] = []
        self.lookups = Lookups()
        self.explicit = explicit_mapping(options)
        self.decimal = options.get("decimal") if options.get("decimal") in (",", ".") else None
        self.dates = options.get("dates") if options.get("dates") in ("dmy", "mdy") else None
        self.default_currency = (options.get("currency") or "").upper() or None
        self.unit = Decimal(str(options.get("unit") or 1))
        self.max_rows = int(options.get("max_rows") or config_limit("IMPORT_MAX_ROWS", 500_000))
        self.builders: dict[str, ProjectBuilder] = {}
        self.skipped: Counter = Counter()
        self.rows_read = 0
        self.info: dict[str, Any] = {"sheets": [], "preview": {}, "mapping": {"columns": {}}}
        self._date_cache: dict[tuple[str, tuple], dt.date] = {}
        self._tx_type_cache: dict[str, str | None] = {}
        self._recipient_cache: dict[tuple, list] = {}
        self._sources: dict[str, bool] = {}  # funding source text -> known (see _check_source)
        self._year_dated: set[tuple] = set()  # (sheet, header) of columns dated by their year
        self._splits: list = []  # projects whose flows split over their countries unlike their shares
        # The amount cells, sheet by sheet (their decimal mark learnt, the ambiguous ones counted).
        self.amounts = SheetAmounts(self.decimal, self.info, self.problem)
        # Column-wise conversions, remembered per distinct text (see text.cached_map).
        self._caches: dict[str, dict[type, dict]] = {
            name: {} for name in ("ref", "first", "type", "currency", "value_date", "tied_status")
        }
        self.progress = options.get("_progress")

    def problem(
        self,
        severity: str,
        code: str,
        message: str,
        sheet: str | None,
        row: int | None,
        column: str | None = None,
        value: Any = None,
    ) -> None:
        """Report a problem at a sheet, row and column, with the cell's value."""
        loc = Location(file=self.filename, sheet=sheet, row=row, column=column)
        self.problems.append(Problem(severity, message, loc, None if value in (None, "") else str(value), code))

    # -- reading --------------------------------------------------------------

    def read(self, path: Path) -> ReadResult:
        """Read the file: its projects, the problems found and the facts of the reading."""
        with gc_paused():
            return self._read(path)

    def _read(self, path: Path) -> ReadResult:
        try:
            opened = open_sheets(path, self.filename, self.options.get("sheet"), self.max_rows)
        except TooManyRows as exc:
            # Refused before a sheet was loaded: the report says so, and that nothing was read.
            self.problem("error", "too_many_rows", exc.message, None, None)
            self.info.update(rows_read=0, rows_counted=exc.counted, rows_skipped=0, skipped={}, projects=0)
            return ReadResult([], self.problems, self.info)
        fmt, sheets = opened.format, opened.sheets
        self.info["format"] = fmt
        # Reading every sheet of a workbook: sheets that hold no project table (the
        # template's Instructions and Lists, a notes sheet) are skipped, not errors.
        self.lenient_sheets = len(sheets) > 1
        self.data_sheets: list[str] = []
        for sheet in sheets:
            self.read_sheet(sheet, fmt)
            if self.rows_read > self.max_rows:
                break
        if self.lenient_sheets and not self.data_sheets:
            self.problem(
                "error",
                "no_data_sheet",
                N_(
                    "No sheet has columns for the project reference and title; "
                    "check the header row, or choose the sheet and map its columns"
                ),
                None,
                None,
            )
        records = [self._finish(b) for b in self.builders.values()]
        self._report_splits()
        self.info.update(
            rows_read=self.rows_read,
            rows_skipped=sum(self.skipped.values()),
            skipped=dict(self.skipped),
            decimal=self.decimal or self.info.get("decimal"),
            projects=len(records),
        )
        return ReadResult(records, self.problems, self.info)

    def read_sheet(self, sheet: Sheet, fmt: str) -> None:
        """Read one sheet: find its header, then read its data rows into projects."""
        label = sheet.name if fmt != "csv" else None
        head: list[list[str]] = []
        for raw in sheet.rows:
            head.append([cell_text(v) for v in raw])
            if len(head) >= HEADER_SCAN_ROWS:
                break
        fill_merged(head, sheet.merged)
        header_row = self.options.get("header_row")
        found = find_header(head, self.explicit, int(header_row) if header_row else None)
        if found.row < 0:
            if any(any(row) for row in head):
                self.problem(
                    "warning",
                    "no_header",
                    N_("No header row was recognised in this sheet; it was skipped"),
                    label,
                    None,
                )
            return
        first_rows = head[found.row + 1 :]
        if not self._take_columns(sheet.name, label, found, first_rows):
            return
        plan = self._plan(sheet, label, found, first_rows)
        # The rows of the scanned head are text already (merged cells filled in); the rest
        # is read in blocks, converted column by column.
        end = self._read_block(plan, head_block(first_rows, plan.needed), found.row + 1, True)
        all_text = fmt == "csv"
        if end is not None:
            for block in text_blocks(sheet.rows, plan.needed, all_text):
                end = self._read_block(plan, block, end, False, all_text)
                if end is None:
                    break
        self.amounts.warnings(label)

    def _take_columns(self, name: str, label: str | None, found: HeaderFound, first_rows: list) -> bool:
        """Record a sheet's columns (for the preview and the mapping), ask about the ambiguous
        ones and report the unknown ones; False when the sheet has no project table."""
        r, columns = found.row, found.columns
        self.info.setdefault("questions", {}).update(ask_about(columns, label, r + 1, self.problem))
        fields = {c.field for c in columns}
        self.info["sheets"].append(name)
        mapping = self.info["mapping"]["columns"]
        for c in columns:
            if c.header:
                mapping.setdefault(c.header, c.spec)
                if c.field == "ignore" and not c.question:
                    self.problem(
                        "warning",
                        "unknown_column",
                        Text(N_("Column %(header)s was not recognised and is ignored"), header=repr(c.header)),
                        label,
                        r + 1,
                        c.header,
                    )
        preview = self.info["preview"].setdefault(
            name,
            {
                "header_row": r + 1,
                "header_first": r + 2 - found.height,
                "headers": [c.header for c in columns],
                "rows": [],
            },
        )
        for number, row in enumerate(first_rows, r + 2):
            if any(row) and len(preview["rows"]) < PREVIEW_ROWS:
                preview["rows"].append({"row": number, "cells": row[: len(columns)], "read": ""})
        missing = [f for f in ("reference", "title") if f not in fields]
        if missing and self.lenient_sheets:
            self.problem(
                "warning",
                "sheet_skipped",
                SHEET_SKIPPED[tuple(missing)],
                label,
                r + 1,
                None,
            )
            self.info["preview"].pop(name, None)
            self.info["sheets"].remove(name)
            return False
        if missing:
            for f in missing:
                self.problem(
                    "error",
                    "missing_column",
                    NO_COLUMN[f],
                    label,
                    r + 1,
                    None,
                )
            return False
        self.data_sheets.append(name)
        return True

    def _plan(self, sheet: Sheet, label: str | None, found: HeaderFound, first_rows: list) -> Plan:
        """How the sheet's data rows are read; its amounts and date convention made ready."""
        r, columns = found.row, found.columns
        fields = {c.field for c in columns}
        used = [c for c in columns if c.field != "ignore"]
        amount_cols = [c for c in used if c.field in AMOUNT_FIELDS or c.field in ("need_amount", PLANNED)]
        self.amounts.start_sheet(sheet.reread, amount_cols, r + 1, first_rows, sheet.delimiter == ";")
        has_type = "transaction_type" in fields
        if "amount" in fields and not has_type and not self.options.get("default_type"):
            self.problem(
                "warning",
                "amount_as_commitment",
                "There is no transaction type column: amounts are read as commitments",
                label,
                r + 1,
            )
        if self.dates is None and sheet.reread is not None:
            self._learn_date_convention(sheet.reread, first_rows, used, label, r + 1)
        needed = sorted({c.index for c in used} | set(range(6)))
        width = max(len(columns), needed[-1] + 1)
        self._record_columns = {self._record_field(c.field): c.header for c in used}
        default_type = self.options.get("default_type") or ("" if has_type else "commitment")
        return Plan(used, needed, width, len(columns), label, sheet.name, has_type, amount_cols, default_type)

    def _learn_date_convention(self, reread, first_rows: list, used: list, label, header_row: int) -> None:
        """Take the file's own day/month order when its first rows write dates with slashes or
        dots and the unambiguous dates of its date columns all agree (before any is read).

        In a workbook only the dates typed as text count: real date cells need no convention."""
        columns = [(c.index, c.header) for c in used if c.field in DATE_FIELDS]
        if not any(
            DATE_XY.fullmatch(row[i].strip()) for row in first_rows for i, _h in columns if i < len(row) and row[i]
        ):
            return
        cells = (
            ((number, header), row[i])
            for number, row in enumerate(islice(reread(), header_row, None), header_row + 1)
            for i, header in columns
            if i < len(row) and isinstance(row[i], str) and row[i]
        )
        found = infer_date_convention(cells)
        if found.kind is None:
            return
        row, column = found.where
        self.dates = found.kind
        self.info["dates"] = found.kind
        if not found.ambiguous:
            return  # every date reads one way only: the order decides nothing worth a warning
        message = Text(
            _DATES_INFERRED[found.kind],
            ambiguous=found.ambiguous,
            ambiguous_row=str(found.ambiguous_where[0]),
            date=parse_date(found.ambiguous, found.kind),
            example=found.example,
            row=str(row),
        )
        self.problem("warning", "dates_inferred", message, label, row, column, found.example)

    def _read_block(self, plan: Plan, block: TextBlock, rownum: int, head: bool, all_text: bool = False) -> int | None:
        """Read data rows given column by column as text: the fast way, or row by row while
        the preview still shows rows; the last row number, or None at the row limit.
        ``head``: the rows scanned for the header (read row by row, previewed already)."""
        texts, nonblank = block.texts, block.nonblank
        blk = Block(plan, texts, len(nonblank), all_text)
        n_read = sum(nonblank)
        preview = self.info["preview"].get(plan.sheet_name)
        if (
            not head
            and self.rows_read + n_read <= self.max_rows
            and (preview is None or len(preview["rows"]) >= PREVIEW_ROWS)
        ):
            before = self.rows_read
            self.rows_read += n_read
            self._fast_rows(blk, nonblank, rownum)
            if self.progress:
                for done in range((before // 5000 + 1) * 5000, self.rows_read + 1, 5000):
                    self.progress(done, 0, "reading")
            return rownum + blk.n
        # the previewed rows by number (the head's, and those this block adds)
        previewed = {r["row"]: r for r in preview["rows"]} if preview is not None else None
        for k in range(blk.n):
            rownum += 1
            if not nonblank[k]:
                continue
            self.rows_read += 1
            if self.rows_read > self.max_rows:
                self.problem(
                    "error",
                    "too_many_rows",
                    f"The file has more than {self.max_rows:,} rows; split it into smaller files",
                    plan.label,
                    rownum,
                )
                return None
            if not head and preview is not None and len(preview["rows"]) < PREVIEW_ROWS:
                row = [""] * plan.width
                for i in plan.needed:
                    row[i] = texts[i][k]
                preview["rows"].append({"row": rownum, "cells": row[: plan.n_columns], "read": ""})
                previewed[rownum] = preview["rows"][-1]
            entry = previewed.get(rownum) if previewed else None
            if entry is None:
                self._read_row(blk, k, rownum)
            else:  # say under the previewed row what it gave
                builder = self.builders.get(blk.refs[k])
                before = len(builder.record.transactions) if builder else 0
                self._read_row(blk, k, rownum)
                builder = self.builders.get(blk.refs[k])
                added = builder.record.transactions[before:] if builder else []
                entry["read"] = "; ".join(f"{t.type} {_amount_as_read(t)} on {t.value_date}" for t in added)
            if self.progress and self.rows_read % 5000 == 0:
                self.progress(self.rows_read, 0, "reading")
        return rownum

    @staticmethod
    def _record_field(name: str) -> str:
        """The field of a ProjectRecord a column's field fills (problems of the record name the column)."""
        return {
            "country": "recipients",
            "region": "recipients",
            "recipient": "recipients",
            "share": "recipients",
            "area": "areas",
            "sector": "sectors",
            "wsis_action_line": "wsis_action_lines",
            "need_amount": "need",
            "need_currency": "need",
            "transaction_type": "type",
        }.get(name, name)


def read_sheet_file(path: Path, filename: str, options: dict) -> ReadResult:
    """The pipeline's reader for donor spreadsheets (registered as kind 'sheet')."""
    return SheetReader(filename, dict(options)).read(path)
