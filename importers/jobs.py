"""Import jobs on the queue (``registry.queue``): a file checked or imported, a preview
committed, a batch undone, each run by a queue worker as one unit of work.

A job's arguments are plain values kept on its row (``jobs.params``): the stored file's name
(``pipeline.store_file`` keeps uploads in ``IMPORT_STORAGE``, which web and worker processes
share), the organisation, the options, and who asked (an ``Actor`` as a dict). The worker
commits the work together with the job's end; the pipeline itself never commits.

Retries: an import, a commit and an undo are idempotent by design, so a job that failed on an
unexpected error (a lost connection, a locked database) is tried again, twice:
- the work and the job's "done" are one transaction, so an attempt either left nothing or
  finished the job (a finished job is never run again);
- a file imported again with the same reading is recognised (``pipeline.idempotence``) and
  changes nothing; committing a batch or undoing one checks its status first.
A refusal by the registry's rules (a ``RegistryError``) is never retried.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from importers import pipeline
from registry import queue
from registry.models import ImportBatch, Job, User
from registry.models.types import Role
from registry.services.actor import Actor

STAGE_RANGES = {"reading": (0, 40), "validating": (40, 70), "writing": (70, 99)}
RETRIES = 2

IMPORT_FILE = "import.file"
IMPORT_COMMIT = "import.commit"
IMPORT_UNDO = "import.undo"


def import_percent(stage: str, done: int, total: int) -> int:
    """An import's stage progress as a share of the whole job (reading is the longest)."""
    if stage not in STAGE_RANGES:
        return 0  # starting
    low, high = STAGE_RANGES[stage]
    if stage == "reading" and not total:
        return min(low + 1 + done // 5000, high - 1)
    return high if not total else low + (high - low) * min(done, total) // max(total, 1)


def actor_params(actor: Actor) -> dict[str, Any]:
    """An Actor as plain values for a job's row."""
    values = asdict(actor)
    values["role"] = str(actor.role) if actor.role is not None else None
    return values


def actor_from(values: dict[str, Any]) -> Actor:
    role = values.get("role")
    return Actor(**{**values, "role": Role(role) if role else None})


def batch_result(batch: ImportBatch) -> dict[str, Any]:
    """What a finished import job tells: its batch and the batch's counts."""
    counts = batch.counts or {}
    return {
        "batch_id": batch.id,
        "status": batch.status,
        "already": bool(getattr(batch, "already_imported", False)),
        "counts": {
            k: counts.get(k, 0)
            for k in (
                "projects",
                "projects_created",
                "projects_updated",
                "projects_unchanged",
                "transactions",
                "errors",
                "warnings",
            )
        },
    }


# --------------------------------------------------------------------------- the work


def _import_file(params: dict, progress: queue.Progress) -> dict:
    path = pipeline.storage_dir() / params["stored_file"]
    batch = pipeline.run_import(
        params["kind"],
        params["filename"],
        path,
        params["org"],
        actor_from(params["actor"]),
        options=params.get("options") or {},
        dry_run=bool(params.get("dry_run")),
        progress=progress,
        org_name=params.get("org_name"),
        skip_invalid=bool(params.get("skip_invalid")),
    )
    return batch_result(batch)


def _commit(params: dict, progress: queue.Progress) -> dict:
    batch = pipeline.commit_batch(
        params["batch_id"], actor_from(params["actor"]), progress, skip_invalid=bool(params.get("skip_invalid"))
    )
    return batch_result(batch)


def _undo(params: dict, progress: queue.Progress) -> dict:
    batch = pipeline.undo_batch(params["batch_id"], actor_from(params["actor"]), progress=progress)
    result = batch_result(batch)
    result["undone"] = (batch.counts or {}).get("undone", {})
    return result


def register() -> None:
    """Declare the import jobs (called by ``importers.init_app``)."""
    queue.register_kind(IMPORT_FILE, _import_file, retries=RETRIES, percent=import_percent)
    queue.register_kind(IMPORT_COMMIT, _commit, retries=RETRIES, percent=import_percent)
    queue.register_kind(IMPORT_UNDO, _undo, retries=RETRIES)
    queue.preload("importers.crs")  # pandas, for CRS files: loaded by the workers, not the web processes


# --------------------------------------------------------------------------- starting


def start_import(
    kind: str,
    filename: str,
    stored_file: str,
    org: str,
    actor: Actor,
    owner: User | None,
    *,
    options: dict | None = None,
    dry_run: bool = False,
    org_name: str | None = None,
    skip_invalid: bool = False,
    label: str | None = None,
    org_id: int | None = None,
    again: bool = False,
) -> Job:
    """Queue the import (or check, with dry_run) of a stored upload; commits the job row.

    The row's label is English (logs, the API's job); the pages name the job in the reader's
    language from its kind and parameters (``again``: a preview checked again)."""
    params = {
        "kind": kind,
        "filename": filename,
        "stored_file": stored_file,
        "org": org,
        "org_name": org_name,
        "actor": actor_params(actor),
        "options": options or {},
        "dry_run": dry_run,
        "skip_invalid": skip_invalid,
    }
    if again:
        params["again"] = True
    text = label or (
        f"Checking {filename} again" if again else f"Checking {filename}" if dry_run else f"Importing {filename}"
    )
    return queue.submit(IMPORT_FILE, params, text, owner, org_id)


def start_commit(batch: ImportBatch, actor: Actor, owner: User | None, *, skip_invalid: bool = False) -> Job:
    """Queue the commit of a previewed batch; commits the job row."""
    params = {"batch_id": batch.id, "actor": actor_params(actor), "skip_invalid": skip_invalid}
    return queue.submit(IMPORT_COMMIT, params, f"Importing {batch.filename}", owner, batch.org_id)


def start_undo(batch: ImportBatch, actor: Actor, owner: User | None) -> Job:
    """Queue the undo of a committed batch; commits the job row."""
    params = {"batch_id": batch.id, "actor": actor_params(actor)}
    return queue.submit(IMPORT_UNDO, params, f"Undoing the import of {batch.filename}", owner, batch.org_id)
