"""A workbook written while it is sent: the worksheet's XML is made row by row and zipped as
it comes (stream-zip), so its first bytes leave at once and memory does not grow with the
rows, where a workbook library builds the whole file before the first byte.

An .xlsx is a zip of XML parts (ECMA-376, SpreadsheetML). This module writes the few parts a
workbook of plain cells needs: the worksheets (text as inline strings, ``t="inlineStr"``, so no
shared-string table has to be held; numbers and booleans as values), the workbook listing
them, a style sheet with the bold header, the relationships and the content types. The
header row is frozen on each sheet. Parts are written in this order: the package's
relationships and core properties, the worksheets, then the workbook, its relationships, the
styles and ``[Content_Types].xml``, which list the sheets and so come once the rows are
written (readers find the parts through the zip's central directory, at its end).

Every member is a 32-bit zip member ("ZIP_32": deflate, sizes after the data), the form that
Excel, LibreOffice and every zip reader open; Excel refuses some Zip64 files. So a sheet's XML
stays under 4 GiB: a sheet ends at Excel's 1,048,576 rows or at ``SHEET_BYTES`` of XML,
whichever comes first, and the rows go on on the next sheet, under the header again. The
whole file must also stay under 4 GiB compressed (about a hundred million rows of the
registry's downloads); stream-zip stops with ``OffsetOverflowError`` past that.

The cells' XML follows what Excel writes: control characters as ``_xHHHH_`` (and a literal
``_xHHHH_`` in the text as ``_x005F_xHHHH_``), leading or trailing spaces kept with
``xml:space="preserve"``, a text longer than Excel's 32,767 characters cut there.
"""

from __future__ import annotations

import datetime as dt
import re
import stat
import zlib
from collections.abc import Iterable, Iterator, Sequence

from stream_zip import ZIP_32, stream_zip

ROWS = 1_048_576  # Excel's rows in a sheet, the header included
SHEET_BYTES = 4_000_000_000  # a sheet's XML, kept under the 4 GiB (2**32 - 1) of a 32-bit zip member
TEXT_MAX = 32_767  # Excel's characters in a cell, counted in UTF-16 units
LEVEL = 6  # deflate's level (zlib's default)

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
SPREADSHEETML = "application/vnd.openxmlformats-officedocument.spreadsheetml"

_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_ESCAPE_LIKE = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")

TRUE = ' t="b"><v>1</v></c>'
FALSE = ' t="b"><v>0</v></c>'


# -- cells: each is the end of a <c> element, after its reference ----------------------------


def number(text: str) -> str:
    """A number cell; ``text`` is the number as written (``1250.50``, ``-3``, ``1E-7``)."""
    return f"><v>{text}</v></c>"


def boolean(flag: bool) -> str:
    return TRUE if flag else FALSE


def _utf16_cut(value: str) -> str:
    """``value`` cut to Excel's ``TEXT_MAX`` UTF-16 units, never inside a character."""
    units = 0
    for index, char in enumerate(value):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > TEXT_MAX:
            return value[:index]
    return value


def text(value: str, style: int | None = None) -> str:
    """A text cell, as an inline string (``style``: an index into the style sheet's cellXfs)."""
    if len(value) > TEXT_MAX // 2:
        value = _utf16_cut(value)
    if _SPECIAL.search(value):
        value = _ESCAPE_LIKE.sub(r"_x005F\1", value)
        value = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)
        value = value.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = "" if style is None else f' s="{style}"'
    if value and (value[0].isspace() or value[-1].isspace()):
        return f'{s} t="inlineStr"><is><t xml:space="preserve">{value}</t></is></c>'
    return f'{s} t="inlineStr"><is><t>{value}</t></is></c>'


