"""Opening a donor file: XLSX, XLS, ODS (python-calamine) or CSV, checked before it is parsed
(archive size and zip bombs), CSV decoded (BOMs, UTF-16, UTF-8, else Windows-1252) and its
delimiter sniffed; numbers a workbook shows zero-padded taken as the text it shows
(``xlsx_formats``). Each sheet comes out as a ``Sheet``: its rows of raw cells, its merged
cells, and a way to read its rows again from the start."""

from __future__ import annotations

import csv
import gc
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from flask import current_app, has_app_context

from importers.sheets.xlsx_formats import ods_padded_cells, padded_cells, padded_rows
from registry.errors import RegistryError, ValidationError


class UploadRefused(RegistryError):
    """The upload is too large or not safe to open (413)."""

    code = 413


ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def config_limit(name: str, default: int) -> int:
    """A limit from the app config (the default outside an app context)."""
    return int(current_app.config.get(name, default)) if has_app_context() else default


def check_archive(path: Path) -> str:
    """Refuse an XLSX/ODS whose declared uncompressed size is too large (before parsing)."""
    limit = config_limit("IMPORT_MAX_UNCOMPRESSED", 300 * 1024 * 1024)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError(f"The file is not a readable XLSX or ODS workbook: {exc}") from None
    if len(infos) > 10_000:
        raise UploadRefused(f"The workbook holds {len(infos):,} parts; that is not a spreadsheet we can open")
    declared = sum(i.file_size for i in infos)
    if declared > limit:
        raise UploadRefused(
            f"The workbook would unpack to {declared:,} bytes, more than the limit of {limit:,}; "
            "split it or save it as CSV"
        )
    for info in infos:
        if info.file_size > 50 * 1024 * 1024 and info.file_size > 200 * max(info.compress_size, 1):
            raise UploadRefused(f"Part {info.filename!r} of the workbook is compressed suspiciously well")
    if "content.xml" in names and "mimetype" in names:
        return "ods"
    if "[Content_Types].xml" in names:
        return "xlsx"
    raise ValidationError("The file is a ZIP archive but not an XLSX or ODS workbook")


class Decoded(NamedTuple):
    """The text of a CSV file and the encoding it was read with."""

    text: str
    encoding: str


def decode_text(raw: bytes) -> Decoded:
    """Text of a CSV file and the encoding used (BOMs, UTF-16, UTF-8, else Windows-1252)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return Decoded(raw[3:].decode("utf-8", errors="replace"), "utf-8-sig")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Decoded(raw.decode("utf-16"), "utf-16")
    head = raw[:4000]
    if head and head.count(b"\x00") > len(head) // 4:
        # UTF-16 without a BOM: the NULs sit at odd positions (LE) or even (BE).
        le = head[1::2].count(b"\x00") > head[0::2].count(b"\x00")
        encoding = "utf-16-le" if le else "utf-16-be"
        return Decoded(raw.decode(encoding, errors="replace"), encoding)
    try:
        return Decoded(raw.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        return Decoded(raw.decode("cp1252", errors="replace"), "cp1252")


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text among , ; tab and |."""
    lines = [line for line in text[:65536].splitlines()[:50] if line.strip()]
    best, best_score = ",", -1
    for delim in (",", ";", "\t", "|"):
        counts = [len(next(csv.reader([line], delimiter=delim))) - 1 for line in lines]
        counts = [c for c in counts if c > 0]
        if not counts:
            continue
        common, freq = Counter(counts).most_common(1)[0]
        score = freq * 10 + common
        if score > best_score:
            best, best_score = delim, score
    return best


