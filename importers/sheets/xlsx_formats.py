"""Numbers an XLSX workbook shows with leading zeros, read as Excel shows them.

A donor types project 00123 into a cell formatted ``00000``: the cell holds the number
123, and the sheet reader (python-calamine) gives 123.0, so the reference would become
"123" and no longer match project 00123. Calamine does not expose number formats, so
this module reads just enough of the archive to know which cells carry such a format:
the styles part first (small), and the sheet's XML only when some style pads numbers
with zeros, which most workbooks never use. An ODS file stores the text it shows next to
the number, so there the cells whose style pads numbers take that text (ods_padded_cells).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from lxml import etree

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
# "00000", also written with escapes or quotes as some writers do ("\0\0\0\0\0", "0000;@"),
# or with a section for negatives ("00000;-00000")
_ZEROS = re.compile(r"^((?:\\?0){2,})(?:;-?\1)?(?:;@)?$")
_CELL = re.compile(r"^([A-Z]+)(\d+)$")
_ATTR_R = re.compile(rb'\br="([A-Z]+\d+)"')
_ATTR_T = re.compile(rb'\bt="(\w+)"')


class Padding(NamedTuple):
    """A number format that shows text around its zero-padded digits ("NCA-"00000)."""

    digits: int
    prefix: str
    suffix: str


Width = int | Padding  # the digits a format pads whole numbers to, or its Padding


class PaddedCell(NamedTuple):
    """A cell whose whole number is shown zero-padded: its column (from 0) and its width."""

    column: int
    width: Width


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def padded_styles(archive: zipfile.ZipFile) -> dict[int, Width]:
    """Cell style index -> the number of digits its number format pads to (2 or more), or
    (digits, text before, text after) for a format that shows text around them ("NCA-"00000)."""
    try:
        root = etree.fromstring(archive.read("xl/styles.xml"), _parser())
    except (KeyError, etree.XMLSyntaxError):
        return {}
    widths: dict[str, Width] = {}
    for fmt in root.iterfind(f"{{{MAIN}}}numFmts/{{{MAIN}}}numFmt"):
        raw = fmt.get("formatCode") or ""
        match = _ZEROS.match(raw.replace('"', ""))
        if match:
            widths[fmt.get("numFmtId", "")] = match.group(1).count("0")
        else:
            pad = _pad_format(raw)
            if pad:
                widths[fmt.get("numFmtId", "")] = pad
    if not widths:
        return {}
    styles: dict[int, Width] = {}
    for index, xf in enumerate(root.iterfind(f"{{{MAIN}}}cellXfs/{{{MAIN}}}xf")):
        width = widths.get(xf.get("numFmtId", ""))
        if width:
            styles[index] = width
    return styles


# Characters a number format shows as they are without quotes; [$-409] is a locale, shown as nothing.
_SHOWN = set(" -+/():$")
_LOCALE = re.compile(r"\[(?:\$-[0-9A-Fa-f]+|Black|Blue|Cyan|Green|Magenta|Red|White|Yellow|Color\d+)\]", re.I)


def _pad_format(code: str) -> Width | None:
    """What a format such as 00000_), [$-409]00000 or "NCA-"00000 shows around its zeros:
    the digits, or its Padding (digits, text before, text after); None for any other format."""
    sections = code.split(";")
    first = sections[0]
    # the sections for negatives and zero (00000;-00000, 00000_);(00000), 0000;@) pad alike
    if any(extra not in ("@", "") and _pad_format(extra.lstrip("-")) is None for extra in sections[1:]):
        return None
    first = _LOCALE.sub("", first)
    before, after, zeros = [], [], 0
    i = 0
    while i < len(first):
        char = first[i]
        if char == '"':
            end = first.find('"', i + 1)
            if end < 0:
                return None
            (after if zeros else before).append(first[i + 1 : end])
            i = end + 1
            continue
        if char == "_" and i + 1 < len(first):  # the width of the next character: a space
            i += 2
            continue
        if char == "\\" and i + 1 < len(first):
            char = first[i + 1]
            i += 1
            if char != "0":
                (after if zeros else before).append(char)
                i += 1
                continue
        if char == "0":
            if after:
                return None  # zeros on both sides of a text
            zeros += 1
        elif char in _SHOWN:
            (after if zeros else before).append(char)
        else:
            return None  # #, a decimal point, a date, a colour...
        i += 1
    prefix, suffix = "".join(before), "".join(after).rstrip()
    if prefix or suffix:
        return Padding(zeros, prefix, suffix) if zeros else None
    return zeros if zeros >= 2 else None


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its XML part in the archive."""
    workbook = etree.fromstring(archive.read("xl/workbook.xml"), _parser())
    rels = etree.fromstring(archive.read("xl/_rels/workbook.xml.rels"), _parser())
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iterfind(f"{{{PACKAGE_REL}}}Relationship")}
    parts = {}
    for sheet in workbook.iterfind(f"{{{MAIN}}}sheets/{{{MAIN}}}sheet"):
        target = targets.get(sheet.get(f"{{{REL}}}id"), "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        parts[sheet.get("name", "")] = part
    return parts


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


def padded_cells(path: Path, sheet_names: list[str]) -> dict[str, dict[int, list[PaddedCell]]]:
    """Per sheet, row (from 0) -> [(column from 0, digits)] of the numeric cells shown zero-padded.

    Empty when the workbook has no such format (the styles part alone tells), or when the
    file is not a regular XLSX package (the sheet reader reports that itself)."""
    try:
        with zipfile.ZipFile(path) as archive:
            styles = padded_styles(archive)
            if not styles:
                return {}
            parts = _sheet_parts(archive)
            names = set(archive.namelist())
            found = {}
            for name in sheet_names:
                part = parts.get(name)
                if part in names:
                    with archive.open(part) as handle:
                        cells = _padded(handle, styles)
                    if cells:
                        found[name] = cells
            return found
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError, OSError, ValueError):
        return {}


