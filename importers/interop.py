"""IATI and CRS files through the shared import pipeline.

Both readers are registered with ``importers.pipeline`` (so uploads to ``POST
/api/v1/imports`` are detected by content, and previewed batches can be committed later).
A batch belongs to one organisation: a file holding several publishers (IATI) or donors
(CRS) is imported as one batch per organisation, unless an organisation is forced with
``org`` (everything then goes to that organisation). The file is all-or-nothing across its
batches: they are written in ONE database transaction, committed when every batch passed;
an error anywhere rejects every batch. With ``skip_invalid`` the activities that have errors
are left out (and listed with the money they carried) and the rest is committed, still in
one transaction; errors that concern the whole file reject it all the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from importers import pipeline
from importers.iati import IatiFileError, UnsafeXMLError, looks_like_iati, read_iati
from importers.messages import Text
from importers.records import Location, Problem, ProjectRecord
from registry.errors import ValidationError
from registry.extensions import db
from registry.models import Country, ImportBatch, Organisation, PriorityArea, Region
from registry.models.types import N_, utcnow
from registry.services import organisations
from registry.services.actor import Actor


def _reject(message: str, filename: str) -> pipeline.ReadResult:
    problem = Problem("error", message, Location(file=filename), code="unreadable_file")
    return pipeline.ReadResult(records=[], problems=[problem])


def _unknown_providers(records: list[ProjectRecord], problems: list[Problem], filename: str) -> None:
    """Provider organisations not in the registry are dropped from transactions (warned once
    each): a donor's file names partners the registry does not know, and that must not reject it."""
    known: dict[str, bool] = {}
    dropped: Counter = Counter()
    first: dict[str, Location] = {}
    for record in records:
        for tx in record.transactions:
            if not tx.provider_org:
                continue
            if tx.provider_org not in known:
                known[tx.provider_org] = organisations.find_organisation(tx.provider_org) is not None
            if not known[tx.provider_org]:
                dropped[tx.provider_org] += 1
                first.setdefault(tx.provider_org, tx.location)
                tx.provider_org = None
                tx.provider_unknown = True
    for name, n in dropped.items():
        problems.append(
            Problem(
                "warning",
                Text(
                    N_(
                        "Provider organisation %(name)s is not in the registry: %(n)s transaction(s) recorded "
                        "without a provider"
                    ),
                    name=repr(name),
                    n=n,
                ),
                first[name],
                name,
                "unknown_provider_org",
            )
        )


def _read_iati(path: Path, filename: str, options: dict) -> pipeline.ReadResult:
    reader = read_iati(path, sector_filter=options.get("sector_filter") or "all", filename=filename)
    publisher = options.get("publisher")
    try:
        records = []
        for record in reader:
            if publisher and (record.org or "") != publisher:
                continue
            if not publisher and record.org and options.get("org") and record.org != options["org"]:
                reader.warn(
                    "other_publisher",
                    Text(
                        N_("Activity %(identifier)s is reported by %(org)s; imported under %(batch_org)s"),
                        identifier=record.iati_identifier,
                        org=record.org,
                        batch_org=options.get("org"),
                    ),
                    None,
                )
                reader.problems[-1].location = record.location
            record.org = None  # the batch's organisation owns it
            records.append(record)
    except (UnsafeXMLError, IatiFileError) as exc:
        return _reject(str(exc), filename)
    problems = list(reader.problems)
    _unknown_providers(records, problems, filename)
    info = {
        "rows_read": reader.counts["activities"],
        "rows_skipped": reader.counts["filtered_out"],
        "skipped": {"outside the sector filter": reader.counts["filtered_out"]}
        if reader.counts["filtered_out"]
        else {},
        "iati_version": reader.version,
        "record_spans": True,  # a problem's line number is inside its activity
    }
    return pipeline.ReadResult(records=records, problems=problems, info=info)


