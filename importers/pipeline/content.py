"""What an uploaded file really is, from its bytes, checked against what its name says.

A name is only a claim: a Windows executable renamed ``report.xlsx`` must be refused as what it
is, not opened as a workbook (nor read as CSV text and "imported" with 0 rows). ``identify``
reads the file's signature (the magic bytes and, for a ZIP archive, the parts inside it);
``check_content`` refuses a file whose content is no importable type, or is not the type its
extension names, with a 422 that names the file and what it really holds.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

from registry.errors import ValidationError

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
HEAD_BYTES = 65536


class Content(NamedTuple):
    """What a file holds: ``kind`` is xlsx, ods, xls, zip, xml, text, damaged or other; ``label`` says it
    in words ("a Windows executable (it starts with MZ)")."""

    kind: str
    label: str


# Signatures of files people upload by mistake (or on purpose), in words.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows executable (it starts with MZ)"),
    (b"\x7fELF", "a Linux executable (ELF)"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "a Java class or macOS executable"),
    (b"#!", "a script"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ", "an xz archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"{\\rtf", "an RTF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
)

# What each extension promises, and the contents that keep that promise.
EXPECTED: dict[str, tuple[str, tuple[str, ...]]] = {
    ".xlsx": ("an XLSX workbook", ("xlsx",)),
    ".xlsm": ("an XLSX workbook", ("xlsx",)),
    ".ods": ("an OpenDocument spreadsheet", ("ods",)),
    ".xls": ("an Excel 97-2003 workbook", ("xls",)),
    ".csv": ("CSV text", ("text", "xml")),
    ".tsv": ("tab-separated text", ("text", "xml")),
    ".txt": ("text", ("text", "xml")),
    ".xml": ("XML", ("xml",)),
    ".zip": ("a ZIP archive", ("zip", "xlsx", "ods")),
}


def _zip_content(path: Path) -> Content:
    """An XLSX workbook ([Content_Types].xml and xl/), an ODS spreadsheet (its mimetype part), or
    another ZIP archive (a Word document, a plain archive)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = b""
            if "mimetype" in names:
                with archive.open("mimetype") as part:
                    mimetype = part.read(200).strip()
    except Exception as exc:  # BadZipFile, a cut archive, zlib.error in the mimetype part
        return Content("damaged", f"a damaged ZIP archive ({exc}; it may have been cut short)")
    if "[Content_Types].xml" in names:
        if any(n.startswith("xl/") for n in names):
            return Content("xlsx", "an XLSX workbook")
        if any(n.startswith("word/") for n in names):
            return Content("zip", "a Word document (DOCX)")
        if any(n.startswith("ppt/") for n in names):
            return Content("zip", "a PowerPoint presentation (PPTX)")
        return Content("zip", "an Office Open XML package that holds no workbook")
    if mimetype == ODS_MIMETYPE:
        return Content("ods", "an OpenDocument spreadsheet")
    if mimetype.startswith(b"application/vnd.oasis.opendocument."):
        what = mimetype.rsplit(b".", 1)[-1].decode("ascii", "replace")
        return Content("zip", f"an OpenDocument {what} file, not a spreadsheet")
    return Content("zip", "a ZIP archive")


