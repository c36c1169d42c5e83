"""Reference data for the administrator: each table as it is, a reload from the shipped files
(the same load as `flask --app wsgi reference load`), and what the last reloads changed.

A reload, from the page or the command, is recorded in the audit trail (kind
``reference_data``) with the rows it added, changed and removed, so that what it did can be
read afterwards on the administrator's pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from registry.errors import NotFoundError
from registry.extensions import db
from registry.models import AuditEvent, CategoryMembership, Country, PriorityArea, RecipientCategory, Region
from registry.money import rate_files
from registry.services import audit
from registry.services.actor import Actor
from registry.services.reference import LoadCounts, data_file_rows, load_reference, sources

ENTITY = "reference_data"
MAX_ROWS_KEPT = 2000  # rows of a reload listed in its audit event (the counts are always whole)


@dataclass(frozen=True)
class Table:
    """A reference table: in the database (``model``) or read from its file by the code."""

    name: str
    label: str
    file: str
    columns: tuple[str, ...]
    model: Any = None  # None: read from the file whenever the code needs it, nothing to reload

    @property
    def in_database(self) -> bool:
        return self.model is not None


TABLES = {
    t.name: t
    for t in (
        Table("countries", "Countries and territories", "countries.csv",
              ("iso3", "iso2", "numeric", "name", "region_code", "subregion_code", "dac_recipient", "income_group"),
              Country),
        Table("regions", "UN M49 regions", "regions.csv", ("code", "name", "level", "parent_code"), Region),
        Table("recipient_categories", "Recipient categories", "recipient_categories.csv",
              ("code", "name", "description"), RecipientCategory),
        Table("category_memberships", "Category memberships (dated)", "category_memberships.csv",
              ("country_iso3", "category_code", "valid_from", "valid_to"), CategoryMembership),
        Table("priority_areas", "Paragraph 23 priority areas", "priority_areas.csv",
              ("code", "short_name", "main_list", "description"), PriorityArea),
        Table("currencies", "Currencies (ISO 4217)", "currencies.csv", ("code", "name", "minor_units")),
        Table("euro_pegs", "Currencies fixed to the euro", "euro_pegs.csv", ("code", "per_euro", "valid_from")),
        Table("income_groups", "DAC income groups", "income_groups.csv", ("code", "name")),
    )
}  # fmt: skip


@dataclass(frozen=True)
class TableSummary:
    table: Table
    rows: int
    source: str
    as_of: str


def summaries() -> list[TableSummary]:
    """Every reference table with its number of rows and the source and date of its file."""
    meta = sources()
    out = []
    for table in TABLES.values():
        if table.in_database:
            count = db.session.scalar(select(func.count()).select_from(table.model)) or 0
        else:
            count = len(data_file_rows(table.file))
        info = meta.get(table.file, {})
        out.append(TableSummary(table, count, info.get("source", ""), info.get("as_of", "")))
    return out


def get_table(name: str) -> Table:
    """The reference table of this name, or NotFoundError."""
    if name not in TABLES:
        raise NotFoundError(_("No reference table %(name)s", name=repr(name)))
    return TABLES[name]


def table_rows(table: Table, page: int = 1, per_page: int = 100) -> tuple[list[list[str]], int]:
    """One page of the table's rows (as text, in its columns' order), and how many in all."""
    start = (max(page, 1) - 1) * per_page
    if not table.in_database:
        rows = data_file_rows(table.file)
        return [[row.get(c, "") for c in table.columns] for row in rows[start : start + per_page]], len(rows)
    keys = [getattr(table.model, c) for c in table.columns if c in ("iso3", "code", "country_iso3", "category_code")]
    if table.model is CategoryMembership:
        keys.append(CategoryMembership.valid_from)
    total = db.session.scalar(select(func.count()).select_from(table.model)) or 0
    stmt = select(table.model).order_by(*keys).limit(per_page).offset(start)
    return [[_text(getattr(obj, c)) for c in table.columns] for obj in db.session.scalars(stmt)], total


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass(frozen=True)
class RateFile:
    kind: str
    label: str
    path: str
    loaded: bool  # a file loaded with `flask reference rates load`, overriding the shipped one


def rate_files_in_force() -> list[RateFile]:
    """Which exchange-rate files the conversions read now."""
    out = []
    for kind, label in (("ecb", "ECB daily reference rates"), ("imf", "IMF annual average rates")):
        path = rate_files.rate_file(kind)
        shipped = path == rate_files.shipped_file(rate_files.ECB_FILE if kind == "ecb" else rate_files.IMF_FILE)
        out.append(RateFile(kind, label, path.name, not shipped))
    return out


def reload_reference(actor: Actor) -> tuple[LoadCounts, AuditEvent]:
    """Load the shipped reference files again and record what changed in the audit trail."""
    counts = load_reference()
    rows = [
        {"table": r.table, "kind": r.kind, "key": r.key, "fields": {k: list(v) for k, v in r.fields.items()}}
        for r in counts.rows[:MAX_ROWS_KEPT]
    ]
    totals = {kind: dict(sorted(getattr(counts, kind).items())) for kind in ("created", "updated", "deleted")}
    n = len(counts.rows)
    summary = f"Reloaded the reference data: {n} row(s) changed" if n else "Reloaded the reference data: no change"
    event = audit.record(
        actor, "update", ENTITY, 0, None, {**totals, "rows": rows, "rows_total": n, "files": sources()}, summary
    )
    db.session.flush()
    return counts, event


def reloads(limit: int = 10) -> list[AuditEvent]:
    """The latest reloads, newest first."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.entity_type == ENTITY)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def get_reload(event_id: int) -> AuditEvent:
    """One reload's audit event, or NotFoundError."""
    event = db.session.get(AuditEvent, event_id)
    if event is None or event.entity_type != ENTITY:
        raise NotFoundError(_("No reference data reload %(id)s", id=event_id))
    return event
