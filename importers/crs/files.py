"""A CRS file as a frame of text cells: pipe-delimited text (UTF-8 or UTF-16), CSV, XLSX, or a
zip holding one of them, as the OECD distributes it and as people pass it around."""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from importers.messages import Text
from importers.pipeline.content import OLE_MAGIC, UNPACK_ERRORS
from importers.pipeline.ole2 import DamagedOle2, check_ole2
from registry.models.types import N_


class CrsFileError(ValueError):
    """The file cannot be read as CRS microdata (message says why). ``str(exc)`` is the message
    as given: a ``Text`` stays one (English, shown in the reader's language)."""

    def __str__(self) -> str:
        return self.args[0] if self.args and isinstance(self.args[0], str) else super().__str__()


def read_frame(source: str | Path | BinaryIO, filename: str = "") -> pd.DataFrame:
    """Read a CRS file (txt/csv, xlsx, or a zip holding one of them) as text cells; a damaged
    or unreadable file is a CrsFileError that names the file and the damage."""
    raw = source.read() if hasattr(source, "read") else Path(source).read_bytes()
    name = (filename or (str(source) if isinstance(source, str | Path) else "")).lower()
    shown = Path(filename or name or "upload").name
    if raw[:4] == b"PK\x03\x04" and not name.endswith((".xlsx", ".xlsm")):
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                members = [i for i in archive.infolist() if not i.is_dir()]
                if not members:
                    raise CrsFileError(Text(N_("%(file)s: the zip archive is empty"), file=shown))
                member = max(members, key=lambda i: i.file_size)
                if member.file_size > 4 * 1024**3:
                    raise CrsFileError(
                        Text(
                            N_("%(member)s declares %(size)s bytes: too large"),
                            member=member.filename,
                            size=member.file_size,
                        )
                    )
                if "xl/workbook.xml" in archive.namelist():
                    return _read_excel(raw, shown)
                raw = archive.read(member)
                name = member.filename.lower()
        except UNPACK_ERRORS as exc:
            raise CrsFileError(
                Text(
                    N_("%(file)s: the zip archive is damaged and cannot be unpacked (%(error)s)"), file=shown, error=exc
                )
            ) from None
    if name.endswith((".xlsx", ".xlsm", ".xls", ".ods")) or raw[:4] == b"PK\x03\x04":
        return _read_excel(raw, shown)
    try:
        return _read_text(_decode(raw))
    except (pd.errors.ParserError, csv.Error, UnicodeError) as exc:
        reason = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        raise CrsFileError(
            Text(N_("%(file)s: the text cannot be read as CRS rows (%(error)s)"), file=shown, error=reason)
        ) from None


def _decode(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace")
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", errors="replace")
    # UTF-16 without a BOM shows as every other byte NUL in the ASCII header.
    if len(raw) > 3 and raw[1] == 0 and raw[3] == 0:
        return raw.decode("utf-16-le", errors="replace")
    if len(raw) > 3 and raw[0] == 0 and raw[2] == 0:
        return raw.decode("utf-16-be", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _read_text(text: str) -> pd.DataFrame:
    first = text.split("\n", 1)[0]
    counts = {sep: first.count(sep) for sep in ("|", "\t", ";", ",")}
    sep = max(counts, key=lambda s: counts[s])
    if counts[sep] == 0:
        raise CrsFileError(Text(N_("No column separator found in the header line (expected | , ; or tab)")))
    return pd.read_csv(
        io.StringIO(text),
        sep=sep,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        quoting=3 if sep == "|" else 0,  # the OECD's pipe files do not quote
        engine="c",
    )


def _read_excel(raw: bytes, shown: str = "workbook") -> pd.DataFrame:
    """The first sheet as text; a damaged workbook (zip, XML, OLE2 structure) is a CrsFileError."""
    if raw.startswith(OLE_MAGIC):
        with tempfile.NamedTemporaryFile(suffix=".xls") as handle:
            handle.write(raw)
            handle.flush()
            try:
                check_ole2(Path(handle.name))  # a looping chain would exhaust memory in calamine
            except DamagedOle2 as exc:
                raise CrsFileError(_damaged_workbook(shown, exc)) from None
    try:
        frame = pd.read_excel(io.BytesIO(raw), dtype=str, engine="calamine", keep_default_na=False, na_filter=False)
    except BaseException as exc:  # calamine's own errors, and its panics (a BaseException)
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CrsFileError(_damaged_workbook(shown, reason)) from None
    return frame.astype(str)


def _damaged_workbook(shown: str, reason: object) -> Text:
    return Text(N_("%(file)s: the workbook is damaged and cannot be read (%(error)s)"), file=shown, error=reason)