def _text_content(head: bytes) -> Content:
    """Text (UTF-8, UTF-16 with or without a BOM, or a single-byte encoding), XML or HTML among
    it; bytes that no text has (NULs, control characters) are binary data."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    elif head.count(b"\x00") > len(head) // 4 and len(head) >= 4:
        # UTF-16 without a BOM: one byte of two is NUL, all at odd (LE) or all at even (BE) offsets.
        even, odd = head[0::2].count(b"\x00"), head[1::2].count(b"\x00")
        if min(even, odd) > max(even, odd) // 20:
            return Content("other", "binary data (it holds NUL bytes, which text never does)")
        text = head.decode("utf-16-le" if odd > even else "utf-16-be", errors="replace")
    elif b"\x00" in head:
        return Content("other", "binary data (it holds NUL bytes, which text never does)")
    else:
        text = head.decode("utf-8", errors="replace")
    controls = sum(1 for c in text if (c < " " and c not in "\t\n\r\f\v") or c == "\x7f")
    if controls > max(2, len(text) // 100):
        return Content("other", "binary data (it holds control characters, which text does not)")
    start = text.lstrip("\ufeff \t\r\n")[:200].lower()
    if start.startswith(("<!doctype html", "<html")):
        return Content("other", "an HTML page")
    if start.startswith("<"):
        return Content("xml", "XML")
    return Content("text", "text")


def identify(path: Path) -> Content:
    """What the file at ``path`` holds, by its content alone."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    if not head:
        return Content("other", "an empty file")
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        return _zip_content(path)
    if head.startswith(OLE_MAGIC):
        return Content("xls", "an Excel 97-2003 workbook (OLE2)")
    for magic, label in SIGNATURES:
        # "MZ" is also how text about Mozambique may begin: an executable has NULs right after.
        if head.startswith(magic) and (magic != b"MZ" or b"\x00" in head[:256]):
            return Content("other", label)
    return _text_content(head)


def check_content(path: Path, filename: str) -> Content:
    """The file's content, once it is known to be importable and to be what its name says;
    else a ValidationError (422) that names the file and what it really holds."""
    content = identify(path)
    name = Path(filename or "upload").name
    if content.kind == "damaged":
        raise ValidationError(
            f"{name!r} is damaged: it is {content.label} and cannot be opened",
            {"file": [f"The content is {content.label}"]},
        )
    if content.kind == "other":
        raise ValidationError(
            f"{name!r} is {content.label}, not a file we can import (XLSX, XLS, ODS, CSV, IATI XML or CRS)",
            {"file": [f"The content is {content.label}"]},
        )
    expected = EXPECTED.get(Path(name).suffix.lower())
    if expected is not None and content.kind not in expected[1]:
        promised = expected[0]
        raise ValidationError(
            f"{name!r} is named as {promised} but is {content.label}; "
            "save it in the format its name says, or give it the name of its format",
            {"file": [f"Named as {promised}, the content is {content.label}"]},
        )
    return content


# What a damaged archive raises while it is unpacked: a bad CRC or a cut archive (BadZipFile,
# EOFError), a corrupt deflate stream (zlib.error), an unknown compression method or encryption.
UNPACK_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError, ValueError)


def check_whole(path: Path, filename: str, content: Content) -> None:
    """Refuse a workbook whose structure is damaged (422 naming the file and the damage): every
    part of a ZIP archive is unpacked once, streaming, and its CRC checked; every sector chain of
    an OLE2 file is walked. Text needs no such check: every byte sequence reads as some text."""
    name = Path(filename or "upload").name
    if content.kind in ("xlsx", "ods", "zip"):
        part = "(the archive's directory)"
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    part = info.filename
                    with archive.open(info) as handle:
                        while handle.read(1 << 20):
                            pass
        except UNPACK_ERRORS as exc:
            raise ValidationError(
                f"{name!r} is damaged: part {part!r} of the archive cannot be unpacked ({exc})",
                {"file": [f"Damaged part {part}: {exc}"]},
            ) from None
    elif content.kind == "xls":
        from importers.pipeline.ole2 import DamagedOle2, check_ole2

        try:
            check_ole2(path)
        except DamagedOle2 as exc:
            raise ValidationError(
                f"{name!r} cannot be read as an Excel 97-2003 workbook: it is damaged ({exc})",
                {"file": [f"Damaged Excel 97-2003 workbook: {exc}"]},
            ) from None


def check_upload(path: Path, filename: str) -> Content:
    """An upload checked before it is accepted for reading: its content is importable and what
    its name says (``check_content``), and its structure is whole (``check_whole``)."""
    content = check_content(path, filename)
    check_whole(path, filename, content)
    return content
