"""Amounts: Decimal values, ISO 4217 currencies and their decimals, integer minor units.

No float ever touches an amount. Amounts are stored as integer minor units (cents) with
their ISO 4217 currency; this module reads typed amounts, converts between ``Decimal`` and
minor units exactly, rounds half-even where a value is computed, and applies a rate to minor
units in integers (``minor_ratio``, ``convert_minor``) for the many amounts of an import or
a report.
"""

from __future__ import annotations

import csv
import re
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation
from functools import cache
from importlib import resources
from typing import NamedTuple

from registry.errors import MoneyError

# Larger amounts are typing mistakes, and would not fit a 64-bit count of minor units
# (nor, once converted, of US cents).
MAX_AMOUNT = Decimal(10) ** 14


class Currency(NamedTuple):
    """An ISO 4217 currency as the registry knows it."""

    name: str
    minor_units: int


@cache
def currencies() -> dict[str, Currency]:
    """ISO 4217 code -> its name and minor units, from the shipped currency table."""
    text = resources.files("registry").joinpath("data/currencies.csv").read_text("utf-8")
    return {row["code"]: Currency(row["name"], int(row["minor_units"])) for row in csv.DictReader(text.splitlines())}


def is_currency(code: str) -> bool:
    """True when ``code`` is an active ISO 4217 currency code."""
    return code in currencies()


def minor_units(currency: str) -> int:
    """Number of decimals the currency allows (USD 2, JPY 0, KWD 3)."""
    try:
        return currencies()[currency].minor_units
    except KeyError:
        raise MoneyError(f"Unknown currency code {currency!r} (expected ISO 4217, e.g. USD)") from None


_SPACES = re.compile(r"[ \u00a0\u202f\u2009]")
_COMMA_GROUPS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def normalise_typed(text: str) -> str:
    """An amount as a person types it, as a plain decimal string.

    Spaces between digit groups and comma thousands separators are removed where they
    cannot be misread: "2,500,000", "1,250.50", "2 500 000". A single comma with no
    decimal point ("12,5", "1,250") could be a decimal comma or a thousands separator,
    so it is refused with a hint rather than guessed.
    """
    text = _SPACES.sub("", text.strip())
    if _COMMA_GROUPS.match(text) and (text.count(",") >= 2 or "." in text):
        return text.replace(",", "")
    if "," in text:
        raise MoneyError(
            f"{text!r} is not a decimal amount: use a dot for decimals (12.5) "
            "and, if you like, commas between thousands (2,500,000.00)"
        )
    return text


def parse_amount(value: str | int | Decimal, currency: str) -> Decimal:
    """Read a decimal amount; reject floats and more decimals than the currency has."""
    if isinstance(value, float):
        raise MoneyError("Amounts must be given as decimal strings, not floating-point numbers")
    if isinstance(value, bool):
        raise MoneyError(f"{value!r} is not an amount")
    try:
        amount = Decimal(normalise_typed(str(value)))
    except InvalidOperation:
        raise MoneyError(f"{value!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise MoneyError(f"{value!r} is not a finite amount")
    if abs(amount) >= MAX_AMOUNT:
        raise MoneyError(f"{value} is too large: amounts stay below {MAX_AMOUNT:,}")
    places = minor_units(currency)
    # The exponent without trailing zeros, exactly (normalize() would round beyond 28 digits
    # and let 1000.5000000000000000000000000001 pass as 1000.50).
    _sign, digits, exponent = amount.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    exponent = exponent + len(digits) - len(significant) if significant else 0  # zero has no decimals
    if -exponent > places:
        raise MoneyError(
            f"{value} has more decimals than {currency} allows ({places})",
        )
    return amount


def to_minor(amount: Decimal, currency: str) -> int:
    """Decimal amount -> integer minor units, exactly (raises if it would round)."""
    scaled = amount.scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount} has more decimals than {currency} allows")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Integer minor units -> Decimal with the currency's number of decimals."""
    # An integer's exponent is 0, so scaleb alone gives exactly ``places`` decimals ("0.00" too).
    return Decimal(minor).scaleb(-minor_units(currency), _EXACT)


_EXACT = Context(prec=60, traps=[Inexact])  # from_minor never rounds: it raises instead


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half-even to the currency's decimals (for computed values only)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_EVEN)


def format_amount(amount: Decimal | None, currency: str = "") -> str:
    """Human display: thousands separators, the currency's decimals."""
    if amount is None:
        return "–"
    places = minor_units(currency) if currency else 2
    text = f"{amount:,.{places}f}"
    return f"{text} {currency}".strip()


class MinorRatio(NamedTuple):
    """Minor units of a source currency times ``numerator / denominator`` are minor units of the
    target currency, exactly."""

    numerator: int
    denominator: int


def divide_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator (denominator > 0) rounded to an integer, ties to even."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def minor_ratio(rate: Decimal, source: str, target: str) -> MinorRatio:
    """The ratio that converts minor units of ``source`` to minor units of ``target`` at
    ``rate``, exactly (see ``convert_minor``)."""
    numerator, denominator = rate.as_integer_ratio()
    shift = minor_units(target) - minor_units(source)
    if shift >= 0:
        return MinorRatio(numerator * 10**shift, denominator)
    return MinorRatio(numerator, denominator * 10**-shift)


def convert_minor(minor: int, ratio: MinorRatio) -> int:
    """Minor units converted at a ``minor_ratio``, rounded half-even once: the value ``convert``
    gives, computed in integers (for the many amounts of an import or a report)."""
    return divide_half_even(minor * ratio.numerator, ratio.denominator)
