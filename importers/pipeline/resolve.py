"""Stage 2, resolving references: the organisation a file is imported for, and for each flow
its funding source, provider organisation, recipient country or region and USD rate, each
looked up once per distinct value (``_Resolver``). ``_Resolver.tx_row`` is the fast path of a
flow's validation; anything unusual takes the full path (``validate._tx_values``), whose rules
and messages are the registry's own (registry.services.rules)."""

from __future__ import annotations

import datetime as dt
from decimal import Context, Decimal, Inexact, Rounded
from typing import Any

from sqlalchemy import select

from importers.pipeline.common import _MISSING, TX_FIELDS
from importers.pipeline.validate import _tx_values
from importers.records import TransactionRecord
from registry import money
from registry.errors import ConversionError, NotFoundError, ValidationError
from registry.extensions import db
from registry.models import Country, Organisation, Region
from registry.models.types import TransactionType
from registry.services import funding, organisations
from registry.services import projects as project_service
from registry.services.actor import Actor


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
            t.tied_status or None,
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