def column_letters(index: int) -> str:
    """The letters of a column, from 0: A, ..., Z, AA, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


# -- the parts --------------------------------------------------------------------------------


def _sheet_head(selected: bool) -> str:
    tab = ' tabSelected="1"' if selected else ""
    return (
        f'{XML_HEAD}<worksheet xmlns="{MAIN}" xmlns:r="{REL}"><sheetViews><sheetView{tab} workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><sheetData>'
    )


SHEET_TAIL = (
    '</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
)

PACKAGE_RELS = (
    f'{XML_HEAD}<Relationships xmlns="{PACKAGE_REL}">'
    f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{PACKAGE_REL}/metadata/core-properties" Target="docProps/core.xml"/>'
    "</Relationships>"
)

# Two cell formats: 0 the default, 1 bold (the header).
STYLES = (
    f'{XML_HEAD}<styleSheet xmlns="{MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
BOLD = 1


def _core(now: dt.datetime) -> str:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f'{XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>'
    )


def _workbook(names: Sequence[str]) -> str:
    sheets = "".join(
        f'<sheet name="{_attribute(name)}" sheetId="{n}" r:id="rId{n}"/>' for n, name in enumerate(names, 1)
    )
    return (
        f'{XML_HEAD}<workbook xmlns="{MAIN}" xmlns:r="{REL}"><workbookPr/><bookViews><workbookView/></bookViews>'
        f'<sheets>{sheets}</sheets><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
    )


def _workbook_rels(count: int) -> str:
    sheets = "".join(
        f'<Relationship Id="rId{n}" Type="{REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, count + 1)
    )
    styles = f'<Relationship Id="rId{count + 1}" Type="{REL}/styles" Target="styles.xml"/>'
    return f'{XML_HEAD}<Relationships xmlns="{PACKAGE_REL}">{sheets}{styles}</Relationships>'


def _content_types(count: int) -> str:
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{SPREADSHEETML}.worksheet+xml"/>'
        for n in range(1, count + 1)
    )
    return (
        f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{SPREADSHEETML}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{SPREADSHEETML}.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        f"{sheets}</Types>"
    )


# -- the workbook -----------------------------------------------------------------------------


def workbook(
    sheet_name: str,
    header: Sequence[str],
    rows: Iterable[Sequence[str | None]],
    *,
    rows_per_sheet: int = ROWS,
    sheet_bytes: int | None = None,
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    """The workbook's bytes, in chunks of ``chunk_size``, as ``rows`` are read.

    ``rows`` gives each row's cells, made by :func:`number`, :func:`boolean` or :func:`text`
    (None: an empty cell). The first sheet is named ``sheet_name``, the next ones
    ``sheet_name 2``, ``sheet_name 3``, ..., each with ``header`` in bold on its frozen first
    row."""
    sheet_bytes = SHEET_BYTES if sheet_bytes is None else sheet_bytes
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    mode = stat.S_IFREG | 0o644
    opens = [f'<c r="{column_letters(i)}' for i in range(len(header))]
    header_row = "".join(f'<c r="{column_letters(i)}1"{text(key, BOLD)}' for i, key in enumerate(header))
    header_row = f'<row r="1">{header_row}</row>'
    source = iter(rows)
    names: list[str] = []
    # the row read but not yet written (the first row of the next sheet), and whether the rows are done
    state: dict = {"next": None, "done": False}

    def sheet(selected: bool) -> Iterator[bytes]:
        parts = [(_sheet_head(selected) + header_row).encode()]
        size = written = len(parts[0])
        row_no = 1
        while row_no < rows_per_sheet:
            cells = state["next"]
            state["next"] = None
            if cells is None:
                cells = next(source, None)
                if cells is None:
                    state["done"] = True
                    break
            row_no += 1
            line = (
                f'<row r="{row_no}">'
                + "".join([f'{o}{row_no}"{c}' for o, c in zip(opens, cells, strict=True) if c is not None])
                + "</row>"
            ).encode()
            if written + len(line) > sheet_bytes and row_no > 2:
                state["next"] = cells  # too big for this sheet: it starts the next one
                break
            parts.append(line)
            size += len(line)
            written += len(line)
            if size >= chunk_size:
                yield b"".join(parts)
                parts, size = [], 0
        else:
            # the sheet is full: is there another row for the next one?
            state["next"] = next(source, None)
            state["done"] = state["next"] is None
        parts.append(SHEET_TAIL.encode())
        yield b"".join(parts)

    def member(name: str, body: str):
        return name, now, mode, ZIP_32, (body.encode(),)

    def members():
        yield member("_rels/.rels", PACKAGE_RELS)
        yield member("docProps/core.xml", _core(now))
        while True:
            names.append(sheet_name if not names else f"{sheet_name} {len(names) + 1}")
            yield f"xl/worksheets/sheet{len(names)}.xml", now, mode, ZIP_32, sheet(selected=len(names) == 1)
            if state["done"]:
                break
        yield member("xl/workbook.xml", _workbook(names))
        yield member("xl/_rels/workbook.xml.rels", _workbook_rels(len(names)))
        yield member("xl/styles.xml", STYLES)
        yield member("[Content_Types].xml", _content_types(len(names)))

    yield from stream_zip(
        members(),
        chunk_size=chunk_size,
        get_compressobj=lambda: zlib.compressobj(level=LEVEL, wbits=-zlib.MAX_WBITS),
    )
