"""The one import pipeline every reader (spreadsheet, IATI, CRS) goes through.

Stages: store the file and hash it -> read (a registered reader turns the file into
``ProjectRecord`` objects and ``Problem`` reports) -> resolve the organisation, countries,
areas, funding sources -> validate with the registry's own service validators -> write
all-or-nothing in ONE database transaction -> keep a report on the ``ImportBatch``.

Public entry points (all need an app context; they commit or roll back themselves):

``register_reader(kind, read, detect=None, extensions=())``
    Plug a reader in. ``read(path, filename, options) -> ReadResult``; ``detect(head_bytes,
    filename) -> bool`` lets ``detect_kind`` route an upload to it (API and web use this).
    ``options["_progress"]`` (when set) is the progress callback, for the reading stage.

``run_import(kind, filename, data, org, actor, records=None, problems=None, options=None,
dry_run=False, progress=None, *, org_name=None, keep_report=True, skip_invalid=False,
record_spans=False, commit=True) -> ImportBatch``
    Import a file. ``data`` is bytes or a path (it is stored under the instance folder so a
    previewed batch can be committed later). Without ``records`` the registered reader of
    ``kind`` reads it. ``org`` is an Organisation or its reference; with ``org_name`` an
    unknown reference is created. ``dry_run`` validates and counts everything exactly as a
    commit would, then rolls back: nothing of the file is written (with ``keep_report`` the
    batch row is kept with status "previewed" so it can be committed). Same file (hash),
    read with the same choices (``request_key``), already committed for that organisation
    and not changed since by a later batch: returns that batch, ``batch.already_imported``
    is True and nothing changes. ``progress(done, total, stage)`` is called as work advances.
    ``skip_invalid`` leaves out the records that have errors (``attribute`` tells which records
    an error concerns) and imports the others; ``counts["invalid_records"]`` lists them with
    their money. It is also there, as an offer, on a failed batch whose errors all concern
    records. ``commit=False`` leaves a passing run uncommitted, for a caller that commits
    several batches at once (a file of several organisations: ``importers.interop``).

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
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import gc
import hashlib
import json
import logging
import operator
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Context, Decimal, Inexact, Rounded
from enum import Enum
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, selectinload

from importers.bulk import BulkInsert
from importers.models import ImportChange
from importers.records import AreaRecord, Location, Problem, ProjectRecord, TransactionRecord
from registry import money
from registry.errors import (
    ConflictError,
    ConversionError,
    NotFoundError,
    PreconditionFailed,
    RegistryError,
    ValidationError,
)
from registry.extensions import db
from registry.models import (
    AuditEvent,
    Country,
    ImportBatch,
    Organisation,
    Project,
    Region,
    Transaction,
)
from registry.models.project import (
    SHARE_SCALE,
    SHARE_WHOLE,
    ProjectArea,
    ProjectRecipient,
    ProjectSector,
)
from registry.models.types import ProjectStatus, TransactionType, utcnow
from registry.services import areas as area_service
from registry.services import audit, funding, organisations, rules
from registry.services import projects as project_service
from registry.services.actor import Actor
from registry.services.shares import share_text

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
CHUNK_SIZE = 5000  # transactions per INSERT executemany (and per progress step)
MAX_STORED_PROBLEMS = 5000  # the batch keeps this many; the counts keep them all
# A validated transaction is a tuple of these values (see _Resolver.tx_row); the batch's
# rows get project_id, import_batch_id and created_at in front of them (TX_INSERT).
TX_FIELDS = (
    "funding_source_id",
    "provider_org_id",
    "type",
    "amount_minor",
    "currency",
    "value_date",
    "flow_type",
    "finance_type",
    "aid_type",
    "description",
    "usd_minor",
    "usd_rate",
    "usd_rate_date",
    "price_basis",
    "recipient_country_iso3",
    "recipient_region_code",
    "confirmed",  # see projects.flow_confirmed: another organisation's source waits for it
    "usd_rate_source",
)
_USD_AT = TX_FIELDS.index("usd_minor")
_TYPE_AT, _AMOUNT_AT = TX_FIELDS.index("type"), TX_FIELDS.index("amount_minor")
_CURRENCY_AT, _VALUE_DATE_AT = TX_FIELDS.index("currency"), TX_FIELDS.index("value_date")
TX_INSERT = ("project_id", "import_batch_id", "created_at", *TX_FIELDS)
# Every column of a stored transaction (read back for the undo log of replaced ones).
TX_COLUMNS = ("id", "project_id", *TX_FIELDS, "import_batch_id", "created_at")


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
    """Keep a copy of the file named by its hash; returns (path, sha256)."""
    sha = file_hash(data)
    suffix = Path(filename).suffix.lower()[:10]
    target = storage_dir() / f"{sha}{suffix}"
    if not target.exists():
        tmp = target.with_suffix(target.suffix + ".part")
        if isinstance(data, bytes | bytearray):
            tmp.write_bytes(data)
        else:
            shutil.copyfile(data, tmp)
        tmp.replace(target)
    return target, sha


# -- the context of one run ----------------------------------------------------


def _problem(
    severity: str,
    code: str,
    message: str,
    location: Location | None,
    value: Any = None,
    column: str | None = None,
) -> Problem:
    loc = Location(**vars(location)) if location is not None else Location()
    if column:
        loc.column = column
    return Problem(severity, message, loc, None if value is None else str(value), code)


_MISSING = object()
# The record fields (``ProjectRecord.columns``) that carry money: a file with none of them
# says nothing about a project's flows.
_FLOW_FIELDS = frozenset({"amount", "commitment", "disbursement", "expenditure", "pledge", "incoming_funds"})


class _Resolver:
    """Look-ups done once per distinct value (funding sources, organisations, rates)."""

    def __init__(self, org_id: int, actor: Actor | None = None) -> None:
        self.org_id = org_id  # the importing organisation, whose projects these are
        self.actor = actor
        self._confirmed: dict[int | None, bool] = {None: True}  # funding source id -> flows confirmed
        self.sources: dict[str, int | None] = {}
        self.managers: dict[int, int] = {}  # funding source id -> its managing organisation
        self._providers: dict[tuple, int | None] = {}  # (type, source id) -> implied provider
        self.orgs: dict[str, int | None] = {}
        # (currency, day) -> its rate to USD, or why there is none (the flow is kept unconverted)
        self.rates: dict[tuple[str, dt.date], money.Quote | str] = {}
        self.max_age = project_service._max_rate_age()
        # Caches of the fast path (tx_row), filled by the full path (_tx_values) as it validates.
        self._types: dict[Any, TransactionType] = {}
        self._currencies: dict[Any, tuple[str, int, int]] = {}  # code, decimals, limit in minor units
        # (currency, day) -> (ratio of money.minor_ratio to USD, the rate as text, the rate's day, its
        # source), all None when the flow cannot be converted
        self._usd_rates: dict[tuple[str, dt.date], tuple] = {}
        self._places: tuple[set[str], set[str]] | None = None  # known countries, regions

    def places(self) -> tuple[set[str], set[str]]:
        """The countries (ISO3) and regions (M49) a flow's own recipient may name."""
        if self._places is None:
            self._places = (set(db.session.scalars(select(Country.iso3))), set(db.session.scalars(select(Region.code))))
        return self._places

    def source(self, text: str) -> int | None:
        if text not in self.sources:
            found = funding.find_funding_source(text)
            self.sources[text] = found.id if found else None
            if found:
                self.managers[found.id] = found.managing_org_id
        return self.sources[text]

    def confirmed(self, source_id: int | None) -> bool:
        """Whether the run's flows from this source stand confirmed (projects.flow_confirmed)."""
        found = self._confirmed.get(source_id)
        if found is None:
            manager = self.managers[source_id]  # type: ignore[index]
            actor = self.actor or Actor(label="import", channel="import")  # vouches for no one
            found = self._confirmed[source_id] = project_service.flow_confirmed(actor, manager, self.org_id)
        return found

    def provider(self, tx_type: TransactionType, source_id: int | None) -> int | None:
        """The provider of a flow that names none (see projects.implied_provider), once per kind."""
        key = (tx_type, source_id)
        if key not in self._providers:
            manager = self.managers[source_id] if source_id is not None else None
            confirmed = self.confirmed(source_id)
            self._providers[key] = project_service.implied_provider(tx_type, manager, self.org_id, confirmed)
        return self._providers[key]

    def org(self, text: str) -> int | None:
        if text not in self.orgs:
            found = organisations.find_organisation(text)
            self.orgs[text] = found.id if found else None
        return self.orgs[text]

    def usd(self, amount: Decimal, currency: str, on: dt.date) -> money.Conversion | None:
        """Same result as registry.money.convert, with the rate looked up once per day; None when
        no source can convert it (``unconverted`` says why)."""
        if currency == "USD":
            return money.Conversion(money.quantize(amount, "USD"), "USD", Decimal(1), on, money.IDENTITY)
        key = (currency, on)
        if key not in self.rates:
            try:
                self.rates[key] = money.quote(currency, "USD", on, self.max_age)
            except ConversionError as exc:
                self.rates[key] = exc.message
        found = self.rates[key]
        if isinstance(found, str):
            return None
        value = _WIDE.multiply(amount, found.rate)  # the precision registry.money.convert uses
        return money.Conversion(money.quantize(value, "USD"), "USD", found.rate, found.rate_date, found.source)

    def unconverted(self, currency: str, on: dt.date) -> str:
        """Why a flow in ``currency`` dated ``on`` was kept unconverted."""
        return str(self.rates.get((currency, on), ""))

    def tx_row(self, t: TransactionRecord) -> tuple:
        """The transaction's column values (in ``TX_FIELDS`` order), validated as add_transaction does.

        Types, currencies, rates, funding sources and organisations are looked up once per
        distinct value; anything unusual (an unknown code, an amount that is not a Decimal,
        a missing rate) takes the full path of ``_tx_values``, which raises its errors."""
        try:
            if t.price_basis is not None:  # constant prices: not converted (the full path)
                raise LookupError
            tx_type = self._types[t.type]
            currency, places, limit = self._currencies[t.currency]
            amount, on = t.amount, t.value_date
            if type(amount) is not Decimal or on is None:
                raise LookupError
            # Exact minor units, as money.to_minor gives them (NaN and infinities raise here);
            # more decimals than the currency has, or too large an amount, take the full path.
            if amount.adjusted() > 16:  # 10**17 and more (the limit is 10**14): no int() of a huge one
                raise LookupError
            scaled = amount.scaleb(places, _EXACT)  # never rounded: a 29th digit must count
            amount_minor = int(scaled)
            if amount_minor != scaled or not -limit < amount_minor < limit:
                raise LookupError
            if currency == "USD":
                usd_minor, rate_text, rate_day, rate_source = amount_minor, "1", on, money.IDENTITY
            else:
                ratio, rate_text, rate_day, rate_source = self._usd_rates[(currency, on)]
                usd_minor = money.convert_minor(amount_minor, ratio) if ratio is not None else None
            source_id = provider_id = None
            if t.funding_source:
                source_id = self.sources[t.funding_source]
                if source_id is None:
                    raise LookupError
            if t.provider_org:
                provider_id = self.orgs[t.provider_org]
                if provider_id is None:
                    raise LookupError
            elif not t.provider_unknown:
                provider_id = self._providers.get((tx_type, source_id), _MISSING)
                if provider_id is _MISSING:
                    provider_id = self.provider(tx_type, source_id)
            country, region = t.recipient_country, t.recipient_region
            if country or region:
                countries, regions = self.places()
                if (country and country not in countries) or (region and region not in regions) or (country and region):
                    raise LookupError
            confirmed = self._confirmed.get(source_id)
            if confirmed is None:
                confirmed = self.confirmed(source_id)
        except (LookupError, TypeError, ValueError, ArithmeticError):  # ArithmeticError: sNaN, overflow
            values = _tx_values(t, self)  # raises the service's error for a bad value
            self._learn(t, values)
            return tuple(values[name] for name in TX_FIELDS)
        return (
            source_id,
            provider_id,
            tx_type,
            amount_minor,
            currency,
            on,
            t.flow_type or None,
            t.finance_type or None,
            t.aid_type or None,
            (t.description or "")[:1000],
            usd_minor,
            rate_text,
            rate_day,
            None,
            country or None,
            region or None,
            confirmed,
            rate_source,
        )

    def _learn(self, t: TransactionRecord, values: dict[str, Any]) -> None:
        """Remember what the full path validated, so the next rows like it take the fast one."""
        currency = values["currency"]
        self._types[t.type] = values["type"]
        places = money.minor_units(currency)
        self._currencies[t.currency] = (currency, places, int(money.MAX_AMOUNT.scaleb(places)))
        if currency != "USD":
            found = self.rates[(currency, t.value_date)]
            if isinstance(found, str):
                self._usd_rates[(currency, t.value_date)] = (None, None, None, None)
            else:
                ratio = money.minor_ratio(found.rate, currency, "USD")
                self._usd_rates[(currency, t.value_date)] = (ratio, values["usd_rate"], found.rate_date, found.source)


