"""Creating, changing and deleting projects and their money flows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import select

from registry import money
from registry.errors import ConflictError, ConversionError, PermissionDenied, ValidationError
from registry.extensions import db
from registry.models import (
    FundingSource,
    Organisation,
    Project,
    ProjectArea,
    ProjectRecipient,
    Transaction,
)
from registry.models.project import ProjectSector
from registry.models.scope import infrastructure_code, scope_code
from registry.models.soft_delete import INCLUDE_DELETED
from registry.models.types import Instrument, ProjectStatus, TransactionType, tied_status_code
from registry.services import areas, audit, deletion, direction, permissions, rules
from registry.services.actor import Actor
from registry.services.lookup import load
from registry.services.shares import share_text
from registry.services.versions import reject_unknown_fields, update_versioned

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
    "default_tied_status",
    "collaboration_type",
    "funding_partners",
    "direction_override",
    "direction_reason",
    "scope",
    "infrastructure",
)
LIST_FIELDS = ("recipients", "areas", "sectors", "wsis_action_lines", "need")
DATE_FIELDS = ("planned_start", "planned_end", "actual_start", "actual_end")


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
            "tied_status": tx.tied_status,
            "description": tx.description,
            "usd": str(tx.usd_amount) if tx.usd_minor is not None else None,
            "confirmed": tx.confirmed,
        }
    )


# -- lookups -----------------------------------------------------------------


def get_project(project_id: int) -> Project:
    return load(Project, project_id, "project")


def find_project(org_id: int, reference: str) -> Project | None:
    return db.session.scalar(select(Project).where(Project.org_id == org_id, Project.reference == reference))


# -- validation of parts -----------------------------------------------------


# The rules themselves are registry.services.rules (shared with the API schemas and the
# import pipeline); these build the ORM rows from what they return.


def _build_recipients(items: list[dict], codes: rules.Codes | None = None) -> list[ProjectRecipient]:
    checked = rules.recipients(
        [(item.get("country"), item.get("region"), item.get("share")) for item in items], codes or rules.known_codes()
    )
    return [ProjectRecipient(country_iso3=c, region_code=r, share_ppm=ppm) for c, r, ppm in checked]


def _build_areas(items: list[dict], codes: rules.Codes | None = None) -> list[ProjectArea]:
    checked = rules.areas(
        [(item.get("code"), item.get("share"), item.get("inferred", False)) for item in items],
        codes or rules.known_codes(),
    )
    return [ProjectArea(area_code=code, share_ppm=ppm, inferred=inferred) for code, ppm, inferred in checked]


def _build_sectors(items: list) -> list[ProjectSector]:
    return [ProjectSector(code=code, share_ppm=ppm) for code, ppm in rules.sectors(items)]


def _action_lines(items: list[str]) -> str:
    return rules.action_lines(items)


def _set_need(project: Any, need: dict | None, keep_unconverted: bool = False) -> None:
    """Set the project's need and its USD value at the need date. A need no rate converts is
    refused, or with ``keep_unconverted`` (imports) kept in its currency without a USD value."""
    if not need or need.get("amount") in (None, ""):
        project.need_minor = project.need_currency = project.need_usd_minor = project.need_date = None
        return
    amount, currency = rules.need(need["amount"], need.get("currency"))
    on = need.get("date") or project.planned_start or project.actual_start or dt.date.today()
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


def _infer_areas(project: Project, data: dict[str, Any]) -> None:
    """Areas inferred from the project's purpose codes when it has none of its own.

    Only when the sectors are given and the project has no areas, or only inferred ones
    that the new sectors replace; areas a user chose are never replaced."""
    if not data.get("sectors") or any(not a.inferred for a in project.areas):
        return
    if data.get("areas") and any(not item.get("inferred", False) for item in data["areas"]):
        return
    found = areas.areas_from_sectors([s.code for s in project.sectors], project.title, project.description)
    if found:
        wanted = [{"code": code, "share": share, "inferred": True} for code, share in found]
        project.areas = _merge(project.areas, _build_areas(wanted), lambda a: a.area_code)


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
    reject_unknown_fields(data, SCALAR_FIELDS, LIST_FIELDS)
    _check_direction(project, data)
    for key in SCALAR_FIELDS:
        if key in data:
            value = data[key]
            if key == "status" and value is not None:
                try:
                    value = ProjectStatus(value)
                except ValueError:
                    raise ValidationError(
                        _("Unknown status %(status)s", status=repr(value)), {"status": [_("Unknown status")]}
                    ) from None
            if key == "instrument_sought" and value:
                try:
                    value = Instrument(value)
                except ValueError:
                    raise ValidationError(
                        _("Unknown instrument %(instrument)s", instrument=repr(value)),
                        {"instrument_sought": [_("Unknown instrument")]},
                    ) from None
            if key == "default_tied_status":
                value = _tied_status(value, key)
            if key == "collaboration_type":
                value = _collaboration_type(value)
            if key == "direction_override":
                value = _direction(value)
            if key in ("direction_reason", "funding_partners"):
                value = (value or "").strip() or (None if key == "direction_reason" else "")
            if key == "scope":
                value = checked_scope(value, key)
            if key == "infrastructure":
                value = checked_infrastructure(value, key)
            setattr(project, key, value)
    if project.direction_override is None:
        project.direction_reason = None  # a reason goes with a direction set by hand
    if "recipients" in data:
        project.recipients = _merge(
            project.recipients,
            _build_recipients(list(data["recipients"] or [])),
            lambda r: (r.country_iso3, r.region_code),
        )
    if "areas" in data:
        project.areas = _merge(project.areas, _build_areas(list(data["areas"] or [])), lambda a: a.area_code)
    if "sectors" in data:
        project.sectors = _merge(project.sectors, _build_sectors(list(data["sectors"] or [])), lambda s: s.code)
    if "wsis_action_lines" in data:
        project.wsis_action_lines = _action_lines(list(data["wsis_action_lines"] or []))
    if "need" in data:
        _set_need(project, data["need"])
    _infer_areas(project, data)
    _check(project)


def _tied_status(value: Any, field: str) -> str | None:
    """The IATI TiedStatus code of a value (code or words); None: unknown."""
    try:
        return tied_status_code(value)
    except ValueError:
        raise ValidationError(
            _("Unknown tied status %(value)s: 3 partially tied, 4 tied, 5 untied", value=repr(value)),
            {field: [_("Unknown tied status")]},
        ) from None


def _collaboration_type(value: Any) -> str | None:
    try:
        return direction.collaboration_type(value)
    except ValueError:
        raise ValidationError(
            _("Unknown IATI collaboration type %(value)s", value=repr(value)),
            {"collaboration_type": [_("Unknown collaboration type")]},
        ) from None


def _direction(value: Any) -> str | None:
    try:
        return direction.override_value(value)
    except ValueError:
        raise ValidationError(
            _(
                "Unknown direction %(value)s: north_south, south_south, triangular or multilateral",
                value=repr(value),
            ),
            {"direction_override": [_("Unknown direction")]},
        ) from None


def _check_direction(project: Project, data: dict[str, Any]) -> None:
    """A direction set by hand needs its reason (checked before anything changes); clearing
    the direction clears its reason."""
    override = _direction(data["direction_override"]) if "direction_override" in data else project.direction_override
    reason = data["direction_reason"] if "direction_reason" in data else project.direction_reason
    if override is not None and not (reason or "").strip():
        raise ValidationError(
            _("A direction set by hand needs a reason"),
            {"direction_reason": [_("Required when the direction is set by hand")]},
        )


def checked_scope(value: Any, field: str = "scope") -> str | None:
    """A project's scope from a code or words (registry.models.scope); None: derived."""
    try:
        return scope_code(value)
    except ValueError:
        raise ValidationError(
            _(
                "Unknown scope %(value)s: national, multi_country, regional or global (or an IATI "
                "ActivityScope code 1-8)",
                value=repr(value),
            ),
            {field: [_("Unknown scope")]},
        ) from None


