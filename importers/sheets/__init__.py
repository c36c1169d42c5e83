"""Donor spreadsheets (XLSX, XLS, ODS, CSV) -> ProjectRecord objects for the pipeline.

Stages, as in PUDL's extract step, one module each:

- ``files``: open the file safely (size and zip-bomb checks), CSV encodings and delimiters,
  the sheets of a workbook (``xlsx_formats``: numbers shown zero-padded);
- ``text``: every cell as text, number and date cells marked as such;
- ``columns``: find the header row and map its headers to fields, with the column maps in
  ``importers/column_maps`` (``fields``: data, not code), the meaning of their words
  (``meaning``) or an explicit mapping; ask about headers that may mean two fields;
- ``amounts``, ``dates``, ``values``: parse a cell's value; ``sheet_amounts``: settle the
  amounts one cell cannot (the decimal mark the sheet shows, the currency's decimals);
  ``lookups``: countries, regions and areas by name or code;
- ``blocks``: the data rows in blocks of columns; ``fast``: the fast block reader;
  ``rows``: the row-by-row reader; ``projects``: rows grouped into projects;
- ``reader``: ``SheetReader``, which runs them for one file.

Every problem names the sheet, the row as Excel shows it, the column header and the value.

Options (all optional; an explicit mapping overrides detection):
``sheet`` one sheet by name; ``mapping`` {"columns": {header: field}} or {header: field};
``decimal`` "," or "." (else learnt from the amounts, see parse_amount); ``dates`` "dmy" or "mdy" (needed for
ambiguous dates like 03/04/2021); ``currency`` default currency; ``unit`` multiplier for
every amount; ``default_type`` transaction type of a bare amount column; ``header_row``
(1-based) to skip detection; ``max_rows``.
"""

from __future__ import annotations

from importers.pipeline import register_reader
from importers.sheets.amounts import AmbiguousAmount, decimal_evidence, parse_amount
from importers.sheets.blocks import BLOCK_ROWS
from importers.sheets.columns import Column, find_header, map_columns, parse_header, parse_spec
from importers.sheets.dates import DateConvention, infer_date_convention, parse_date
from importers.sheets.fields import FIELDS, column_aliases, vocabulary
from importers.sheets.files import (
    UploadRefused,
    check_archive,
    csv_rows,
    decode_text,
    looks_like_table,
    sniff_delimiter,
)
from importers.sheets.projects import SheetTransaction
from importers.sheets.reader import SheetReader, read_sheet_file
from importers.sheets.text import CellError, DateText, NumText, cell_text, norm
from importers.sheets.values import parse_share, split_items

__all__ = [
    "BLOCK_ROWS",
    "FIELDS",
    "AmbiguousAmount",
    "CellError",
    "Column",
    "DateConvention",
    "DateText",
    "NumText",
    "SheetReader",
    "SheetTransaction",
    "UploadRefused",
    "cell_text",
    "check_archive",
    "column_aliases",
    "csv_rows",
    "decimal_evidence",
    "decode_text",
    "find_header",
    "infer_date_convention",
    "looks_like_table",
    "map_columns",
    "norm",
    "parse_amount",
    "parse_date",
    "parse_header",
    "parse_share",
    "parse_spec",
    "read_sheet_file",
    "sniff_delimiter",
    "split_items",
    "vocabulary",
]

register_reader("sheet", read_sheet_file, looks_like_table, ("xlsx", "xlsm", "xls", "ods", "csv", "tsv", "txt"))
