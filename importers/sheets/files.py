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

from importers.messages import Text
from importers.pipeline.content import OLE_MAGIC, UNPACK_ERRORS, ZIP_MAGIC, check_content
from importers.pipeline.ole2 import DamagedOle2, check_ole2
from importers.sheets import row_count
from importers.sheets.xlsx_formats import _sheet_parts as _xlsx_sheet_parts
from importers.sheets.xlsx_formats import ods_padded_cells, padded_cells, padded_rows
from registry.errors import RegistryError, ValidationError
from registry.models.types import N_

HEADER_ROOM = 30  # rows a header may sit in or below (importers.sheets.columns.HEADER_SCAN_ROWS)


class UploadRefused(RegistryError):
    """The upload is too large or not safe to open (413)."""

    code = 413


class TooManyRows(ValidationError):
    """The file holds more rows than the import limit, counted before it is read (422)."""

    def __init__(self, message: str, counted: int, limit: int):
        super().__init__(message, {"file": [message]})
        self.counted = counted
        self.limit = limit


def config_limit(name: str, default: int) -> int:
    """A limit from the app config (the default outside an app context)."""
    return int(current_app.config.get(name, default)) if has_app_context() else default


def _name(filename: str) -> str:
    return Path(filename or "upload").name


def check_archive(path: Path, filename: str = "") -> str:
    """Refuse an XLSX/ODS whose declared uncompressed size is too large (before parsing), or whose
    archive is damaged; its format ('xlsx' or 'ods')."""
    limit = config_limit("IMPORT_MAX_UNCOMPRESSED", 300 * 1024 * 1024)
    name = _name(filename or path.name)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
    except UNPACK_ERRORS as exc:
        raise ValidationError(
            f"{name!r} is not a readable XLSX or ODS workbook: its ZIP archive is damaged ({exc})",
            {"file": [f"Damaged ZIP archive: {exc}"]},
        ) from None
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
    raise ValidationError(f"{name!r} is a ZIP archive but not an XLSX or ODS workbook", {"file": ["Not a workbook"]})


def _damaged(filename: str, part: str, exc: BaseException) -> ValidationError:
    message = f"{_name(filename)!r} is damaged: part {part!r} of the workbook cannot be unpacked ({exc})"
    return ValidationError(message, {"file": [f"Damaged part {part}: {exc}"]})


