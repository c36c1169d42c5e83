"""Stage 3, validating: a record's project and flows checked with the registry's one set of
rules (``registry.services.rules``, the need rule of ``registry.services.projects``), every
broken rule reported. Validated lists shared by many projects of a file are checked once."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from importers.pipeline.candidate import _areas_json, _Candidate, _recipients_json
from importers.pipeline.common import _MISSING
from importers.records import AreaRecord, ProjectRecord, TransactionRecord
from registry import money
from registry.errors import RegistryError, ValidationError
from registry.models.project import SHARE_SCALE, SHARE_WHOLE
from registry.services import areas as area_service
from registry.services import projects as project_service
from registry.services import rules

if TYPE_CHECKING:
    from importers.pipeline.resolve import _Resolver


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
    p.default_tied_status = rec.default_tied_status or None
    p.collaboration_type = rec.collaboration_type or None
    p.funding_partners = rec.funding_partners or ""
    p.scope = rec.scope or None
    p.infrastructure = rec.infrastructure or None
    failed: list[RegistryError] = []
    try:
        p.status = rules.project_fields(
            rec.reference,
            rec.title,
            rec.status,
            {name: getattr(p, name) for name in project_service.DATE_FIELDS},
            rec.description,
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
        "tied_status": t.tied_status or None,
    }
