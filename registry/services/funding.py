"""Creating, changing and deleting funding sources."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from registry import money
from registry.errors import ConflictError, ValidationError
from registry.extensions import db
from registry.models import Country, FundingSource, Organisation, PriorityArea, RecipientCategory, Region
from registry.models.funding import FundingSourceInstrument
from registry.models.soft_delete import INCLUDE_DELETED
from registry.models.types import Instrument, SourceKind
from registry.services import audit, deletion
from registry.services.actor import Actor
from registry.services.lookup import load
from registry.services.versions import reject_unknown_fields, update_versioned

SCALAR_FIELDS = ("ref", "name", "kind", "managing_org_id", "window_from", "window_until", "website", "description")
LIST_FIELDS = (
    "instruments",
    "countries",
    "regions",
    "categories",
    "areas",
    "min_amount",
    "max_amount",
    "amount_currency",
)


def snapshot(source: FundingSource) -> dict[str, Any]:
    data: dict[str, Any] = {f: getattr(source, f) for f in SCALAR_FIELDS}
    data["instruments"] = source.instruments
    data["countries"] = [c.iso3 for c in source.countries]
    data["regions"] = [r.code for r in source.regions]
    data["categories"] = [c.code for c in source.categories]
    data["areas"] = [a.code for a in source.areas]
    data["amount_currency"] = source.amount_currency
    for key in ("min", "max"):
        minor = getattr(source, f"{key}_amount_minor")
        data[f"{key}_amount"] = str(money.from_minor(minor, source.amount_currency)) if minor is not None else None
    return audit._jsonable(data)


def get_funding_source(source_id: int) -> FundingSource:
    return load(FundingSource, source_id, "funding source")


def find_funding_source(ref_or_name: str) -> FundingSource | None:
    """Find by reference or exact (case-insensitive) name."""
    text = ref_or_name.strip()
    source = db.session.scalar(select(FundingSource).where(FundingSource.ref == text))
    if source:
        return source
    return db.session.scalar(select(FundingSource).where(func.lower(FundingSource.name) == text.lower()).limit(1))


def _lookup(model, codes: list[str], field: str, normalise=str.upper) -> list:
    found = []
    for code in codes:
        obj = db.session.get(model, normalise(str(code)))
        if obj is None:
            message = _("Unknown code %(code)s", code=repr(code))
            raise ValidationError(message, {field: [message]})
        if obj not in found:
            found.append(obj)
    return found


def _apply(source: FundingSource, data: dict[str, Any]) -> None:
    reject_unknown_fields(data, SCALAR_FIELDS, LIST_FIELDS)
    for key in SCALAR_FIELDS:
        if key in data:
            value = data[key]
            if key == "kind":
                try:
                    value = SourceKind(value)
                except ValueError:
                    kinds = ", ".join(k.value for k in SourceKind)
                    raise ValidationError(
                        _(
                            "Unknown kind %(kind)s; a funding source is one of: %(kinds)s",
                            kind=repr(value),
                            kinds=kinds,
                        ),
                        {"kind": [_("Unknown funding source kind (one of: %(kinds)s)", kinds=kinds)]},
                    ) from None
            # None: an administrator without an organisation gave none (no default to take).
            if key == "managing_org_id" and (value is None or db.session.get(Organisation, value) is None):
                raise ValidationError(
                    _("Unknown managing organisation"), {"managing_org_id": [_("No such organisation")]}
                )
            setattr(source, key, value)
    if "instruments" in data:
        rows = []
        for value in data["instruments"] or []:
            try:
                instrument = Instrument(value)
            except ValueError:
                message = _("Unknown instrument %(instrument)s", instrument=repr(value))
                raise ValidationError(message, {"instruments": [message]}) from None
            if instrument not in [r.instrument for r in rows]:
                rows.append(FundingSourceInstrument(instrument=instrument))
        source.instrument_rows = rows
    if "countries" in data:
        source.countries = _lookup(Country, data["countries"] or [], "countries")
    if "regions" in data:
        source.regions = _lookup(Region, data["regions"] or [], "regions", normalise=lambda c: c.zfill(3))
    if "categories" in data:
        source.categories = _lookup(RecipientCategory, data["categories"] or [], "categories")
    if "areas" in data:
        source.areas = _lookup(PriorityArea, data["areas"] or [], "areas", normalise=str.lower)
    if "amount_currency" in data or "min_amount" in data or "max_amount" in data:
        currency = str(data.get("amount_currency") or source.amount_currency or "USD").upper()
        if not money.is_currency(currency):
            raise ValidationError(
                _("Unknown currency %(code)s", code=repr(currency)), {"amount_currency": [_("Not an ISO 4217 code")]}
            )
        for key in ("min", "max"):
            if f"{key}_amount" in data:
                value = data[f"{key}_amount"]
                minor = None
                if value not in (None, ""):
                    try:
                        minor = money.to_minor(money.parse_amount(value, currency), currency)
                    except ValidationError as exc:
                        raise ValidationError(exc.message, {f"{key}_amount": [exc.message]}) from None
                setattr(source, f"{key}_amount_minor", minor)
            elif getattr(source, f"{key}_amount_minor") is not None and currency != source.amount_currency:
                raise ValidationError(
                    _("Give the amounts again when changing their currency"),
                    {"amount_currency": [_("Give amounts too")]},
                )
        source.amount_currency = currency
    _check(source)


def _check(source: FundingSource) -> None:
    errors: dict[str, list[str]] = {}
    for key in ("ref", "name", "kind", "managing_org_id"):
        if getattr(source, key) in (None, ""):
            errors[key] = [_("Required")]
    if (
        source.min_amount_minor is not None
        and source.max_amount_minor is not None
        and source.min_amount_minor > source.max_amount_minor
    ):
        errors["max_amount"] = [_("The maximum is below the minimum")]
    if source.window_from and source.window_until and source.window_from > source.window_until:
        errors["window_until"] = [_("The window closes before it opens")]
    if errors:
        raise ValidationError(_("The funding source is not valid"), errors)
    clash = db.session.scalar(
        select(FundingSource.id).where(FundingSource.ref == source.ref, FundingSource.id != source.id),
        execution_options=INCLUDE_DELETED,
    )
    if clash:
        deleted = deletion.deleted_holder("funding_source", clash)
        if deleted is None:
            message = _("Another funding source already uses reference %(ref)s", ref=repr(source.ref))
        else:
            message = _(
                "Another funding source already uses reference %(ref)s (deleted %(date)s by %(by)s; restore it "
                "rather than adding it again)",
                ref=repr(source.ref),
                **deleted,
            )
        raise ConflictError(message, {"ref": [_("Already used")]})


def create_funding_source(actor: Actor, data: dict[str, Any], *, demo: bool = False) -> FundingSource:
    """Add a funding source with its rules."""
    source = FundingSource(demo=demo, import_batch_id=actor.import_batch_id, amount_currency="USD")
    with db.session.no_autoflush:
        _apply(source, dict(data))
    db.session.add(source)
    db.session.flush()
    audit.record(
        actor,
        "create",
        "funding_source",
        source.id,
        None,
        snapshot(source),
        f"Created {source.name}",
        source.managing_org_id,
    )
    return source


def update_funding_source(
    actor: Actor, source: FundingSource, data: dict[str, Any], expected_version: int | None = None
) -> FundingSource:
    """Change a funding source's rules; ``expected_version`` guards against lost updates."""
    return update_versioned(
        actor,
        source,
        "funding_source",
        data,
        apply=_apply,
        snapshot=snapshot,
        org_id=lambda s: s.managing_org_id,
        expected_version=expected_version,
    )


def delete_funding_source(actor: Actor, source: FundingSource, expected_version: int | None = None) -> None:
    """Delete a source: marked deleted, restorable; its flows keep their link (registry.services.deletion)."""
    deletion.delete_funding_source(actor, source, expected_version)