def scan_archive(path: Path, filename: str, fmt: str, wanted: str | None, stop_above: int) -> int:
    """Unpack every part of an XLSX/ODS archive once, streaming, to check it whole (a damaged
    part is a ValidationError naming it), and count the rows of its sheets (the sheet
    ``wanted`` only, when one is named) up to ``stop_above``."""
    rows = 0
    with zipfile.ZipFile(path) as archive:
        sheets: set[str] = set()
        if fmt == "xlsx":
            try:
                parts = _xlsx_sheet_parts(archive)
            except Exception:  # the workbook part is checked below, and calamine says what it lacks
                parts = {}
            sheets = {parts[wanted]} if wanted in parts else set(parts.values())
            if not sheets:
                sheets = {n for n in archive.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")}
        for info in archive.infolist():
            part = info.filename
            try:
                if fmt == "xlsx" and part in sheets:
                    rows += row_count.xlsx_part_rows(archive, part, stop_above - rows)
                elif fmt == "ods" and part == "content.xml":
                    rows += row_count.ods_table_rows(archive, wanted, stop_above - rows)
                else:
                    with archive.open(info) as handle:
                        while handle.read(1 << 20):
                            pass
            except UNPACK_ERRORS as exc:
                raise _damaged(filename, part, exc) from None
            if rows > stop_above:
                return rows
    return rows


def _too_many(filename: str, counted: int, limit: int, stopped: bool) -> TooManyRows:
    """``stopped``: the count stopped once past the limit (the file has at least ``counted`` rows)."""
    many = f"at least {counted:,}" if stopped else f"{counted:,}"
    return TooManyRows(
        f"{_name(filename)!r} has {many} rows, more than the limit of {limit:,}; "
        "split it into smaller files. Nothing was read.",
        counted,
        limit,
    )


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


def _sheet_rows(workbook: Any, name: str, filename: str = "", fmt: str = "xlsx") -> Iterator[list]:
    return _guarded(iter(workbook.get_sheet_by_name(name).iter_rows()), filename, fmt, name)


class OpenedFile(NamedTuple):
    """A donor file opened: its format ('xlsx', 'xls', 'ods' or 'csv') and its sheets."""

    format: str
    sheets: list[Sheet]


def _reader_failure(exc: BaseException) -> bool:
    """An error of a reader's native code: any Exception, or a Rust panic of calamine (pyo3's
    PanicException derives from BaseException, so ``except Exception`` misses it)."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


# A workbook a reader cannot open, by its format and by whether one of its sheets is the damaged
# part: whole sentences, translated when shown (importers.messages).
_UNREADABLE = {
    ("xlsx", False): N_("%(file)s cannot be read as an XLSX workbook: it is damaged (%(reason)s)"),
    ("xlsx", True): N_("Sheet %(sheet)s of %(file)s cannot be read as an XLSX workbook: it is damaged (%(reason)s)"),
    ("ods", False): N_("%(file)s cannot be read as an OpenDocument spreadsheet: it is damaged (%(reason)s)"),
    ("ods", True): N_(
        "Sheet %(sheet)s of %(file)s cannot be read as an OpenDocument spreadsheet: it is damaged (%(reason)s)"
    ),
    ("xls", False): N_("%(file)s cannot be read as an Excel 97-2003 workbook: it is damaged (%(reason)s)"),
    ("xls", True): N_(
        "Sheet %(sheet)s of %(file)s cannot be read as an Excel 97-2003 workbook: it is damaged (%(reason)s)"
    ),
}
_DAMAGED = {"xlsx": "XLSX workbook", "ods": "OpenDocument spreadsheet", "xls": "Excel 97-2003 workbook"}


def _unreadable(filename: str, fmt: str, exc: BaseException, sheet: str | None = None) -> ValidationError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = {"sheet": repr(sheet)} if sheet else {}
    message = Text(_UNREADABLE[fmt, bool(sheet)], file=repr(_name(filename)), reason=reason, **where)
    return ValidationError(message, {"file": [f"Damaged {_DAMAGED[fmt]}: {reason}"]})


def _guarded(rows: Iterator[list], filename: str, fmt: str, sheet: str) -> Iterator[list]:
    """The rows of a workbook's sheet; a failure of the native reader while converting them is a
    ValidationError naming the sheet, never a 500."""
    try:
        yield from rows
    except BaseException as exc:
        if not _reader_failure(exc):
            raise
        raise _unreadable(filename, fmt, exc, sheet) from None


def _row_limit(max_rows: int | None) -> int | None:
    """The count above which a file is refused before reading: the row limit plus the rows that
    may sit above and in the header (the reader's own count settles a file just over it)."""
    return None if max_rows is None else max_rows + HEADER_ROOM


def open_sheets(path: Path, filename: str, wanted: str | None, max_rows: int | None = None) -> OpenedFile:
    """The file's format and its sheets (the chosen one only, when named).

    The content decides the format, and must be what the name says (``check_content``); a
    damaged workbook is a ValidationError naming the file and the damage. With ``max_rows``, a
    file that holds more rows than that (and the header's room) is refused with
    ``TooManyRows`` before any sheet is loaded: the rows are counted streaming."""
    content = check_content(path, filename)
    stop_above = _row_limit(max_rows)
    if content.kind in ("text", "xml"):
        if stop_above is not None:
            with open(path, "rb") as handle:
                decoded = decode_text(handle.read(65536))
            # Line ends and delimiters are ASCII in every single-byte encoding and in UTF-8.
            encoding = decoded.encoding if decoded.encoding.startswith("utf-16") else "utf-8"
            counted = row_count.csv_rows_count(path, encoding, sniff_delimiter(decoded.text), stop_above)
            if counted > stop_above:
                raise _too_many(filename, counted, max_rows, True)
        raw = path.read_bytes()
        text = decode_text(raw).text
        delimiter = sniff_delimiter(text)
        name = Path(filename).stem or "CSV"  # a CSV has one table: a sheet asked for is this one
        rows = csv_rows(text, delimiter)
        return OpenedFile("csv", [Sheet(name, rows, reread=lambda: csv_rows(text, delimiter), delimiter=delimiter)])
    if content.kind in ("xlsx", "ods") or content.kind == "zip":
        fmt = check_archive(path, filename)
        counted = scan_archive(path, filename, fmt, wanted, stop_above if stop_above is not None else 1 << 62)
        if stop_above is not None and counted > stop_above:
            raise _too_many(filename, counted, max_rows, True)
    else:
        fmt = "xls"
        try:
            check_ole2(path)  # calamine follows a looping chain until the process is killed
        except DamagedOle2 as exc:
            raise _unreadable(filename, fmt, exc) from None
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
    except BaseException as exc:  # calamine raises its own error types (and panics) for damaged files
        if not _reader_failure(exc):
            raise
        raise _unreadable(filename, fmt, exc) from None
    if wanted:
        if wanted not in names:
            raise ValidationError(
                Text(N_("There is no sheet %(sheet)s; the sheets are %(sheets)s"), sheet=repr(wanted), sheets=names),
                {"sheet": ["Unknown sheet"]},
            )
        names = [wanted]
    # Whole numbers Excel (or an ODS file) shows zero-padded (a reference 00123 typed in a cell formatted 00000).
    padded = padded_cells(path, names) if fmt == "xlsx" else ods_padded_cells(path, names) if fmt == "ods" else {}
    sheets = []
    height = 0
    for name in names:
        try:
            sheet = workbook.get_sheet_by_name(name)
        except BaseException as exc:
            if not _reader_failure(exc):
                raise
            raise _unreadable(filename, fmt, exc, name) from None
        height += sheet.height
        if fmt == "xls" and stop_above is not None and height > stop_above:
            # An XLS file is not compressed: its sheets, loaded, take no more than the upload.
            raise _too_many(filename, height, max_rows, False)
        try:
            merged = list(sheet.merged_cell_ranges or [])
        except BaseException as exc:  # not every format reports merges
            if not _reader_failure(exc):
                raise
            merged = []
        start = sheet.start or (0, 0)
        offset = start[1] if start else 0
        merged = [((r0, c0 - offset), (r1, c1 - offset)) for (r0, c0), (r1, c1) in merged if c0 >= offset]
        rows = _guarded(iter(sheet.iter_rows()), filename, fmt, name)
        if name in padded:
            rows = padded_rows(rows, padded[name], offset)
        sheets.append(Sheet(name, rows, merged, offset, partial(_sheet_rows, workbook, name, filename, fmt)))
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