_WIDE = Context(prec=40)
_EXACT = Context(prec=60, traps=[Inexact, Rounded])


def _derived_shares(weights: list[Decimal]) -> list[Decimal]:
    """Percent shares proportional to weights, in whole ppm, summing to exactly 100."""
    total = sum(weights)
    raw = [w * SHARE_WHOLE / total for w in weights]
    ppm = [int(r) for r in raw]
    # Largest remainder: hand out the missing ppm to the biggest fractional parts.
    order = sorted(range(len(raw)), key=lambda i: raw[i] - ppm[i], reverse=True)
    for i in order[: SHARE_WHOLE - sum(ppm)]:
        ppm[i] += 1
    return [Decimal(p) / SHARE_SCALE for p in ppm]


def _recipient_items(rec: ProjectRecord) -> list[dict]:
    items = [{"country": r.country, "region": r.region, "share": r.share} for r in rec.recipients]
    if items and all(r.share is None for r in rec.recipients):
        weights = [r.weight for r in rec.recipients]
        if len(items) > 1 and all(w is not None and w > 0 for w in weights):
            for item, share in zip(items, _derived_shares(weights), strict=True):  # type: ignore[arg-type]
                item["share"] = share
    return items


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


class _Reference:
    """Codes the registry knows, and the area mapping, read once per run."""

    def __init__(self) -> None:
        self.codes = rules.known_codes()
        self.area_rules = area_service.area_rules()
        # Validated lists by the record's raw values: most projects of a file share them.
        self.recipient_lists: dict[tuple, tuple[list, list]] = {}
        self.area_lists: dict[tuple, tuple[list, list]] = {}
        self.sector_lists: dict[tuple, list] = {}
        self.action_lines: dict[tuple, str] = {}


class _Invalid(ValidationError):
    """Every rule a project breaks, each as the ValidationError its check raised."""

    def __init__(self, errors: list[RegistryError]):
        super().__init__("; ".join(e.message for e in errors))
        self.each = errors


def _recipients(rec: ProjectRecord, ref: _Reference) -> list[tuple[str | None, str | None, int]]:
    """Recipients with shares in ppm (shares derived from weights when none is given)."""
    items = [(item["country"], item["region"], item["share"]) for item in _recipient_items(rec)]
    complete = "recipients" not in rec.incomplete and "recipients" not in rec.relative
    return rules.recipients(items, ref.codes, complete)


def _areas(rec: ProjectRecord, given: list[AreaRecord], ref: _Reference) -> list[tuple[str, int, bool]]:
    """Priority areas with shares in ppm, sorted by code."""
    items = [(a.code, a.share, a.inferred) for a in given]
    return rules.areas(items, ref.codes, "areas" not in rec.incomplete)


def _inferred_areas(rec: ProjectRecord, ref: _Reference) -> list[AreaRecord]:
    """The areas the registry infers from the record's purpose codes when it gives none."""
    found = area_service.areas_from_sectors(rec.sectors, rec.title, rec.description, ref.area_rules)
    return [AreaRecord(code=code, share=share, inferred=True) for code, share in found]


