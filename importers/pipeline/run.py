"""One pass of a file's records through the stages (``_Run.execute``): resolve the records to
stored projects, validate each project and its flows, tell created from changed from
unchanged, then hand the clean result to ``write`` (nothing is written when any error was found)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from importers.messages import Text
from importers.pipeline import notices, write
from importers.pipeline.candidate import _Candidate, _keep_absent, _load_existing, match_stored
from importers.pipeline.common import (
    _CURRENCY_AT,
    _FLOW_FIELDS,
    _USD_AT,
    _VALUE_DATE_AT,
    TX_COLUMNS,
    Progress,
    _chunks,
    _problem,
)
from importers.pipeline.flows import _keep_confirmations, _new_tx_key, _tx_key, same_prices
from importers.pipeline.resolve import _Resolver
from importers.pipeline.validate import _build_project, _Invalid, _Reference
from importers.pipeline.write import Created, Updated
from importers.records import Location, Problem, ProjectRecord
from registry.errors import RegistryError
from registry.extensions import db
from registry.models import ImportBatch, Organisation, Project, Transaction
from registry.models.soft_delete import INCLUDE_DELETED
from registry.models.types import N_, Role
from registry.services.actor import Actor


@dataclass
class Stored:
    """What the registry already holds for the projects of a file."""

    projects: dict[str, _Candidate]  # by reference (see candidate._load_existing)
    old_flows: dict[int, list[dict]]  # project id -> the imported flows a re-import replaces
    iati_owner: dict[str, int]  # IATI identifier -> the project that has it
    # Deleted projects the file names (reference -> (id, deleted_at, deleted_by)): refused, never
    # silently brought back; and the keys of each live project's deleted flows (they stay deleted).
    deleted: dict[str, tuple] = field(default_factory=dict)
    deleted_flows: dict[int, Counter] = field(default_factory=dict)
    seen_iati: dict[str, str] = field(default_factory=dict)  # in this file: identifier -> reference


class _Run:
    """One pass of records through the stages: resolve, validate, write (unless an error stops
    it before writing; the caller's savepoint then rolls back the run)."""

    def __init__(
        self,
        batch: ImportBatch,
        org: Organisation,
        actor: Actor,
        problems: list[Problem],
        progress: Progress | None,
        chunk_size: int,
    ) -> None:
        self.batch, self.org, self.actor = batch, org, actor
        self.problems = problems
        self.progress = progress or (lambda done, total, stage: None)
        self.chunk_size = chunk_size
        self.resolver = _Resolver(org.id, actor)
        self.counts: Counter = Counter()
        self.reference = _Reference()

    def error(self, code: str, message: str, location: Location | None, value: Any = None, column=None) -> None:
        self.problems.append(_problem("error", code, message, location, value, column))

    def _validation_problems(self, exc: RegistryError, rec_columns: dict[str, str], location: Location) -> None:
        fields = exc.errors or {"": [exc.message]}
        for name, messages in fields.items():
            msgs = messages if isinstance(messages, list) else [str(messages)]
            column = rec_columns.get(name) or rec_columns.get(name.rstrip("s")) or (name or None)
            for message in msgs:
                text = exc.message if len(fields) == 1 and message in ("Required",) else message
                self.error(f"invalid_{name or 'value'}", text, location, column=column)

    def execute(self, records: Iterable[ProjectRecord]) -> None:
        """Validate every record (every problem reported), then write them all, or nothing."""
        records = list(records)
        total = len(records)
        by_ref = match_stored(self.org.id, self._by_reference(records), self.error)
        stored = self._stored(by_ref)
        created: list[Created] = []
        updated: list[Updated] = []
        for done, (ref, rec) in enumerate(by_ref.items(), 1):
            if done % 200 == 0:
                self.progress(done, total, "validating")
            if ref in stored.deleted:
                self._refuse_deleted(ref, rec, *stored.deleted[ref])
                continue
            current = stored.projects.get(ref)
            # Every problem of the project is reported: its own, then its transactions'.
            candidate = self._project(rec)
            bad = candidate is None or not self._unique_iati(ref, rec, candidate, current, stored)
            rows = self._flows(rec)
            if rows is None or bad:
                continue
            if current is None:
                created.append(Created(candidate, rows))
                continue
            change = self._change(rec, candidate, current, stored, rows)
            if change is None:
                self.counts["projects_unchanged"] += 1
            else:
                updated.append(change)
        self.progress(total, total, "validating")
        warning = notices.other_sheets_replaced(self.batch, updated)
        if warning is not None:
            self.problems.append(warning)
        if any(p.severity == "error" for p in self.problems):
            return  # nothing is written; the caller rolls back
        self._write(created, updated)

    def _write(self, created: list[Created], updated: list[Updated]) -> None:
        write.write_batch(self, created, updated)

    def _without_deleted(self, rec: ProjectRecord, rows: list[tuple], deleted: Counter | None) -> list[tuple]:
        """The file's flows but those the registry holds as deleted (an earlier import brought
        them and someone deleted them): they stay deleted, each with a warning, and are not
        imported again beside the deleted row."""
        if not deleted:
            return rows
        left = Counter(deleted)
        kept = []
        for row in rows:
            key = _new_tx_key(row)
            if left[key] > 0:
                left[key] -= 1
                self.problems.append(
                    _problem(
                        "warning",
                        "deleted_flow",
                        Text(
                            N_(
                                "A %(type)s of %(minor)s minor units %(currency)s on %(date)s of project %(ref)s "
                                "was deleted in the registry: it stays deleted and is not imported again "
                                "(restore it to count it)"
                            ),
                            type=str(key[0]),
                            minor=str(key[1]),
                            currency=str(key[2]),
                            date=str(key[3]),
                            ref=repr(rec.reference),
                        ),
                        rec.location,
                    )
                )
                continue
            kept.append(row)
        return kept

    def _refuse_deleted(self, ref: str, rec: ProjectRecord, pid: int, when: Any, who: str | None) -> None:
        """A file naming a deleted project is refused for it: importing it again would either
        bring the project back unasked or make a second one beside it."""
        self.error(
            "deleted_project",
            Text(
                N_(
                    "Project %(ref)s (id %(id)s) was deleted on %(date)s by %(who)s; restore it first "
                    "(Deleted projects page, POST /api/v1/projects/%(id)s/restore or "
                    "flask --app wsgi deleted restore project %(id)s), then import the file again"
                ),
                ref=repr(ref),
                id=str(pid),
                date=f"{when:%Y-%m-%d}",
                who=str(who),
            ),
            rec.location,
            ref,
        )

    def _by_reference(self, records: list[ProjectRecord]) -> dict[str, ProjectRecord]:
        """The file's projects by reference; a record of another organisation, or a second record
        of one project, is an error (one project, one record)."""
        org = self.org
        by_ref: dict[str, ProjectRecord] = {}
        for rec in records:
            if rec.org and self.resolver.org(rec.org) not in (org.id,):
                other = self.resolver.org(rec.org)
                if other is None:
                    self.error("unknown_org", f"Unknown organisation {rec.org!r}", rec.location, rec.org)
                    continue
                if self.actor.role != Role.ADMIN:
                    self.error(
                        "other_org",
                        f"This file is imported for {org.ref}; project {rec.reference!r} belongs to {rec.org!r}",
                        rec.location,
                        rec.org,
                    )
                    continue
            key = (rec.reference or "").strip()
            if key in by_ref:
                self.error(
                    "duplicate_project",
                    f"Project {key!r} appears twice in the file (first at {by_ref[key].location.describe()})",
                    rec.location,
                    key,
                )
                continue
            by_ref[key] = rec
        return by_ref

    def _stored(self, by_ref: dict[str, ProjectRecord]) -> Stored:
        """The stored projects the file meets, the flows earlier imports brought for them (the file
        replaces them), and who holds the file's IATI identifiers (unique across the registry)."""
        existing = _load_existing(self.org.id, [r for r in by_ref if r])
        projects = Project.__table__
        deleted: dict[str, tuple] = {}
        for chunk in _chunks([p.id for p in existing.values()], 500):
            stmt = select(projects.c.reference, projects.c.id, projects.c.deleted_at, projects.c.deleted_by).where(
                projects.c.id.in_(chunk), projects.c.deleted_at.is_not(None)
            )
            rows = db.session.execute(stmt, execution_options=INCLUDE_DELETED)
            deleted.update((ref, (pid, when, who)) for ref, pid, when, who in rows)
        old_flows: dict[int, list[dict]] = {}
        deleted_flows: dict[int, Counter] = {}
        table = Transaction.__table__
        cols = [table.c[name] for name in TX_COLUMNS]
        for chunk in _chunks([p.id for p in existing.values() if p.reference not in deleted], 500):
            stmt = select(*cols, table.c.deleted_at).where(
                table.c.project_id.in_(chunk), table.c.import_batch_id.is_not(None), same_prices(self.batch)
            )
            for row in db.session.execute(stmt, execution_options=INCLUDE_DELETED).mappings():
                if row["deleted_at"] is None:
                    old_flows.setdefault(row["project_id"], []).append({k: row[k] for k in TX_COLUMNS})
                else:
                    deleted_flows.setdefault(row["project_id"], Counter())[_tx_key(row)] += 1
        iati_owner: dict[str, int] = {}
        iati_ids = [r.iati_identifier.strip() for r in by_ref.values() if r.iati_identifier]
        for chunk in _chunks(iati_ids, 500):
            stmt = select(Project.iati_identifier, Project.id).where(Project.iati_identifier.in_(chunk))
            iati_owner.update({i: pid for i, pid in db.session.execute(stmt, execution_options=INCLUDE_DELETED)})
        return Stored(existing, old_flows, iati_owner, deleted=deleted, deleted_flows=deleted_flows)

    def _project(self, rec: ProjectRecord) -> _Candidate | None:
        """The record's project checked by the registry's rules, or None (its problems reported)."""
        try:
            candidate = _build_project(rec, self.org.id, self.reference)
        except RegistryError as exc:
            for each in exc.each if isinstance(exc, _Invalid) else [exc]:
                self._validation_problems(each, rec.columns, rec.location)
            return None
        if candidate.areas_inferred is None and rec.columns:
            self.problems.append(notices.no_area(rec))
        if candidate.need_minor is not None and candidate.need_usd_minor is None:
            self.problems.append(notices.unconverted_need(candidate, rec))
        return candidate

    def _unique_iati(
        self, ref: str, rec: ProjectRecord, candidate: _Candidate, current: _Candidate | None, stored: Stored
    ) -> bool:
        """Whether the project's IATI identifier is its own: no other project has it, in the
        registry or in the file."""
        iati = candidate.iati_identifier
        if not iati:
            return True
        owner = stored.iati_owner.get(iati)
        if owner is not None and (current is None or owner != current.id):
            message, code = f"IATI identifier {iati} is already used by project {owner}", "iati_identifier_taken"
        elif iati in stored.seen_iati:
            message = f"IATI identifier {iati} is also given to project {stored.seen_iati[iati]!r} in this file"
            code = "duplicate_iati_identifier"
        else:
            stored.seen_iati[iati] = ref
            return True
        self.error(code, message, rec.location, iati, rec.columns.get("iati_identifier"))
        return False

    def _flows(self, rec: ProjectRecord) -> list[tuple] | None:
        """The record's transactions as validated ``TX_FIELDS`` tuples, or None when one is refused
        (every refusal reported, at its cell)."""
        rows: list[tuple] = []
        bad = False
        tx_row = self.resolver.tx_row
        for t in rec.transactions:
            try:
                rows.append(tx_row(t))
                if rows[-1][_USD_AT] is None:
                    why = self.resolver.unconverted(rows[-1][_CURRENCY_AT], rows[-1][_VALUE_DATE_AT])
                    self.problems.append(notices.unconverted_flow(t, rows[-1], rec, why))
            except RegistryError as exc:
                bad = True
                fields = exc.errors or {"amount": [exc.message]}
                for name, messages in fields.items():
                    column = t.location.column if name == "amount" else rec.columns.get(name, t.location.column)
                    value = {
                        "type": t.type,
                        "currency": t.currency,
                        "funding_source": t.funding_source,
                        "provider_org": t.provider_org,
                        "recipient": t.recipient_country or t.recipient_region,
                        "value_date": None,
                    }.get(name, t.amount)
                    message = exc.message if len(fields) == 1 else str(messages[0])
                    self.error(f"invalid_{name}", message, t.location, value, column)
        return None if bad else rows

    def _change(
        self, rec: ProjectRecord, candidate: _Candidate, current: _Candidate, stored: Stored, rows: list[tuple]
    ) -> Updated | None:
        """What the file changes in a stored project, or None when it changes nothing."""
        _keep_absent(candidate, current, rec)
        before = current.snapshot()
        after = candidate.snapshot()
        changed = before != after or candidate.other_identifiers != (current.other_identifiers or "")
        if rec.columns and not rec.transactions and not set(rec.columns) & _FLOW_FIELDS:
            # The file carries no amounts at all (a list of projects): their flows stay.
            old_rows, same_tx = None, True
        else:
            old_rows = stored.old_flows.get(current.id, [])
            rows = self._without_deleted(rec, rows, stored.deleted_flows.get(current.id))
            rows = _keep_confirmations(old_rows, rows, self.resolver)
            same_tx = sorted(map(_tx_key, old_rows)) == sorted(map(_new_tx_key, rows))
        if not changed and same_tx:
            return None
        return Updated(current, candidate if changed else None, before, old_rows, rows)
