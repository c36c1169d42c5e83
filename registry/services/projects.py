"""Creating, changing and deleting projects and their money flows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select

from registry import money
from registry.errors import ConflictError, ConversionError, NotFoundError, ValidationError
from registry.extensions import db
from registry.models import (
    Country,
    FundingSource,
    Organisation,
    PriorityArea,
    Project,
    ProjectArea,
    ProjectRecipient,
    Region,
    Transaction,
)
from registry.models.project import ProjectSector
from registry.models.types import WSIS_ACTION_LINES, Instrument, ProjectStatus, TransactionType
from registry.services import audit
from registry.services.actor import Actor
from registry.services.shares import check_total, share_text, split_evenly, to_ppm

SCALAR_FIELDS = (
    "reference",
    "iati_identifier",
    "title",
    "description",
    "status",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "instrument_sought",
    "contact_name",
    "contact_email",
)
LIST_FIELDS = ("recipients", "areas", "sectors", "wsis_action_lines", "need")


def _max_rate_age() -> int:
    return current_app.config.get("RATE_MAX_AGE_DAYS", 7) if has_app_context() else 7


def to_usd(amount: Decimal, currency: str, on: dt.date) -> money.Conversion:
    """Convert an amount to USD at the rate of ``on`` (ECB daily, else IMF annual: see registry.money)."""
    return money.convert(amount, currency, "USD", on, _max_rate_age())


# -- snapshots ---------------------------------------------------------------


def snapshot(project: Project) -> dict[str, Any]:
    """The project's fields, recipients and areas as plain values (for audit and ETags)."""
    data: dict[str, Any] = {f: getattr(project, f) for f in SCALAR_FIELDS}
    data["org_id"] = project.org_id
    data["need"] = (
        {"amount": str(money.from_minor(project.need_minor, project.need_currency)), "currency": project.need_currency}
        if project.need_minor is not None and project.need_currency
        else None
    )
    data["recipients"] = [
        {"country": r.country_iso3, "region": r.region_code, "share": share_text(r.share_ppm)}
        for r in project.recipients
    ]
    data["areas"] = [
        {"code": a.area_code, "share": share_text(a.share_ppm), "inferred": a.inferred} for a in project.areas
    ]
    data["sectors"] = [s.code for s in project.sectors]
    data["wsis_action_lines"] = project.action_lines
    return audit._jsonable(data)


def transaction_snapshot(tx: Transaction) -> dict[str, Any]:
    return audit._jsonable(
        {
            "project_id": tx.project_id,
            "type": tx.type,
            "amount": str(tx.amount),
            "currency": tx.currency,
            "value_date": tx.value_date,
            "funding_source_id": tx.funding_source_id,
            "provider_org_id": tx.provider_org_id,
            "flow_type": tx.flow_type,
            "finance_type": tx.finance_type,
            "aid_type": tx.aid_type,
            "description": tx.description,
            "usd": str(tx.usd_amount) if tx.usd_minor is not None else None,
        }
    )


# -- lookups -----------------------------------------------------------------


def get_project(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"No project with id {project_id}")
    return project


def find_project(org_id: int, reference: str) -> Project | None:
    return db.session.scalar(select(Project).where(Project.org_id == org_id, Project.reference == reference))


# -- validation of parts -----------------------------------------------------


def _shares(items: list[dict], field: str) -> list[int]:
    given = [item.get("share") for item in items]
    if all(s is None for s in given):
        return split_evenly(len(items)) if items else []
    if any(s is None for s in given):
        raise ValidationError(
            "Give a share for every entry or for none", {field: ["Give a share for every entry or for none"]}
        )
    ppm = [to_ppm(s, field) for s in given]
    check_total(ppm, field)
    return ppm


def _build_recipients(items: list[dict]) -> list[ProjectRecipient]:
    shares = _shares(items, "recipients")
    rows, seen = [], set()
    for item, share in zip(items, shares, strict=True):
        country, region = item.get("country"), item.get("region")
        if bool(country) == bool(region):
            raise ValidationError(
                "Each recipient is a country or a region, not both",
                {"recipients": ["Each recipient is a country or a region, not both"]},
            )
        if country:
            country = country.upper()
            if db.session.get(Country, country) is None:
                raise ValidationError(f"Unknown country {country!r}", {"recipients": [f"Unknown country {country!r}"]})
        if region and db.session.get(Region, region) is None:
            raise ValidationError(f"Unknown M49 region {region!r}", {"recipients": [f"Unknown region {region!r}"]})
        key = (country, region)
        if key in seen:
            raise ValidationError(
                f"{country or region} is listed twice", {"recipients": [f"{country or region} is listed twice"]}
            )
        seen.add(key)
        rows.append(ProjectRecipient(country_iso3=country, region_code=region, share_ppm=share))
    return rows