def _read_crs(path: Path, filename: str, options: dict) -> pipeline.ReadResult:
    from importers.crs import CrsFileError, read_crs  # pandas: loaded by the processes that read CRS

    try:
        reader = read_crs(
            path,
            filename=filename,
            years=set(options["years"]) if options.get("years") else None,
            purposes=tuple(options["purposes"]) if options.get("purposes") else None,
            prices=options.get("prices") or "current",
        )
        donor = options.get("donor")
        records = []
        for record in reader:
            if donor and record.org != donor:
                continue
            record.org = None
            records.append(record)
    except CrsFileError as exc:
        return _reject(str(exc), filename)
    info = {
        "rows_read": reader.counts["rows"],
        "rows_skipped": reader.counts["rows"] - reader.counts["rows_kept"],
        "skipped": {"outside the year or purpose filter": reader.counts["rows"] - reader.counts["rows_kept"]},
    }
    return pipeline.ReadResult(records=records, problems=reader.problems, info=info)


def _detect_iati(head: bytes, filename: str) -> bool:
    return looks_like_iati(head)


def _detect_crs(head: bytes, filename: str) -> bool:
    text = head[:4096]
    for encoding in ("utf-8", "utf-16"):
        decoded = text.decode(encoding, errors="ignore").lower().replace("_", "")
        if "crsid" in decoded and "donorcode" in decoded and "purposecode" in decoded:
            return True
    return False


def register_readers() -> None:
    """Plug the IATI and CRS readers into the shared pipeline (idempotent)."""
    pipeline.register_reader("iati", _read_iati, _detect_iati, ("xml",))
    pipeline.register_reader("crs", _read_crs, _detect_crs, ())


@dataclass
class GroupedImport:
    """The batches of one file imported organisation by organisation."""

    batches: list[ImportBatch] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.batches) and all(b.status in ("committed", "previewed") for b in self.batches)

    @property
    def offer(self) -> tuple[int, int] | None:
        """(valid, invalid) activities when leaving the invalid ones out would let the file in:
        every error of a failed file concerns some activities, none the file as a whole."""
        if self.ok:
            return None
        valid = invalid = 0
        loose: set[tuple] = set()  # rows that are no activity go to every batch: counted once
        for batch in self.batches:
            counts = batch.counts or {}
            found = counts.get("invalid_records")
            if found:
                valid, invalid = valid + found["valid"], invalid + found["invalid"]
                items = [i for i in found.get("items", []) if not (i.get("reference") or i.get("iati_identifier"))]
                loose |= {(i.get("sheet"), i.get("row"), tuple(i.get("reasons") or ())) for i in items}
                if len(items) < found["items_without_record"]:  # more than the list holds
                    invalid += found["items_without_record"] - len(items)
            elif counts.get("errors_in_batch", counts.get("errors", 0)):
                return None  # an error no activity carries
            else:
                valid += counts.get("projects", 0)
        invalid += len(loose)
        return (valid, invalid) if invalid else None


def _by_org(records: Iterable[ProjectRecord]) -> dict[tuple[str, str | None], list[ProjectRecord]]:
    """The records by reporting organisation: one group per reference, named as its first record
    names it (a publisher may spell its name two ways in one file: "World Vision UK" and "World
    Vision United Kingdom" are one organisation, one batch, and none of its activities is lost)."""
    names: dict[str, str | None] = {}
    groups: dict[tuple[str, str | None], list[ProjectRecord]] = {}
    for record in records:
        ref = record.org or ""
        name = names.setdefault(ref, record.org_name)
        groups.setdefault((ref, name), []).append(record)
    return groups


_BATCH_COLUMNS = ("kind", "org_id", "user_id", "filename", "file_hash", "options", "counts", "problems", "status")


def _error_key(problem: dict) -> tuple:
    return tuple(problem.get(k) for k in ("code", "file", "sheet", "row", "column", "message"))