def _build_project(rec: ProjectRecord, org_id: int, ref: _Reference) -> _Candidate:
    """The record's project, checked with the registry's rules (registry.services.rules); raises
    _Invalid with every rule it breaks (its title, its recipients and its need are all checked)."""
    p = _Candidate(org_id=org_id, reference=(rec.reference or "").strip(), title=(rec.title or "").strip())
    p.description = rec.description or ""
    p.iati_identifier = (rec.iati_identifier or "").strip() or None
    p.other_identifiers = "\n".join(rec.other_identifiers or ())
    p.planned_start, p.planned_end = rec.planned_start, rec.planned_end
    p.actual_start, p.actual_end = rec.actual_start, rec.actual_end
    failed: list[RegistryError] = []
    try:
        p.status = rules.project_fields(
            rec.reference,
            rec.title,
            rec.status,
            {name: getattr(p, name) for name in project_service.DATE_FIELDS},
        )
    except ValidationError as exc:
        failed.append(exc)  # the project is refused: its status no longer matters
    # Only successes are remembered: a bad list is validated (and reported) every time.
    key: tuple = tuple((r.country, r.region, r.share) for r in rec.recipients)
    if len(key) > 1 and all(r.share is None for r in rec.recipients):
        key += tuple(r.weight for r in rec.recipients)  # the weights make the shares
    if "recipients" in rec.incomplete or "recipients" in rec.relative:
        key += ("incomplete",)
    found = _remembered(ref.recipient_lists, key, failed, lambda: _with_json(_recipients(rec, ref), _recipients_json))
    if found is not _MISSING:
        p.recipients, p._recipients_json = found
        p._recipients_src = p.recipients
    given = rec.areas
    if not given and rec.sectors and "areas" not in rec.incomplete:
        # Purpose codes and no area: the areas the registry infers (as for IATI and CRS).
        given = _inferred_areas(rec, ref)
        p.areas_inferred = True if given else None
    key = tuple((a.code, a.share, a.inferred) for a in given)
    if "areas" in rec.incomplete:
        key += ("incomplete",)
    found = _remembered(ref.area_lists, key, failed, lambda: _with_json(_areas(rec, given, ref), _areas_json))
    if found is not _MISSING:
        p.areas, p._areas_json = found
        p._areas_src = p.areas
    found = _remembered(ref.sector_lists, tuple(rec.sectors), failed, lambda: rules.sectors(rec.sectors))
    if found is not _MISSING:
        p.sectors = found
    lines = tuple(rec.wsis_action_lines)
    found = _remembered(ref.action_lines, lines, failed, lambda: rules.action_lines(lines))
    if found is not _MISSING:
        p.wsis_action_lines = found
    if rec.need_amount is not None:
        try:
            # The service's own need rule (decimals, sign, conversion at the start date).
            project_service._set_need(
                p, {"amount": rec.need_amount, "currency": rec.need_currency or ""}, keep_unconverted=True
            )
        except ValidationError as exc:
            failed.append(ValidationError(exc.message, exc.errors or {"need": [exc.message]}))
    if failed:
        raise _Invalid(failed)
    return p


# Fields a file sets on a project (instrument sought and contact stay as entered by hand).
CHANGED_FIELDS = (
    "reference",
    "iati_identifier",
    "title",
    "description",
    "status",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
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
    "need": ("need_minor", "need_currency", "need_usd_minor", "need_date"),
}


def _keep_absent(candidate: _Candidate, current: _Candidate, rec: ProjectRecord) -> None:
    """Fields the file does not carry keep the project's current values.

    A reader lists the fields it read in ``rec.columns``; when it lists none, every field
    of the record is taken as given (IATI activities are complete descriptions)."""
    for name in ("instrument_sought", "contact_name", "contact_email"):
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


