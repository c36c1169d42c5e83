"""Stage 5, batches: ``run_import`` and ``commit_batch`` run a file's records in one savepoint
per batch (all-or-nothing; a dry run or a rejected file rolls back exactly the run and keeps
its report), and ``batch_summary`` gives a batch as plain values. Nothing here commits: the
CLI command, the request or the background job that called commits once (importers.operations)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from importers.messages import Text
from importers.models import ImportChange
from importers.pipeline.common import CHUNK_SIZE, MAX_STORED_PROBLEMS, Progress, _problem, gc_paused
from importers.pipeline.idempotence import _already, request_key
from importers.pipeline.invalid import _left_out, invalid_records
from importers.pipeline.readers import _read, file_hash, storage_dir, store_file
from importers.pipeline.resolve import _resolve_org
from importers.pipeline.run import _Run
from importers.records import Location, Problem, ProjectRecord
from registry.errors import ConflictError, NotFoundError, PreconditionFailed, RegistryError
from registry.extensions import db
from registry.models import ImportBatch, Organisation
from registry.models.types import N_, utcnow
from registry.services import organisations
from registry.services.actor import Actor

log = logging.getLogger("importers.pipeline")  # the name it has always logged under


def _finish_counts(run_counts: Counter, info: dict, problems: list[Problem], records_n: int) -> dict:
    by_code = Counter(p.code or "other" for p in problems)
    counts = {
        "rows_read": info.get("rows_read", 0),
        "rows_skipped": info.get("rows_skipped", 0),
        "skipped": dict(info.get("skipped", {})),
        "projects": records_n,
        "projects_created": run_counts.get("projects_created", 0),
        "projects_updated": run_counts.get("projects_updated", 0),
        "projects_unchanged": run_counts.get("projects_unchanged", 0),
        "transactions": run_counts.get("transactions", 0),
        "transactions_replaced": run_counts.get("transactions_replaced", 0),
        "transactions_updated": run_counts.get("transactions_updated", 0),
        "transactions_kept": run_counts.get("transactions_kept", 0),
        "errors": sum(1 for p in problems if p.severity == "error"),
        "warnings": sum(1 for p in problems if p.severity != "error"),
        "problems": dict(sorted(by_code.items())),
    }
    if run_counts.get("plans_replaced"):  # projects whose forward plans the file changed
        counts["plans_replaced"] = run_counts["plans_replaced"]
    if run_counts.get("changes_total"):  # what the file changes, field by field (the first ones)
        counts["changes"] = run_counts["changes"]
        counts["changes_total"] = run_counts["changes_total"]
    return counts


@dataclass
class BatchInput:
    """What one batch runs with: who imports, for which organisation, the records and what
    reading them found."""

    org: Organisation | None  # None: the run creates it (org_ref, org_name)
    org_ref: str
    org_name: str | None
    actor: Actor
    records: list[ProjectRecord]
    problems: list[Problem]
    info: dict
    dry_run: bool = False
    progress: Progress | None = None
    keep_report: bool = True  # a batch that is not committed still keeps its report row
    skip_invalid: bool = False
    # The counts of the preview being committed: a commit that would do otherwise is not made.
    expected: dict | None = None


@dataclass
class Outcome:
    """What the run of a batch found, inside its savepoint."""

    counts: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)  # the batch's own
    left: list[Problem] = field(default_factory=list)  # errors that left with their records (skip_invalid)
    invalid: dict | None = None  # what leaving the invalid records out leaves out
    failure: str | None = None  # a rule or the database refused the file as a whole

    @property
    def ok(self) -> bool:
        return self.failure is None and not any(p.severity == "error" for p in self.problems)


@gc_paused
def run_import(
    kind: str,
    filename: str,
    data: bytes | Path,
    org: Organisation | str,
    actor: Actor,
    records: Iterable[ProjectRecord] | None = None,
    problems: list[Problem] | None = None,
    options: dict | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    *,
    org_name: str | None = None,
    keep_report: bool = True,
    skip_invalid: bool = False,
    record_spans: bool = False,
) -> ImportBatch:
    """Import a file all-or-nothing (or preview it with dry_run); see the package docstring.

    ``skip_invalid``: the records that have errors are left out and the others imported; the
    batch's counts list what was left out (``invalid_records``). Errors that concern the whole
    file still reject it. ``record_spans``: a line number belongs to the record that starts at
    or before it (XML), for records given by the caller (a reader says so in its info).
    Nothing is committed: a passing run is left in the session, a failing one rolled back to
    its savepoint (its report row added unless ``keep_report`` is False: then it is returned
    unsaved); the caller commits (see importers.operations)."""
    options = dict(options or {})
    if skip_invalid:
        options["skip_invalid"] = True  # another reading of the file: its own fingerprint
    path, sha = store_file(data, filename)
    org_obj = _resolve_org(org, org_name)
    org_ref = org.ref if isinstance(org, Organisation) else str(org).strip()
    if org_obj is not None:
        options.setdefault("org", org_obj.ref)
    else:
        options.update({"org": org_ref, "org_name": org_name})
    info: dict = {"record_spans": record_spans} if record_spans else {}
    if records is None:
        result = _read(kind, path, filename, {**options, "_progress": progress})
        records, problems, info = (
            result.records,
            list(result.problems) + list(problems or []),
            result.info,
        )
    request = request_key(options, info)
    done = _already(org_obj, kind, sha, request)
    if done is not None:
        done.already_imported = True  # type: ignore[attr-defined]
        return done
    batch = ImportBatch(
        kind=kind,
        org_id=org_obj.id if org_obj else None,
        user_id=actor.user_id,
        filename=Path(filename).name[:300],
        file_hash=sha,
        status="pending",
        dry_run=dry_run,
        options={**options, "stored_file": path.name, **_info_options(info), "request": request},
        counts={},
        problems=[],
        progress=0,
    )
    given = BatchInput(
        org_obj,
        org_ref,
        org_name,
        actor,
        list(records),
        list(problems or []),
        info,
        dry_run=dry_run,
        progress=progress,
        keep_report=keep_report,
        skip_invalid=skip_invalid,
    )
    return _execute(batch, given)


def _info_options(info: dict) -> dict:
    """Facts from the reading worth keeping on the batch (the detected mapping, the preview)."""
    return {k: info[k] for k in ("mapping", "preview", "headers", "sheet", "fields", "questions") if k in info}


def _execute(batch: ImportBatch, given: BatchInput) -> ImportBatch:
    """Run the batch in its own savepoint: kept when it passed (and is no dry run), else rolled
    back exactly, its report kept on a fresh batch row. Never commits."""
    fresh = batch.id is None
    # The run's own savepoint: a dry run or a rejected file rolls back exactly the run.
    nested = db.session.begin_nested()
    try:
        outcome = _run(batch, given)
    except BaseException:
        nested.rollback()
        raise
    counts = _finish_counts(outcome.counts, given.info, outcome.problems + outcome.left, len(given.records))
    if outcome.invalid is not None:
        outcome.invalid.setdefault("left_out", False)
        counts["invalid_records"] = outcome.invalid
    stored = [p.as_dict() for p in outcome.problems[:MAX_STORED_PROBLEMS]]
    room = max(0, MAX_STORED_PROBLEMS - len(stored))
    stored += [{**p.as_dict(), "left_out": True} for p in outcome.left[:room]]
    fields = {
        "kind": batch.kind,
        "org_id": batch.org_id,
        "user_id": batch.user_id,
        "filename": batch.filename,
        "file_hash": batch.file_hash,
        "options": batch.options,
        "dry_run": given.dry_run,
    }
    differs = _differs(given.expected, counts) if outcome.ok and not given.dry_run else None
    if differs:
        # What exists changed since the preview (an undo, another import): committing now
        # would do something else than the user saw. Nothing is written; the preview stays,
        # with what differs, to be checked again.
        nested.rollback()
        batch = db.session.get(ImportBatch, batch.id)
        batch.options = {**(batch.options or {}), "differs": differs}
        db.session.flush()
        log.info("Import batch %s not committed: it differs from its preview %s", batch.id, differs)
        return batch
    if outcome.ok and not given.dry_run:
        batch.status, batch.counts, batch.problems = "committed", counts, stored
        batch.progress, batch.finished_at = 100, utcnow()
        nested.commit()  # releases the savepoint: the caller's commit makes it durable
        log.info("Import batch %s written: %s", batch.id, counts)
        return batch
    nested.rollback()
    status = "previewed" if outcome.ok else "failed"
    if not given.keep_report:
        report = ImportBatch(**fields, status=status, counts=counts, problems=stored, progress=100)
        report.id = None
        return report
    if fresh:
        if fields["org_id"] is not None and db.session.get(Organisation, fields["org_id"]) is None:
            fields["org_id"] = None  # the organisation was created by the rolled-back run
        batch = ImportBatch(**fields)
        db.session.add(batch)
    else:
        batch = db.session.get(ImportBatch, batch.id)
    batch.status, batch.counts, batch.problems = status, counts, stored
    batch.progress, batch.finished_at = 100, utcnow()
    db.session.flush()
    return batch


# What a preview announces and its commit must do alike.
COMPARED = (
    "projects_created",
    "projects_updated",
    "projects_unchanged",
    "transactions",
    "transactions_replaced",
    "transactions_updated",
)


def _differs(expected: dict | None, counts: dict) -> dict | None:
    """The counts where a commit would differ from its preview, as {"preview": ..., "now": ...},
    or None when it does what the preview said."""
    if expected is None:
        return None
    before = {k: int(expected.get(k) or 0) for k in COMPARED}
    now = {k: int(counts.get(k) or 0) for k in COMPARED}
    if before == now:
        return None
    return {"preview": before, "now": now}


def _run(batch: ImportBatch, given: BatchInput) -> Outcome:
    """Validate and (when clean) write the batch's records; with ``skip_invalid`` a second pass
    over the valid records alone. A refusal of the file as a whole is an outcome, not an error."""
    problems = given.problems
    readers = list(problems)  # the reader's, before the run adds its own
    outcome = Outcome(problems=problems)
    spans = bool(given.info.get("record_spans"))
    chunk_size = int(batch.options.get("chunk_size") or CHUNK_SIZE)
    try:
        if batch.id is None:
            db.session.add(batch)
        batch.status = "running"
        db.session.flush()
        run_actor = given.actor.via("import", batch.id)
        org = given.org if given.org is not None else _create_org(batch, run_actor, given)
        # Validated even when reading found errors, so that one report lists every problem
        # of the file; nothing is written when there is any (see _Run.execute).
        run = _Run(batch, org, run_actor, problems, given.progress, chunk_size)
        run.execute(given.records)
        if any(p.severity == "error" for p in problems):
            outcome.invalid = invalid_records(given.records, problems, spans)
        if given.skip_invalid and outcome.invalid is not None:
            # Nothing was written by the first pass (an error stops it before writing): run
            # again over the valid records alone, the left-out ones' errors set aside.
            good, outcome.left = _left_out(given.records, problems)
            gone = {id(p) for p in outcome.left}
            outcome.problems = problems = [p for p in readers if id(p) not in gone]
            run = _Run(batch, org, run_actor, problems, given.progress, chunk_size)
            run.execute(good)
            outcome.invalid["left_out"] = not any(p.severity == "error" for p in problems)
        outcome.counts = run.counts
    except RegistryError as exc:
        outcome.failure = exc.message
    except IntegrityError as exc:
        # A rule the database enforces that validation did not foresee: reject, never half-write.
        log.warning("Import %s rejected by the database: %s", batch.filename, exc.orig)
        outcome.failure = Text(N_("The database refused the data: %(error)s"), error=exc.orig)
    if outcome.failure is not None:
        outcome.problems.append(_problem("error", "rejected", outcome.failure, Location(file=batch.filename)))
        outcome.invalid = None  # the database or a rule refused the file as a whole
    return outcome


def _create_org(batch: ImportBatch, actor: Actor, given: BatchInput) -> Organisation:
    """The organisation a file is imported for, created by the run (undone with the batch)."""
    org = organisations.create_organisation(
        actor, {"ref": given.org_ref, "name": given.org_name, "kind": "donor_agency"}
    )
    batch.org_id = org.id
    db.session.execute(
        insert(ImportChange.__table__),
        [
            {
                "batch_id": batch.id,
                "entity_type": "organisation",
                "entity_id": org.id,
                "action": "create",
                "before": None,
            }
        ],
    )
    return org


@gc_paused
def commit_batch(
    batch_id: int, actor: Actor, progress: Progress | None = None, *, skip_invalid: bool = False
) -> ImportBatch:
    """Commit a previewed batch: read its stored file again and import it for real.

    When the registry changed since the preview (an undo, another import) so that the commit
    would create, update or replace other than the preview said, nothing is written: the batch
    stays previewed, ``options["differs"]`` holding the preview's counts and the counts now, and
    it is to be checked again.

    With ``skip_invalid`` a failed preview whose errors all concern some records can be
    committed too: those records are left out (see run_import)."""
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFoundError(f"No import batch {batch_id}")
    allowed = ("previewed", "failed") if skip_invalid else ("previewed",)
    if batch.status not in allowed:
        raise ConflictError(f"Import batch {batch_id} is {batch.status}; only a previewed batch can be committed")
    if (batch.counts or {}).get("batches_in_file", 1) > 1:
        # One organisation's batch of a file of several, previewed or failed: committing it alone
        # would break the file's single transaction (the others stay out). The file is imported
        # again whole.
        how = (
            "with --skip-invalid to import the valid activities of all of them"
            if batch.status == "failed"
            else ("without --dry-run to import all of them in one transaction")
        )
        raise ConflictError(
            f"Import batch {batch_id} is one of {batch.counts['batches_in_file']} organisations' batches of one "
            f"file, which is all-or-nothing: import the file again {how}"
        )
    options = dict(batch.options or {})
    if options.pop("differs", None) is not None:
        batch.options = options  # committed again: compared afresh
    # A clean preview is committed only if the commit does what it announced.
    expected = dict(batch.counts or {}) if batch.status == "previewed" and not skip_invalid else None
    path = storage_dir() / options.get("stored_file", "")
    if not path.is_file() or file_hash(path) != batch.file_hash:
        raise PreconditionFailed("The uploaded file of this batch is no longer available; upload it again")
    org = db.session.get(Organisation, batch.org_id) if batch.org_id else None
    if org is None and not options.get("org_name"):
        raise NotFoundError("The organisation of this batch no longer exists")
    result = None
    if skip_invalid and not options.get("skip_invalid"):
        # Another reading of the file than the preview's: its own fingerprint.
        options["skip_invalid"] = True
        result = _read(batch.kind, path, batch.filename, {**options, "_progress": progress})
        options["request"] = request_key(options, result.info)
        batch.options = options
    done = _already(org, batch.kind, batch.file_hash, options.get("request") or request_key(options))
    if done is not None:
        done.already_imported = True  # type: ignore[attr-defined]
        return done
    if result is None:
        result = _read(batch.kind, path, batch.filename, {**options, "_progress": progress})
    batch.dry_run = False
    given = BatchInput(
        org,
        options.get("org", ""),
        options.get("org_name"),
        actor,
        list(result.records),
        list(result.problems),
        result.info,
        progress=progress,
        skip_invalid=skip_invalid or bool(options.get("skip_invalid")),
        expected=expected,
    )
    return _execute(batch, given)


def batch_summary(batch: ImportBatch) -> dict[str, Any]:
    """A batch as plain values: status, counts, problems, the detected mapping."""
    options = batch.options or {}
    return {
        "id": batch.id,
        "kind": batch.kind,
        "filename": batch.filename,
        "file_hash": batch.file_hash,
        "org_id": batch.org_id,
        "status": batch.status,
        "dry_run": batch.dry_run,
        "already_imported": bool(getattr(batch, "already_imported", False)),
        "progress": batch.progress,
        "counts": batch.counts or {},
        "problems": batch.problems or [],
        "mapping": options.get("mapping"),
        "created_at": batch.created_at.isoformat() if batch.created_at else None,
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
    }