def _build_areas(items: list[dict]) -> list[ProjectArea]:
    shares = _shares(items, "areas")
    rows, seen = [], set()
    for item, share in zip(items, shares, strict=True):
        code = str(item.get("code", "")).lower()
        if db.session.get(PriorityArea, code) is None:
            raise ValidationError(
                f"Unknown priority area {code!r} (expected 23a-23l)", {"areas": [f"Unknown priority area {code!r}"]}
            )
        if code in seen:
            raise ValidationError(f"{code} is listed twice", {"areas": [f"{code} is listed twice"]})
        seen.add(code)
        rows.append(ProjectArea(area_code=code, share_ppm=share, inferred=bool(item.get("inferred", False))))
    return rows


def _build_sectors(items: list) -> list[ProjectSector]:
    rows = []
    for item in items:
        code = str(item["code"] if isinstance(item, dict) else item).strip()
        if not (len(code) == 5 and code.isdigit()):
            raise ValidationError(
                f"{code!r} is not a DAC 5-digit purpose code", {"sectors": [f"{code!r} is not a 5-digit code"]}
            )
        share = item.get("share") if isinstance(item, dict) else None
        rows.append(ProjectSector(code=code, share_ppm=to_ppm(share, "sectors") if share is not None else None))
    return rows


def _action_lines(items: list[str]) -> str:
    codes = []
    for item in items:
        code = str(item).strip().upper()
        if code not in WSIS_ACTION_LINES:
            raise ValidationError(
                f"Unknown WSIS action line {item!r} (C1-C11)", {"wsis_action_lines": [f"Unknown action line {item!r}"]}
            )
        if code not in codes:
            codes.append(code)
    return ",".join(sorted(codes, key=lambda c: int(c[1:])))


def _set_need(project: Project, need: dict | None, keep_unconverted: bool = False) -> None:
    """Set the project's need and its USD value at the need date. A need no rate converts is
    refused, or with ``keep_unconverted`` (imports) kept in its currency without a USD value."""
    if not need or need.get("amount") in (None, ""):
        project.need_minor = project.need_currency = project.need_usd_minor = project.need_date = None
        return
    currency = str(need.get("currency") or "").upper()
    amount = money.parse_amount(need["amount"], currency)
    if amount < 0:
        raise ValidationError("The need cannot be negative", {"need": ["The need cannot be negative"]})
    on = need.get("date") or project.planned_start or dt.date.today()
    try:
        usd_minor: int | None = money.to_minor(to_usd(amount, currency, on).amount, "USD")
    except ConversionError:
        if not keep_unconverted:
            raise
        usd_minor = None
    project.need_minor = money.to_minor(amount, currency)
    project.need_currency = currency
    project.need_usd_minor = usd_minor
    project.need_date = on


def _merge(existing: list, wanted: list, key) -> list:
    """Keep the rows whose key stays (updating their share), add new ones, drop the rest.

    Replacing every row would insert the new (project, code) before deleting the old
    one at flush time, which breaks the unique constraint.
    """
    current = {key(row): row for row in existing}
    merged = []
    for row in wanted:
        kept = current.get(key(row))
        if kept is None:
            merged.append(row)
            continue
        kept.share_ppm = row.share_ppm
        if hasattr(row, "inferred"):
            kept.inferred = row.inferred
        merged.append(kept)
    return merged


def _apply(project: Project, data: dict[str, Any]) -> None:
    unknown = set(data) - set(SCALAR_FIELDS) - set(LIST_FIELDS)
    if unknown:
        raise ValidationError("Unknown fields", {k: ["Unknown field"] for k in sorted(unknown)})
    for key in SCALAR_FIELDS:
        if key in data:
            value = data[key]
            if key == "status" and value is not None:
                try:
                    value = ProjectStatus(value)
                except ValueError:
                    raise ValidationError(f"Unknown status {value!r}", {"status": ["Unknown status"]}) from None
            if key == "instrument_sought" and value:
                try:
                    value = Instrument(value)
                except ValueError:
                    raise ValidationError(
                        f"Unknown instrument {value!r}", {"instrument_sought": ["Unknown instrument"]}
                    ) from None
            setattr(project, key, value)
    if "recipients" in data:
        project.recipients = _merge(
            project.recipients,
            _build_recipients(list(data["recipients"] or [])),
            lambda r: (r.country_iso3, r.region_code),
        )
    if "areas" in data:
        project.areas = _merge(project.areas, _build_areas(list(data["areas"] or [])), lambda a: a.area_code)
    if "sectors" in data:
        project.sectors = _build_sectors(list(data["sectors"] or []))
    if "wsis_action_lines" in data:
        project.wsis_action_lines = _action_lines(list(data["wsis_action_lines"] or []))
    if "need" in data:
        _set_need(project, data["need"])
    _check(project)


