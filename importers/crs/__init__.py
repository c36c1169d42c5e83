"""OECD DAC CRS microdata -> ProjectRecord stream, with problems.

The OECD distributes CRS as pipe-delimited text (UTF-8 or UTF-16, often zipped), and
people pass it around as CSV or XLSX. Column spellings change between years
(``CrsID``/``CRSid``, ``Finance_t``/``Finance_T``), so headers are matched on their
lower-cased letters and digits only. One row is one activity x recipient x year; rows
are grouped into projects by (donor code, CRS id), else (donor code, project number).

The reading is split by stage, one module each: ``files`` (the file as text cells),
``columns`` (canonical columns, the year and purpose options), ``amounts`` (millions to
exact Decimals, current or constant prices, never mixed), ``codes`` (donor and recipient
codes checked), ``projects`` (rows to project records), ``issues`` (problems counted by
kind), and ``reader`` (``CrsReader``, which runs them in order). Mapping rules are in
docs/iati-crs.md. The names other modules import are re-exported here.
"""

from importers.crs.columns import COLUMNS, PRICES, parse_purposes, parse_years
from importers.crs.files import CrsFileError, read_frame
from importers.crs.reader import CrsReader, read_crs

__all__ = [
    "COLUMNS",
    "PRICES",
    "CrsFileError",
    "CrsReader",
    "parse_purposes",
    "parse_years",
    "read_crs",
    "read_frame",
]
