"""A project as the file describes it (``_Candidate``, plain values, its ``snapshot`` equal to
``projects.snapshot`` of the stored project) and as the registry already holds it
(``_load_existing``, ``match_stored``): what tells created, changed and unchanged projects apart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import select

from importers.messages import Text
from importers.pipeline.common import _chunks
from importers.records import Location, ProjectRecord
from registry import money
from registry.extensions import db
from registry.models import Project
from registry.models.project import ProjectArea, ProjectRecipient, ProjectSector
from registry.models.types import N_, ProjectStatus
from registry.services import projects as project_service
from registry.services.shares import share_text


@dataclass
class _Candidate:
    """A project as the file describes it, validated, not (yet) an ORM object.

    Plain values keep validation of a 5,000-project file cheap; the rules and messages
    are the services' own (shares, codes, need), and ``snapshot`` matches
    ``registry.services.projects.snapshot`` so unchanged projects are recognised."""

    org_id: int
    reference: str
    title: str
    description: str = ""
    iati_identifier: str | None = None
    status: ProjectStatus = ProjectStatus.ACTIVE
    planned_start: dt.date | None = None
    planned_end: dt.date | None = None
    actual_start: dt.date | None = None
    actual_end: dt.date | None = None
    recipients: list[tuple[str | None, str | None, int]] = field(default_factory=list)
    areas: list[tuple[str, int, bool]] = field(default_factory=list)  # sorted by code
    sectors: list[tuple[str, int | None]] = field(default_factory=list)  # sorted by code
    wsis_action_lines: str = ""
    other_identifiers: str = ""  # newline-separated aliases (IATI other-identifier)
    need_minor: int | None = None
    need_currency: str | None = None
    need_usd_minor: int | None = None
    need_date: dt.date | None = None
    instrument_sought: Any = None
    contact_name: str | None = None
    contact_email: str | None = None
    default_tied_status: str | None = None  # IATI TiedStatus code
    collaboration_type: str | None = None  # IATI CollaborationType code
    funding_partners: str = ""  # "type|ref" a line (IATI participating-org role 1)
    direction_override: str | None = None  # set by hand only (see HAND_ENTERED)
    direction_reason: str | None = None
    scope: str | None = None  # registry.models.scope; None: derived from the recipients
    infrastructure: str | None = None
    id: int | None = None
    import_batch_id: int | None = None  # of a stored project (see _load_existing)
    # True: the areas were inferred from the file's purpose codes; None: the codes point at none.
    areas_inferred: bool | None = False

    # JSON-ready snapshot parts of the recipients, areas and sectors, shared by every
    # candidate with the same lists (set by _build_project; built on demand otherwise).
    _recipients_json: list | None = None
    _areas_json: list | None = None
    _recipients_src: list | None = None
    _areas_src: list | None = None

    def snapshot(self) -> dict[str, Any]:
        """The same dict ``projects.snapshot`` makes of the stored project.

        Built JSON-ready field by field (no recursive conversion): it is made once for
        every project of a file. The lists inside may be shared between candidates and
        must not be changed."""
        status, instrument = self.status, self.instrument_sought
        data: dict[str, Any] = {
            "reference": self.reference,
            "iati_identifier": self.iati_identifier,
            "title": self.title,
            "description": self.description,
            "status": status.value if isinstance(status, Enum) else status,
            "planned_start": _iso(self.planned_start),
            "planned_end": _iso(self.planned_end),
            "actual_start": _iso(self.actual_start),
            "actual_end": _iso(self.actual_end),
            "instrument_sought": instrument.value if isinstance(instrument, Enum) else instrument,
            "contact_name": self.contact_name,
            "contact_email": self.contact_email,
            "default_tied_status": self.default_tied_status,
            "collaboration_type": self.collaboration_type,
            "funding_partners": self.funding_partners,
            "direction_override": self.direction_override,
            "direction_reason": self.direction_reason,
            "scope": self.scope,
            "infrastructure": self.infrastructure,
            "org_id": self.org_id,
        }
        data["need"] = (
            {
                "amount": str(money.from_minor(self.need_minor, self.need_currency)),
                "currency": self.need_currency,
            }
            if self.need_minor is not None and self.need_currency
            else None
        )
        recipients, areas = self._recipients_json, self._areas_json
        if recipients is None or self.recipients is not self._recipients_src:
            recipients = _recipients_json(self.recipients)
        if areas is None or self.areas is not self._areas_src:
            areas = _areas_json(self.areas)
        data["recipients"] = recipients
        data["areas"] = areas
        data["sectors"] = [code for code, _ppm in self.sectors]
        data["wsis_action_lines"] = [c for c in (self.wsis_action_lines or "").split(",") if c]
        return data


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _recipients_json(recipients: list[tuple[str | None, str | None, int]]) -> list[dict]:
    return [{"country": c, "region": r, "share": share_text(ppm)} for c, r, ppm in recipients]


def _areas_json(areas: list[tuple[str, int, bool]]) -> list[dict]:
    return [{"code": code, "share": share_text(ppm), "inferred": inferred} for code, ppm, inferred in areas]


# What a project keeps as entered by hand: a file never sets it.
HAND_ENTERED = ("instrument_sought", "contact_name", "contact_email", "direction_override", "direction_reason")
# Fields a file sets on a project: its own scalar fields but those entered by hand, then the rest.
CHANGED_FIELDS = (
    *(name for name in project_service.SCALAR_FIELDS if name not in HAND_ENTERED),
    "wsis_action_lines",
    "need_minor",
    "need_currency",
    "need_usd_minor",
    "need_date",
    "other_identifiers",
)
RECORD_FIELDS = {
    "iati_identifier": ("iati_identifier",),
    "description": ("description",),
    "status": ("status",),
    "planned_start": ("planned_start",),
    "planned_end": ("planned_end",),
    "actual_start": ("actual_start",),
    "actual_end": ("actual_end",),
    "wsis_action_lines": ("wsis_action_lines",),
    "default_tied_status": ("default_tied_status",),
    "collaboration_type": ("collaboration_type",),
    "funding_partners": ("funding_partners",),
    "scope": ("scope",),
    "infrastructure": ("infrastructure",),
    "need": ("need_minor", "need_currency", "need_usd_minor", "need_date"),
}


def _keep_absent(candidate: _Candidate, current: _Candidate, rec: ProjectRecord) -> None:
    """Fields the file does not carry keep the project's current values.

    A reader lists the fields it read in ``rec.columns``; when it lists none, every field
    of the record is taken as given (IATI activities are complete descriptions)."""
    for name in HAND_ENTERED:
        setattr(candidate, name, getattr(current, name))
    for name in ("scope", "infrastructure"):
        # a file that says nothing of them (IATI has no infrastructure) keeps what was stated
        if getattr(candidate, name) is None:
            setattr(candidate, name, getattr(current, name))
    if rec.other_identifiers is None:  # the file gives no aliases: the stored ones stay
        candidate.other_identifiers = current.other_identifiers
    if not rec.columns:
        return
    present = set(rec.columns)
    for field_name, attrs in RECORD_FIELDS.items():
        if field_name not in present:
            for attr in attrs:
                setattr(candidate, attr, getattr(current, attr))
    if "recipients" not in present:
        candidate.recipients = list(current.recipients)
    if "areas" not in present and not (
        candidate.areas_inferred and all(inferred for _code, _ppm, inferred in current.areas)
    ):
        # Areas inferred from the file's purpose codes replace only areas inferred before.
        candidate.areas = list(current.areas)
    if "sectors" not in present:
        candidate.sectors = list(current.sectors)


# The stored fields of a project a file may meet again (besides id and import_batch_id).
STORED_FIELDS = tuple(dict.fromkeys((*project_service.SCALAR_FIELDS, *CHANGED_FIELDS)))


def _load_existing(org_id: int, refs: list[str]) -> dict[str, _Candidate]:
    """The organisation's stored projects with these references, as plain candidates.

    Read with Core (no ORM objects): a re-imported file meets thousands of projects, most
    of them unchanged; only the ones an import changes are loaded into the session later.
    Child rows come in the order of the model's relationships, so snapshots match
    ``projects.snapshot`` of the ORM object."""
    table = Project.__table__
    columns = [table.c.id, table.c.import_batch_id, *(table.c[name] for name in STORED_FIELDS)]
    existing: dict[str, _Candidate] = {}
    for chunk in _chunks(refs, 500):
        for row in db.session.execute(select(*columns).where(table.c.org_id == org_id, table.c.reference.in_(chunk))):
            values = row._asdict()
            current = _Candidate(org_id=org_id, **{name: values[name] for name in STORED_FIELDS})
            current.id, current.import_batch_id = values["id"], values["import_batch_id"]
            existing[current.reference] = current
    by_id = {c.id: c for c in existing.values()}
    rec_t, area_t, sector_t = ProjectRecipient.__table__, ProjectArea.__table__, ProjectSector.__table__
    for chunk in _chunks(list(by_id), 500):
        stmt = (
            select(rec_t.c.project_id, rec_t.c.country_iso3, rec_t.c.region_code, rec_t.c.share_ppm)
            .where(rec_t.c.project_id.in_(chunk))
            .order_by(rec_t.c.project_id, rec_t.c.id)
        )
        for pid, country, region, ppm in db.session.execute(stmt):
            by_id[pid].recipients.append((country, region, ppm))
        stmt = (
            select(area_t.c.project_id, area_t.c.area_code, area_t.c.share_ppm, area_t.c.inferred)
            .where(area_t.c.project_id.in_(chunk))
            .order_by(area_t.c.project_id, area_t.c.area_code)
        )
        for pid, code, ppm, inferred in db.session.execute(stmt):
            by_id[pid].areas.append((code, ppm, inferred))
        stmt = (
            select(sector_t.c.project_id, sector_t.c.code, sector_t.c.share_ppm)
            .where(sector_t.c.project_id.in_(chunk))
            .order_by(sector_t.c.project_id, sector_t.c.code)
        )
        for pid, code, ppm in db.session.execute(stmt):
            by_id[pid].sectors.append((code, ppm))
    return existing


def match_stored(org_id: int, by_ref: dict[str, ProjectRecord], error: Callable[..., None]) -> dict[str, ProjectRecord]:
    """The records keyed by the reference of the stored project each one updates.

    A record identified by its IATI identifier (IATI activities: reference = identifier)
    updates the organisation's project with that IATI identifier first, else the one with
    that reference, else the one whose reference is the activity's other-identifier of type
    A1 (the registry reference our export writes there, or an earlier import's reference)
    when no other activity of the file gives that A1 and the stored project has no other
    IATI identifier. The stored reference is kept: projects are found again, never doubled."""
    table = Project.__table__
    by_iati = {
        rec.iati_identifier.strip(): ref
        for ref, rec in by_ref.items()
        if rec.iati_identifier and ref == rec.iati_identifier.strip()[:120]
    }
    if not by_iati:
        return by_ref
    stored: dict[str, str] = {}  # key of the record -> reference of the stored project
    for chunk in _chunks(list(by_iati), 500):
        stmt = select(table.c.iati_identifier, table.c.reference).where(
            table.c.org_id == org_id, table.c.iati_identifier.in_(chunk)
        )
        stored.update((by_iati[iati], reference) for iati, reference in db.session.execute(stmt))
    direct: set[str] = set()
    for chunk in _chunks(list(by_iati.values()), 500):
        stmt = select(table.c.reference).where(table.c.org_id == org_id, table.c.reference.in_(chunk))
        direct.update(db.session.scalars(stmt))
    owners: dict[str, list[str]] = {}  # A1 identifier -> the records giving it
    for ref in by_iati.values():
        for alias in by_ref[ref].other_identifiers or ():
            kind, _, value = alias.partition(":")
            if kind == "A1" and value:
                owners.setdefault(value, []).append(ref)
    wanted = {
        value: refs[0]
        for value, refs in owners.items()
        if len(refs) == 1 and refs[0] not in stored and refs[0] not in direct and value not in by_ref
    }
    for chunk in _chunks(list(wanted), 500):
        stmt = select(table.c.reference, table.c.iati_identifier).where(
            table.c.org_id == org_id, table.c.reference.in_(chunk)
        )
        for reference, iati in db.session.execute(stmt):
            if iati is None:
                stored[wanted[reference]] = reference
    if not stored:
        return by_ref
    out: dict[str, ProjectRecord] = {}
    for ref, rec in by_ref.items():
        key = stored.get(ref, ref)
        if key in out:
            error(
                "duplicate_project",
                Text(
                    N_("Activity %(activity)s and the record at %(place)s would both update project %(ref)s"),
                    activity=rec.iati_identifier or ref,
                    place=place(out[key].location),
                    ref=repr(key),
                ),
                rec.location,
                ref,
            )
            continue
        rec.reference = key
        out[key] = rec
    return out


def place(location: Location) -> str:
    """Where a record is, in words shown in the reader's language."""
    return location.describe()
