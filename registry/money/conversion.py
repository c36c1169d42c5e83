"""Conversion between currencies: the one rule (``quote``) and the converted amount it gives.

The rule, for an amount in one currency and its value date:

1. the European Central Bank's daily euro reference rates of the value date
   (``registry/data/ecb_rates.zip``), and the legal fixed parities to the euro
   (CFA francs, Comorian franc, Cabo Verde escudo, convertible mark, new dobra) that the
   ECB does not publish, when both currencies have one;
2. otherwise (a currency the ECB does not publish, a date before its series) the IMF
   annual average rate of the value date's year (``registry/data/imf_rates.csv``, national
   currency per US dollar) for the currency that needs it; the latest IMF year serves the
   dates of the following year;
3. otherwise no conversion: ``ConversionError`` says why.

Rates are read as exact decimals from their published text. A rate file loaded with
``flask reference rates load`` lives in the instance folder (``RATES_DIR``) and
overrides the shipped one, so that an upgrade never changes a figure by itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from typing import NamedTuple

from registry.errors import ConversionError
from registry.money.amounts import minor_units, quantize
from registry.money.rate_files import annual_table, euro_pegs, rate_table
from registry.money.rate_tables import PublishedRate

# Reads in "converted at the {RATE_SOURCE} of its value date".
RATE_SOURCE = (
    "European Central Bank daily reference rate (or legal euro parity, or IMF annual average "
    "where the ECB publishes no rate)"
)
ECB_SOURCE = "European Central Bank euro foreign exchange reference rates"
IMF_SOURCE = "IMF International Financial Statistics, annual average exchange rates (ENDA)"

# -- what a converted amount records -------------------------------------------------

# How a rate was obtained: the ingredients, joined with "+" in this order. A flow's
# ``usd_rate_source`` is one of the first five (USD is reached from the euro through the
# ECB's USD rate, so a parity never serves alone there); cross rates between two other
# currencies may mix the ECB and the IMF, and say so.
IDENTITY = "identity"
ECB = "ecb"
PARITY = "parity"
IMF_ANNUAL = "imf_annual"
RATE_SOURCES: dict[str, str] = {
    "identity": "no conversion: the amount is already in that currency",
    "ecb": "ECB daily reference rate(s) of the value date (a cross rate through the euro)",
    "ecb+parity": "a legal parity to the euro and the ECB daily rate of the value date",
    "parity": "legal parities to the euro only (no published rate is needed)",
    "imf_annual": "IMF annual average rate(s) of the value date's year",
    "ecb+imf_annual": "a cross rate: the ECB daily rate of one currency, the IMF annual average of the other",
    "ecb+parity+imf_annual": "a cross rate: a legal euro parity and the ECB daily rate, and the IMF annual average",
}
ANNUAL_SOURCES = frozenset(s for s in RATE_SOURCES if IMF_ANNUAL in s)
_SOURCES = {frozenset({ECB}): ECB, frozenset({ECB, PARITY}): "ecb+parity", frozenset({PARITY}): PARITY}


def _source_of(tags: frozenset[str] | set[str]) -> str:
    return _SOURCES.get(tags) or "+".join(t for t in (ECB, PARITY, IMF_ANNUAL) if t in tags) or IDENTITY


@dataclass(frozen=True)
class Conversion:
    """A converted amount with the rate, the rate's date and the source that produced it.

    For an annual rate the date is 31 December of its year (``source`` says annual)."""

    amount: Decimal
    currency: str
    rate: Decimal
    rate_date: dt.date
    source: str = IDENTITY


class Quote(NamedTuple):
    """Units of the target currency for one unit of the source currency, with its date and source.

    (A tuple: a report in another currency asks for tens of thousands of them.)"""

    rate: Decimal
    rate_date: dt.date
    source: str


RATE_PRECISION = 12  # significant digits recorded for a rate that is a quotient of two published ones
_WIDE = Context(prec=60)  # products of published rates, exactly


def exchange_rate(source: str, target: str, on: dt.date, max_age_days: int = 7) -> PublishedRate:
    """Units of ``target`` for one unit of ``source`` on a date, and the rate date used."""
    found = quote(source, target, on, max_age_days)
    return PublishedRate(found.rate, found.rate_date)


def quote(source: str, target: str, on: dt.date, max_age_days: int = 7) -> Quote:
    """The rate from ``source`` to ``target`` for an amount dated ``on`` (see the module's rule).

    Raises ConversionError, saying why, when no source can convert it."""
    minor_units(source)
    minor_units(target)
    if source == target:
        return Quote(Decimal(1), on, IDENTITY)
    try:
        src = _per_euro(source, on, max_age_days)
        dst = _per_euro(target, on, max_age_days)
    except ConversionError:
        pass
    else:
        with localcontext() as ctx:
            ctx.prec = RATE_PRECISION
            rate = dst.rate / src.rate
        # The ECB day whose rate was used; a conversion between the euro and the currencies
        # fixed to it uses no published rate and holds on the value date itself.
        published = [day for day in (src.day, dst.day) if day is not None]
        return Quote(rate, max(published, default=on), _source_of(src.tags | dst.tags))
    # One of them needs the IMF: both are taken as units per US dollar.
    src_usd = _per_usd(source, on, max_age_days)
    dst_usd = _per_usd(target, on, max_age_days)
    with localcontext() as ctx:
        ctx.prec = RATE_PRECISION
        rate = _WIDE.multiply(dst_usd.numerator, src_usd.denominator) / _WIDE.multiply(
            dst_usd.denominator, src_usd.numerator
        )
    days = [r.day for r in (src_usd, dst_usd) if r.day is not None and IMF_ANNUAL in r.tags]
    if not days:  # pragma: no cover - the first branch converts whatever the ECB alone can
        days = [r.day for r in (src_usd, dst_usd) if r.day is not None]
    return Quote(rate, max(days, default=on), _source_of(src_usd.tags | dst_usd.tags))


class EuroRate(NamedTuple):
    """Units of a currency per 1 EUR, the ECB day of that rate (None when no publication is
    needed: the euro itself, a legal parity) and the source tags."""

    rate: Decimal
    day: dt.date | None
    tags: frozenset[str]


class UsdRate(NamedTuple):
    """Units of a currency per 1 USD as an exact quotient, the rate's date (31 December of its
    year for an annual rate; None for the dollar itself) and the source tags."""

    numerator: Decimal
    denominator: Decimal
    day: dt.date | None
    tags: frozenset[str]


_ONE = Decimal(1)
_NO_TAGS: frozenset[str] = frozenset()
_ECB_TAGS = frozenset({ECB})
_PARITY_TAGS = frozenset({PARITY})
_IMF_TAGS = frozenset({IMF_ANNUAL})


def _per_euro(currency: str, on: dt.date, max_age_days: int) -> EuroRate:
    """Units of ``currency`` per 1 EUR on ``on``, the ECB day of that rate (None when the rate is
    the euro itself or a fixed parity, which need no publication), and the source tags."""
    if currency == "EUR":
        return EuroRate(_ONE, None, _NO_TAGS)
    peg = euro_pegs().get(currency)
    if peg is None:
        published = rate_table().per_euro(currency, on, max_age_days)
        return EuroRate(published.rate, published.day, _ECB_TAGS)
    if on < peg.valid_from:
        raise ConversionError(
            f"{currency} is fixed to the euro ({peg.per_euro} per EUR) only from {peg.valid_from.isoformat()}; "
            f"an amount dated {on.isoformat()} cannot be converted at that parity",
            currency=currency,
            date=on,
        )
    return EuroRate(peg.per_euro, None, _PARITY_TAGS)


def _per_usd(currency: str, on: dt.date, max_age_days: int) -> UsdRate:
    """Units of ``currency`` per 1 USD on ``on`` as an exact quotient (numerator, denominator),
    the rate's date (31 December of the year for an annual rate) and the source tags: the
    ECB (with a parity) when it has both the currency and the dollar that day, else the IMF
    annual average of the year."""
    if currency == "USD":
        return UsdRate(_ONE, _ONE, None, _NO_TAGS)
    try:
        own = _per_euro(currency, on, max_age_days)
        usd = _per_euro("USD", on, max_age_days)
        published = [d for d in (own.day, usd.day) if d is not None]
        return UsdRate(own.rate, usd.rate, max(published, default=on), own.tags | _ECB_TAGS)
    except ConversionError as ecb_failed:
        try:
            annual = annual_table().per_usd(currency, on)
        except ConversionError as imf_failed:
            if currency in rate_table().currencies or currency in euro_pegs() or currency == "EUR":
                reason = f"{ecb_failed.message[:1].lower()}{ecb_failed.message[1:]}, and {imf_failed.message}"
            else:
                reason = f"the ECB does not publish {currency}, and {imf_failed.message}"
            raise ConversionError(
                f"No exchange rate for {currency} on {on.isoformat()}: {reason}", currency=currency, date=on
            ) from None
        return UsdRate(annual.rate, _ONE, dt.date(annual.year, 12, 31), _IMF_TAGS)


def convert(amount: Decimal, source: str, target: str, on: dt.date, max_age_days: int = 7) -> Conversion:
    """Convert at the rate of the value date (see ``quote``), rounded half-even to the target's decimals.

    A currency fixed to the euro (XOF, XAF, ...) goes through its parity and the ECB euro
    rate of the other currency that day, like any cross rate."""
    if source == target:
        return Conversion(quantize(amount, target), target, Decimal(1), on, IDENTITY)
    found = quote(source, target, on, max_age_days)
    with localcontext() as ctx:
        ctx.prec = 40
        value = amount * found.rate
    return Conversion(quantize(value, target), target, found.rate, found.rate_date, found.source)


def to_usd_or_none(amount: Decimal, currency: str, on: dt.date, max_age_days: int = 7) -> Conversion | None:
    """``convert`` to USD, or None when no source can convert the amount (it is then kept in
    its own currency, flagged, never dropped)."""
    try:
        return convert(amount, currency, "USD", on, max_age_days)
    except ConversionError:
        return None