def _remembered(cache: dict, key: Any, failed: list, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per key of ``cache``. A RegistryError goes to ``failed`` and is not
    remembered (a bad list is validated, and reported, every time); _MISSING is returned then."""
    found = cache.get(key, _MISSING)
    if found is _MISSING:
        try:
            found = cache[key] = compute()
        except RegistryError as exc:
            failed.append(exc)
    return found


def _with_json(values: list, to_json: Callable[[list], Any]) -> tuple[list, Any]:
    return values, to_json(values)


def _tx_values(t: TransactionRecord, resolver: _Resolver) -> dict[str, Any]:
    """Column values of a transaction, validated as add_transaction validates them.

    Every bad value is reported, not only the first: the ValidationError raised maps each
    field to its message (and its message joins them)."""
    found: dict[str, str] = {}
    # The registry's own rules and messages (registry.services.rules) for type, currency, amount.
    tx_type = currency = None
    try:
        tx_type = rules.transaction_type(t.type)
    except ValidationError as exc:
        found["type"] = exc.message
    try:
        currency = rules.currency(t.currency)
    except ValidationError as exc:
        found["currency"] = exc.message
    if t.value_date is None:
        found["value_date"] = "The value date is missing"
    amount = conversion = None
    constant = t.price_basis is not None
    if constant and (t.price_basis != "constant" or currency != "USD"):
        found["price_basis"] = (
            f"A flow in constant prices is in constant USD (price basis {t.price_basis!r}, {currency})"
        )
    if currency is not None:
        try:
            amount = rules.amount(t.amount, currency)
            if t.value_date is not None and not constant:
                conversion = resolver.usd(amount, currency, t.value_date)
        except RegistryError as exc:
            found.setdefault(next(iter(exc.errors), "amount") if exc.errors else "amount", exc.message)
    source_id = provider_id = None
    if t.funding_source:
        source_id = resolver.source(t.funding_source)
        if source_id is None:
            found["funding_source"] = f"Unknown funding source {t.funding_source!r} (give its reference or exact name)"
    if t.provider_org:
        provider_id = resolver.org(t.provider_org)
        if provider_id is None:
            found["provider_org"] = (
                f"Unknown organisation {t.provider_org!r} (give its reference, IATI identifier or exact name)"
            )
    elif not t.provider_unknown and tx_type is not None:
        provider_id = resolver.provider(tx_type, source_id)
    country, region = t.recipient_country or None, t.recipient_region or None
    countries, regions = resolver.places() if country or region else ((), ())
    if country and region:
        found["recipient"] = "A flow has one recipient: a country or a region, not both"
    elif country and country not in countries:
        found["recipient"] = f"Unknown recipient country {country!r}"
    elif region and region not in regions:
        found["recipient"] = f"Unknown recipient M49 region {region!r}"
    if found:
        raise ValidationError("; ".join(found.values()), {name: [message] for name, message in found.items()})
    assert amount is not None and t.value_date is not None
    return {
        "funding_source_id": source_id,
        "provider_org_id": provider_id,
        "type": tx_type,
        "amount_minor": money.to_minor(amount, currency),
        "currency": currency,
        "value_date": t.value_date,
        "flow_type": t.flow_type or None,
        "finance_type": t.finance_type or None,
        "aid_type": t.aid_type or None,
        "description": (t.description or "")[:1000],
        # A constant-price amount has no USD value at its date, and a flow no source can convert
        # is kept in its own currency (the run warns about it): no current-price total counts either.
        "usd_minor": money.to_minor(conversion.amount, "USD") if conversion else None,
        "usd_rate": str(conversion.rate) if conversion else None,
        "usd_rate_date": conversion.rate_date if conversion else None,
        "price_basis": t.price_basis,
        "recipient_country_iso3": country,
        "recipient_region_code": region,
        "confirmed": resolver.confirmed(source_id),
        "usd_rate_source": conversion.source if conversion else None,
    }


def _tx_key(row: dict[str, Any]) -> tuple:
    """What makes two transactions the same for 'unchanged' detection (a stored row)."""
    return (
        str(row["type"].value if hasattr(row["type"], "value") else row["type"]),
        row["amount_minor"],
        row["currency"],
        row["value_date"],
        row["funding_source_id"],
        row["provider_org_id"],
        row["flow_type"],
        row["finance_type"],
        row["aid_type"],
        row["description"] or "",
        row["recipient_country_iso3"],
        row["recipient_region_code"],
    )


_RECIPIENT_AT = (TX_FIELDS.index("recipient_country_iso3"), TX_FIELDS.index("recipient_region_code"))


def _new_tx_key(row: tuple) -> tuple:
    """``_tx_key`` of a validated transaction tuple (TX_FIELDS order)."""
    source, provider, tx_type, amount, currency, on, flow, finance, aid, description = row[:10]
    tx_type = str(tx_type.value if hasattr(tx_type, "value") else tx_type)
    country, region = row[_RECIPIENT_AT[0]], row[_RECIPIENT_AT[1]]
    return (tx_type, amount, currency, on, source, provider, flow, finance, aid, description or "", country, region)


_SOURCE_AT, _PROVIDER_AT = TX_FIELDS.index("funding_source_id"), TX_FIELDS.index("provider_org_id")
_CONFIRMED_AT = TX_FIELDS.index("confirmed")


def _keep_confirmations(old_rows: list[dict[str, Any]], rows: list[tuple], resolver: _Resolver) -> list[tuple]:
    """The file's flows, those its organisation's source confirmed kept confirmed.

    A flow on another organisation's funding source comes unconfirmed from a file; when the
    stored flow it replaces is that same flow (every field but the provider the confirmation
    set) and was confirmed, what the source's organisation confirmed is still what is
    recorded: it stays confirmed, with that provider (as projects.flow_confirmed asks again
    only after a change). Otherwise a re-import would hand the flow back to the donor."""
    pool: dict[tuple, list[int | None]] = {}
    for old in old_rows:
        if old.get("confirmed") and old["funding_source_id"] is not None:
            key = list(_tx_key(old))
            key[5] = None  # the provider
            pool.setdefault(tuple(key), []).append(old["provider_org_id"])
    if not pool:
        return rows
    out = []
    for row in rows:
        source = row[_SOURCE_AT]
        if not row[_CONFIRMED_AT] and source is not None:
            key = list(_new_tx_key(row))
            key[5] = None
            providers = pool.get(tuple(key))
            if providers:
                tx_type = rules.transaction_type(row[_TYPE_AT])
                manager = resolver.managers.get(source)
                implied = resolver.provider(tx_type, source)  # the file's flow: unconfirmed
                confirmed_provider = project_service.implied_provider(tx_type, manager, resolver.org_id, True)
                for n, old_provider in enumerate(providers):
                    if old_provider == row[_PROVIDER_AT] or (
                        row[_PROVIDER_AT] == implied and old_provider == confirmed_provider
                    ):
                        providers.pop(n)
                        changed = list(row)
                        changed[_PROVIDER_AT], changed[_CONFIRMED_AT] = old_provider, True
                        row = tuple(changed)
                        break
        out.append(row)
    return out


def _jsonable_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored transaction row as JSON values (audit._jsonable only where a value needs it)."""
    plain = (int, str, type(None))
    return {k: v if type(v) in plain else audit._jsonable(v) for k, v in row.items()}


def _restore_row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("value_date", "usd_rate_date"):
        if out.get(key):
            out[key] = dt.date.fromisoformat(out[key])
    if out.get("created_at"):
        out["created_at"] = dt.datetime.fromisoformat(out["created_at"])
    out["type"] = TransactionType(out["type"])
    return out


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- the run -------------------------------------------------------------------


class _Run:
    """One pass of records through validation and (unless rolled back) the database."""

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

    def _warn_other_sheets(self, updated: list) -> None:
        """One warning when this file replaces flows that another sheet of a workbook brought.

        A donor with one sheet per year who imports the sheets one at a time would otherwise
        lose each earlier year's flows silently (the file is the truth for its projects)."""
        sheet = (self.batch.options or {}).get("sheet")
        if not sheet:
            return  # all the sheets of the file are read: nothing of a sheet is lost
        old_batches = {row["import_batch_id"] for u in updated for row in (u[3] or ())}
        if not old_batches:
            return
        lost: dict[int, str | None] = {}  # batch id -> the sheet it read
        for batch_id, file_hash, options in db.session.execute(
            select(ImportBatch.id, ImportBatch.file_hash, ImportBatch.options).where(ImportBatch.id.in_(old_batches))
        ):
            other = (options or {}).get("sheet")
            if sheet and other != sheet and (file_hash == self.batch.file_hash or other):
                lost[batch_id] = other
        if not lost:
            return
        projects = flows = 0
        for _project, _candidate, _before, old_rows, _rows in updated:
            hits = sum(1 for r in old_rows or () if r["import_batch_id"] in lost)
            projects += bool(hits)
            flows += hits
        sources = ", ".join(
            f"import {b} ({'sheet ' + repr(name) if name else 'all sheets'})" for b, name in sorted(lost.items())
        )
        self.problems.append(
            _problem(
                "warning",
                "other_sheet_replaced",
                f"This import replaces {flows} flows of {projects} projects that {sources} brought: a file "
                "is the whole truth for its projects. If the sheets of a workbook hold different years or "
                "flows of the same projects, import them together (all sheets), not one at a time.",
                Location(file=self.batch.filename, sheet=sheet),
            )
        )

    def _warn_unconverted(self, t: TransactionRecord, row: tuple, rec: ProjectRecord) -> None:
        """A flow kept in its own currency because no rate source converts it: say which, how much, why."""
        currency, on = row[_CURRENCY_AT], row[_VALUE_DATE_AT]
        amount = money.format_amount(money.from_minor(row[_AMOUNT_AT], currency), currency)
        self.problems.append(
            _problem(
                "warning",
                "unconverted_amount",
                f"The {row[_TYPE_AT].value.replace('_', ' ')} of {amount} dated {on.isoformat()} of project "
                f"{rec.reference!r} is kept in {currency} without a US dollar value, and left out of the "
                f"reports' figures (their notes list it): {self.resolver.unconverted(currency, on)}",
                t.location,
                t.amount,
                t.location.column,
            )
        )

    def _warn_unconverted_need(self, project: _Candidate, rec: ProjectRecord) -> None:
        """A need kept in its own currency because no rate converts it at its date."""
        need = money.format_amount(money.from_minor(project.need_minor, project.need_currency), project.need_currency)
        on = project.need_date.isoformat() if project.need_date else "its date"
        self.problems.append(
            _problem(
                "warning",
                "unconverted_need",
                f"The need of {need} of project {rec.reference!r} is kept in {project.need_currency} without a "
                f"US dollar value (no exchange rate on {on}), and left out of the reports' needs and gaps "
                "(their notes list it)",
                rec.location,
                str(rec.need_amount),
                rec.columns.get("need_amount"),
            )
        )

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

    def _same_prices(self):
        """The stored flows a re-import replaces: those of its own price basis only, so that importing
        a CRS file at constant prices never removes the current-price flows (nor the reverse)."""
        if (self.batch.options or {}).get("prices") == "constant":
            return Transaction.price_basis == "constant"
        return Transaction.price_basis.is_(None)

    def execute(self, records: Iterable[ProjectRecord]) -> None:
        records = list(records)
        total = len(records)
        org = self.org
        # Projects of the file, by reference; duplicates are an error (one project, one record).
        by_ref: dict[str, ProjectRecord] = {}
        for rec in records:
            if rec.org and self.resolver.org(rec.org) not in (org.id,):
                other = self.resolver.org(rec.org)
                if other is None:
                    self.error("unknown_org", f"Unknown organisation {rec.org!r}", rec.location, rec.org)
                    continue
                if self.actor.role != "admin":
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
        by_ref = self._match_stored(by_ref)
        existing = _load_existing(org.id, [r for r in by_ref if r])
        # Transactions earlier imports brought for those projects: the file replaces them.
        old_tx: dict[int, list[dict]] = {}
        cols = [Transaction.__table__.c[name] for name in TX_COLUMNS]
        ids = [p.id for p in existing.values()]
        for chunk in _chunks(ids, 500):
            stmt = select(*cols).where(
                Transaction.project_id.in_(chunk), Transaction.import_batch_id.is_not(None), self._same_prices()
            )
            for row in db.session.execute(stmt).mappings():
                old_tx.setdefault(row["project_id"], []).append(dict(row))
        # IATI identifiers must stay unique across the registry.
        iati_owner: dict[str, int] = {}
        iati_ids = [r.iati_identifier.strip() for r in by_ref.values() if r.iati_identifier]
        for chunk in _chunks(iati_ids, 500):
            stmt = select(Project.iati_identifier, Project.id).where(Project.iati_identifier.in_(chunk))
            iati_owner.update({i: pid for i, pid in db.session.execute(stmt)})
        seen_iati: dict[str, str] = {}

        created: list[tuple[_Candidate, list[tuple]]] = []
        updated: list[tuple[_Candidate, _Candidate | None, dict, list[dict], list[tuple]]] = []
        for done, (ref, rec) in enumerate(by_ref.items(), 1):
            if done % 200 == 0:
                self.progress(done, total, "validating")
            # Every problem of the project is reported: its own, then its transactions'.
            bad = False
            try:
                candidate = _build_project(rec, org.id, self.reference)
            except RegistryError as exc:
                for each in exc.each if isinstance(exc, _Invalid) else [exc]:
                    self._validation_problems(each, rec.columns, rec.location)
                candidate, bad = None, True
            if candidate is not None and candidate.areas_inferred is None and rec.columns:
                # Purpose codes that point at no area (99810). Readers of whole activities (IATI,
                # CRS, which list no columns) infer, and say so, themselves.
                self.problems.append(
                    _problem(
                        "warning",
                        "no_area",
                        f"No paragraph 23 area could be inferred from the purpose codes {', '.join(rec.sectors)}: "
                        "set one by hand, or give the areas in a Priority area column",
                        rec.location,
                        ", ".join(rec.sectors),
                        rec.columns.get("sectors"),
                    )
                )
            if candidate is not None and candidate.need_minor is not None and candidate.need_usd_minor is None:
                self._warn_unconverted_need(candidate, rec)
            iati = candidate.iati_identifier if candidate is not None else None
            current = existing.get(ref)
            if iati:
                owner = iati_owner.get(iati)
                if owner is not None and (current is None or owner != current.id):
                    self.error(
                        "iati_identifier_taken",
                        f"IATI identifier {iati} is already used by project {owner}",
                        rec.location,
                        iati,
                        rec.columns.get("iati_identifier"),
                    )
                    bad = True
                elif iati in seen_iati:
                    self.error(
                        "duplicate_iati_identifier",
                        f"IATI identifier {iati} is also given to project {seen_iati[iati]!r} in this file",
                        rec.location,
                        iati,
                        rec.columns.get("iati_identifier"),
                    )
                    bad = True
                else:
                    seen_iati[iati] = ref
            rows = []
            tx_row = self.resolver.tx_row
            for t in rec.transactions:
                try:
                    rows.append(tx_row(t))
                    if rows[-1][_USD_AT] is None:
                        self._warn_unconverted(t, rows[-1], rec)
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
            if bad or candidate is None:
                continue
            if current is None:
                created.append((candidate, rows))
                continue
            _keep_absent(candidate, current, rec)
            before = current.snapshot()
            after = candidate.snapshot()
            changed = before != after or candidate.other_identifiers != (current.other_identifiers or "")
            if rec.columns and not rec.transactions and not set(rec.columns) & _FLOW_FIELDS:
                # The file carries no amounts at all (a list of projects): their flows stay.
                old_rows, same_tx = None, True
            else:
                old_rows = old_tx.get(current.id, [])
                rows = _keep_confirmations(old_rows, rows, self.resolver)
                same_tx = sorted(map(_tx_key, old_rows)) == sorted(map(_new_tx_key, rows))
            if not changed and same_tx:
                self.counts["projects_unchanged"] += 1
                continue
            updated.append((current, candidate if changed else None, before, old_rows, rows))
        self.progress(total, total, "validating")
        self._warn_other_sheets(updated)
        if any(p.severity == "error" for p in self.problems):
            return  # nothing is written; the caller rolls back
        self._write(created, updated)

    def _match_stored(self, by_ref: dict[str, ProjectRecord]) -> dict[str, ProjectRecord]:
        """The records keyed by the reference of the stored project each one updates.

        A record identified by its IATI identifier (IATI activities: reference = identifier)
        updates the organisation's project with that IATI identifier first, else the one with
        that reference, else the one whose reference is the activity's other-identifier of type
        A1 (the registry reference our export writes there, or an earlier import's reference)
        when no other activity of the file gives that A1 and the stored project has no other
        IATI identifier. The stored reference is kept: projects are found again, never doubled."""
        table, org_id = Project.__table__, self.org.id
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
                self.error(
                    "duplicate_project",
                    f"Activity {rec.iati_identifier or ref} and the record at {out[key].location.describe()} "
                    f"would both update project {key!r}",
                    rec.location,
                    ref,
                )
                continue
            rec.reference = key
            out[key] = rec
        return out

    def _insert_created(self, created: list[tuple[_Candidate, list[tuple]]]) -> list[int]:
        """New projects and their recipients, areas and sectors, by cursor executemany.

        The candidates were validated by the services' builders; inserting their values
        set-wise is what keeps a file of thousands of projects fast. The new ids are read
        back by (organisation, reference), which is unique. Returns them in order."""
        if not created:
            return []
        connection = db.session.connection()
        now, batch_id = utcnow(), self.batch.id
        table = Project.__table__
        fixed = {
            "import_batch_id": batch_id,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "demo": False,
        }
        # The candidate's values, then the batch's (columns a candidate lacks are NULL).
        names = [c.name for c in table.columns if c.name != "id" and c.name not in fixed]
        variable = [n for n in names if n in _Candidate.__dataclass_fields__]
        constant = tuple(fixed.values()) + (None,) * (len(names) - len(variable))
        columns = [*variable, *fixed, *(n for n in names if n not in variable)]
        values_of = operator.attrgetter(*variable)
        rows = []
        for project, _tx in created:
            project.description = project.description or ""
            project.wsis_action_lines = project.wsis_action_lines or ""
            rows.append(values_of(project) + constant)
        BulkInsert(connection, table, columns).execute(rows, self.chunk_size)
        org_id = self.org.id
        ids_by_ref: dict[str, int] = {}
        refs = [project.reference for project, _tx in created]
        for chunk in _chunks(refs, 500):
            stmt = select(table.c.reference, table.c.id).where(table.c.org_id == org_id, table.c.reference.in_(chunk))
            ids_by_ref.update((ref, pid) for ref, pid in db.session.execute(stmt))
        ids = [ids_by_ref[ref] for ref in refs]
        recipients, areas, sectors = [], [], []
        for (project, _tx), pid in zip(created, ids, strict=True):
            project.id = pid  # transient: only for snapshots and the audit trail
            recipients += [(pid, c, r, ppm) for c, r, ppm in project.recipients]
            areas += [(pid, code, ppm, inferred) for code, ppm, inferred in project.areas]
            sectors += [(pid, code, ppm) for code, ppm in project.sectors]
        for model, names, values in (
            (ProjectRecipient, ("project_id", "country_iso3", "region_code", "share_ppm"), recipients),
            (ProjectArea, ("project_id", "area_code", "share_ppm", "inferred"), areas),
            (ProjectSector, ("project_id", "code", "share_ppm"), sectors),
        ):
            if values:
                BulkInsert(connection, model.__table__, names).execute(values, self.chunk_size)
        return ids

    def _write(self, created: list, updated: list) -> None:
        batch_id = self.batch.id
        previous = {p.id: p.import_batch_id for p, *_ in updated}
        updated = self._orm_projects(updated)
        aliases = {p.id: p.other_identifiers for p, *_ in updated}  # for the undo log
        changed = [(p, c) for p, c, *_ in updated if c is not None]
        if updated:
            # Updated projects go through the ORM (version counter, child collections).
            with db.session.no_autoflush:
                for project, candidate in changed:
                    for name in CHANGED_FIELDS:
                        setattr(project, name, getattr(candidate, name))
                    # Old rows go first: the unit of work would insert the new ones before
                    # deleting the old and trip the (project, country) unique constraint.
                    project.recipients, project.areas, project.sectors = [], [], []
            db.session.flush()
            with db.session.no_autoflush:
                for project, candidate in changed:
                    project.recipients = [
                        ProjectRecipient(country_iso3=c, region_code=r, share_ppm=ppm)
                        for c, r, ppm in candidate.recipients
                    ]
                    project.areas = [
                        ProjectArea(area_code=code, share_ppm=ppm, inferred=inferred)
                        for code, ppm, inferred in candidate.areas
                    ]
                    project.sectors = [ProjectSector(code=code, share_ppm=ppm) for code, ppm in candidate.sectors]
            for project, *_ in updated:
                project.import_batch_id = batch_id
                project.updated_at = utcnow()
        db.session.flush()
        self._insert_created(created)
        # Replace the transactions earlier imports brought for the updated projects.
        replaced = [p.id for p, _c, _b, old_rows, _r in updated if old_rows is not None]
        for chunk in _chunks(replaced, 500):
            db.session.execute(
                delete(Transaction).where(
                    Transaction.project_id.in_(chunk), Transaction.import_batch_id.is_not(None), self._same_prices()
                ),
                execution_options={"synchronize_session": False},
            )
        connection = db.session.connection()
        now = utcnow()
        all_rows: list[tuple] = []
        for project, rows in created:
            head = (project.id, batch_id, now)
            all_rows += [head + row for row in rows]
        for project, _candidate, _before, _old, rows in updated:
            head = (project.id, batch_id, now)
            all_rows += [head + row for row in rows]
        tx_insert = BulkInsert(connection, Transaction.__table__, TX_INSERT)
        total = len(all_rows)
        for done, chunk in enumerate(_chunks(all_rows, self.chunk_size), 1):
            tx_insert.execute(chunk, self.chunk_size)
            self.progress(min(done * self.chunk_size, total), total, "writing")
        del all_rows
        # The audit trail and the undo log: one event and one change row per project.
        event = self._event_row()
        events, changes = [], []
        for project, rows in created:
            after = project.snapshot()
            after["transactions"] = len(rows)
            summary = f"Imported {project.title} with {len(rows)} transactions"
            events.append(event("create", project.id, None, after, summary))
            changes.append((batch_id, "project", project.id, "create", None))
        for project, _candidate, before, old_rows, rows in updated:
            after = project_service.snapshot(project)
            changed_names = audit.changed_fields(before, after)
            what = f"changed {', '.join(changed_names)}; " if changed_names else ""
            if old_rows is None:  # a file without amounts: the flows were kept
                old_rows = []
                summary = f"Import {what}kept its transactions (the file has no amounts)"
            else:
                before = {**before, "transactions": len(old_rows)}
                after["transactions"] = len(rows)
                summary = f"Import {what}replaced {len(old_rows)} imported transactions with {len(rows)}"
            events.append(event("update", project.id, before, after, summary))
            undo = {
                "snapshot": before,
                "import_batch_id": previous.get(project.id),
                "transactions": [_jsonable_row(r) for r in old_rows],
                "other_identifiers": aliases[project.id],
            }
            changes.append((batch_id, "project", project.id, "update", undo))
        BulkInsert(connection, AuditEvent.__table__, EVENT_COLUMNS).execute(events, self.chunk_size)
        change_columns = ("batch_id", "entity_type", "entity_id", "action", "before")
        BulkInsert(connection, ImportChange.__table__, change_columns).execute(changes, self.chunk_size)
        self.counts["projects_created"] += len(created)
        self.counts["projects_updated"] += len(updated)
        self.counts["transactions"] += total
        self.counts["transactions_replaced"] += sum(len(u[3] or ()) for u in updated)
        db.session.flush()

    def _orm_projects(self, updated: list[tuple]) -> list[tuple]:
        """The updated entries with the ORM project in place of the stored candidate."""
        ids = [current.id for current, *_ in updated]
        projects: dict[int, Project] = {}
        for chunk in _chunks(ids, 500):
            stmt = (
                select(Project)
                .where(Project.id.in_(chunk))
                .options(
                    selectinload(Project.recipients),
                    selectinload(Project.areas),
                    selectinload(Project.sectors),
                )
            )
            projects.update((p.id, p) for p in db.session.scalars(stmt))
        missing = [i for i in ids if i not in projects]
        if missing:
            raise ConflictError(f"Project {missing[0]} was deleted while the file was imported; import it again")
        return [(projects[current.id], *rest) for current, *rest in updated]

    def _event_row(self) -> Callable[[str, int, Any, Any, str], tuple]:
        """A maker of audit event rows (EVENT_COLUMNS) with the content ``audit.record`` writes."""
        actor, org_id = self.actor, self.org.id
        now = utcnow()

        def row(action: str, project_id: int, before: Any, after: Any, summary: str) -> tuple:
            # Snapshots are JSON-ready already (projects.snapshot and _Candidate.snapshot).
            return (
                now,
                actor.user_id,
                actor.label,
                org_id,
                actor.channel,
                action,
                "project",
                project_id,
                summary[:500],
                before,
                after,
                actor.import_batch_id,
            )

        return row


EVENT_COLUMNS = (
    "occurred_at",
    "user_id",
    "actor",
    "org_id",
    "channel",
    "action",
    "entity_type",
    "entity_id",
    "summary",
    "before",
    "after",
    "import_batch_id",
)


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
        "errors": sum(1 for p in problems if p.severity == "error"),
        "warnings": sum(1 for p in problems if p.severity != "error"),
        "problems": dict(sorted(by_code.items())),
    }
    return counts