def _run_groups(
    kind: str,
    path: Path,
    filename: str,
    groups: dict[tuple[str, str | None], list[ProjectRecord]],
    problems: list[Problem],
    options: dict,
    option_key: str,
    actor: Actor,
    dry_run: bool,
    progress: Callable | None,
    *,
    skip_invalid: bool = False,
    spans: bool = False,
) -> GroupedImport:
    """One batch per organisation, all in ONE savepoint: kept together when every batch passed,
    else none is (a dry run always rolls back); the caller commits. A failed file reports every
    batch failed, each with the file's errors; the counts never say ``errors: 0`` then."""
    result = GroupedImport(problems=problems)
    # Reference rows stay referenced for the whole run: the validators look countries,
    # regions and areas up by primary key once per record, and the session's identity map
    # only holds objects something else keeps alive; without this, each look-up is a query.
    reference_rows = _reference_rows()
    if any(not ref for ref, _ in groups):
        raise ValidationError(
            "Some activities have no reporting organisation: say which organisation the file belongs to (--org)",
            {"org": ["Required for this file"]},
        )
    # The reader's problems go to the batch of the activity they concern; those of the file
    # as a whole go to every batch (see pipeline.attribute).
    pipeline.attribute([r for records in groups.values() for r in records], problems, spans)
    outer = db.session.begin_nested()
    batches: list[ImportBatch] = []
    try:
        for (org_ref, org_name), records in groups.items():
            for record in records:
                record.org = None  # the batch's organisation owns them
            mine = {id(r) for r in records}
            own = [p for p in problems if not p.owners or any(id(o) in mine for o in p.owners)]
            # Written as a commit would write it, also for a dry run: the next batches are
            # checked against this one's projects (IATI identifiers are unique registry-wide).
            batch = pipeline.run_import(
                kind,
                filename,
                path,
                org_ref,
                actor,
                records=records,
                problems=own,
                options={**options, option_key: org_ref},
                dry_run=False,
                progress=progress,
                org_name=org_name or org_ref,
                skip_invalid=skip_invalid,
                record_spans=spans,
                keep_report=False,  # the reports of a file that is not written are written below
            )
            batches.append(batch)
    except BaseException:
        outer.rollback()
        raise
    fresh = [b for b in batches if not getattr(b, "already_imported", False)]
    file_errors = len({_error_key(p) for b in fresh for p in b.problems or [] if p.get("severity") == "error"})
    failed = any(b.status == "failed" for b in fresh)
    for b in fresh:
        b.counts = {**(b.counts or {}), "file_errors": file_errors, "batches_in_file": len(batches)}
    if not failed and not dry_run:
        outer.commit()  # releases the file's savepoint: the caller's commit makes it durable
        result.batches = batches
        del reference_rows
        return result
    # Nothing of the file stays: keep what each batch found, roll back, then write the reports.
    saved = [
        None if getattr(b, "already_imported", False) else {c: getattr(b, c) for c in _BATCH_COLUMNS} for b in batches
    ]
    errors_by_org = {(f["options"] or {}).get("org"): (f["counts"] or {}).get("errors", 0) for f in saved if f}
    outer.rollback()
    for batch, fields in zip(batches, saved, strict=True):
        if fields is None:
            result.batches.append(batch)  # already imported: it is as it was
            continue
        if fields["org_id"] is not None and db.session.get(Organisation, fields["org_id"]) is None:
            fields["org_id"] = None  # created by the rolled-back run
        counts, stored = dict(fields.pop("counts") or {}), list(fields.pop("problems") or [])
        if failed:
            own = counts.get("errors", 0)
            counts["errors_in_batch"] = own
            counts["errors"] = max(own, file_errors)
            others = {k: v for k, v in errors_by_org.items() if v and k != (fields["options"] or {}).get("org")}
            if others:
                where = ", ".join(f"{ref}: {n}" for ref, n in others.items())
                stored.insert(
                    0,
                    {
                        "severity": "error",
                        "code": "file_rejected",
                        "message": f"Nothing of the file was imported: a file is all-or-nothing, and it has "
                        f"{file_errors} errors ({where}). Fix them, or import it again leaving the invalid "
                        "activities out (--skip-invalid).",
                        "file": filename,
                        "sheet": None,
                        "row": None,
                        "column": None,
                        "value": None,
                    },
                )
                mine = {_error_key(p) for p in stored}
                for other in fresh:
                    for p in other.problems or []:
                        if p.get("severity") == "error" and _error_key(p) not in mine:
                            stored.append(p)
                            mine.add(_error_key(p))
                stored = stored[: pipeline.MAX_STORED_PROBLEMS]
            fields["status"] = "failed"
        else:
            fields["status"] = "previewed"
        report = ImportBatch(**fields, counts=counts, problems=stored, dry_run=dry_run, progress=100)
        report.finished_at = utcnow()
        db.session.add(report)
        result.batches.append(report)
    db.session.flush()
    del reference_rows
    return result


