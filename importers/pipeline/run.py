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
from importers.pipeline import notices, plans, write
from importers.pipeline.candidate import _Candidate, _keep_absent, _load_existing, match_stored, place
from importers.pipeline.common import (
    _CURRENCY_AT,
    _FLOW_FIELDS,
    _TIED_AT,
    _USD_AT,
    _VALUE_DATE_AT,
    TX_COLUMNS,
    TX_FIELDS,
    Progress,
    _chunks,
    _problem,
)
from importers.pipeline.flows import _keep_confirmations, _new_tx_key, _tx_key, same_prices
from importers.pipeline.resolve import _Resolver
from importers.pipeline.validate import _build_project, _Invalid, _Reference
from importers.pipeline.write import Created, Updated
from importers.records import Location, Problem, ProjectRecord
from registry import money
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
    # Every live flow of the projects (entered by hand too) by id, for rows that carry a flow id
    # (the filled template), and the ids of their deleted flows.
    flows_by_id: dict[int, dict[int, dict]] = field(default_factory=dict)
    deleted_flow_ids: set[int] = field(default_factory=set)


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
        self.changes: list[dict] = []  # what the file changes, field by field (the preview lists it)
        self.changes_total = 0
        self._source_refs: dict[int, str] | None = None

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
        kept: list[ProjectRecord] = []  # the records written (created, changed or unchanged): their plans
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
            kept.append(rec)
            if current is None:
                created.append(Created(candidate, rows))
                self._said(ref, None, "project", None, candidate.title)
                continue
            change = self._change(rec, candidate, current, stored, rows)
            if change is None:
                self.counts["projects_unchanged"] += 1
            else:
                updated.append(change)
        self.progress(total, total, "validating")
        if self.changes_total:
            self.counts["changes"] = self.changes
            self.counts["changes_total"] = self.changes_total
        warning = notices.other_sheets_replaced(self.batch, updated)
        if warning is not None:
            self.problems.append(warning)
        if any(p.severity == "error" for p in self.problems):
            return  # nothing is written; the caller rolls back
        self._write(created, updated)
        plans.write_plans(self, kept)

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
                    self.error(
                        "unknown_org",
                        Text(N_("Unknown organisation %(org)s"), org=repr(rec.org)),
                        rec.location,
                        rec.org,
                    )
                    continue
                if self.actor.role != Role.ADMIN:
                    self.error(
                        "other_org",
                        Text(
                            N_("This file is imported for %(org)s; project %(ref)s belongs to %(other)s"),
                            org=org.ref,
                            ref=repr(rec.reference),
                            other=repr(rec.org),
                        ),
                        rec.location,
                        rec.org,
                    )
                    continue
            key = (rec.reference or "").strip()
            if key in by_ref:
                self.error(
                    "duplicate_project",
                    Text(
                        N_("Project %(ref)s appears twice in the file (first at %(place)s)"),
                        ref=repr(key),
                        place=place(by_ref[key].location),
                    ),
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
        flows_by_id: dict[int, dict[int, dict]] = {}
        deleted_ids: set[int] = set()
        for chunk in _chunks([p.id for p in existing.values() if p.reference not in deleted], 500):
            stmt = select(*cols, table.c.deleted_at).where(table.c.project_id.in_(chunk), same_prices(self.batch))
            for row in db.session.execute(stmt, execution_options=INCLUDE_DELETED).mappings():
                imported = row["import_batch_id"] is not None
                if row["deleted_at"] is None:
                    flow = {k: row[k] for k in TX_COLUMNS}
                    flows_by_id.setdefault(row["project_id"], {})[row["id"]] = flow
                    if imported:
                        old_flows.setdefault(row["project_id"], []).append(flow)
                else:
                    deleted_ids.add(row["id"])
                    if imported:
                        deleted_flows.setdefault(row["project_id"], Counter())[_tx_key(row)] += 1
        iati_owner: dict[str, int] = {}
        iati_ids = [r.iati_identifier.strip() for r in by_ref.values() if r.iati_identifier]
        for chunk in _chunks(iati_ids, 500):
            stmt = select(Project.iati_identifier, Project.id).where(Project.iati_identifier.in_(chunk))
            iati_owner.update({i: pid for i, pid in db.session.execute(stmt, execution_options=INCLUDE_DELETED)})
        return Stored(
            existing,
            old_flows,
            iati_owner,
            deleted=deleted,
            deleted_flows=deleted_flows,
            flows_by_id=flows_by_id,
            deleted_flow_ids=deleted_ids,
        )

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
            message = Text(N_("IATI identifier %(iati)s is already used by project %(id)s"), iati=iati, id=str(owner))
            code = "iati_identifier_taken"
        elif iati in stored.seen_iati:
            message = Text(
                N_("IATI identifier %(iati)s is also given to project %(ref)s in this file"),
                iati=iati,
                ref=repr(stored.seen_iati[iati]),
            )
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
        if any(t.flow_id for t in rec.transactions):
            return self._change_by_id(rec, candidate, current, stored, rows, before, after, changed)
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
        self._said_fields(rec.reference, before, after)
        if not same_tx:
            self._said(rec.reference, None, "flows", len(old_rows or ()), len(rows))
        return Updated(current, candidate if changed else None, before, old_rows, rows)

    # -- the round trip: rows that name the stored flow they are ----------------------------

    def _change_by_id(
        self,
        rec: ProjectRecord,
        candidate: _Candidate,
        current: _Candidate,
        stored: Stored,
        rows: list[tuple],
        before: dict,
        after: dict,
        changed: bool,
    ) -> Updated | None:
        """What a file whose rows carry flow ids (the filled template) changes in a stored project.

        A row with a flow id is that flow: unchanged, or updated in place (the fields the
        template carries; its provider, recipient and confirmation kept unless its type or
        funding source changed). A row without one adds a flow. A stored flow that no row
        names is kept, never deleted silently: a warning says so (delete it in the registry)."""
        live = stored.flows_by_id.get(current.id, {})
        added: list[tuple] = []
        updates: list[tuple[dict, tuple]] = []
        seen: set[int] = set()
        ref = rec.reference
        for t, row in zip(rec.transactions, rows, strict=True):
            if not t.flow_id:
                added.append(row)
                continue
            flow_id = _flow_id(t.flow_id)
            old = live.get(flow_id) if flow_id is not None else None
            if old is None or flow_id in seen:
                self._refuse_flow_id(rec, t, flow_id, seen, stored)
                continue
            seen.add(flow_id)
            new = _updated_flow(old, row, "tied_status" in rec.columns)
            if _carried(new) != _carried(_stored_tuple(old)):
                updates.append((old, new))
                self._said_flow(ref, old, new)
        added = self._without_deleted(rec, added, stored.deleted_flows.get(current.id))
        for row in added:
            self._said(ref, None, "flow", None, _flow_text(row, self._sources()))
        kept = [flow_id for flow_id in live if flow_id not in seen]
        if kept:
            self.counts["transactions_kept"] += len(kept)
            self.problems.append(
                _problem(
                    "warning",
                    "flow_not_in_file",
                    Text(
                        N_(
                            "Project %(ref)s: %(n)s flows of the registry are not in the file (flow ids %(ids)s); "
                            "they are kept. Delete them in the registry if they should go."
                        ),
                        ref=repr(ref),
                        n=str(len(kept)),
                        ids=", ".join(map(str, kept[:20])) + (" ..." if len(kept) > 20 else ""),
                    ),
                    rec.location,
                )
            )
        if not changed and not updates and not added:
            return None
        self._said_fields(ref, before, after)
        return Updated(current, candidate if changed else None, before, [old for old, _new in updates], added, updates)

    def _refuse_flow_id(self, rec: ProjectRecord, t: Any, flow_id: int | None, seen: set, stored: Stored) -> None:
        """A row's flow id that is not one of the project's live flows: an error (a deleted flow: a
        warning, it stays deleted), never a new flow beside the one it names."""
        if flow_id in stored.deleted_flow_ids:
            self.problems.append(
                _problem(
                    "warning",
                    "deleted_flow",
                    Text(
                        N_(
                            "Flow %(id)s of project %(ref)s was deleted in the registry: it stays deleted "
                            "(restore it to count it)"
                        ),
                        id=str(flow_id),
                        ref=repr(rec.reference),
                    ),
                    t.location,
                    t.flow_id,
                    rec.columns.get("flow_id"),
                )
            )
            return
        message = (
            N_("Flow id %(id)s is on two rows of project %(ref)s; a flow has one row")
            if flow_id in seen
            else N_(
                "Flow id %(id)s is not a flow of project %(ref)s; leave the cell empty to add a new flow, "
                "or download the projects again"
            )
        )
        self.error(
            "unknown_flow_id",
            Text(message, id=str(t.flow_id), ref=repr(rec.reference)),
            t.location,
            t.flow_id,
            rec.columns.get("flow_id"),
        )

    def _sources(self) -> dict[int, str]:
        """Funding source id -> reference, to name a flow's source in the list of changes."""
        if self._source_refs is None:
            from registry.models import FundingSource

            self._source_refs = {i: ref for i, ref in db.session.execute(select(FundingSource.id, FundingSource.ref))}
        return self._source_refs

    def _said(self, ref: str, flow: int | None, name: str, old: Any, new: Any) -> None:
        """One change the file makes (the preview lists the first MAX_CHANGES)."""
        self.changes_total += 1
        if len(self.changes) < MAX_CHANGES:
            self.changes.append({"project": ref, "flow": flow, "field": name, "old": old, "new": new})

    def _said_fields(self, ref: str, before: dict, after: dict) -> None:
        for name, value in after.items():
            if before.get(name) != value:
                self._said(ref, None, name, _value_text(before.get(name)), _value_text(value))

    def _said_flow(self, ref: str, old: dict, new: tuple) -> None:
        sources = self._sources()
        was, now = _flow_fields(_stored_tuple(old), sources), _flow_fields(new, sources)
        for name, value in now.items():
            if was[name] != value:
                self._said(ref, old["id"], name, was[name], value)


MAX_CHANGES = 1000  # changes a batch keeps to list (the count keeps them all)
# The fields of a flow the template carries: a row with a flow id sets these, the others stay.
CARRIED = ("funding_source_id", "type", "amount_minor", "currency", "value_date", "flow_type", "finance_type",
           "aid_type", "description", "tied_status")  # fmt: skip
_CARRIED_AT = tuple(TX_FIELDS.index(name) for name in CARRIED)
_KEPT_AT = tuple(TX_FIELDS.index(name) for name in ("recipient_country_iso3", "recipient_region_code", "price_basis"))
_WHO_AT = (TX_FIELDS.index("provider_org_id"), TX_FIELDS.index("confirmed"))
_SOURCE_TYPE_AT = (TX_FIELDS.index("funding_source_id"), TX_FIELDS.index("type"))


def _flow_id(text: str) -> int | None:
    """A flow id cell as the number it holds ("12", or "12.0" from a number cell), or None."""
    try:
        number = float(str(text).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() and 0 < number < 2**63 else None


def _stored_tuple(old: dict) -> tuple:
    """A stored flow in ``TX_FIELDS`` order."""
    return tuple(old[name] for name in TX_FIELDS)


def _type_text(value: Any) -> str:
    return str(value.value if hasattr(value, "value") else value)


def _carried(row: tuple) -> tuple:
    values = [row[at] for at in _CARRIED_AT]
    values[1] = _type_text(values[1])
    values[_DESCRIPTION] = values[_DESCRIPTION] or ""
    values[_TIED] = values[_TIED] or None
    return tuple(values)


_DESCRIPTION, _TIED = CARRIED.index("description"), CARRIED.index("tied_status")


def _updated_flow(old: dict, row: tuple, tied_given: bool = True) -> tuple:
    """The stored flow with the file's values of the fields the template carries (and their
    conversion to dollars); its recipient and price basis kept, and its provider and
    confirmation too unless the file changes its type or funding source. A file without a
    tied-status column (a template downloaded before it had one) keeps the flow's own."""
    new = list(row)
    stored = _stored_tuple(old)
    for at in _KEPT_AT if tied_given else (*_KEPT_AT, _TIED_AT):
        new[at] = stored[at]
    same_who = all(_type_text(new[at]) == _type_text(stored[at]) for at in _SOURCE_TYPE_AT)
    if same_who:
        for at in _WHO_AT:
            new[at] = stored[at]
    return tuple(new)


def _flow_fields(row: tuple, sources: dict[int, str]) -> dict[str, Any]:
    """A flow's carried fields as the list of changes shows them (amount with its currency)."""
    (source, tx_type, minor, currency, on, flow, finance, aid, description, tied) = (row[at] for at in _CARRIED_AT)
    return {
        "type": _type_text(tx_type),
        "amount": f"{money.from_minor(minor, currency)} {currency}",
        "value_date": on.isoformat() if on else None,
        "funding_source": sources.get(source) if source is not None else None,
        "flow_type": flow,
        "finance_type": finance,
        "aid_type": aid,
        "description": description or "",
        "tied_status": tied or None,
    }


def _flow_text(row: tuple, sources: dict[int, str]) -> str:
    """A new flow in a few words ("commitment 1000.00 USD 2024-05-01")."""
    fields = _flow_fields(row, sources)
    return " ".join(
        str(v) for v in (fields["type"], fields["amount"], fields["value_date"], fields["funding_source"]) if v
    )


def _value_text(value: Any) -> Any:
    """A snapshot's value as the list of changes shows it: lists and amounts as short text."""
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                code = item.get("country") or item.get("region") or item.get("code")
                parts.append(f"{code} {item['share']}%" if item.get("share") is not None else str(code))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(value, dict) and "amount" in value:
        return f"{value['amount']} {value.get('currency') or ''}".strip()
    return value