def _resolve_org(org: Organisation | str | None, org_name: str | None) -> Organisation | None:
    if isinstance(org, Organisation):
        return org
    if not org or not str(org).strip():
        raise ValidationError("Say which organisation the file belongs to", {"org": ["Required"]})
    found = organisations.find_organisation(str(org))
    if found is None and not org_name:
        raise NotFoundError(
            f"Organisation {org!r} is not in the registry; give its name (org_name) to create it",
            {"org": [f"Unknown organisation {org!r}"]},
        )
    return found


# Options that are bookkeeping, not a choice about how the file is read.
_NOT_READING = frozenset({"org", "org_name", "_progress", "stored_file", "request"})


# What a reader reports it used (the columns as mapped, the sheets read, the decimal mark
# and date order), which stands for the options that only steer it there.
_EFFECTIVE = ("mapping", "sheets", "decimal", "dates")


def request_key(options: dict, info: dict | None = None) -> str:
    """How a file was read, as a short fingerprint: the same file read otherwise (another
    sheet, currency, mapping, decimal mark ...) is another import. The reader's own account
    of what it used counts, not how it was asked: a saved mapping that maps the columns as
    they were detected is the same reading."""
    empty = (None, "", {}, [])
    chosen = {k: v for k, v in options.items() if k not in _NOT_READING and v not in empty}
    for name in _EFFECTIVE:
        if (info or {}).get(name) not in empty:
            chosen[name] = info[name]  # type: ignore[index]
    text = json.dumps(chosen, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _already(org: Organisation | None, kind: str, sha: str, request: str) -> ImportBatch | None:
    """The committed batch of this file, read with the same choices, whose data the registry
    still holds: no later committed batch has changed any of its projects since (a corrected
    file imported after it, say). Importing that file again would change nothing."""
    if org is None:
        return None
    stmt = (
        select(ImportBatch)
        .where(
            ImportBatch.org_id == org.id,
            ImportBatch.kind == kind,
            ImportBatch.file_hash == sha,
            ImportBatch.status == "committed",
        )
        .order_by(ImportBatch.id.desc())
    )
    for batch in db.session.scalars(stmt):
        # Batches from before the fingerprint was kept match any choices, as they did then.
        if (batch.options or {}).get("request", request) == request:
            return None if _superseded(batch) else batch
    return None


def _changed_later(batch: ImportBatch) -> int | None:
    """The id of a batch committed after this one that created or changed one of its projects.

    "After" is by commit, not by batch id: a previewed batch keeps its id when it is committed
    later, but the change rows a commit writes are numbered in commit order."""
    mine = aliased(ImportChange)
    later = aliased(ImportChange)
    stmt = (
        select(later.batch_id)
        .join(mine, (mine.entity_type == later.entity_type) & (mine.entity_id == later.entity_id))
        .join(ImportBatch, ImportBatch.id == later.batch_id)
        .where(
            mine.batch_id == batch.id,
            mine.entity_type == "project",
            later.batch_id != batch.id,
            later.id > mine.id,
            ImportBatch.status == "committed",
        )
        .limit(1)
    )
    return db.session.scalar(stmt)


def _superseded(batch: ImportBatch) -> bool:
    """Whether the registry no longer holds what the batch wrote: a batch committed after it
    changed one of its projects, or one of them was deleted or edited by hand since."""
    if _changed_later(batch) is not None:
        return True
    ids = list(
        db.session.scalars(
            select(ImportChange.entity_id).where(
                ImportChange.batch_id == batch.id, ImportChange.entity_type == "project"
            )
        )
    )
    for chunk in _chunks(ids, 500):
        present = db.session.scalar(select(func.count()).select_from(Project).where(Project.id.in_(chunk)))
        if present < len(set(chunk)):
            return True
        edited = db.session.scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.entity_type == "project",
                AuditEvent.entity_id.in_(chunk),
                AuditEvent.occurred_at > batch.finished_at,
                AuditEvent.channel != "import",  # imports and undos are judged by their change rows
            )
            .limit(1)
        )
        if edited is not None:
            return True
        # a flow of these projects added, changed or deleted by hand
        flows = [AuditEvent.after["project_id"].as_integer(), AuditEvent.before["project_id"].as_integer()]
        edited = db.session.scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.entity_type == "transaction",
                or_(*(column.in_(chunk) for column in flows)),
                AuditEvent.occurred_at > batch.finished_at,
                AuditEvent.channel != "import",
            )
            .limit(1)
        )
        if edited is not None:
            return True
    return False


