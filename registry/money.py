"""Exact money: Decimal amounts, integer minor units in storage, conversion between currencies.

No float ever touches an amount. Amounts are stored as integer minor units
(cents) with their ISO 4217 currency. Conversion follows one rule (``quote``):

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

import bisect
import csv
import datetime as dt
import io
import os
import re
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation, localcontext
from functools import cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from flask import current_app, has_app_context

from registry.errors import ConversionError, MoneyError

# Reads in "converted at the {RATE_SOURCE} of its value date".
RATE_SOURCE = (
    "European Central Bank daily reference rate (or legal euro parity, or IMF annual average "
    "where the ECB publishes no rate)"
)
ECB_SOURCE = "European Central Bank euro foreign exchange reference rates"
IMF_SOURCE = "IMF International Financial Statistics, annual average exchange rates (ENDA)"
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


class RatesFileError(ValueError):
    """A rates file that cannot be read: says where (line, column) and which value."""


# -- ECB daily rates -----------------------------------------------------------------


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
        return cls.from_ecb_text(ecb_text(path))

    @classmethod
    def from_ecb_text(cls, text: str) -> RateTable:
        """Read the text of the ECB history CSV (the date column, then one column per currency)."""
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

    def rates(self, currency: str) -> dict[dt.date, Decimal]:
        """Every published rate of a currency (for comparing two rate files)."""
        self._column(currency)
        return self._rates.get(currency, {})

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


def ecb_text(path: Path) -> str:
    """The CSV text of an ECB history file, plain or zipped as the ECB publishes it."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(names) != 1:
                raise RatesFileError(f"{path.name}: the archive should hold one CSV file, not {len(names)}")
            return archive.read(names[0]).decode("utf-8-sig")
    return path.read_text("utf-8-sig")


_DECIMAL_TEXT = re.compile(r"^\d+(\.\d+)?$")


def check_ecb_text(text: str, name: str) -> None:
    """Raise RatesFileError (with line, column and value) unless ``text`` is an ECB history CSV."""
    lines = text.splitlines()
    if not lines:
        raise RatesFileError(f"{name}: the file is empty")
    header = [h.strip() for h in lines[0].split(",")]
    if header[0] != "Date":
        raise RatesFileError(f"{name}, line 1: the first column should be 'Date', not {header[0]!r}")
    codes = header[1:]
    while codes and not codes[-1]:
        codes.pop()  # the ECB ends every line with a comma
    for column, code in enumerate(codes, start=2):
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise RatesFileError(f"{name}, line 1, column {column}: {code!r} is not a currency code")
    if len(set(codes)) != len(codes):
        raise RatesFileError(f"{name}, line 1: a currency appears twice")
    seen: set[dt.date] = set()
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            day = dt.date.fromisoformat(cells[0])
        except ValueError:
            raise RatesFileError(
                f"{name}, line {number}, column Date: {cells[0]!r} is not a date (YYYY-MM-DD)"
            ) from None
        if day in seen:
            raise RatesFileError(f"{name}, line {number}: the date {cells[0]} appears twice")
        seen.add(day)
        if any(cells[len(codes) + 1 :]):
            raise RatesFileError(f"{name}, line {number}: more values than currencies in the header")
        for code, cell in zip(codes, cells[1:], strict=False):
            if _is_rate(cell) and (not _DECIMAL_TEXT.match(cell) or Decimal(cell) == 0):
                raise RatesFileError(
                    f"{name}, line {number}, column {code}: {cell!r} is not a rate (a positive decimal, or N/A)"
                )
    if not seen:
        raise RatesFileError(f"{name}: the file has no rates")


# -- IMF annual averages ---------------------------------------------------------------

IMF_COLUMNS = ("Date", "Rate", "Currency")  # the columns read; the file may have more