def _check(project: Project) -> None:
    errors: dict[str, list[str]] = {}
    if not (project.reference or "").strip():
        errors["reference"] = ["Required"]
    if not (project.title or "").strip():
        errors["title"] = ["Required"]
    if project.status is None:
        errors["status"] = ["Required"]
    for start, end in (("planned_start", "planned_end"), ("actual_start", "actual_end")):
        a, b = getattr(project, start), getattr(project, end)
        if a and b and a > b:
            errors[end] = [f"{end.replace('_', ' ').capitalize()} is before the start date"]
    if errors:
        raise ValidationError("The project is not valid", errors)
    if project.iati_identifier:
        clash = db.session.scalar(
            select(Project.id).where(Project.iati_identifier == project.iati_identifier, Project.id != project.id)
        )
        if clash:
            raise ConflictError(
                f"IATI identifier {project.iati_identifier} is already used by project {clash}",
                {"iati_identifier": ["Already used"]},
            )
    clash = db.session.scalar(
        select(Project.id).where(
            Project.org_id == project.org_id, Project.reference == project.reference, Project.id != project.id
        )
    )
    if clash:
        raise ConflictError(
            f"This organisation already has a project with reference {project.reference!r}",
            {"reference": ["Already used by another project of this organisation"]},
        )


def check_version(project_version: int, expected: int | None) -> None:
    """Refuse a change based on a stale read (optimistic locking)."""
    if expected is not None and expected != project_version:
        raise ConflictError(
            f"The object was changed by someone else (version {project_version}, you sent {expected}); "
            "reload it and apply your change again",
            {"version": [f"Current version is {project_version}"]},
        )


# -- operations --------------------------------------------------------------


def create_project(actor: Actor, org: Organisation, data: dict[str, Any], *, demo: bool = False) -> Project:
    """Register a project of ``org``; recipients and areas carry shares summing to 100."""
    project = Project(org_id=org.id, org=org, demo=demo, import_batch_id=actor.import_batch_id)
    data = dict(data)
    data.setdefault("status", ProjectStatus.ACTIVE)
    with db.session.no_autoflush:
        _apply(project, data)
    db.session.add(project)
    db.session.flush()
    audit.record(actor, "create", "project", project.id, None, snapshot(project), f"Created {project.title}", org.id)
    return project


def update_project(
    actor: Actor, project: Project, data: dict[str, Any], expected_version: int | None = None
) -> Project:
    """Change a project; ``expected_version`` guards against lost updates."""
    check_version(project.version, expected_version)
    before = snapshot(project)
    with db.session.no_autoflush:
        _apply(project, dict(data))
    after = snapshot(project)
    if before != after:
        if actor.import_batch_id:
            project.import_batch_id = actor.import_batch_id
        project.updated_at = dt.datetime.now(dt.UTC)
        db.session.flush()
        changed = audit.changed_fields(before, after)
        audit.record(
            actor, "update", "project", project.id, before, after, f"Changed {', '.join(changed)}", project.org_id
        )
    return project


def delete_project(actor: Actor, project: Project, expected_version: int | None = None) -> None:
    check_version(project.version, expected_version)
    before = snapshot(project)
    before["transactions"] = [transaction_snapshot(t) for t in project.transactions]
    audit.record(actor, "delete", "project", project.id, before, None, f"Deleted {project.title}", project.org_id)
    db.session.delete(project)
    db.session.flush()


TX_FIELDS = (
    "type",
    "amount",
    "currency",
    "value_date",
    "funding_source_id",
    "provider_org_id",
    "flow_type",
    "finance_type",
    "aid_type",
    "description",
)


def implied_provider(tx_type: TransactionType, source_manager_id: int | None, project_org_id: int) -> int | None:
    """Who provides a flow that names no provider organisation.

    A flow from a funding source comes from the organisation that manages the source;
    any other pledge, commitment, disbursement or expenditure is the project's own
    organisation's (as IATI reads an activity's outgoing flows without a provider-org).
    Incoming funds come from someone else, unknown until named."""
    if tx_type == TransactionType.INCOMING_FUNDS:
        return None
    return source_manager_id if source_manager_id is not None else project_org_id