_LINE_END = re.compile(r"\r\n|\r|\n")
# Characters str.splitlines breaks on that the csv module keeps inside a row.
_OTHER_BREAKS = ("\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def csv_rows(text: str, delimiter: str) -> Iterator[list[str]]:
    """The rows of a CSV text, as the csv module reads them.

    A text without any quote (most exports) is split on line ends and delimiters directly,
    several times faster and with the same rows; anything else goes through the csv module."""
    if '"' in text or "\x00" in text:
        return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    if any(c in text for c in _OTHER_BREAKS):
        lines = _LINE_END.split(text)
        if lines and not lines[-1]:
            lines.pop()  # the text's final line end closes the last row, it opens no new one
    else:
        lines = text.splitlines()  # the same lines, several times faster than the pattern
    if max(map(len, lines), default=0) > csv.field_size_limit():
        return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)  # its error on a huge field
    return (line.split(delimiter) if line else [] for line in lines)


@dataclass
class Sheet:
    """A sheet's rows as an iterator of lists of raw values (text for CSV)."""

    name: str
    rows: Iterator[list]
    merged: list = field(default_factory=list)
    col_offset: int = 0  # calamine yields rows from row 1 but columns from the first used one
    # The sheet's rows once more, from the start (to learn its date convention before reading).
    reread: Callable[[], Iterator[list]] | None = None
    delimiter: str | None = None  # of a CSV file


def _sheet_rows(workbook: Any, name: str) -> Iterator[list]:
    return iter(workbook.get_sheet_by_name(name).iter_rows())


class OpenedFile(NamedTuple):
    """A donor file opened: its format ('xlsx', 'xls', 'ods' or 'csv') and its sheets."""

    format: str
    sheets: list[Sheet]


def open_sheets(path: Path, filename: str, wanted: str | None) -> OpenedFile:
    """The file's format and its sheets (the chosen one only, when named)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(ZIP_MAGIC):
        fmt = check_archive(path)
    elif head.startswith(OLE_MAGIC):
        fmt = "xls"
    else:
        raw = path.read_bytes()
        text = decode_text(raw).text
        delimiter = sniff_delimiter(text)
        name = Path(filename).stem or "CSV"  # a CSV has one table: a sheet asked for is this one
        rows = csv_rows(text, delimiter)
        return OpenedFile("csv", [Sheet(name, rows, reread=lambda: csv_rows(text, delimiter), delimiter=delimiter)])
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise ValidationError(f"The workbook cannot be read: {exc}") from None
    names = workbook.sheet_names
    if wanted:
        if wanted not in names:
            raise ValidationError(
                f"There is no sheet {wanted!r}; the sheets are {', '.join(names)}",
                {"sheet": ["Unknown sheet"]},
            )
        names = [wanted]
    # Whole numbers Excel (or an ODS file) shows zero-padded (a reference 00123 typed in a cell formatted 00000).
    padded = padded_cells(path, names) if fmt == "xlsx" else ods_padded_cells(path, names) if fmt == "ods" else {}
    sheets = []
    for name in names:
        sheet = workbook.get_sheet_by_name(name)
        try:
            merged = list(sheet.merged_cell_ranges or [])
        except Exception:  # not every format reports merges
            merged = []
        start = sheet.start or (0, 0)
        offset = start[1] if start else 0
        merged = [((r0, c0 - offset), (r1, c1 - offset)) for (r0, c0), (r1, c1) in merged if c0 >= offset]
        rows = iter(sheet.iter_rows())
        if name in padded:
            rows = padded_rows(rows, padded[name], offset)
        sheets.append(Sheet(name, rows, merged, offset, partial(_sheet_rows, workbook, name)))
    return OpenedFile(fmt, sheets)


def looks_like_table(head: bytes, filename: str) -> bool:
    """Spreadsheets by signature; CSV by extension (text has no signature)."""
    suffix = Path(filename).suffix.lower()
    if head.startswith(OLE_MAGIC):
        return True
    if head.startswith(ZIP_MAGIC):
        return suffix in (".xlsx", ".xlsm", ".ods", "") or b"[Content_Types].xml" in head or b"mimetype" in head
    return suffix in (".csv", ".tsv", ".txt")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file is read.

    Reading builds hundreds of thousands of records that all stay alive, and each full
    collection walks every one of them again (about 2 s of a 100,000-row CSV); reading
    makes no reference cycles worth collecting. Restored afterwards, and left alone when
    something else had already paused it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
