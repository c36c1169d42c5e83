"""Counting a file's rows before reading it, so that a sheet over the row limit is refused in a
fraction of a second and a few megabytes, not after minutes and gigabytes of reading.

The counts stream the file and keep nothing: an XLSX sheet part is decompressed block by block
and its ``<row>`` elements that hold a value (``<v>`` or an inline string) are counted by byte
search; an ODS ``content.xml`` likewise, its rows with a ``<text:p>`` (times their
``number-rows-repeated``); a CSV file is read by the csv module from the disk. Each count stops
as soon as it passes the limit it is asked about. A count is an upper bound of the rows the
reader will take (a cell holding an empty string counts), which is why it is compared with the
limit plus the rows that may sit above the header; the reader's own count settles the rest.

Reading the parts also checks them: a damaged part (a corrupt deflate stream, a bad CRC, a cut
archive) raises ``zipfile.BadZipFile``, ``zlib.error`` or ``EOFError``, which the caller
reports as a damaged workbook.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

BLOCK = 1 << 20
_REPEATED = re.compile(rb'number-rows-repeated="(\d+)"')
_TABLE_NAME = re.compile(rb'<table:table\s[^>]*?table:name="([^"]*)"')


class _RowScan:
    """Counts the rows of one XML part given block by block; a tag is never cut (each block is
    processed up to its last ``<``, the rest carried over)."""

    def __init__(self, row_tag: bytes, value_tags: tuple[bytes, ...], repeated: bool = False) -> None:
        self.row_tag, self.value_tags, self.repeated = row_tag, value_tags, repeated
        self.count = 0
        self.open_row: bytes | None = None  # the start of the row being read (its tag), if any
        self.has_value = False
        self.carry = b""

    def _close(self) -> None:
        if self.open_row is not None and self.has_value:
            times = 1
            if self.repeated:
                found = _REPEATED.search(self.open_row, 0, self.open_row.find(b">") + 1 or len(self.open_row))
                times = int(found.group(1)) if found else 1
            self.count += times
        self.open_row, self.has_value = None, False

    def feed(self, block: bytes, last: bool = False) -> None:
        data = self.carry + block
        cut = len(data) if last else data.rfind(b"<")
        if cut < 0:
            cut = 0
        self.carry = data[cut:]
        segments = data[:cut].split(self.row_tag)
        first, rest = segments[0], segments[1:]
        if self.open_row is not None and not self.has_value:
            self.has_value = any(tag in first for tag in self.value_tags)
        if rest and not self.repeated:
            # The common case, kept to one pass of C-level searches per row: every row but the
            # last of the block is complete here.
            self._close()
            a, b = self.value_tags
            self.count += sum(1 for segment in rest[:-1] if a in segment or b in segment)
            self.open_row = b""
            self.has_value = a in rest[-1] or b in rest[-1]
            rest = []
        for segment in rest:
            self._close()
            self.open_row = segment[:400]
            self.has_value = any(tag in segment for tag in self.value_tags)
        if last:
            self._close()


def _prefix(head: bytes, local: bytes) -> bytes:
    """The namespace prefix the part gives its root element (``x:`` in ``<x:worksheet``), if any."""
    found = re.search(rb"<([A-Za-z_][\w.-]*:)?" + local + rb"[\s>]", head)
    return found.group(1) or b"" if found else b""


def xlsx_part_rows(archive: zipfile.ZipFile, part: str, stop_above: int) -> int:
    """Rows holding a value in a worksheet part (stops counting once above ``stop_above``)."""
    with archive.open(part) as handle:
        block = handle.read(BLOCK)
        p = _prefix(block[:4096], b"worksheet")
        scan = _RowScan(b"<" + p + b"row", (b"<" + p + b"v>", b"<" + p + b"is>"))
        while block:
            scan.feed(block)
            if scan.count > stop_above:
                return scan.count
            block = handle.read(BLOCK)
        scan.feed(b"", last=True)
    return scan.count


def ods_table_rows(archive: zipfile.ZipFile, wanted: str | None, stop_above: int) -> int:
    """Rows holding text in the tables of an ODS ``content.xml`` (only table ``wanted`` when one
    is named), stopping once above ``stop_above``."""
    total = 0
    scan = None
    with archive.open("content.xml") as handle:
        carry = b""
        while True:
            block = handle.read(BLOCK)
            data = carry + block
            cut = len(data) if not block else max(data.rfind(b"<"), 0)
            carry = data[cut:]
            # A new table starts a new count; the rows before it belong to the table before.
            pieces = re.split(rb"(<table:table\s[^>]*>)", data[:cut])
            for piece in pieces:
                if piece.startswith(b"<table:table ") or piece.startswith(b"<table:table\t"):
                    if scan is not None:
                        scan.feed(b"", last=True)
                        total += scan.count
                    name = _TABLE_NAME.match(piece)
                    take = wanted is None or (name is not None and name.group(1).decode("utf-8", "replace") == wanted)
                    scan = _RowScan(b"<table:table-row", (b"<text:p",), repeated=True) if take else None
                elif scan is not None:
                    scan.feed(piece)
            if scan is not None and total + scan.count > stop_above:
                return total + scan.count
            if not block:
                break
    if scan is not None:
        scan.feed(b"", last=True)
        total += scan.count
    return total


def csv_rows_count(path: Path, encoding: str, delimiter: str, stop_above: int) -> int:
    """Rows with any text in a CSV file, read from the disk (stops once above ``stop_above``).

    The line ends bound the count from above first (every line end has its own LF or CR byte,
    in UTF-16 too): a file with no more lines than the limit is not parsed at all."""
    lines = 1
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            lines += block.count(b"\n") + block.count(b"\r")
    if lines <= stop_above:
        return lines
    count = 0
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        try:
            for row in csv.reader(text, delimiter=delimiter):
                if any(row):
                    count += 1
                    if count > stop_above:
                        break
        except csv.Error:
            return count  # a field over the csv module's limit: the reader says so itself
    return count