def _apply_transaction(
    tx: Transaction, data: dict[str, Any], project_org_id: int, keep_unconverted: bool = False
) -> None:
    unknown = set(data) - set(TX_FIELDS)
    if unknown:
        raise ValidationError("Unknown fields", {k: ["Unknown field"] for k in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    merged = {
        "type": tx.type,
        "currency": tx.currency,
        "value_date": tx.value_date,
        "amount": tx.amount if tx.amount_minor is not None and tx.currency else None,
    }
    merged.update({k: data[k] for k in ("type", "currency", "value_date", "amount") if k in data})
    try:
        merged["type"] = TransactionType(merged["type"]) if merged["type"] else None
    except ValueError:
        errors["type"] = [f"Unknown transaction type {merged['type']!r}"]
    for required in ("type", "currency", "value_date", "amount"):
        if merged.get(required) in (None, "") and required not in errors:
            errors[required] = ["Required"]
    if errors:
        raise ValidationError("The transaction is not valid", errors)
    currency = str(merged["currency"]).upper()
    if not money.is_currency(currency):
        raise ValidationError(f"Unknown currency {currency!r}", {"currency": ["Not an ISO 4217 currency code"]})
    try:
        amount = money.parse_amount(merged["amount"], currency)
    except ValidationError as exc:
        raise ValidationError(exc.message, {"amount": [exc.message]}) from None
    if "funding_source_id" in data and data["funding_source_id"] is not None:
        if db.session.get(FundingSource, data["funding_source_id"]) is None:
            raise ValidationError("Unknown funding source", {"funding_source_id": ["No such funding source"]})
    if "provider_org_id" in data and data["provider_org_id"] is not None:
        if db.session.get(Organisation, data["provider_org_id"]) is None:
            raise ValidationError("Unknown organisation", {"provider_org_id": ["No such organisation"]})
    try:
        conversion: money.Conversion | None = to_usd(amount, currency, merged["value_date"])
    except ConversionError as exc:
        # A person typing the flow can fix the date or currency: refused. A file's flow is kept
        # in its own currency, without a USD value, and reported (see docs/import.md).
        if not keep_unconverted:
            raise ConversionError(
                f"{exc.message}. Give the amount in a currency and on a date that can be converted (or in US dollars).",
                currency=exc.currency,
                date=exc.date,
            ) from None
        conversion = None
    tx.currency = currency
    tx.value_date = merged["value_date"]
    tx.amount_minor = money.to_minor(amount, currency)
    tx.usd_minor = money.to_minor(conversion.amount, "USD") if conversion else None
    tx.usd_rate = str(conversion.rate) if conversion else None
    tx.usd_rate_date = conversion.rate_date if conversion else None
    tx.usd_rate_source = conversion.source if conversion else None
    # A provider that was only implied follows the flow's new source or type.
    implied_before = tx.type is not None and tx.provider_org_id == _implied(tx, project_org_id)
    tx.type = merged["type"]
    for key in ("funding_source_id", "provider_org_id", "flow_type", "finance_type", "aid_type", "description"):
        if key in data:
            setattr(tx, key, data[key] if data[key] is not None or key != "description" else "")
    if tx.provider_org_id is None or (implied_before and data.get("provider_org_id") is None):
        tx.provider_org_id = _implied(tx, project_org_id)


def provider_is_implied(tx: Transaction) -> bool:
    """Whether the flow's provider is the one implied for it (a form shows it as not chosen,
    so that it follows the flow's source when that changes)."""
    return tx.provider_org_id is not None and tx.provider_org_id == _implied(tx, tx.project.org_id)


def _implied(tx: Transaction, project_org_id: int) -> int | None:
    source = db.session.get(FundingSource, tx.funding_source_id) if tx.funding_source_id is not None else None
    return implied_provider(tx.type, source.managing_org_id if source else None, project_org_id)


def add_transaction(actor: Actor, project: Project, data: dict[str, Any]) -> Transaction:
    """Record a money flow in its own currency and value date, with its USD value."""
    tx = Transaction(project_id=project.id, import_batch_id=actor.import_batch_id, description="")
    _apply_transaction(tx, dict(data), project.org_id, keep_unconverted=actor.channel == "import")
    project.transactions.append(tx)
    db.session.flush()
    audit.record(
        actor,
        "create",
        "transaction",
        tx.id,
        None,
        transaction_snapshot(tx),
        f"{tx.type.value.capitalize()} of {money.format_amount(tx.amount, tx.currency)} on project {project.id}",
        project.org_id,
    )
    return tx


def update_transaction(actor: Actor, tx: Transaction, data: dict[str, Any]) -> Transaction:
    before = transaction_snapshot(tx)
    _apply_transaction(tx, dict(data), tx.project.org_id, keep_unconverted=actor.channel == "import")
    after = transaction_snapshot(tx)
    if before != after:
        db.session.flush()
        changed = audit.changed_fields(before, after)
        audit.record(
            actor, "update", "transaction", tx.id, before, after, f"Changed {', '.join(changed)}", tx.project.org_id
        )
    return tx


def delete_transaction(actor: Actor, tx: Transaction) -> None:
    audit.record(
        actor, "delete", "transaction", tx.id, transaction_snapshot(tx), None, "Deleted transaction", tx.project.org_id
    )
    db.session.delete(tx)
    db.session.flush()