def _padded(handle, styles: dict[int, Any], block_size: int = 1 << 22) -> dict[int, list[PaddedCell]]:
    """The padded numeric cells of a sheet part, found by a pattern over its bytes.

    Only the cell tags carrying one of the padded styles match, so the scan runs in the
    regular-expression engine (a 100,000-row sheet takes a fraction of a second, where an
    XML parse of every cell took seconds). The part is read in blocks; a tag cut by a
    block's end is completed by the next block."""
    ids = "|".join(str(i) for i in sorted(styles))
    tag = re.compile(rb'<(?:\w+:)?c\s[^>]*?\bs="(' + ids.encode() + rb')"[^>]*>')
    found: dict[int, list[PaddedCell]] = {}
    tail = b""
    while True:
        block = handle.read(block_size)
        data = tail + block
        # keep an unfinished tag for the next block
        cut = data.rfind(b"<") if block else len(data)
        if cut < 0 or data.find(b">", cut) >= 0:
            cut = len(data)
        for match in tag.finditer(data, 0, cut):
            attributes = match.group(0)
            kind = _ATTR_T.search(attributes)
            if kind and kind.group(1) != b"n":
                continue
            ref = _ATTR_R.search(attributes)
            cell = _CELL.match(ref.group(1).decode()) if ref else None
            if cell:
                width = styles[int(match.group(1))]
                found.setdefault(int(cell.group(2)) - 1, []).append(PaddedCell(_column_index(cell.group(1)), width))
        if not block:
            return found
        tail = data[cut:]


def padded_rows(rows: Iterator[list], cells: dict[int, list[PaddedCell]], col_offset: int) -> Iterator[list]:
    """The rows with each whole number of a zero-padded cell as the text Excel shows (00123)."""
    for index, row in enumerate(rows):
        for cell in cells.get(index, ()):
            k, width = cell.column - col_offset, cell.width
            if 0 <= k < len(row):
                value = row[k]
                whole = value.__class__ is int or (value.__class__ is float and value.is_integer())
                if whole and value >= 0:
                    row = list(row)
                    if width.__class__ is Padding:
                        row[k] = f"{width.prefix}{str(int(value)).zfill(width.digits)}{width.suffix}"
                    else:
                        row[k] = str(int(value)).zfill(width)
        yield row