def checked_infrastructure(value: Any, field: str = "infrastructure") -> str | None:
    """A project's infrastructure kind from a code or words; None: not said."""
    try:
        return infrastructure_code(value)
    except ValueError:
        raise ValidationError(
            _(
                "Unknown infrastructure %(value)s: ixp, backbone, submarine_cable, satellite, data_centre, "
                "spectrum_regulation or none",
                value=repr(value),
            ),
            {field: [_("Unknown infrastructure")]},
        ) from None


def _check(project: Project) -> None:
    errors: dict[str, list[str]] = {}
    if not (project.reference or "").strip():
        errors["reference"] = [_("Required")]
    if not (project.title or "").strip():
        errors["title"] = [_("Required")]
    if project.status is None:
        errors["status"] = [_("Required")]
    errors.update(rules.date_order({name: getattr(project, name) for name in DATE_FIELDS}))
    if errors:
        raise ValidationError("; ".join(m for ms in errors.values() for m in ms), errors)
    if project.iati_identifier:
        clash = db.session.scalar(
            select(Project.id).where(Project.iati_identifier == project.iati_identifier, Project.id != project.id),
            execution_options=INCLUDE_DELETED,
        )
        if clash:
            deleted = deletion.deleted_holder("project", clash)
            if deleted is None:
                message = _(
                    "IATI identifier %(identifier)s is already used by project %(project)s",
                    identifier=project.iati_identifier,
                    project=clash,
                )
            else:
                message = _(
                    "IATI identifier %(identifier)s is already used by project %(project)s (deleted %(date)s by "
                    "%(by)s; restore it rather than adding it again)",
                    identifier=project.iati_identifier,
                    project=clash,
                    **deleted,
                )
            raise ConflictError(message, {"iati_identifier": [_("Already used")]})
    clash = db.session.scalar(
        select(Project.id).where(
            Project.org_id == project.org_id, Project.reference == project.reference, Project.id != project.id
        ),
        execution_options=INCLUDE_DELETED,
    )
    if clash:
        deleted = deletion.deleted_holder("project", clash)
        if deleted is None:
            message = _(
                "This organisation already has a project with reference %(reference)s",
                reference=repr(project.reference),
            )
        else:
            message = _(
                "This organisation already has a project with reference %(reference)s (deleted %(date)s by "
                "%(by)s; restore it rather than adding it again)",
                reference=repr(project.reference),
                **deleted,
            )
        raise ConflictError(message, {"reference": [_("Already used by another project of this organisation")]})


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

    def mark_import(changed: Project) -> None:
        if actor.import_batch_id:
            changed.import_batch_id = actor.import_batch_id

    return update_versioned(
        actor,
        project,
        "project",
        data,
        apply=_apply,
        snapshot=snapshot,
        org_id=lambda p: p.org_id,
        expected_version=expected_version,
        on_change=mark_import,
    )


