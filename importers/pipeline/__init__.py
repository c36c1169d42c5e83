"""The one import pipeline every reader (spreadsheet, IATI, CRS) goes through.

Stages, one module each (read them in this order):

``readers``      store the file and hash it; the registered reader turns it into
                 ``ProjectRecord`` objects and ``Problem`` reports
``resolve``      the organisation, funding sources, providers, recipients and USD rates,
                 looked up once per distinct value
``validate``     each project and flow checked with the registry's own rules
                 (``registry.services.rules``), every problem reported
``candidate``    a project as the file describes it and as the registry holds it
``flows``        the stored flows a re-import replaces, confirmations kept
``run``          one pass of the records through those stages (``_Run.execute``)
``write``        everything written in bulk (``importers.bulk``), flushed, not committed
``batches``      one savepoint per batch: all-or-nothing, dry runs, the report
``idempotence``  the same file read the same way again changes nothing
``invalid``      skip-invalid: which records the errors concern, and their money
``undo``         undo a committed batch
``notices``      the warnings a run adds (money kept unconverted, flows of another sheet)

Public entry points (all need an app context). NONE of them commits: each leaves its work
in the session (inside savepoints that make a batch all-or-nothing) and the caller commits
once, as its unit of work: the CLI command, the API or page request, or the background
import job (``importers.operations`` holds what those callers share).

``register_reader(kind, read, detect=None, extensions=())``
    Plug a reader in. ``read(path, filename, options) -> ReadResult``; ``detect(head_bytes,
    filename) -> bool`` lets ``detect_kind`` route an upload to it (API and web use this).
    ``options["_progress"]`` (when set) is the progress callback, for the reading stage.

``run_import(kind, filename, data, org, actor, records=None, problems=None, options=None,
dry_run=False, progress=None, *, org_name=None, keep_report=True, skip_invalid=False,
record_spans=False) -> ImportBatch``
    Import a file. ``data`` is bytes or a path (it is stored under the instance folder so a
    previewed batch can be committed later). Without ``records`` the registered reader of
    ``kind`` reads it. ``org`` is an Organisation or its reference; with ``org_name`` an
    unknown reference is created. ``dry_run`` validates and counts everything exactly as a
    commit would, then rolls back its savepoint: nothing of the file is written (with
    ``keep_report`` the batch row is kept with status "previewed" so it can be committed; a
    failed batch likewise keeps its report). Same file (hash), read with the same choices
    (``request_key``), already committed for that organisation and not changed since by a
    later batch: returns that batch, ``batch.already_imported`` is True and nothing changes.
    ``progress(done, total, stage)`` is called as work advances. ``skip_invalid`` leaves out
    the records that have errors (``attribute`` tells which records an error concerns) and
    imports the others; ``counts["invalid_records"]`` lists them with their money. It is also
    there, as an offer, on a failed batch whose errors all concern records.
    ``keep_report=False`` returns the report of a batch that was not written unsaved (a file
    of several organisations writes the reports itself: ``importers.interop``).

``commit_batch(batch_id, actor, progress=None, *, skip_invalid=False) -> ImportBatch``
    Commit a previewed batch: re-reads the stored file with the same options (with
    ``skip_invalid``, a failed one too, without its invalid records).

``undo_batch(batch_id, actor) -> ImportBatch``
    Delete what the batch created, restore what it changed (projects, their replaced
    transactions) from the snapshots kept in ``import_changes``.

``batch_summary(batch) -> dict``
    Status, counts and problems as plain values (for the API, the CLI and the pages).

Rules: projects are matched by (organisation, reference) and updated in place; the
transactions an earlier import brought for a project in the file are replaced by the
file's (transactions entered by hand are kept), so nothing is counted twice. Every
project and transaction created or changed carries ``import_batch_id``; the audit trail
gets one event per project (with its transaction count), written by the same code as the
services. New projects, their recipients, areas, sectors, every transaction, the audit
events and the undo log are inserted by DB-API executemany in chunks (``importers.bulk``:
plain tuples, each value converted by SQLAlchemy's own bind processor for the column);
only projects an import changes go through the ORM.

Names other modules and tests import from ``importers.pipeline`` are re-exported here.
"""

from importers.pipeline.batches import BatchInput, Outcome, batch_summary, commit_batch, run_import
from importers.pipeline.candidate import CHANGED_FIELDS, STORED_FIELDS, _Candidate, _load_existing
from importers.pipeline.common import (
    CHUNK_SIZE,
    MAX_STORED_PROBLEMS,
    TX_COLUMNS,
    TX_FIELDS,
    TX_INSERT,
    Progress,
    _problem,
    gc_paused,
)
from importers.pipeline.content import check_content, check_upload, identify
from importers.pipeline.idempotence import request_key
from importers.pipeline.invalid import MAX_LISTED, STANDALONE_ERRORS, attribute, invalid_records, money_text
from importers.pipeline.readers import (
    NO_FILE_CURRENCY,
    READERS,
    Detector,
    Reader,
    ReaderEntry,
    ReadResult,
    detect_kind,
    file_hash,
    get_reader,
    register_reader,
    storage_dir,
    store_file,
)
from importers.pipeline.resolve import _Resolver
from importers.pipeline.run import _Run
from importers.pipeline.undo import check_undo, undo_batch
from importers.pipeline.validate import _build_project, _tx_values
from importers.pipeline.write import EVENT_COLUMNS, Created, Updated
from registry.models import ImportBatch  # noqa: F401  (imported from here by older code and tests)

__all__ = [
    "CHANGED_FIELDS",
    "CHUNK_SIZE",
    "EVENT_COLUMNS",
    "MAX_LISTED",
    "MAX_STORED_PROBLEMS",
    "NO_FILE_CURRENCY",
    "READERS",
    "STANDALONE_ERRORS",
    "STORED_FIELDS",
    "TX_COLUMNS",
    "TX_FIELDS",
    "TX_INSERT",
    "BatchInput",
    "Created",
    "Detector",
    "Outcome",
    "Progress",
    "ReadResult",
    "Reader",
    "ReaderEntry",
    "Updated",
    "_Candidate",
    "_Resolver",
    "_Run",
    "_build_project",
    "_load_existing",
    "_problem",
    "_tx_values",
    "attribute",
    "batch_summary",
    "check_undo",
    "commit_batch",
    "detect_kind",
    "file_hash",
    "gc_paused",
    "get_reader",
    "invalid_records",
    "money_text",
    "register_reader",
    "request_key",
    "run_import",
    "storage_dir",
    "check_content",
    "check_upload",
    "identify",
    "store_file",
    "undo_batch",
]