def gc_paused(func: Callable) -> Callable:
    """Run ``func`` with the cyclic garbage collector paused.

    An import builds hundreds of thousands of small objects (records, rows, snapshots)
    that all live until the end of the run; the collector would walk them again and again
    (a third of the pipeline's CPU time on a 100,000-row file) and find nothing to free.
    Reference counting still frees everything as usual; the collector resumes afterwards."""

    @functools.wraps(func)
    def paused(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused


def _read(kind: str, path: Path, filename: str, options: dict) -> ReadResult:
    reader = get_reader(kind)
    result = reader.read(path, filename, options)
    _explain_missing_currency(result, filename, options)
    return result


NO_FILE_CURRENCY = (
    "{n} amounts have no currency: the file has no Currency column and no currency was chosen for it. "
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
        0, _problem("error", "no_file_currency", NO_FILE_CURRENCY.format(n=f"{missing:,}"), Location(file=filename))
    )


# -- skip-invalid: which records the errors concern -----------------------------

# Errors that concern an item of the file that is no record (an activity without an
# identifier or one whose identifier came before in the file, a row without a project
# reference, a CRS row without a year, from its Year column or its CommitmentDate): leaving the
# invalid records out leaves that item out too, and lists it.
STANDALONE_ERRORS = frozenset({"no_identifier", "repeated_activity", "missing_reference", "bad_year", "no_year"})
MAX_LISTED = 1000  # left-out records listed one by one on the batch (the totals keep them all)


def attribute(records: Iterable[ProjectRecord], problems: list[Problem], spans: bool = False) -> None:
    """Set ``Problem.owners``, the records each problem concerns, for problems not attributed yet.

    A record owns the rows of its own location, of its transactions and of ``rows`` (every row
    a reader read into it). With ``spans`` (IATI XML, where a line number is inside its
    activity) a record owns the lines from its start to the next record's start. A problem
    without a row, or on a row no record owns, gets ``[]``: it concerns the file as a whole
    (or, for ``STANDALONE_ERRORS``, an item of the file that is no record)."""
    todo = [p for p in problems if p.owners is None]
    if not todo:
        return
    records = list(records)
    owner: dict[tuple[str | None, int], ProjectRecord] = {}
    starts: list[tuple[int, int]] = []
    for index, rec in enumerate(records):
        loc = rec.location
        if spans:
            if loc.row is not None:
                starts.append((loc.row, index))
            continue
        if loc.row is not None:
            owner.setdefault((loc.sheet, loc.row), rec)
        for sheet, row in rec.rows:
            owner.setdefault((sheet, row), rec)
        for t in rec.transactions:
            where = t.__dict__.get("_where")  # a SheetTransaction's lazy location
            sheet, row = (where[1], where[2]) if isinstance(where, tuple) else (t.location.sheet, t.location.row)
            if row is not None:
                owner.setdefault((sheet, row), rec)
    starts.sort()
    lines = [line for line, _ in starts]
    for problem in todo:
        found: list[ProjectRecord] = []
        rows = problem.rows or ((problem.location.row,) if problem.location.row is not None else ())
        if problem.code in STANDALONE_ERRORS and problem.severity == "error":
            rows = ()  # the item itself goes; it is no record
        for row in rows:
            if spans:
                at = bisect.bisect_right(lines, row) - 1
                rec = records[starts[at][1]] if at >= 0 else None
            else:
                rec = owner.get((problem.location.sheet, row))
            if rec is None:
                found = []
                break  # a row of the problem no record owns: it is not one record's to leave out
            if all(rec is not r for r in found):
                found.append(rec)
        problem.owners = found


def _file_level(problem: Problem) -> bool:
    """An error that no record carries: leaving records out cannot cure it."""
    return problem.severity == "error" and not problem.owners and problem.code not in STANDALONE_ERRORS


def _money_of(records: Iterable[ProjectRecord]) -> dict[tuple[str, str], Decimal]:
    """The records' amounts as read, summed by transaction type and currency."""
    totals: dict[tuple[str, str], Decimal] = {}
    for rec in records:
        for t in rec.transactions:
            if isinstance(t.amount, Decimal) and t.amount.is_finite():
                key = (str(getattr(t.type, "value", t.type)), str(t.currency or "").upper() or "?")
                totals[key] = totals.get(key, Decimal(0)) + t.amount
    return totals


def _money_json(totals: dict[tuple[str, str], Decimal]) -> list[dict[str, str]]:
    return [{"type": k[0], "currency": k[1], "amount": str(v)} for k, v in sorted(totals.items())]


def money_text(entries: list[dict]) -> str:
    """``_money_json``'s entries as every message writes money: "incoming commitment 56,250.50
    BDT; disbursement 1,000.00 USD" (the type in words, thousands separators, the currency)."""
    parts = []
    for m in entries or ():
        currency = m["currency"]
        try:
            digits = money.format_amount(Decimal(m["amount"]), currency if money.is_currency(currency) else "")
        except (ArithmeticError, ValueError):
            digits = str(m["amount"])
        parts.append(f"{str(m['type']).replace('_', ' ')} {digits.removesuffix(' ' + currency)} {currency}")
    return "; ".join(parts)


def invalid_records(records: list[ProjectRecord], problems: list[Problem], spans: bool = False) -> dict | None:
    """What leaving the invalid records out would leave out, or None when an error concerns the
    whole file (it rejects the file whatever the user says) or there is no error.

    Returns ``{"valid": n, "invalid": m, "items_without_record": k, "money": [...],
    "items": [...]}``: each item a left-out record (reference, IATI identifier, where, why, the
    money it carried by type and currency) or an item of the file that is no record."""
    errors = [p for p in problems if p.severity == "error"]
    if not errors:
        return None
    attribute(records, problems, spans)
    if any(_file_level(p) for p in errors):
        return None
    reasons: dict[int, list[Problem]] = {}
    for p in errors:
        for rec in p.owners or ():
            reasons.setdefault(id(rec), []).append(p)
    bad = [rec for rec in records if id(rec) in reasons]
    items: list[dict] = []
    for rec in bad:
        items.append(
            {
                "reference": rec.reference,
                "iati_identifier": rec.iati_identifier,
                "sheet": rec.location.sheet,
                "row": rec.location.row,
                "reasons": [p.message for p in reasons[id(rec)]][:20],
                "money": _money_json(_money_of([rec])),
            }
        )
    alone = [p for p in errors if not p.owners]
    for p in alone:
        items.append(
            {
                "reference": None,
                "iati_identifier": None,
                "sheet": p.location.sheet,
                "row": p.location.row,
                "rows": len(p.rows) or 1,
                "reasons": [p.message],
                "value": p.value,
                "money": [],
            }
        )
    return {
        "valid": len(records) - len(bad),
        "invalid": len(bad),
        "items_without_record": len(alone),
        "money": _money_json(_money_of(bad)),
        "items": items[:MAX_LISTED],
    }


def _left_out(records: list[ProjectRecord], problems: list[Problem]) -> tuple[list[ProjectRecord], list[Problem]]:
    """The valid records, and the problems the left-out ones (and items without a record) take
    with them; run after ``invalid_records`` said leaving them out is possible."""
    errors = [p for p in problems if p.severity == "error"]
    bad = {id(rec) for p in errors for rec in p.owners or ()}
    gone = [p for p in errors if p.owners or p.code in STANDALONE_ERRORS]
    return [rec for rec in records if id(rec) not in bad], gone


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
    commit: bool = True,
) -> ImportBatch:
    """Import a file all-or-nothing (or preview it with dry_run); see the module docstring.

    ``skip_invalid``: the records that have errors are left out and the others imported; the
    batch's counts list what was left out (``invalid_records``). Errors that concern the whole
    file still reject it. ``record_spans``: a line number belongs to the record that starts at
    or before it (XML), for records given by the caller (a reader says so in its info).
    ``commit=False``: nothing is committed: a passing run is left in the session for the caller
    to commit with others (a file of several organisations, see importers.interop); a failing
    one is rolled back and its report returned unsaved."""
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
    return _execute(
        batch,
        org_obj,
        org_ref,
        org_name,
        actor,
        records,
        list(problems or []),
        info,
        dry_run,
        progress,
        keep_report and commit,
        skip_invalid=skip_invalid,
        commit=commit,
    )