def delete_project(actor: Actor, project: Project, expected_version: int | None = None) -> None:
    """Delete a project and its money flows: marked deleted, restorable (registry.services.deletion)."""
    deletion.delete_project(actor, project, expected_version)


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
    "tied_status",
    "description",
)


def may_confirm(actor: Actor, source_manager_id: int | None) -> bool:
    """Whether the actor speaks for the organisation that manages a funding source: one of
    its donor editors, or an administrator (who acts for any organisation: the command line,
    the seed, an administrator's own entry)."""
    return permissions.speaks_for(actor.role, actor.org_id, source_manager_id)


def flow_confirmed(actor: Actor, source_manager_id: int | None, project_org_id: int) -> bool:
    """Who may credit whom: a flow recorded against a funding source that another organisation
    manages than the project's stands unconfirmed until that organisation confirms it,
    unless the actor speaks for it (see may_confirm). Every path (forms, API, imports) asks this."""
    if source_manager_id is None or source_manager_id == project_org_id:
        return True
    return may_confirm(actor, source_manager_id)


def implied_provider(
    tx_type: TransactionType, source_manager_id: int | None, project_org_id: int, confirmed: bool = True
) -> int | None:
    """Who provides a flow that names no provider organisation.

    A flow from a funding source comes from the organisation that manages the source, once
    that organisation has confirmed it: until then it is the reporting organisation's (the
    project's), so that naming someone's source does not make them a donor in the reports.
    Any other pledge, commitment, disbursement or expenditure is the project's own
    organisation's (as IATI reads an activity's outgoing flows without a provider-org).
    Incoming funds come from someone else, unknown until named."""
    if tx_type == TransactionType.INCOMING_FUNDS:
        return None
    if source_manager_id is not None and confirmed:
        return source_manager_id
    return project_org_id


def _source_manager(source_id: int | None) -> int | None:
    source = db.session.get(FundingSource, source_id) if source_id is not None else None
    return source.managing_org_id if source is not None else None


