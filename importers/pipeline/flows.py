"""The stored flows a re-import meets: which ones are the same (``_tx_key``), which confirmations
survive (``_keep_confirmations``), which are replaced (``same_prices``), and how a replaced one is
kept in the undo log and restored (``_jsonable_row``, ``_restore_row``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from importers.pipeline.common import _TIED_AT, _TYPE_AT, TX_FIELDS
from importers.pipeline.resolve import _Resolver
from registry.models import ImportBatch, Transaction
from registry.models.types import TransactionType
from registry.services import audit, rules
from registry.services import projects as project_service


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
        row["tied_status"],
    )


_RECIPIENT_AT = (TX_FIELDS.index("recipient_country_iso3"), TX_FIELDS.index("recipient_region_code"))


def _new_tx_key(row: tuple) -> tuple:
    """``_tx_key`` of a validated transaction tuple (TX_FIELDS order)."""
    source, provider, tx_type, amount, currency, on, flow, finance, aid, description = row[:10]
    tx_type = str(tx_type.value if hasattr(tx_type, "value") else tx_type)
    country, region = row[_RECIPIENT_AT[0]], row[_RECIPIENT_AT[1]]
    tied = row[_TIED_AT]
    return (
        tx_type,
        amount,
        currency,
        on,
        source,
        provider,
        flow,
        finance,
        aid,
        description or "",
        country,
        region,
        tied,
    )


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


def same_prices(batch: ImportBatch):
    """The stored flows a re-import replaces: those of its own price basis only, so that importing
    a CRS file at constant prices never removes the current-price flows (nor the reverse)."""
    if (batch.options or {}).get("prices") == "constant":
        return Transaction.price_basis == "constant"
    return Transaction.price_basis.is_(None)