# -- ODS -----------------------------------------------------------------------

OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
NUMBER = "urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0"
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_MAX_REPEAT = 10_000  # a repeated blank row or column at the end of a sheet is not walked through


def _ods_padded_styles(root) -> set[str]:
    """Names of the cell styles whose number style shows whole numbers with leading zeros."""
    numbers = {
        style.get(f"{{{STYLE}}}name")
        for style in root.iter(f"{{{NUMBER}}}number-style")
        for number in style.iterfind(f"{{{NUMBER}}}number")
        if int(number.get(f"{{{NUMBER}}}min-integer-digits") or 1) >= 2
        and int(number.get(f"{{{NUMBER}}}decimal-places") or 0) == 0
    }
    return {
        style.get(f"{{{STYLE}}}name")
        for style in root.iter(f"{{{STYLE}}}style")
        if style.get(f"{{{STYLE}}}data-style-name") in numbers
    }


def ods_padded_cells(path: Path, sheet_names: list[str]) -> dict[str, dict[int, list[PaddedCell]]]:
    """Per sheet, row (from 0) -> [(column from 0, digits)] of the number cells an ODS file
    shows zero-padded (00131): the cell's own style names a number style with a minimum of
    two or more integer digits, and the text the file stores for the cell is those digits.
    (A padding style given only as a column's default cell style is not looked at.)"""
    try:
        with zipfile.ZipFile(path) as archive:
            styles: set[str] = set()
            for part in ("styles.xml", "content.xml"):
                if part in archive.namelist():
                    with archive.open(part) as handle:
                        head = handle.read()
                    if b"min-integer-digits" in head:
                        if part == "content.xml":
                            # the automatic styles come before the body: parse only them
                            end = head.find(b"</office:automatic-styles>")
                            if end < 0:
                                continue
                            head = head[:end] + b"</office:automatic-styles></office:document-content>"
                        styles |= _ods_padded_styles(etree.fromstring(head, _parser()))
            if not styles:
                return {}
            with archive.open("content.xml") as handle:
                return _ods_cells(handle, styles, set(sheet_names))
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError, OSError, ValueError):
        return {}


def _ods_cells(handle, styles: set[str], wanted: set[str]) -> dict[str, dict[int, list[PaddedCell]]]:
    found: dict[str, dict[int, list[PaddedCell]]] = {}
    sheet, row, column = None, -1, 0
    cell_tags = (f"{{{TABLE}}}table-cell", f"{{{TABLE}}}covered-table-cell")
    for event, element in etree.iterparse(
        handle,
        events=("start", "end"),
        tag=(f"{{{TABLE}}}table", f"{{{TABLE}}}table-row", *cell_tags),
        resolve_entities=False,
        no_network=True,
    ):
        tag = element.tag
        if tag == f"{{{TABLE}}}table":
            if event == "start":
                name = element.get(f"{{{TABLE}}}name")
                sheet, row = (name if name in wanted else None), -1
            else:
                element.clear()
            continue
        if tag == f"{{{TABLE}}}table-row":
            if event == "start":
                row, column = row + 1, 0
            else:
                row += min(int(element.get(f"{{{TABLE}}}number-rows-repeated") or 1), _MAX_REPEAT) - 1
                element.clear()
            continue
        if event == "start":
            continue
        if (
            sheet is not None
            and element.get(f"{{{TABLE}}}style-name") in styles
            and element.get(f"{{{OFFICE}}}value-type") == "float"
        ):
            shown = "".join(element.itertext()).strip()
            value = element.get(f"{{{OFFICE}}}value") or ""
            if shown.isdigit() and shown.startswith("0") and value.isdigit() and int(shown) == int(value):
                found.setdefault(sheet, {}).setdefault(row, []).append(PaddedCell(column, len(shown)))
        column += min(int(element.get(f"{{{TABLE}}}number-columns-repeated") or 1), _MAX_REPEAT)
        element.clear()
    return found