def _apply_transaction(
    tx: Transaction, data: dict[str, Any], project_org_id: int, actor: Actor, keep_unconverted: bool = False
) -> None:
    reject_unknown_fields(data, TX_FIELDS)
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
        errors["type"] = [_("Unknown transaction type %(type)s", type=repr(merged["type"]))]
    for required in ("type", "currency", "value_date", "amount"):
        if merged.get(required) in (None, "") and required not in errors:
            errors[required] = [_("Required")]
    if errors:
        raise ValidationError(_("The transaction is not valid"), errors)
    currency = rules.currency(merged["currency"])
    amount = rules.amount(merged["amount"], currency)
    if "funding_source_id" in data and data["funding_source_id"] is not None:
        if db.session.get(FundingSource, data["funding_source_id"]) is None:
            raise ValidationError(_("Unknown funding source"), {"funding_source_id": [_("No such funding source")]})
    if "provider_org_id" in data and data["provider_org_id"] is not None:
        if db.session.get(Organisation, data["provider_org_id"]) is None:
            raise ValidationError(_("Unknown organisation"), {"provider_org_id": [_("No such organisation")]})
    try:
        conversion: money.Conversion | None = to_usd(amount, currency, merged["value_date"])
    except ConversionError as exc:
        # A person typing the flow can fix the date or currency: refused. A file's flow is kept
        # in its own currency, without a USD value, and reported (see docs/import.md).
        if not keep_unconverted:
            raise ConversionError(
                _(
                    "%(problem)s. Give the amount in a currency and on a date that can be converted "
                    "(or in US dollars).",
                    problem=exc.message,
                ),
                currency=exc.currency,
                date=exc.date,
            ) from None
        conversion = None
    source_before = tx.funding_source_id
    tx.currency = currency
    tx.value_date = merged["value_date"]
    tx.amount_minor = money.to_minor(amount, currency)
    tx.usd_minor = money.to_minor(conversion.amount, "USD") if conversion else None
    tx.usd_rate = str(conversion.rate) if conversion else None
    tx.usd_rate_date = conversion.rate_date if conversion else None
    tx.usd_rate_source = conversion.source if conversion else None
    # A provider that was only implied follows the flow's new source, type or confirmation.
    implied_before = tx.type is not None and tx.provider_org_id == _implied(tx, project_org_id)
    tx.type = merged["type"]
    if "tied_status" in data:
        tx.tied_status = _tied_status(data["tied_status"], "tied_status")
    for key in ("funding_source_id", "provider_org_id", "flow_type", "finance_type", "aid_type", "description"):
        if key in data:
            setattr(tx, key, data[key] if data[key] is not None or key != "description" else "")
    manager = _source_manager(tx.funding_source_id)
    if tx.confirmed is None or tx.funding_source_id != source_before or not may_confirm(actor, manager):
        # A new flow, another source, or a change by someone who does not speak for the
        # source (what its organisation confirmed is no longer what is recorded).
        tx.confirmed = flow_confirmed(actor, manager, project_org_id)
    if tx.provider_org_id is None or (implied_before and data.get("provider_org_id") is None):
        tx.provider_org_id = _implied(tx, project_org_id)


def provider_is_implied(tx: Transaction) -> bool:
    """Whether the flow's provider is the one implied for it (a form shows it as not chosen,
    so that it follows the flow's source when that changes)."""
    return tx.provider_org_id is not None and tx.provider_org_id == _implied(tx, tx.project.org_id)


def _implied(tx: Transaction, project_org_id: int) -> int | None:
    confirmed = tx.confirmed is not False
    return implied_provider(tx.type, _source_manager(tx.funding_source_id), project_org_id, confirmed)


def add_transaction(actor: Actor, project: Project, data: dict[str, Any]) -> Transaction:
    """Record a money flow in its own currency and value date, with its USD value.

    A flow against another organisation's funding source is unconfirmed (see flow_confirmed)."""
    tx = Transaction(project_id=project.id, import_batch_id=actor.import_batch_id, description="", confirmed=None)
    _apply_transaction(tx, dict(data), project.org_id, actor, keep_unconverted=actor.channel == "import")
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
    _apply_transaction(tx, dict(data), tx.project.org_id, actor, keep_unconverted=actor.channel == "import")
    after = transaction_snapshot(tx)
    if before != after:
        db.session.flush()
        changed = audit.changed_fields(before, after)
        audit.record(
            actor, "update", "transaction", tx.id, before, after, f"Changed {', '.join(changed)}", tx.project.org_id
        )
    return tx


def confirm_transaction(actor: Actor, tx: Transaction) -> Transaction:
    """The source's organisation confirms a flow another organisation recorded against its
    funding source: the source's manager becomes the flow's provider (when none was named)."""
    manager = _source_manager(tx.funding_source_id)
    if not may_confirm(actor, manager):
        raise PermissionDenied(_("Only the organisation that manages the flow's funding source can confirm it"))
    if tx.confirmed:
        raise ConflictError(_("This flow is confirmed already"))
    before = transaction_snapshot(tx)
    implied_before = tx.provider_org_id == _implied(tx, tx.project.org_id)
    tx.confirmed = True
    if implied_before:
        tx.provider_org_id = _implied(tx, tx.project.org_id)
    db.session.flush()
    audit.record(
        actor,
        "confirm",
        "transaction",
        tx.id,
        before,
        transaction_snapshot(tx),
        f"Confirmed {tx.type.value} of {money.format_amount(tx.amount, tx.currency)} on project {tx.project_id}",
        tx.project.org_id,
    )
    return tx


def awaiting_confirmation(org_id: int, source_id: int | None = None) -> list[Transaction]:
    """Unconfirmed flows recorded against the funding sources an organisation manages."""
    stmt = (
        select(Transaction)
        .join(FundingSource, FundingSource.id == Transaction.funding_source_id)
        .where(Transaction.confirmed.is_(False), FundingSource.managing_org_id == org_id)
        .order_by(Transaction.value_date, Transaction.id)
    )
    if source_id is not None:
        stmt = stmt.where(Transaction.funding_source_id == source_id)
    return list(db.session.scalars(stmt))


def delete_transaction(actor: Actor, tx: Transaction) -> None:
    """Delete a money flow: marked deleted, restorable (registry.services.deletion)."""
    deletion.delete_transaction(actor, tx)
