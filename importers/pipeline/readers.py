"""Stage 1, reading: the registry of readers (spreadsheet, IATI, CRS plug in with
``register_reader``), upload detection, and the stored copy of each uploaded file (named by its
hash, so a previewed batch can be committed later and a re-import recognised)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app

from importers.messages import Text
from importers.pipeline.common import _problem
from importers.pipeline.content import check_content
from importers.pipeline.retention import purge_rejected_uploads
from importers.records import Location, Problem, ProjectRecord
from registry.errors import ValidationError
from registry.models.types import N_

# -- readers -------------------------------------------------------------------


@dataclass
class ReadResult:
    """What a reader hands the pipeline: records, problems and facts about the reading."""

    records: Iterable[ProjectRecord]
    problems: list[Problem] = field(default_factory=list)
    # rows_read, rows_skipped, skipped (reason -> n), preview rows, detected mapping, ...
    info: dict[str, Any] = field(default_factory=dict)


Reader = Callable[[Path, str, dict], ReadResult]
Detector = Callable[[bytes, str], bool]


@dataclass
class ReaderEntry:
    kind: str
    read: Reader
    detect: Detector | None = None
    extensions: tuple[str, ...] = ()


READERS: dict[str, ReaderEntry] = {}


def register_reader(kind: str, read: Reader, detect: Detector | None = None, extensions: Iterable[str] = ()) -> None:
    """Make a reader available to run_import, commit_batch and upload detection."""
    READERS[kind] = ReaderEntry(kind, read, detect, tuple(e.lower() for e in extensions))


def detect_kind(head: bytes, filename: str) -> str | None:
    """The kind of reader an upload needs: content detectors first, then the file extension.

    Readers registered later (IATI, CRS) are asked before the spreadsheet reader, which
    accepts any table."""
    for entry in reversed(list(READERS.values())):
        if entry.detect is not None and entry.detect(head, filename):
            return entry.kind
    suffix = Path(filename).suffix.lower().lstrip(".")
    for entry in READERS.values():
        if suffix in entry.extensions:
            return entry.kind
    return None


def get_reader(kind: str) -> ReaderEntry:
    """The registered reader of ``kind`` (ValidationError when none)."""
    try:
        return READERS[kind]
    except KeyError:
        raise ValidationError(
            f"No reader for files of kind {kind!r}",
            {"kind": [f"Known kinds: {', '.join(READERS)}"]},
        ) from None


# -- files ---------------------------------------------------------------------


def storage_dir() -> Path:
    """Where uploaded files are kept until their batch is committed or undone."""
    path = Path(current_app.config.get("IMPORT_STORAGE", Path(current_app.instance_path) / "imports"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_hash(data: bytes | Path) -> str:
    """sha256 of the file's bytes (the identity of a file for idempotent re-imports)."""
    digest = hashlib.sha256()
    if isinstance(data, bytes | bytearray):
        digest.update(data)
    else:
        with open(data, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def store_file(data: bytes | Path, filename: str) -> tuple[Path, str]:
    """Keep a copy of the file named by its hash; returns (path, sha256).

    Each new upload also deletes the rejected uploads older than their retention period
    (``importers.pipeline.retention``); a file uploaded again counts from now."""
    sha = file_hash(data)
    suffix = Path(filename).suffix.lower()[:10]
    folder = storage_dir()
    target = folder / f"{sha}{suffix}"
    if isinstance(data, Path) and data.resolve() == target.resolve():
        return target, sha  # stored already (by the upload view, before it was checked)
    if not target.exists():
        tmp = target.with_suffix(target.suffix + ".part")
        if isinstance(data, bytes | bytearray):
            tmp.write_bytes(data)
        else:
            shutil.copyfile(data, tmp)
        tmp.replace(target)
    else:
        os.utime(target)  # uploaded again: its retention starts again
    try:
        purge_rejected_uploads(folder, keep=target)
    except OSError as exc:  # housekeeping never refuses an upload
        current_app.logger.warning("Could not purge old rejected uploads: %s", exc)
    return target, sha


def _read(kind: str, path: Path, filename: str, options: dict) -> ReadResult:
    reader = get_reader(kind)
    check_content(path, filename)  # the content is what the name says, and importable (else 422)
    result = reader.read(path, filename, options)
    _explain_missing_currency(result, filename, options)
    return result


NO_FILE_CURRENCY = N_(
    "%(n)s amounts have no currency: the file has no Currency column and no currency was chosen for it. "
    'Choose the currency of the file: "Currency of the file" on the upload page (or on the preview, then '
    '"Check again"), --currency with flask import sheet, or the currency field of the API. '
    'Or add a Currency column, or name the currency in the amount headers ("Amount (EUR)").'
)


def _explain_missing_currency(result: ReadResult, filename: str, options: dict) -> None:
    """A file without any currency gets one message first that says what to do, before the
    error of each amount (which alone would only repeat "No currency" row after row)."""
    missing = sum(1 for p in result.problems if p.code == "missing_currency")
    columns = (result.info.get("mapping") or {}).get("columns") or {}
    if not missing or options.get("currency") or "currency" in columns.values():
        return
    result.problems.insert(
        0, _problem("error", "no_file_currency", Text(NO_FILE_CURRENCY, n=missing), Location(file=filename))
    )