def _info_options(info: dict) -> dict:
    """Facts from the reading worth keeping on the batch (the detected mapping, the preview)."""
    return {k: info[k] for k in ("mapping", "preview", "headers", "sheet", "fields", "questions") if k in info}


def _execute(
    batch: ImportBatch,
    org: Organisation | None,
    org_ref: str,
    org_name: str | None,
    actor: Actor,
    records: Iterable[ProjectRecord],
    problems: list[Problem],
    info: dict,
    dry_run: bool,
    progress: Progress | None,
    keep_report: bool,
    *,
    skip_invalid: bool = False,
    commit: bool = True,
) -> ImportBatch:
    records = list(records)
    fresh = batch.id is None
    chunk_size = int(batch.options.get("chunk_size") or CHUNK_SIZE)
    run_counts: Counter = Counter()
    failure: str | None = None
    spans = bool(info.get("record_spans"))
    given = list(problems)  # the reader's, before the run adds its own
    left: list[Problem] = []  # errors that left with their records (skip_invalid)
    invalid: dict | None = None
    # The run's own savepoint: a dry run or a rejected file rolls back exactly the run.
    nested = db.session.begin_nested()
    try:
        if fresh:
            db.session.add(batch)
        batch.status = "running"
        db.session.flush()
        run_actor = actor.via("import", batch.id)
        if org is None:
            org = organisations.create_organisation(
                run_actor, {"ref": org_ref, "name": org_name, "kind": "donor_agency"}
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
        # Validated even when reading found errors, so that one report lists every problem
        # of the file; nothing is written when there is any (see _Run.execute).
        run = _Run(batch, org, run_actor, problems, progress, chunk_size)
        run.execute(records)
        if any(p.severity == "error" for p in problems):
            invalid = invalid_records(records, problems, spans)
        if skip_invalid and invalid is not None:
            # Nothing was written by the first pass (an error stops it before writing): run
            # again over the valid records alone, the left-out ones' errors set aside.
            good, left = _left_out(records, problems)
            gone = {id(p) for p in left}
            problems = [p for p in given if id(p) not in gone]
            run = _Run(batch, org, run_actor, problems, progress, chunk_size)
            run.execute(good)
            invalid["left_out"] = not any(p.severity == "error" for p in problems)
        run_counts = run.counts
    except RegistryError as exc:
        failure = exc.message
        problems.append(_problem("error", "rejected", exc.message, Location(file=batch.filename)))
    except IntegrityError as exc:
        # A rule the database enforces that validation did not foresee: reject, never half-write.
        log.warning("Import %s rejected by the database: %s", batch.filename, exc.orig)
        failure = f"The database refused the data: {exc.orig}"
        problems.append(_problem("error", "rejected", failure, Location(file=batch.filename)))
    except BaseException:
        nested.rollback()
        raise
    ok = failure is None and not any(p.severity == "error" for p in problems)
    if failure is not None:
        invalid = None  # the database or a rule refused the file as a whole
    counts = _finish_counts(run_counts, info, problems + left, len(records))
    if invalid is not None:
        invalid.setdefault("left_out", False)
        counts["invalid_records"] = invalid
    stored = [p.as_dict() for p in problems[:MAX_STORED_PROBLEMS]]
    stored += [{**p.as_dict(), "left_out": True} for p in left[: max(0, MAX_STORED_PROBLEMS - len(stored))]]
    fields = {
        "kind": batch.kind,
        "org_id": batch.org_id,
        "user_id": batch.user_id,
        "filename": batch.filename,
        "file_hash": batch.file_hash,
        "options": batch.options,
        "dry_run": dry_run,
    }
    if ok and not dry_run:
        batch.status, batch.counts, batch.problems = "committed", counts, stored
        batch.progress, batch.finished_at = 100, utcnow()
        nested.commit()
        if commit:
            db.session.commit()
            log.info("Import batch %s committed: %s", batch.id, counts)
        return batch
    nested.rollback()
    status = "previewed" if ok else "failed"
    if not keep_report:
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
    db.session.commit()
    return batch


@gc_paused
def commit_batch(
    batch_id: int, actor: Actor, progress: Progress | None = None, *, skip_invalid: bool = False
) -> ImportBatch:
    """Commit a previewed batch: read its stored file again and import it for real.

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
    return _execute(
        batch,
        org,
        options.get("org", ""),
        options.get("org_name"),
        actor,
        result.records,
        list(result.problems),
        result.info,
        False,
        progress,
        True,
        skip_invalid=skip_invalid or bool(options.get("skip_invalid")),
    )


def undo_batch(batch_id: int, actor: Actor) -> ImportBatch:
    """Remove what a committed batch created and restore what it changed, in one transaction."""
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFoundError(f"No import batch {batch_id}")
    if batch.status != "committed":
        raise ConflictError(f"Import batch {batch_id} is {batch.status}; only a committed batch can be undone")
    changes = list(
        db.session.scalars(select(ImportChange).where(ImportChange.batch_id == batch.id).order_by(ImportChange.id))
    )
    later = _changed_later(batch)
    if later:
        raise ConflictError(
            f"Import batch {later} changed the same projects later; undo it first",
            {"batch": [f"Undo batch {later} first"]},
        )
    undo_actor = actor.via("import", batch.id)
    table = Transaction.__table__
    try:
        for change in reversed(changes):
            if change.entity_type != "project":
                continue
            project = db.session.get(Project, change.entity_id)
            if project is None:
                continue
            n = db.session.execute(
                delete(Transaction).where(
                    Transaction.project_id == project.id, Transaction.import_batch_id == batch.id
                ),
                execution_options={"synchronize_session": False},
            ).rowcount
            db.session.expire(project, ["transactions"])
            if change.action == "create":
                before = project_service.snapshot(project)
                before["transactions"] = n
                audit.record(
                    undo_actor,
                    "delete",
                    "project",
                    project.id,
                    before,
                    None,
                    f"Undo of import {batch.id}: removed {project.title} and its {n} transactions",
                    project.org_id,
                )
                db.session.delete(project)
                continue
            saved = change.before or {}
            snap = dict(saved.get("snapshot") or {})
            old_rows = [_restore_row(r) for r in saved.get("transactions", [])]
            data = {k: snap[k] for k in project_service.SCALAR_FIELDS if k in snap}
            for k in ("planned_start", "planned_end", "actual_start", "actual_end"):
                if data.get(k):  # the snapshot keeps dates as ISO text
                    data[k] = dt.date.fromisoformat(data[k])
            for k in ("recipients", "areas", "sectors", "wsis_action_lines", "need"):
                if k in snap:
                    data[k] = snap[k]
            # Empty the child collections first: the unit of work would insert the restored
            # rows before deleting the current ones and trip the unique constraints.
            before = project_service.snapshot(project)
            project.recipients, project.areas, project.sectors = [], [], []
            db.session.flush()
            with db.session.no_autoflush:
                project_service._apply(project, data)
            if "other_identifiers" in saved:
                project.other_identifiers = saved["other_identifiers"]
            project.import_batch_id = saved.get("import_batch_id")
            project.updated_at = utcnow()
            db.session.flush()
            if old_rows:
                db.session.execute(insert(table), old_rows)
            after = project_service.snapshot(project)
            before["transactions"], after["transactions"] = n, len(old_rows)
            audit.record(
                undo_actor,
                "update",
                "project",
                project.id,
                before,
                after,
                f"Undo of import {batch.id}: restored the project and {len(old_rows)} transactions",
                project.org_id,
            )
        db.session.flush()
        for change in changes:
            if change.entity_type == "organisation" and change.action == "create":
                org = db.session.get(Organisation, change.entity_id)
                if org is not None:
                    organisations.delete_organisation(undo_actor, org)
        batch.status = "undone"
        batch.finished_at = utcnow()
        batch.counts = {**(batch.counts or {}), "undone_at": utcnow().isoformat()}
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return batch


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