class AnnualTable:
    """IMF annual average rates: units of a currency per 1 USD, by currency and year.

    Several countries share some currencies (the euro area and Montenegro, the CFA franc
    zones, the Australian dollar in Kiribati...), each with its own row; the rate kept for a
    currency and year is that of its issuer (country code = the currency code's first two
    letters: AU for AUD), else the currency union's own aggregate row (a code with a digit:
    U2 euro area, 7A WAEMU, 5X CEMAC, 5Y ECCU), else the first row of the file."""

    def __init__(self, rows: dict[str, dict[int, str]]):
        self._raw = rows  # currency -> year -> rate text
        self._rates: dict[str, dict[int, Decimal]] = {}
        self.last_year = max((max(years) for years in rows.values() if years), default=None)

    @classmethod
    def from_text(cls, text: str, name: str = "IMF rates") -> AnnualTable:
        """Read (and check) the IMF CSV: Date (year end), Rate (units per USD), Currency, ..."""
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header:
            raise RatesFileError(f"{name}: the file is empty")
        header = [h.strip() for h in header]
        missing = [c for c in IMF_COLUMNS if c not in header]
        if missing:
            raise RatesFileError(
                f"{name}, line 1: missing column(s) {', '.join(missing)} (an IMF rates file has "
                "Date, Rate, Currency, Frequency, Source, Country code, Country)"
            )
        at = {c: header.index(c) if c in header else None for c in (*IMF_COLUMNS, "Country code", "Frequency")}
        chosen: dict[tuple[str, int], tuple[int, str]] = {}  # (currency, year) -> (rank, rate text)
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) < len(header):
                raise RatesFileError(f"{name}, line {number}: {len(cells)} values for {len(header)} columns")
            date, rate, currency = (cells[at[c]].strip() for c in IMF_COLUMNS)
            try:
                year = dt.date.fromisoformat(date).year
            except ValueError:
                raise RatesFileError(
                    f"{name}, line {number}, column Date: {date!r} is not a date (YYYY-12-31)"
                ) from None
            if not _DECIMAL_TEXT.match(rate) or Decimal(rate) == 0:
                raise RatesFileError(f"{name}, line {number}, column Rate: {rate!r} is not a rate (a positive decimal)")
            if not re.fullmatch(r"[A-Z]{3}", currency):
                raise RatesFileError(f"{name}, line {number}, column Currency: {currency!r} is not a currency code")
            frequency = cells[at["Frequency"]].strip() if at.get("Frequency") is not None else "A"
            if frequency not in ("A", ""):
                raise RatesFileError(
                    f"{name}, line {number}, column Frequency: {frequency!r} (only annual rates, A, are read)"
                )
            country = cells[at["Country code"]].strip() if at.get("Country code") is not None else ""
            rank = 0 if country == currency[:2] else 1 if any(ch.isdigit() for ch in country) else 2
            key = (currency, year)
            if key not in chosen or rank < chosen[key][0]:
                chosen[key] = (rank, rate)
        if not chosen:
            raise RatesFileError(f"{name}: the file has no rates")
        rows: dict[str, dict[int, str]] = {}
        for (currency, year), (_rank, rate) in chosen.items():
            rows.setdefault(currency, {})[year] = rate
        return cls(rows)

    def _column(self, currency: str) -> dict[int, Decimal]:
        found = self._rates.get(currency)
        if found is None:
            found = self._rates[currency] = {y: Decimal(t) for y, t in self._raw.get(currency, {}).items()}
        return found

    @property
    def currencies(self) -> set[str]:
        return set(self._raw)

    def rates(self, currency: str) -> dict[int, Decimal]:
        return self._column(currency)

    def per_usd(self, currency: str, on: dt.date) -> tuple[Decimal, int]:
        """The annual average of ``on``'s year (units per USD) and that year; the latest year
        of the file also serves the year after it (for a currency still published then)."""
        years = self._column(currency)
        if not years:
            raise ConversionError(f"the IMF publishes no annual average of {currency}", currency=currency, date=on)
        if on.year in years:
            return years[on.year], on.year
        last = max(years)
        if on.year == last + 1 and last == self.last_year:
            return years[last], last
        first = min(years)
        if on.year > last:
            served = f"{last + 1}-12-31" if last == self.last_year else f"{last}-12-31"
            why = f"the IMF annual averages of {currency} end in {last} (they serve dates up to {served})"
        elif on.year < first:
            why = f"the IMF annual averages of {currency} start in {first}"
        else:
            why = f"the IMF publishes no annual average of {currency} for {on.year}"
        raise ConversionError(why, currency=currency, date=on)


# -- the files the registry reads ------------------------------------------------------

ECB_FILE = "ecb_rates.zip"  # shipped: the ECB's eurofxref-hist.zip
ECB_LOADED = "ecb_rates.csv"  # loaded into RATES_DIR: the CSV inside whatever was loaded
IMF_FILE = "imf_rates.csv"


