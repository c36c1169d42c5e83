"""How long uploaded files are kept: a rejected upload only for ``IMPORT_REJECTED_RETENTION_DAYS``.

Every upload is stored by ``store_file`` (named by its hash, in ``IMPORT_STORAGE``, the instance
folder's ``imports/`` by default) before it is checked and read, so that a preview can be
committed later and a re-import recognised. A file no live batch needs is a rejected upload: it
was refused before any batch existed (not what its name says, damaged, too many rows...), or
every batch of it failed or was discarded. Such a file holds what someone tried to send, maybe
personal data or an attack, and is deleted once older than the retention period. Files of
batches that are pending, running, previewed, committed or undone are kept: those are the
registry's record of what was imported.

``purge_rejected_uploads`` runs on each new upload (``store_file``) and as
``flask --app wsgi imports purge-uploads``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from registry.extensions import db
from registry.models import ImportBatch

log = logging.getLogger("importers.pipeline")

DEFAULT_RETENTION_DAYS = 7
KEPT_STATUSES = ("pending", "running", "previewed", "committed", "undone")


@dataclass
class Purged:
    """What a purge did: the files deleted and the files kept (by name)."""

    deleted: list[str] = field(default_factory=list)
    kept: int = 0
    bytes_freed: int = 0


def retention_seconds() -> float:
    """The retention period of rejected uploads, from IMPORT_REJECTED_RETENTION_DAYS."""
    days = float(current_app.config.get("IMPORT_REJECTED_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    return max(days, 0.0) * 86400


def purge_rejected_uploads(folder: Path, now: float | None = None, keep: Path | None = None) -> Purged:
    """Delete the files of ``folder`` that no live batch needs and that are older than the
    retention period (by modification time; ``store_file`` refreshes it on a re-upload). ``keep``:
    a file never deleted by this call (the upload being stored). Reads the batches, never writes
    them."""
    now = time.time() if now is None else now
    cutoff = now - retention_seconds()
    old = []
    for path in folder.iterdir():
        if not path.is_file() or (keep is not None and path == keep):
            continue
        try:
            modified = path.stat().st_mtime
        except FileNotFoundError:  # deleted meanwhile by another process's purge
            continue
        if modified < cutoff:
            old.append(path)
    done = Purged()
    if not old:
        return done
    # A stored file is named <sha256><suffix> (a leftover of an interrupted copy ends in .part).
    hashes = {path.name.split(".", 1)[0] for path in old}
    live = set(
        db.session.scalars(
            select(ImportBatch.file_hash).where(
                ImportBatch.file_hash.in_(hashes), ImportBatch.status.in_(KEPT_STATUSES)
            )
        )
    )
    for path in old:
        if path.name.split(".", 1)[0] in live and not path.name.endswith(".part"):
            done.kept += 1
            continue
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        done.deleted.append(path.name)
        done.bytes_freed += size
    if done.deleted:
        log.info("Deleted %d rejected uploads older than the retention period", len(done.deleted))
    return done
