"""The published exchange rates as tables: the ECB's daily euro reference rates and the IMF's
annual averages, read exactly (as decimals from their published text) and checked line by
line when a file is loaded."""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from registry.errors import ConversionError

# Value dates after the last published rate (recent or planned flows) use that last
# rate for up to this many days; the recorded rate date shows it.
FUTURE_GRACE_DAYS = 366


class RatesFileError(ValueError):
    """A rates file that cannot be read: says where (line, column) and which value."""


class PublishedRate(NamedTuple):
    """A rate as a table gives it: units of the currency for one unit of the base, and its date."""

    rate: Decimal
    day: dt.date


class AnnualRate(NamedTuple):
    """An IMF annual average: units of the currency per US dollar, and its year."""

    rate: Decimal
    year: int


class DaySpan(NamedTuple):
    """The first and last day of a currency's rates."""

    first: dt.date
    last: dt.date


class EcbColumns(NamedTuple):
    """The ECB history file as read: its days, and each currency's cells (text), one per day."""

    days: list[dt.date]
    cells: dict[str, list[str]]


# -- ECB daily rates -----------------------------------------------------------------


class RateTable:
    """ECB reference rates (units of currency per 1 EUR) by currency and date.

    A currency's column is turned into exact Decimals the first time it is asked for:
    the file holds some 40 currencies over 25 years, and a process rarely needs many."""

    def __init__(self, rates: dict[str, dict[dt.date, Decimal]] | None = None, *, raw: EcbColumns | None = None):
        self._rates: dict[str, dict[dt.date, Decimal]] = {}
        self._dates: dict[str, list[dt.date]] = {}
        # raw: the columns as read from the file, each turned into Decimals on first use
        self._raw_days: list[dt.date] = raw.days if raw else []
        self._raw: dict[str, list[str]] = dict(raw.cells) if raw else {}
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
        return cls(raw=EcbColumns(days, columns))

    @property
    def currencies(self) -> set[str]:
        return set(self._known)

    def bounds(self, currency: str) -> DaySpan | None:
        """The first and last day with a rate of ``currency``; None when the file has none."""
        days = self._column(currency)
        return DaySpan(days[0], days[-1]) if days else None

    def rates(self, currency: str) -> dict[dt.date, Decimal]:
        """Every published rate of a currency (for comparing two rate files)."""
        self._column(currency)
        return self._rates.get(currency, {})

    def per_euro(self, currency: str, on: dt.date, max_age_days: int) -> PublishedRate:
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
        return PublishedRate(self._rates[currency][day], day)


def _is_rate(cell: str) -> bool:
    return bool(cell) and cell != "N/A"


def ecb_text(path: Path) -> str:
    """The CSV text of an ECB history file, plain or zipped as the ECB publishes it."""
    return rates_text(path.read_bytes(), path.name)


def rates_text(raw: bytes, name: str) -> str:
    """The CSV text of a rates file: the file itself, or the one CSV inside a zip (a name ending
    in .zip, or a zip's first bytes), as the ECB publishes it."""
    if name.lower().endswith(".zip") or raw[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(names) != 1:
                raise RatesFileError(f"{name}: the archive should hold one CSV file, not {len(names)}")
            return archive.read(names[0]).decode("utf-8-sig")
    return raw.decode("utf-8-sig")


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

    def per_usd(self, currency: str, on: dt.date) -> AnnualRate:
        """The annual average of ``on``'s year (units per USD) and that year; the latest year
        of the file also serves the year after it (for a currency still published then)."""
        years = self._column(currency)
        if not years:
            raise ConversionError(f"the IMF publishes no annual average of {currency}", currency=currency, date=on)
        if on.year in years:
            return AnnualRate(years[on.year], on.year)
        last = max(years)
        if on.year == last + 1 and last == self.last_year:
            return AnnualRate(years[last], last)
        first = min(years)
        if on.year > last:
            served = f"{last + 1}-12-31" if last == self.last_year else f"{last}-12-31"
            why = f"the IMF annual averages of {currency} end in {last} (they serve dates up to {served})"
        elif on.year < first:
            why = f"the IMF annual averages of {currency} start in {first}"
        else:
            why = f"the IMF publishes no annual average of {currency} for {on.year}"
        raise ConversionError(why, currency=currency, date=on)