def _rates_dir_text() -> str | None:
    if not has_app_context():
        return None
    return current_app.config.get("RATES_DIR") or None


def rates_dir() -> Path | None:
    """The folder of loaded rate files (the app's ``RATES_DIR``), when there is an app."""
    value = _rates_dir_text()
    return Path(value) if value else None


def shipped_file(name: str) -> Path:
    return Path(str(resources.files("registry").joinpath(f"data/{name}")))


def rate_file(kind: str) -> Path:
    """The file read for ``kind`` ("ecb" or "imf"): the loaded one if any, else the shipped one."""
    folder = rates_dir()
    loaded = ECB_LOADED if kind == "ecb" else IMF_FILE
    if folder is not None and (folder / loaded).is_file():
        return folder / loaded
    return shipped_file(ECB_FILE if kind == "ecb" else IMF_FILE)


_TABLES: dict[tuple[str, str, int], object] = {}
_TRIAL: dict[str, object] = {}  # tables put in force for a while (what a file would change)


@contextmanager
def rates_in_force(ecb: RateTable | None = None, imf: AnnualTable | None = None) -> Iterator[None]:
    """Convert with these tables instead of the files, inside the block (a file's trial run)."""
    before = dict(_TRIAL)
    if ecb is not None:
        _TRIAL["ecb"] = ecb
    if imf is not None:
        _TRIAL["imf"] = imf
    try:
        yield
    finally:
        _TRIAL.clear()
        _TRIAL.update(before)


# A process looks for a newly loaded file at most this often (a report converts thousands of
# (currency, day) groups: a file-system check for each would cost more than the conversions).
RECHECK_SECONDS = 5.0
_RECENT: dict[tuple[str, str | None], tuple[float, object]] = {}


def forget_tables() -> None:
    """Look for the rate files again at the next conversion (after a file is loaded)."""
    _RECENT.clear()


def _table(kind: str):
    """The table of a file, read once per file version (a newly loaded file is read again)."""
    if kind in _TRIAL:
        return _TRIAL[kind]
    memo_key = (kind, _rates_dir_text())
    recent = _RECENT.get(memo_key)
    now = time.monotonic()
    if recent is not None and now - recent[0] < RECHECK_SECONDS:
        return recent[1]
    found = _read_table(kind)
    _RECENT[memo_key] = (now, found)
    return found


def _read_table(kind: str):
    path = rate_file(kind)
    key = (kind, str(path), os.stat(path).st_mtime_ns)
    found = _TABLES.get(key)
    if found is None:
        if kind == "ecb":
            found = RateTable.from_ecb_file(path)
        else:
            found = AnnualTable.from_text(path.read_text("utf-8-sig"), path.name)
        for old in [k for k in _TABLES if k[0] == kind]:
            del _TABLES[old]
        _TABLES[key] = found
    return found


def rate_table() -> RateTable:
    """The ECB rate history in force (read once per file)."""
    return _table("ecb")


def annual_table() -> AnnualTable:
    """The IMF annual averages in force (read once per file)."""
    return _table("imf")


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
    """The ISO codes the registry can convert (ECB reference rates, currencies fixed to the
    euro, IMF annual averages, USD and EUR), sorted: what forms offer wherever an amount is
    converted to US dollars."""
    known = rate_table().currencies | euro_pegs().keys() | annual_table().currencies | {"USD", "EUR"}
    return sorted(code for code in currencies() if code in known)


def is_convertible(code: str) -> bool:
    """True when amounts in ``code`` can be converted to other currencies (on some dates)."""
    return code in convertible_currencies()


RATE_PRECISION = 12  # significant digits recorded for a rate that is a quotient of two published ones
_WIDE = Context(prec=60)  # products of published rates, exactly


def exchange_rate(source: str, target: str, on: dt.date, max_age_days: int = 7) -> tuple[Decimal, dt.date]:
    """Units of ``target`` for one unit of ``source`` on a date, and the rate date used."""
    found = quote(source, target, on, max_age_days)
    return found.rate, found.rate_date