def _reference_rows() -> list:
    """Countries, regions and priority areas, loaded once (see _run_groups)."""
    rows: list = []
    for model in (Country, Region, PriorityArea):
        rows.extend(db.session.scalars(select(model)))
    return rows


@pipeline.gc_paused  # the records of a whole file are read before any batch runs
def import_iati(
    path: Path,
    actor: Actor,
    *,
    org: str | None = None,
    sector_filter: str = "all",
    dry_run: bool = False,
    progress: Callable | None = None,
    filename: str | None = None,
    skip_invalid: bool = False,
) -> GroupedImport:
    """Import an IATI file: under ``org`` when given, else one batch per reporting organisation
    (all in one transaction). ``skip_invalid`` leaves the activities with errors out."""
    filename = filename or path.name
    options = {"sector_filter": sector_filter}
    if org:
        batch = pipeline.run_import(
            "iati",
            filename,
            path,
            org,
            actor,
            options=options,
            dry_run=dry_run,
            progress=progress,
            skip_invalid=skip_invalid,
        )
        return GroupedImport(batches=[batch], problems=[])
    reader = read_iati(path, sector_filter=sector_filter, filename=filename)
    try:
        records = list(reader)
    except (UnsafeXMLError, IatiFileError) as exc:
        raise ValidationError(str(exc), {"file": [str(exc)]}) from None
    problems = list(reader.problems)
    _unknown_providers(records, problems, filename)
    groups = _by_org(records)
    return _run_groups(
        "iati",
        path,
        filename,
        groups,
        problems,
        options,
        "publisher",
        actor,
        dry_run,
        progress,
        skip_invalid=skip_invalid,
        spans=True,
    )


@pipeline.gc_paused  # a CRS year is some 600,000 record objects: no cycle scans over them
def import_crs(
    path: Path,
    actor: Actor,
    *,
    years: set[int] | None = None,
    purposes: tuple[str, ...] | None = None,
    prices: str = "current",
    dry_run: bool = False,
    progress: Callable | None = None,
    filename: str | None = None,
    skip_invalid: bool = False,
) -> GroupedImport:
    """Import a CRS file: one batch per donor, all in one transaction (all-or-nothing);
    ``skip_invalid`` leaves the activities with errors out; ``prices="constant"`` reads the
    deflated columns, stored as constant-price flows apart from current prices."""
    from importers.crs import CrsFileError, read_crs  # pandas: loaded by the processes that read CRS

    filename = filename or path.name
    try:
        reader = read_crs(path, filename=filename, years=years, purposes=purposes, prices=prices)
        records = list(reader)
    except CrsFileError as exc:
        raise ValidationError(str(exc), {"file": [str(exc)]}) from None
    options = {
        "years": sorted(years) if years else None,
        "purposes": list(purposes) if purposes else None,
        "prices": prices,
    }
    return _run_groups(
        "crs",
        path,
        filename,
        _by_org(records),
        reader.problems,
        options,
        "donor",
        actor,
        dry_run,
        progress,
        skip_invalid=skip_invalid,
    )