def quote(source: str, target: str, on: dt.date, max_age_days: int = 7) -> Quote:
    """The rate from ``source`` to ``target`` for an amount dated ``on`` (see the module's rule).

    Raises ConversionError, saying why, when no source can convert it."""
    minor_units(source)
    minor_units(target)
    if source == target:
        return Quote(Decimal(1), on, IDENTITY)
    try:
        src_rate, src_day, src_tags = _per_euro(source, on, max_age_days)
        dst_rate, dst_day, dst_tags = _per_euro(target, on, max_age_days)
    except ConversionError:
        pass
    else:
        with localcontext() as ctx:
            ctx.prec = RATE_PRECISION
            rate = dst_rate / src_rate
        # The ECB day whose rate was used; a conversion between the euro and the currencies
        # fixed to it uses no published rate and holds on the value date itself.
        published = [day for day in (src_day, dst_day) if day is not None]
        return Quote(rate, max(published, default=on), _source_of(src_tags | dst_tags))
    # One of them needs the IMF: both are taken as units per US dollar.
    s_num, s_den, s_day, s_tags = _per_usd(source, on, max_age_days)
    t_num, t_den, t_day, t_tags = _per_usd(target, on, max_age_days)
    with localcontext() as ctx:
        ctx.prec = RATE_PRECISION
        rate = _WIDE.multiply(t_num, s_den) / _WIDE.multiply(t_den, s_num)
    tags = s_tags | t_tags
    days = [d for d, t in ((s_day, s_tags), (t_day, t_tags)) if d is not None and IMF_ANNUAL in t]
    if not days:  # pragma: no cover - the first branch converts whatever the ECB alone can
        days = [d for d in (s_day, t_day) if d is not None]
    return Quote(rate, max(days, default=on), _source_of(tags))


_ONE = Decimal(1)
_NO_TAGS: frozenset[str] = frozenset()
_ECB_TAGS = frozenset({ECB})
_PARITY_TAGS = frozenset({PARITY})
_IMF_TAGS = frozenset({IMF_ANNUAL})


def _per_euro(currency: str, on: dt.date, max_age_days: int) -> tuple[Decimal, dt.date | None, frozenset[str]]:
    """Units of ``currency`` per 1 EUR on ``on``, the ECB day of that rate (None when the rate is
    the euro itself or a fixed parity, which need no publication), and the source tags."""
    if currency == "EUR":
        return _ONE, None, _NO_TAGS
    peg = euro_pegs().get(currency)
    if peg is None:
        rate, day = rate_table().per_euro(currency, on, max_age_days)
        return rate, day, _ECB_TAGS
    if on < peg.valid_from:
        raise ConversionError(
            f"{currency} is fixed to the euro ({peg.per_euro} per EUR) only from {peg.valid_from.isoformat()}; "
            f"an amount dated {on.isoformat()} cannot be converted at that parity",
            currency=currency,
            date=on,
        )
    return peg.per_euro, None, _PARITY_TAGS


def _per_usd(currency: str, on: dt.date, max_age_days: int) -> tuple[Decimal, Decimal, dt.date | None, frozenset[str]]:
    """Units of ``currency`` per 1 USD on ``on`` as an exact quotient (numerator, denominator),
    the rate's date (31 December of the year for an annual rate) and the source tags: the
    ECB (with a parity) when it has both the currency and the dollar that day, else the IMF
    annual average of the year."""
    if currency == "USD":
        return _ONE, _ONE, None, _NO_TAGS
    try:
        rate, day, tags = _per_euro(currency, on, max_age_days)
        usd, usd_day, _ = _per_euro("USD", on, max_age_days)
        published = [d for d in (day, usd_day) if d is not None]
        return rate, usd, max(published, default=on), tags | _ECB_TAGS
    except ConversionError as ecb_failed:
        try:
            rate, year = annual_table().per_usd(currency, on)
        except ConversionError as imf_failed:
            if currency in rate_table().currencies or currency in euro_pegs() or currency == "EUR":
                reason = f"{ecb_failed.message[:1].lower()}{ecb_failed.message[1:]}, and {imf_failed.message}"
            else:
                reason = f"the ECB does not publish {currency}, and {imf_failed.message}"
            raise ConversionError(
                f"No exchange rate for {currency} on {on.isoformat()}: {reason}", currency=currency, date=on
            ) from None
        return rate, _ONE, dt.date(year, 12, 31), _IMF_TAGS


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
