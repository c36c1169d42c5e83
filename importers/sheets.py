"""Donor spreadsheets (XLSX, XLS, ODS, CSV) -> ProjectRecord objects for the pipeline.

Stages, as in PUDL's extract step: open the file safely (size and zip-bomb checks) ->
find the header row -> map headers to fields with the column maps in
``importers/column_maps`` (data, not code) or an explicit mapping -> read every cell as
text -> parse and resolve values -> group rows into projects. Every problem names the
sheet, the row as Excel shows it, the column header and the value.

Options (all optional; an explicit mapping overrides detection):
``sheet`` one sheet by name; ``mapping`` {"columns": {header: field}} or {header: field};
``decimal`` "," or "." (else learnt from the amounts, see parse_amount); ``dates`` "dmy" or "mdy" (needed for
ambiguous dates like 03/04/2021); ``currency`` default currency; ``unit`` multiplier for
every amount; ``default_type`` transaction type of a bare amount column; ``header_row``
(1-based) to skip detection; ``max_rows``.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import gc
import io
import json
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache, partial
from importlib import resources
from itertools import islice, repeat, zip_longest
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select

from importers.headers import MONEY_FIELDS, meaning
from importers.pipeline import ReadResult, register_reader
from importers.records import (
    AreaRecord,
    Location,
    Problem,
    ProjectRecord,
    RecipientRecord,
    TransactionRecord,
)
from importers.xlsx_formats import ods_padded_cells, padded_cells, padded_rows
from registry import money
from registry.errors import RegistryError, ValidationError
from registry.extensions import db
from registry.models import Country, PriorityArea, Region
from registry.services import funding

HEADER_SCAN_ROWS = 30
PREVIEW_ROWS = 20
BLOCK_ROWS = 256  # data rows converted column by column at a time (small: stays in the CPU cache)
CACHE_LIMIT = 100_000  # distinct cells remembered per column or kind before starting afresh
AMOUNT_FIELDS = ("amount", "commitment", "disbursement", "expenditure", "pledge", "incoming_funds")
WIDE_TYPES = ("commitment", "disbursement", "expenditure", "pledge", "incoming_funds")
DATE_FIELDS = ("planned_start", "planned_end", "actual_start", "actual_end", "value_date")

# The fields a column can be mapped to, in the order the mapping drop-downs show them.
FIELDS: dict[str, str] = {
    "reference": "Project reference",
    "title": "Project title",
    "description": "Description",
    "iati_identifier": "IATI identifier",
    "status": "Status",
    "planned_start": "Planned start",
    "planned_end": "Planned end",
    "actual_start": "Actual start",
    "actual_end": "Actual end",
    "country": "Recipient country",
    "region": "Recipient region",
    "recipient": "Recipient (country or region)",
    "share": "Recipient share (%)",
    "area": "Priority area(s)",
    "sector": "DAC purpose code(s)",
    "wsis_action_line": "WSIS action line(s)",
    "transaction_type": "Transaction type",
    "amount": "Amount",
    "currency": "Currency",
    "value_date": "Value date",
    "year": "Year",
    "funding_source": "Funding source",
    "provider_org": "Provider organisation",
    "flow_type": "Flow type",
    "finance_type": "Finance type",
    "aid_type": "Aid type",
    "transaction_description": "Transaction description",
    "need_amount": "Need (total cost)",
    "need_currency": "Need currency",
    "commitment": "Commitment amount",
    "disbursement": "Disbursement amount",
    "expenditure": "Expenditure amount",
    "pledge": "Pledge amount",
    "ignore": "(ignore this column)",
}


class UploadRefused(RegistryError):
    """The upload is too large or not safe to open (413)."""

    code = 413


# -- text helpers --------------------------------------------------------------


class NumText(str):
    """The text of a numeric spreadsheet cell (a '.' decimal point, no separators)."""


class DateText(str):
    """The ISO text of a cell the spreadsheet itself stores as a date."""


_PUNCT = re.compile(r"[^0-9a-z%$€£]+")


@cache
def norm(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a header or a name."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    plain = plain.replace("'", "").replace("’", "").replace("&", " and ")
    return _PUNCT.sub(" ", plain).strip()


def cell_text(value: Any) -> str:
    """A cell value as text: numbers without float noise, dates as ISO, empty as ''."""
    cls = value.__class__
    if cls is str:
        return value.strip()
    if value is None:
        return ""
    if cls is float:
        if value.is_integer() and abs(value) < 1e15:
            return NumText(str(int(value)))
        return NumText(repr(value))
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return NumText(str(int(value)))
        return NumText(repr(value))
    if isinstance(value, int):
        return NumText(str(value))
    if isinstance(value, dt.datetime):
        return DateText(value.date().isoformat())
    if isinstance(value, dt.date):
        return DateText(value.isoformat())
    return str(value).strip()


_NO_CACHE = object()  # a column's cache holding this key converts cell by cell


def _column_texts(cells: tuple, cache: dict, all_text: bool) -> list[str]:
    """One column of raw cells as text (as cell_text gives it), each distinct cell converted once."""
    if all_text:  # CSV: every cell is a str already
        return list(map(str.strip, cells))
    kinds = set(map(type, cells))
    if kinds == {str}:
        return list(map(str.strip, cells))
    if bool in kinds or (int in kinds and float in kinds):
        # True == 1 == 1.0 (and 10**15 == 1e15) would share a cache entry but not a text.
        return list(map(cell_text, cells))
    if _NO_CACHE in cache:
        return list(map(cell_text, cells))
    missing = set(cells).difference(cache)
    if len(missing) * 2 > len(cells) and len(cache) >= 4 * len(cells):
        # Still mostly new values after several blocks (amounts): a cache would only cost memory.
        cache.clear()
        cache[_NO_CACHE] = True
        return list(map(cell_text, cells))
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    for value in missing:
        cache[value] = cell_text(value)
    return list(map(cache.__getitem__, cells))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file is read.

    Reading builds hundreds of thousands of records that all stay alive, and each full
    collection walks every one of them again (about 2 s of a 100,000-row CSV); reading
    makes no reference cycles worth collecting. Restored afterwards, and left alone when
    something else had already paused it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# -- data files ----------------------------------------------------------------


def _data(name: str) -> str:
    return resources.files("importers").joinpath(f"column_maps/{name}").read_text("utf-8")


@cache
def column_aliases() -> dict[str, tuple[str, dict]]:
    """Normalised header -> (field, extra options) from every column map file."""
    aliases: dict[str, tuple[str, dict]] = {}
    for name in ("canonical.json", "fr.json", "es.json", "iati.json", "crs.json"):
        data = json.loads(_data(name))
        for fld, headers in data.get("columns", {}).items():
            for header in headers:
                aliases.setdefault(norm(header), (fld, {}))
        for header, spec in data.get("with_options", {}).items():
            spec = dict(spec)
            aliases[norm(header)] = (spec.pop("field"), spec)
    for fld, label in FIELDS.items():
        aliases.setdefault(norm(label), (fld, {}))
        aliases.setdefault(norm(fld), (fld, {}))
    return aliases


@cache
def vocabulary() -> dict[str, dict[str, str]]:
    """Normalised word -> code, for transaction types and project statuses."""
    data = json.loads(_data("values.json"))
    out: dict[str, dict[str, str]] = {}
    for kind in ("transaction_type", "status"):
        out[kind] = {norm(word): code for code, words in data[kind].items() for word in words}
        out[kind].update({code: code for code in data[kind]})
    return out


def _csv_data(name: str) -> list[tuple[str, str]]:
    rows = csv.reader(io.StringIO(_data(name)))
    next(rows)
    return [(r[0], r[1]) for r in rows if r and r[0] and not r[0].startswith("#")]


class Lookups:
    """Countries, regions and areas by every name and code a donor may use (read once)."""

    def __init__(self) -> None:
        self.countries: dict[str, str] = {}
        self.country_names: dict[str, str] = {}
        self._display: dict[str, str] = {}  # ISO3 -> the English name, for suggestions
        self._suggestions: dict[tuple, str | None] = {}
        self._region_display: dict[str, str] = {}
        for c in db.session.scalars(select(Country)):
            self._display[c.iso3] = c.name
            self.countries[c.iso3] = c.iso3
            self.countries[c.iso2] = c.iso3
            if c.numeric:  # Kosovo (XKX) has no ISO 3166-1 numeric code
                self.countries[c.numeric] = c.iso3
            for name in (c.name, c.name_fr):
                if name:
                    self.country_names[norm(name)] = c.iso3
        for name, iso3 in _csv_data("country_variants.csv"):
            if iso3 in self.countries:
                self.country_names.setdefault(norm(name), iso3)
        self.regions: dict[str, str] = {}
        self.region_names: dict[str, str] = {}
        for r in db.session.scalars(select(Region)):
            self._region_display[r.code] = r.name
            self.regions[r.code] = r.code
            self.region_names[norm(r.name)] = r.code
        for name, code in _csv_data("oecd_regions.csv"):
            if code in self.regions:
                self.region_names[norm(name)] = code
                self.region_names.setdefault(norm(name.replace(", regional", "")), code)
        self.areas: dict[str, str] = {}
        for a in db.session.scalars(select(PriorityArea)):
            self.areas[a.code] = a.code
            self.areas[norm(a.short_name)] = a.code
            self.areas[norm(f"{a.code} {a.short_name}")] = a.code

    def country(self, text: str) -> str | None:
        """ISO3 of a country by ISO3, ISO2, numeric code, English or French name or variant."""
        t = text.strip()
        up = t.upper()
        if up in self.countries and (len(up) in (2, 3)):
            return self.countries[up]
        if t.isdigit() and len(t) <= 3:
            return self.countries.get(t.zfill(3))
        return self.country_names.get(norm(t))

    def suggest(self, text: str, countries: bool = True, regions: bool = False) -> str | None:
        """The closest known country (or region) name to a misspelt one ('Malawii' -> 'Malawi').

        Remembered per text: a file may repeat the same misspelling on every row."""
        key = (norm(text), countries, regions)
        if key not in self._suggestions:
            self._suggestions[key] = self._closest(text, countries, regions)
        return self._suggestions[key]

    def _closest(self, text: str, countries: bool, regions: bool) -> str | None:
        names: dict[str, str] = {}
        if countries:
            names.update(self.country_names)
        if regions:
            names.update(self.region_names)
        close = difflib.get_close_matches(norm(text), list(names), n=1, cutoff=0.8)
        if not close:
            return None
        if countries and close[0] in self.country_names:
            code = self.country_names[close[0]]
            return f"{self._display.get(code, close[0])} ({code})"
        return self._region_display.get(names[close[0]], close[0])

    def region(self, text: str) -> str | None:
        """M49 code of a region given by code, M49 name or OECD regional name."""
        t = text.strip()
        if t.isdigit() and len(t) <= 3:
            return self.regions.get(t.zfill(3))
        n = norm(t)
        return self.region_names.get(n) or self.region_names.get(n.replace(" regional", "").strip())

    def area(self, text: str) -> str | None:
        t = norm(text).replace(" ", "")
        m = re.fullmatch(r"(?:para(?:graph)?)?(23[a-l])", t)
        if m:
            return m.group(1)
        return self.areas.get(norm(text))


# -- headers -------------------------------------------------------------------

_UNITS = [
    (re.compile(r"\b(billions?|bn|milliards?|mds?|mil millones)\b"), Decimal(1_000_000_000)),
    (re.compile(r"\b(millions?|mn|mio|mln|millones|m|meur|musd)\b"), Decimal(1_000_000)),
    (re.compile(r"\b(thousands?|000s?|000|k|milliers?|miles|keur|kusd)\b"), Decimal(1000)),
]
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d|21\d\d)\b")
_SYMBOLS = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
# Currency words of headers (after norm: "d'euros" is "deuros"); a unit word that names its
# currency too (KEUR, MUSD).
_CURRENCY_WORDS = {"euro": "EUR", "euros": "EUR", "deuros": "EUR", "keur": "EUR", "meur": "EUR"}
_CURRENCY_WORDS |= {"kusd": "USD", "musd": "USD"}
# "FCFA" is two currencies: the West African XOF (BCEAO) and the Central African XAF (BEAC).
_CFA_WORDS = {"fcfa", "cfa", "f cfa", "francs cfa", "franc cfa"}
CFA_CHOICE = "FCFA is two currencies: XOF (West Africa, BCEAO) or XAF (Central Africa, BEAC)"
_FILLER = {
    "in",
    "en",
    "de",
    "of",
    "the",
    "des",
    "du",
    "amount",
    "montant",
    "monto",
    "value",
    "total",
    "en miles",
}


@dataclass
class Column:
    """One column of a sheet and what it means."""

    index: int
    header: str
    field: str = "ignore"
    tx_type: str | None = None  # for wide amount columns
    year: int | None = None  # for one-column-per-year layouts
    unit: Decimal = Decimal(1)
    currency: str | None = None
    detected: bool = True
    cfa: bool = False  # the header says FCFA: XOF or XAF, the currency is not given
    by_meaning: bool = False  # read from the header's words (importers.headers), not a column map
    question: tuple[str, ...] = ()  # the fields an ambiguous header may mean: asked, never guessed

    @property
    def spec(self) -> str:
        """The mapping value of this column: field[:year], e.g. 'commitment:2021'."""
        return f"{self.field}:{self.year}" if self.year and self.field in WIDE_TYPES else self.field


def parse_header(text: str) -> Column:
    """What a header means: its field, and any year, unit or currency it names."""
    col = Column(index=-1, header=text)
    n = norm(text)
    if not n:
        return col
    alias = column_aliases().get(n)
    if alias:
        col.field = alias[0]
        _apply_extra(col, alias[1])
        return col
    rest = " " + n + " "
    for words, replacement in ((" f cfa ", " fcfa "), (" francs cfa ", " fcfa "), (" franc cfa ", " fcfa ")):
        rest = rest.replace(words, replacement)
    for pattern, factor in _UNITS:
        if pattern.search(rest):
            col.unit = factor
            for word in pattern.findall(rest):
                col.currency = _CURRENCY_WORDS.get(word, col.currency)
            rest = pattern.sub(" ", rest)
            break
    year = _YEAR.search(rest)
    if year:
        col.year = int(year.group(1))
        rest = _YEAR.sub(" ", rest)
    words, kept, spoken = [], [], []  # spoken: every word, currency codes included
    for word in rest.split():
        spoken.append(word)
        code = (
            _SYMBOLS.get(word)
            or _CURRENCY_WORDS.get(word)
            or (word.upper() if len(word) == 3 and money.is_currency(word.upper()) else None)
        )
        if code:
            col.currency = code
        elif word in _CFA_WORDS:
            col.cfa = True
        else:
            kept.append(word)
            if word not in _FILLER:
                words.append(word)
    rest = " ".join(words)
    if not rest:
        # "2021" alone, or "Amount (USD thousands)": a plain amount column.
        col.field = (
            "amount"
            if (col.currency or col.cfa or col.unit != 1 or n.startswith(("amount", "montant", "monto")))
            else "ignore"
        )
        if col.year and col.field == "ignore":
            col.field = "year_amount"
        return col
    # "Total cost": the filler words count when they make a header ("total" is one of them).
    alias = column_aliases().get(" ".join(kept)) or column_aliases().get(rest)
    if alias and (alias[0] in AMOUNT_FIELDS or alias[0] == "need_amount"):
        col.field = alias[0]
        _apply_extra(col, alias[1])
    else:
        # No column map names it: read it by the meaning of its words ("Date of commitment",
        # "Montant engagé", "Disbursed 2023"); a header that may mean two fields is a question.
        found = meaning(tuple(kept))
        if not (found.field or found.candidates) and len(spoken) > len(kept):
            # A word taken for a currency code may be a word of the header: "Code CAD" (the
            # French DAC) is the purpose code, not an amount in Canadian dollars.
            found = meaning(tuple(spoken))
            col.currency = None if found.field else col.currency
        col.field, col.question, col.by_meaning = found.field or "ignore", found.candidates, bool(found.field)
        if col.field not in AMOUNT_FIELDS or col.field == "amount":
            # A year or unit only says something of a wide amount column; the unit and
            # currency stay for a mapping that names the column.
            col.year = None
    if col.field in WIDE_TYPES:
        col.tx_type = col.field
    return col


def _apply_extra(col: Column, extra: dict) -> None:
    if extra.get("currency"):
        col.currency = extra["currency"]
    if extra.get("unit"):
        col.unit = Decimal(str(extra["unit"]))
    if col.field in WIDE_TYPES:
        col.tx_type = col.field


def parse_spec(spec: str, header: str, index: int) -> Column:
    """A column from an explicit mapping value such as 'disbursement:2022' or 'ignore'."""
    base, _, year = str(spec).strip().partition(":")
    base = base.strip().lower()
    if base not in FIELDS:
        raise ValidationError(
            f"Unknown field {spec!r} for column {header!r}",
            {"mapping": [f"{header}: unknown field {spec!r}; choose one of {', '.join(FIELDS)}"]},
        )
    detected = parse_header(header)
    col = Column(index=index, header=header, field=base, detected=False)
    col.unit, col.currency, col.cfa = detected.unit, detected.currency, detected.cfa
    if base in WIDE_TYPES:
        col.tx_type = base
        col.year = int(year) if year.strip().isdigit() else detected.year
    return col


def _explicit(options: dict) -> dict[str, str]:
    mapping = options.get("mapping") or {}
    if isinstance(mapping, str):
        try:
            mapping = json.loads(mapping)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"The mapping is not valid JSON: {exc}", {"mapping": [str(exc)]}) from None
    if not isinstance(mapping, dict):
        raise ValidationError("The mapping must be a JSON object", {"mapping": ["Expected an object"]})
    columns = mapping.get("columns", mapping)
    for key in ("decimal", "dates", "currency", "unit", "default_type", "sheet", "header_row"):
        if key in mapping and key not in options:
            options[key] = mapping[key]
    return {norm(k): v for k, v in columns.items() if isinstance(v, str)}


def _combine(parent: str, child: str) -> str:
    if parent and child and (_YEAR.fullmatch(child.strip()) or parse_header(child).field in ("ignore", "amount")):
        return f"{parent} {child}"
    return child or parent


def map_columns(header_rows: list[list[str]], explicit: dict[str, str]) -> list[Column]:
    """Columns of a header (one row, or a group row above it whose cells are merged)."""
    child = header_rows[-1]
    parent = header_rows[0] if len(header_rows) > 1 else []
    columns = []
    for i, text in enumerate(child):
        p = parent[i] if i < len(parent) else ""
        header = _combine(p, text) if p else text
        key = norm(header)
        if key in explicit or norm(text) in explicit:
            columns.append(parse_spec(explicit.get(key, explicit.get(norm(text))), header, i))
            continue
        col = parse_header(header)
        col.index = i
        if col.field == "year_amount":
            col.field = "ignore"
        columns.append(col)
    return columns


def _score(columns: list[Column]) -> int:
    fields = [c.field for c in columns if c.field != "ignore"]
    score = len(set(fields)) + sum(1 for c in columns if c.year and c.tx_type)
    if "reference" in fields:
        score += 2
    return score


def _fill_merged(rows: list[list[str]], merged: list) -> None:
    """Copy a merged cell's value into every cell it covers (header area only)."""
    for (r0, c0), (r1, c1) in merged:
        if r0 >= len(rows):
            continue
        value = rows[r0][c0] if c0 < len(rows[r0]) else ""
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            row = rows[r]
            if len(row) <= c1:
                row.extend([""] * (c1 + 1 - len(row)))
            for c in range(c0, c1 + 1):
                if not row[c]:
                    row[c] = value


def _forward_fill(row: list[str]) -> list[str]:
    out, last = [], ""
    for cell in row:
        last = cell or last
        out.append(last)
    return out


def find_header(
    rows: list[list[str]], explicit: dict[str, str], header_row: int | None
) -> tuple[int, list[Column], int]:
    """The header row (0-based; its last row when a group row above it is part of it), its
    columns and how many rows it spans (1 or 2); -1 when none looks like a header."""
    best: tuple[int, int, list[Column], int] = (-1, 1, [], 1)
    candidates = [header_row - 1] if header_row else range(min(len(rows), HEADER_SCAN_ROWS))
    for r in candidates:
        if r < 0 or r >= len(rows) or not any(rows[r]):
            continue
        options = [[rows[r]]]
        if r > 0 and sum(1 for c in rows[r - 1] if c) >= 2:
            options.append([_forward_fill(rows[r - 1]), rows[r]])
        for header_rows in options:
            columns = map_columns(header_rows, explicit)
            score = _score(columns)
            if score > best[1] or (header_row and best[0] < 0):
                best = (r, score, columns, len(header_rows))
    return best[0], best[2], best[3]


# -- values --------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_CURRENCY_TOKEN = re.compile(r"[A-Za-z]{3}")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009'’_]")
_DATE_ISO = re.compile(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[T ][\d:.]+Z?)?")
_DATE_YMD = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_DATE_XY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})")
_MONTHS = {
    norm(m): i
    for i, names in enumerate(
        [
            ("jan", "january", "janvier", "janv", "enero", "ene"),
            ("feb", "february", "fevrier", "fev", "febrero"),
            ("mar", "march", "mars", "marzo"),
            ("apr", "april", "avril", "avr", "abril", "abr"),
            ("may", "mai", "mayo"),
            ("jun", "june", "juin", "junio"),
            ("jul", "july", "juillet", "juil", "julio"),
            ("aug", "august", "aout", "agosto", "ago"),
            ("sep", "sept", "september", "septembre", "septiembre"),
            ("oct", "october", "octobre", "octubre"),
            ("nov", "november", "novembre", "noviembre"),
            ("dec", "december", "decembre", "diciembre", "dic"),
        ],
        1,
    )
    for m in names
}
_DATE_WORDS = re.compile(r"(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})|([a-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})")
EXCEL_EPOCH = dt.date(1899, 12, 30)


class CellError(ValueError):
    """A cell that cannot be read; the message says why in plain words."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


# How to declare a file's decimal mark, in the words of each way in (upload page, command line, API).
DECIMAL_HOW = (
    "choose the decimal separator on the upload page (1,234.56 or 1.234,56), "
    "--decimal . or --decimal , on the command line, decimal=. or decimal=, in the API"
)


def _declare(mark: str) -> str:
    """How to say that ``mark`` is the file's decimal mark, in the words of each way in."""
    example = "1,234.56" if mark == "." else "1.234,56"
    return (
        f"choose the decimal separator {example} on the upload page, --decimal {mark} on the command line, "
        f"decimal={mark} in the API"
    )


def _mark_name(mark: str) -> str:
    return "the comma" if mark == "," else "the point"


class AmbiguousAmount(CellError):
    """An amount whose only separator is followed by three digits (12.500, 1,250): a thousands
    separator or a decimal mark, and nothing in the text says which."""

    def __init__(self, text: str, separator: str, whole: str, fraction: str, negative: bool, currency: str | None):
        sign = "-" if negative else ""
        self.text, self.separator, self.currency = text, separator, currency
        self.as_thousands = Decimal(f"{sign}{whole}{fraction}")
        self.as_decimal = Decimal(f"{sign}{whole}.{fraction}")
        super().__init__(self.describe(), "ambiguous_amount")

    def describe(self, factor: Decimal = Decimal(1), currency: str | None = None) -> str:
        """The error, with both readings as they would be stored (the column's unit applied)."""
        cur = f" {currency}" if currency else ""
        return (
            f"Ambiguous amount {self.text!r}: {_shown(self.as_thousands * factor)}{cur} if "
            f"{_mark_name(self.separator)} separates thousands, or {_shown(self.as_decimal * factor)}{cur} if it "
            f"is the decimal mark, and the file's other amounts do not show which. Say how the file writes its "
            f"decimal mark: {DECIMAL_HOW}"
        )


def _plain(value: Decimal) -> str:
    """A number as plain digits without trailing zeros after its point (1.250 -> 1.25)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _shown(value: Decimal) -> str:
    """An amount for a message: _plain, its thousands set apart from five digits on (12500000
    -> 12,500,000; 1250 stays 1250, which would read like the cell '1,250' it came from)."""
    text = _plain(value)
    whole, point, fraction = text.partition(".")
    return f"{Decimal(whole):,}{point}{fraction}" if len(whole.lstrip("-")) > 4 else text


_PLAIN_INTEGER = re.compile(r"-?\d+")
_CFA_TEXT = re.compile(r"\b(?:francs? )?f ?cfa\b", re.IGNORECASE)
# A plain number whose point can only be a decimal point: one, two or more than three digits
# after it, or 0 or more than three digits before it. 12.500 (perhaps 12500) is not one.
_POINT_DECIMAL = re.compile(r"-?(?:\d+(?:\.(?:\d\d?|\d{4,}))?|(?:0|\d{4,})\.\d+)")
_DIGITS = re.compile(r"[0-9]*")
# Digit groups set apart by spaces or apostrophes (1 234 567, 1'234): then a lone ',' or '.'
# in the amount is its decimal mark.
_SPACE_GROUPS = re.compile(r"\d[\s\u00a0\u202f\u2009'’_]\d{3}(?!\d)")


def _amount_parts(text: str) -> tuple[str, bool, str | None, bool]:
    """(digits with their ',' and '.', negative, named currency, grouped by spaces) of a text amount."""
    t = text.strip()
    currency = None
    negative = False
    if t.startswith("(") and t.endswith(")"):
        negative, t = True, t[1:-1]
    for symbol, code in (("US$", "USD"), ("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY")):
        if symbol in t:
            currency, t = code, t.replace(symbol, "")
    cfa = _CFA_TEXT.search(t)
    if cfa:
        currency, t = "FCFA", t[: cfa.start()] + t[cfa.end() :]
    token = _CURRENCY_TOKEN.search(t)
    if token and money.is_currency(token.group(0).upper()):
        currency, t = token.group(0).upper(), t.replace(token.group(0), "")
    spaced = _SPACE_GROUPS.search(t) is not None
    t = _SPACES.sub("", t)
    if t.endswith("-") and t[:-1].replace(",", "").replace(".", "").isdigit():
        negative, t = True, t[:-1]
    if t.startswith("-"):
        negative, t = not negative, t[1:]
    elif t.startswith("+"):
        t = t[1:]
    return t, negative, currency, spaced


def _own_mark(t: str, spaced: bool) -> str | None:
    """The decimal mark the digits of an amount show by themselves, or None.

    1.234,56 and 1,234.56: the last of two different marks; 1.250.000: the other mark than the
    repeated one; 12,5 or 12.50 (not three digits after a lone mark), 0,250, 1250,500 or
    1 250,500: the lone mark. None for 12.500 or 1,250 (either way) and for plain digits."""
    commas, points = t.count(","), t.count(".")
    if commas and points:
        return "," if t.rfind(",") > t.rfind(".") else "."
    if commas + points > 1:
        return "." if commas else ","
    if commas + points == 0:
        return None
    separator = "," if commas else "."
    whole, fraction = t.split(separator)
    if spaced or len(fraction) != 3 or not whole or whole.startswith("0") or len(whole) > 3:
        return separator
    return None


def decimal_evidence(text: str) -> str | None:
    """The decimal mark (',' or '.') a text amount proves by itself, else None (see _own_mark)."""
    if not text or text.__class__ is NumText or _PLAIN_INTEGER.fullmatch(text):
        return None
    t, _negative, _currency, spaced = _amount_parts(text)
    if _number(t, None, spaced) is None:
        return None
    return _own_mark(t, spaced)


def parse_amount(text: str, decimal: str | None) -> tuple[Decimal, str | None]:
    """An amount from text with separators, symbols, parentheses; and a currency if named.

    ``decimal`` is the file's decimal mark (',' or '.'), or None when the file has not said:
    then an amount is read by the mark it shows itself (1.234,56; 1,234.56; 1.250.000; 12,5;
    12.50), and one that reads both ways (12.500, 1,250) raises AmbiguousAmount. Thousands
    separators must set apart groups of three digits (or the Indian 1,25,000)."""
    if isinstance(text, NumText) or (
        _PLAIN_INTEGER.fullmatch(text)
        or (_PLAIN_NUMBER.fullmatch(text) if decimal == "." else decimal is None and _POINT_DECIMAL.fullmatch(text))
    ):
        try:
            return Decimal(text), None
        except InvalidOperation:
            raise CellError(f"{text!r} is not an amount", "invalid_amount") from None
    t, negative, currency, spaced = _amount_parts(text)
    value = _number(t, decimal, spaced)
    if value is not None:
        return (-value if negative else value), currency
    if decimal is None and t.count(",") + t.count(".") == 1 and _own_mark(t, spaced) is None:
        separator = "," if "," in t else "."
        whole, fraction = t.split(separator)
        if _DIGITS.fullmatch(whole + fraction):
            raise AmbiguousAmount(text, separator, whole, fraction, negative, currency)
    other = None if decimal is None else _number(t, "," if decimal == "." else ".", spaced)
    if other is not None:
        mark = "," if decimal == "." else "."
        raise CellError(
            f"{text!r} is not an amount with {_mark_name(decimal)} as the decimal mark, as chosen for this "
            f"file; with {_mark_name(mark)} it would be {_plain(-other if negative else other)}. If that is "
            f"right, {_declare(mark)}",
            "invalid_amount",
        )
    raise CellError(f"{text!r} is not an amount", "invalid_amount")


def _number(t: str, decimal: str | None, spaced: bool) -> Decimal | None:
    """The value of digits with separators, by the given decimal mark or else the one they show
    themselves; None when they are no number that way, or (no mark given) read both ways."""
    if not t or not _DIGITS.fullmatch(t.replace(",", "").replace(".", "")):
        return None
    mark = decimal or _own_mark(t, spaced)
    if mark is None:
        if "," in t or "." in t:
            return None  # 12.500: either way
        mark = "."
    thousands = "," if mark == "." else "."
    whole, has_mark, fraction = t.partition(mark)
    if (has_mark and not fraction) or mark in fraction or thousands in fraction:
        return None
    groups = whole.split(thousands)
    if len(groups) > 1 and not (
        1 <= len(groups[0]) <= 3
        and len(groups[-1]) == 3
        and (all(len(g) == 3 for g in groups[1:]) or (thousands == "," and all(len(g) == 2 for g in groups[1:-1])))
    ):
        return None
    digits = "".join(groups)
    if not digits and not fraction:
        return None
    return Decimal(f"{digits or '0'}.{fraction}" if fraction else digits)


def parse_share(text: str) -> Decimal:
    """A percentage ('60', '33,3', '12.5 %'): its one ',' or '.' is a decimal mark (no share
    reaches a thousand)."""
    t = _SPACES.sub("", text.replace("%", ""))
    if not _SHARE_NUMBER.fullmatch(t):
        raise CellError(f"{text!r} is not a percentage", "invalid_share")
    return Decimal(t.replace(",", "."))


_SHARE_NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,]\d+)?|[.,]\d+)")


def _date(y: int, m: int, d: int, text: str) -> dt.date:
    try:
        return dt.date(y, m, d)
    except ValueError:
        raise CellError(f"{text!r} is not a real date", "invalid_date") from None


def parse_date(text: str, convention: str | None, year_day: tuple[int, int] = (7, 1)) -> dt.date:
    """A date from an Excel serial, ISO, d/m/y or m/d/y (by convention), words, or a year alone."""
    if isinstance(text, DateText):
        return dt.date.fromisoformat(text)
    t = text.strip()
    if isinstance(text, NumText) or t.isdigit():
        try:
            number = Decimal(t)
        except InvalidOperation:
            raise CellError(f"{text!r} is not a date", "invalid_date") from None
        n = int(number)
        if 1900 <= n <= 2200 and number == n:
            return dt.date(n, *year_day)
        if 0 < number < 2958466:
            return EXCEL_EPOCH + dt.timedelta(days=n)
        raise CellError(f"{text!r} is not a date", "invalid_date")
    m = _DATE_ISO.fullmatch(t)
    if m:
        return _date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1), text)
    m = _DATE_YMD.fullmatch(t)
    if m:
        return _date(int(m.group(1)), int(m.group(2)), int(m.group(3)), text)
    m = _DATE_XY.fullmatch(t)
    if m:
        a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if y < 100:
            y += 2000 if y < 70 else 1900
        if a > 12 >= b:
            return _date(y, b, a, text)
        if b > 12 >= a:
            return _date(y, a, b, text)
        if a == b:
            return _date(y, a, b, text)
        if convention == "dmy":
            return _date(y, b, a, text)
        if convention == "mdy":
            return _date(y, a, b, text)
        raise CellError(
            f"{text!r} could be {a} {_month(b)} or {b} {_month(a)} {y}: say whether this file writes "
            "dates day/month/year or month/day/year (on the upload page 'Dates like 03/04/2021 mean'; "
            "--dates dmy or mdy on the command line; dates=dmy or mdy in the API)",
            "ambiguous_date",
        )
    m = _DATE_WORDS.fullmatch(norm(t))
    if m:
        if m.group(1):
            day, month, year = int(m.group(1)), _MONTHS.get(m.group(2)), int(m.group(3))
        else:
            month, day, year = _MONTHS.get(m.group(4)), int(m.group(5)), int(m.group(6))
        if month:
            return _date(year, month, day, text)
    raise CellError(f"{text!r} is not a date (use YYYY-MM-DD)", "invalid_date")


@dataclass
class DateConvention:
    """How a file writes its dates, as its date cells show it (see infer_date_convention)."""

    kind: str | None = None  # 'dmy' or 'mdy'; None when the cells show neither, or both
    example: str | None = None  # a date that can be read only that way ...
    where: Any = None  # ... and where it is
    ambiguous: str | None = None  # a date the convention decides (03/04/2024), if the file has one
    ambiguous_where: Any = None


def infer_date_convention(cells: Iterable[tuple[Any, str]]) -> DateConvention:
    """How a file writes its dates, learnt from the ones that can be read only one way.

    ``cells`` are (where, text) of the file's date cells. 15/01/2025 can only be day first,
    01/15/2025 only month first: when the dates are of one kind and none of the other, that
    is the convention ('dmy' or 'mdy'), returned with an example and where it is, and the
    first date that reads both ways (03/04/2025), the one the convention is needed for. Only
    real dates count: 31/02/2024 is no day of any month, and proves nothing."""
    seen: dict[str, tuple[str, Any]] = {}
    ambiguous: tuple[str, Any] | None = None
    for where, text in cells:
        text = text.strip()
        m = _DATE_XY.fullmatch(text)
        if m is None:
            continue
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if year < 100:
            year += 2000 if year < 70 else 1900
        if 1 <= a <= 12 and 1 <= b <= 12:
            if a != b and ambiguous is None:
                ambiguous = (text, where)
            continue
        kind = "dmy" if b <= 12 else "mdy" if a <= 12 else None
        if kind is None or kind in seen:
            continue
        day, month = (a, b) if kind == "dmy" else (b, a)
        try:
            dt.date(year, month, day)
        except ValueError:
            continue  # 31/02/2024, 00/13/2024: not a date at all
        seen[kind] = (text, where)
        if len(seen) == 2:
            return DateConvention()
    if len(seen) != 1:
        return DateConvention()
    kind, (example, where) = next(iter(seen.items()))
    return DateConvention(kind, example, where, *(ambiguous or (None, None)))


def _month(n: int) -> str:
    return dt.date(2000, n, 1).strftime("%B")


_SHARE_SUFFIX = re.compile(r"^(.*?)[\s:]*\(?\s*(\d+(?:[.,]\d+)?)\s*%\s*\)?$")


def split_items(text: str, commas: bool = False) -> list[tuple[str, str | None]]:
    """'KEN (60%); TZA (40%)' -> [('KEN', '60'), ('TZA', '40')]."""
    parts = re.split(r"[;|\n]" if not commas else r"[;|,/\n]", text)
    out = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        m = _SHARE_SUFFIX.match(part)
        if m and m.group(1).strip():
            out.append((m.group(1).strip(), m.group(2).replace(",", ".")))
        else:
            out.append((part, None))
    return out


# -- opening files -------------------------------------------------------------

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _limit(name: str, default: int) -> int:
    return int(current_app.config.get(name, default)) if has_app_context() else default


def check_archive(path: Path) -> str:
    """Refuse an XLSX/ODS whose declared uncompressed size is too large (before parsing)."""
    limit = _limit("IMPORT_MAX_UNCOMPRESSED", 300 * 1024 * 1024)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError(f"The file is not a readable XLSX or ODS workbook: {exc}") from None
    if len(infos) > 10_000:
        raise UploadRefused(f"The workbook holds {len(infos):,} parts; that is not a spreadsheet we can open")
    declared = sum(i.file_size for i in infos)
    if declared > limit:
        raise UploadRefused(
            f"The workbook would unpack to {declared:,} bytes, more than the limit of {limit:,}; "
            "split it or save it as CSV"
        )
    for info in infos:
        if info.file_size > 50 * 1024 * 1024 and info.file_size > 200 * max(info.compress_size, 1):
            raise UploadRefused(f"Part {info.filename!r} of the workbook is compressed suspiciously well")
    if "content.xml" in names and "mimetype" in names:
        return "ods"
    if "[Content_Types].xml" in names:
        return "xlsx"
    raise ValidationError("The file is a ZIP archive but not an XLSX or ODS workbook")


def decode_text(raw: bytes) -> tuple[str, str]:
    """Text of a CSV file and the encoding used (BOMs, UTF-16, UTF-8, else Windows-1252)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    head = raw[:4000]
    if head and head.count(b"\x00") > len(head) // 4:
        # UTF-16 without a BOM: the NULs sit at odd positions (LE) or even (BE).
        le = head[1::2].count(b"\x00") > head[0::2].count(b"\x00")
        encoding = "utf-16-le" if le else "utf-16-be"
        return raw.decode(encoding, errors="replace"), encoding
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), "cp1252"


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text among , ; tab and |."""
    lines = [line for line in text[:65536].splitlines()[:50] if line.strip()]
    best, best_score = ",", -1
    for delim in (",", ";", "\t", "|"):
        counts = [len(next(csv.reader([line], delimiter=delim))) - 1 for line in lines]
        counts = [c for c in counts if c > 0]
        if not counts:
            continue
        common, freq = Counter(counts).most_common(1)[0]
        score = freq * 10 + common
        if score > best_score:
            best, best_score = delim, score
    return best


_LINE_END = re.compile(r"\r\n|\r|\n")
# Characters str.splitlines breaks on that the csv module keeps inside a row.
_OTHER_BREAKS = ("\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def csv_rows(text: str, delimiter: str) -> Iterator[list[str]]:
    """The rows of a CSV text, as the csv module reads them.

    A text without any quote (most exports) is split on line ends and delimiters directly,
    several times faster and with the same rows; anything else goes through the csv module."""
    if '"' in text or "\x00" in text:
        return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    if any(c in text for c in _OTHER_BREAKS):
        lines = _LINE_END.split(text)
        if lines and not lines[-1]:
            lines.pop()  # the text's final line end closes the last row, it opens no new one
    else:
        lines = text.splitlines()  # the same lines, several times faster than the pattern
    if max(map(len, lines), default=0) > csv.field_size_limit():
        return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)  # its error on a huge field
    return (line.split(delimiter) if line else [] for line in lines)


@dataclass
class Sheet:
    """A sheet's rows as an iterator of lists of raw values (text for CSV)."""

    name: str
    rows: Iterator[list]
    merged: list = field(default_factory=list)
    col_offset: int = 0  # calamine yields rows from row 1 but columns from the first used one
    # The sheet's rows once more, from the start (to learn its date convention before reading).
    reread: Callable[[], Iterator[list]] | None = None
    delimiter: str | None = None  # of a CSV file


def _sheet_rows(workbook: Any, name: str) -> Iterator[list]:
    return iter(workbook.get_sheet_by_name(name).iter_rows())


def open_sheets(path: Path, filename: str, wanted: str | None) -> tuple[str, list[Sheet]]:
    """The file's format and its sheets (the chosen one only, when named)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(ZIP_MAGIC):
        fmt = check_archive(path)
    elif head.startswith(OLE_MAGIC):
        fmt = "xls"
    else:
        raw = path.read_bytes()
        text, _encoding = decode_text(raw)
        delimiter = sniff_delimiter(text)
        name = Path(filename).stem or "CSV"
        if wanted and wanted != name:
            pass  # a CSV has one table; the sheet name is only a label
        rows = csv_rows(text, delimiter)
        return "csv", [Sheet(name, rows, reread=lambda: csv_rows(text, delimiter), delimiter=delimiter)]
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise ValidationError(f"The workbook cannot be read: {exc}") from None
    names = workbook.sheet_names
    if wanted:
        if wanted not in names:
            raise ValidationError(
                f"There is no sheet {wanted!r}; the sheets are {', '.join(names)}",
                {"sheet": ["Unknown sheet"]},
            )
        names = [wanted]
    # Whole numbers Excel (or an ODS file) shows zero-padded (a reference 00123 typed in a cell formatted 00000).
    padded = padded_cells(path, names) if fmt == "xlsx" else ods_padded_cells(path, names) if fmt == "ods" else {}
    sheets = []
    for name in names:
        sheet = workbook.get_sheet_by_name(name)
        try:
            merged = list(sheet.merged_cell_ranges or [])
        except Exception:  # not every format reports merges
            merged = []
        start = sheet.start or (0, 0)
        offset = start[1] if start else 0
        merged = [((r0, c0 - offset), (r1, c1 - offset)) for (r0, c0), (r1, c1) in merged if c0 >= offset]
        rows = iter(sheet.iter_rows())
        if name in padded:
            rows = padded_rows(rows, padded[name], offset)
        sheets.append(Sheet(name, rows, merged, offset, partial(_sheet_rows, workbook, name)))
    return fmt, sheets


# -- rows -> projects ----------------------------------------------------------

# The fields of a row that holds nothing but amounts (an unlabelled subtotal, most likely).
_AMOUNT_ONLY = frozenset((*AMOUNT_FIELDS, "need_amount", "currency"))
_TOTAL_INITIALS = set("TtGgSsΣ")
_TOTAL = re.compile(r"^(grand )?(sub ?)?totals?\b|^sous total|^total general|^total des|^suma\b|^total\b")


@dataclass
class _Builder:
    record: ProjectRecord
    recipients: dict[tuple, RecipientRecord] = field(default_factory=dict)
    weights: dict[tuple, dict[str, Decimal]] = field(default_factory=dict)
    currencies: set = field(default_factory=set)
    areas: dict[str, AreaRecord] = field(default_factory=dict)
    last_codes: tuple = ()  # the area/sector/action-line texts of the previous row
    last_rkey: tuple | None = None  # the recipient texts of the previous row
    plain_rkeys: set = field(default_factory=set)  # recipient texts merged already that give no share


_MISSING = object()


@dataclass
class _Plan:
    """How the data rows of one sheet are read, fixed once its header is known."""

    used: list[Column]
    needed: list[int]  # the column indexes converted to text
    width: int
    n_columns: int
    label: str | None  # the sheet name as problems show it (None for a CSV)
    sheet_name: str
    has_type: bool
    amount_cols: list[Column]
    default_type: str  # the transaction type of an amount without one ('' = an error)
    fields: dict[str, list[int]] = field(default_factory=dict)  # field -> its (non-wide) columns
    amount_col: Column | None = None  # the first plain amount column (its header, unit, currency)

    def __post_init__(self) -> None:
        for c in self.used:
            if not c.tx_type:
                self.fields.setdefault(c.field, []).append(c.index)
        self.amount_col = next((c for c in self.used if c.field == "amount" and not c.tx_type), None)


class _Block:
    """A block of data rows as columns of text, and each field's column (first non-empty cell)."""

    def __init__(self, plan: _Plan, texts: dict[int, Any], n: int, all_text: bool = False) -> None:
        self.plan, self.texts, self.n = plan, texts, n
        self.all_text = all_text  # every text a plain str (a CSV's cells)
        self.empty = ("",) * n
        self.fields: dict[str, Any] = {}
        for name, indexes in plan.fields.items():
            merged = texts[indexes[0]]
            for i in indexes[1:]:  # the first non-empty cell of the field's columns
                merged = [a or b for a, b in zip(merged, texts[i], strict=True)]
            self.fields[name] = merged
        column = self.column
        self.refs, self.titles = column("reference"), column("title")
        self.types, self.amounts, self.currencies = column("transaction_type"), column("amount"), column("currency")
        self.value_dates, self.years = column("value_date"), column("year")
        self.tx_descriptions = column("transaction_description")
        self.wide = [(c, texts[c.index]) for c in plan.used if c.tx_type]
        self.first6 = [texts[i] for i in range(6)]
        self.default_type = plan.default_type

    def column(self, name: str) -> Any:
        """The texts of a field, one per row ('' where empty or when the sheet lacks it)."""
        return self.fields.get(name, self.empty)

    def optional(self, name: str) -> Any:
        """The texts of a field with None for empty cells."""
        if name not in self.fields:
            return repeat(None)
        return [t or None for t in self.fields[name]]

    def recipient_keys(self) -> Iterator[tuple]:
        c = self.column
        return zip(c("country"), c("region"), c("recipient"), c("share"), strict=True)

    def recipient_key(self, k: int) -> tuple:
        c = self.column
        return (c("country")[k], c("region")[k], c("recipient")[k], c("share")[k])

    def code_keys(self) -> Iterator[tuple]:
        c = self.column
        return zip(c("area"), c("sector"), c("wsis_action_line"), strict=True)

    def code_key(self, k: int) -> tuple:
        c = self.column
        return (c("area")[k], c("sector")[k], c("wsis_action_line")[k])

    def values(self, k: int) -> tuple[dict[str, str], list[tuple[Column, str]]]:
        """Row k's values by field (the first non-empty cell of each) and its wide amount cells."""
        values: dict[str, str] = {}
        wide: list[tuple[Column, str]] = []
        for c in self.plan.used:
            v = self.texts[c.index][k]
            if not v:
                continue
            if c.tx_type:
                wide.append((c, v))
            elif c.field not in values:
                values[c.field] = v
        return values, wide


def _lookup(texts: Any, caches: dict[type, dict], compute: Any, all_text: bool = False) -> list:
    """compute(text) for each text of a column, computed once per distinct text.

    Remembered per kind of text: a number cell's NumText('44197.5') equals the text
    '44197.5' but does not always mean the same (a date serial, not a date)."""
    kinds = {str} if all_text else set(map(type, texts))
    for kind in kinds:
        cache = caches.setdefault(kind, {})
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
    if len(kinds) == 1:
        cache = caches[kinds.pop()]
        for text in set(texts).difference(cache):
            cache[text] = compute(text)
        return list(map(cache.__getitem__, texts))
    for kind, text in set(zip(map(type, texts), texts, strict=True)):
        cache = caches[kind]
        if text not in cache:
            cache[text] = compute(text)
    return [caches[t.__class__][t] for t in texts]


def _plain_reference(text: str) -> bool:
    """A project reference that is neither empty nor perhaps a note (a long text with spaces)."""
    return bool(text) and not (len(text) > 15 and " " in text)


def _plain_first(text: str) -> bool:
    """A first cell that is text and not the start of a total row."""
    if not text or text.__class__ is NumText:
        return False
    return not (text[:1] in _TOTAL_INITIALS and _TOTAL.match(norm(text)))


def _amount_as_read(t: TransactionRecord) -> str:
    """'1,250,500.00 EUR': with the currency's decimals when the amount has no more than those."""
    amount, currency = t.amount, t.currency
    if money.is_currency(currency):
        try:
            if money.quantize(amount, currency) == amount:
                return money.format_amount(amount, currency)
        except ArithmeticError:
            pass
    return f"{amount:,} {currency}".strip()


def _places(currency: str) -> int | None:
    """The decimals of a currency (0 for XOF, 2 for EUR), None for an unknown code."""
    return money.minor_units(currency) if currency and money.is_currency(currency) else None


_CURRENCY_SPELLINGS = {"EURO": "EUR", "EUROS": "EUR", "F CFA": "FCFA", "CFA": "FCFA", "FRANCS CFA": "FCFA"}
# Codes that name no currency the registry can take, and what to write instead.
_NOT_A_CODE = {
    "FCFA": f"{CFA_CHOICE}. Write the one the amount is in",
    "STD": "STD is the dobra of São Tomé and Príncipe before 2018; it was redenominated as STN "
    "(1 STN = 1000 STD). Write STN, with amounts in old dobras divided by 1000",
}


def _currency_code(text: str) -> str:
    """A currency as its ISO code ('$' -> USD, 'eur' -> EUR, 'Euros' -> EUR, 'F CFA' -> FCFA)."""
    code = _SYMBOLS.get(text.lower(), text).strip().upper()
    return _CURRENCY_SPELLINGS.get(" ".join(code.split()), code)


class SheetTransaction(TransactionRecord):
    """A transaction read from a sheet; its Location is made only when something asks for it.

    The reader hands over (file, sheet, row, column) instead of a Location object: most
    transactions never have a problem, and 100,000 fewer objects keep large files fast
    (fewer allocations, less for the garbage collector to walk)."""

    @property  # type: ignore[override]
    def location(self) -> Location:
        where = self._where
        if where.__class__ is tuple:
            where = self._where = Location(*where)
        return where

    @location.setter
    def location(self, value: Location | tuple) -> None:
        self._where = value


class SheetReader:
    """Reads one file; keeps the lookups, the conventions and the problems."""

    def __init__(self, filename: str, options: dict) -> None:
        self.filename = Path(filename).name
        self.options = options
        self.problems: list[Problem] = []
        self.lookups = Lookups()
        self.explicit = _explicit(options)
        self.decimal = options.get("decimal") if options.get("decimal") in (",", ".") else None
        self.dates = options.get("dates") if options.get("dates") in ("dmy", "mdy") else None
        self.default_currency = (options.get("currency") or "").upper() or None
        self.unit = Decimal(str(options.get("unit") or 1))
        self.max_rows = int(options.get("max_rows") or _limit("IMPORT_MAX_ROWS", 500_000))
        self.builders: dict[str, _Builder] = {}
        self.skipped: Counter = Counter()
        self.rows_read = 0
        self.info: dict[str, Any] = {"sheets": [], "preview": {}, "mapping": {"columns": {}}}
        self._date_cache: dict[tuple[str, tuple], dt.date] = {}
        self._tx_type_cache: dict[str, str | None] = {}
        self._recipient_cache: dict[tuple, list] = {}
        self._amount_cache: dict[str, tuple] = {}
        self._sources: dict[str, bool] = {}  # funding source text -> known (see _check_source)
        self._year_dated: set[tuple] = set()  # (sheet, header) of columns dated by their year
        # The decimal mark of a sheet's ambiguous amounts (12.500, 1,250), learnt from its
        # other amounts when the first such amount is met (see _learnt_mark).
        self._mark_source: tuple | None = None  # (reread, amount columns, header rows, semicolons)
        self._learnt: tuple | None = None  # (mark or None, example text, row, column)
        # text -> (how it was read, its separator, the reading, the other reading)
        self._amount_notes: dict[str, tuple[str, str, Decimal, Decimal]] = {}
        self._noted: dict[tuple[str, str], list] = {}  # (how, separator) -> [count, first example]
        # Column-wise conversions, remembered per distinct text (see _lookup).
        self._caches: dict[str, dict[type, dict]] = {
            name: {} for name in ("ref", "first", "type", "currency", "value_date")
        }
        self.progress = options.get("_progress")

    def problem(
        self,
        severity: str,
        code: str,
        message: str,
        sheet: str,
        row: int | None,
        column: str | None = None,
        value: Any = None,
    ) -> None:
        loc = Location(file=self.filename, sheet=sheet, row=row, column=column)
        self.problems.append(Problem(severity, message, loc, None if value in (None, "") else str(value), code))

    # -- reading --------------------------------------------------------------

    def read(self, path: Path) -> ReadResult:
        with _gc_paused():
            return self._read(path)

    def _read(self, path: Path) -> ReadResult:
        fmt, sheets = open_sheets(path, self.filename, self.options.get("sheet"))
        self.info["format"] = fmt
        # Reading every sheet of a workbook: sheets that hold no project table (the
        # template's Instructions and Lists, a notes sheet) are skipped, not errors.
        self.lenient_sheets = len(sheets) > 1
        self.data_sheets: list[str] = []
        for sheet in sheets:
            self.read_sheet(sheet, fmt)
            if self.rows_read > self.max_rows:
                break
        if self.lenient_sheets and not self.data_sheets:
            self.problem(
                "error",
                "no_data_sheet",
                "No sheet has columns for the project reference and title; "
                "check the header row, or choose the sheet and map its columns",
                None,
                None,
            )
        self._splits: list = []  # projects whose flows split over their countries unlike their shares
        records = [self._finish(b) for b in self.builders.values()]
        self._report_splits()
        self.info.update(
            rows_read=self.rows_read,
            rows_skipped=sum(self.skipped.values()),
            skipped=dict(self.skipped),
            decimal=self.decimal or self.info.get("decimal"),
            projects=len(records),
        )
        return ReadResult(records, self.problems, self.info)

    def read_sheet(self, sheet: Sheet, fmt: str) -> None:
        head: list[list[str]] = []
        for raw in sheet.rows:
            head.append([cell_text(v) for v in raw])
            if len(head) >= HEADER_SCAN_ROWS:
                break
        _fill_merged(head, sheet.merged)
        header_row = self.options.get("header_row")
        r, columns, height = find_header(head, self.explicit, int(header_row) if header_row else None)
        label = sheet.name if fmt != "csv" else None
        if r < 0:
            if any(any(row) for row in head):
                self.problem(
                    "warning",
                    "no_header",
                    "No header row was recognised in this sheet; it was skipped",
                    label,
                    None,
                )
            return
        self._ask(columns, label, r + 1)
        fields = {c.field for c in columns}
        self.info["sheets"].append(sheet.name)
        mapping = self.info["mapping"]["columns"]
        for c in columns:
            if c.header:
                mapping.setdefault(c.header, c.spec)
                if c.field == "ignore" and not c.question:
                    self.problem(
                        "warning",
                        "unknown_column",
                        f"Column {c.header!r} was not recognised and is ignored",
                        label,
                        r + 1,
                        c.header,
                    )
        preview = self.info["preview"].setdefault(
            sheet.name,
            {"header_row": r + 1, "header_first": r + 2 - height, "headers": [c.header for c in columns], "rows": []},
        )
        first_rows = head[r + 1 :]
        for number, row in enumerate(first_rows, r + 2):
            if any(row) and len(preview["rows"]) < PREVIEW_ROWS:
                preview["rows"].append({"row": number, "cells": row[: len(columns)], "read": ""})
        missing = [f for f in ("reference", "title") if f not in fields]
        if missing and self.lenient_sheets:
            names = " and ".join(FIELDS[f].lower() for f in missing)
            self.problem(
                "warning",
                "sheet_skipped",
                f"Sheet skipped: it has no column for the {names}",
                label,
                r + 1,
                None,
            )
            self.info["preview"].pop(sheet.name, None)
            self.info["sheets"].remove(sheet.name)
            return
        if missing:
            for f in missing:
                self.problem(
                    "error",
                    "missing_column",
                    f"No column for the {FIELDS[f].lower()} was found",
                    label,
                    r + 1,
                    None,
                )
            return
        self.data_sheets.append(sheet.name)
        used = [c for c in columns if c.field != "ignore"]
        amount_cols = [c for c in used if c.field in AMOUNT_FIELDS or c.field == "need_amount"]
        rest = sheet.rows
        self._start_amounts(sheet, amount_cols, r + 1, first_rows)
        has_type = "transaction_type" in fields
        if "amount" in fields and not has_type and not self.options.get("default_type"):
            self.problem(
                "warning",
                "amount_as_commitment",
                "There is no transaction type column: amounts are read as commitments",
                label,
                r + 1,
            )
        if self.dates is None and sheet.reread is not None:
            self._learn_date_convention(sheet.reread, first_rows, used, label, r + 1)
        needed = sorted({c.index for c in used} | set(range(6)))
        width = max(len(columns), needed[-1] + 1)
        self._record_columns = {self._record_field(c.field): c.header for c in used}
        default_type = self.options.get("default_type") or ("" if has_type else "commitment")
        plan = _Plan(used, needed, width, len(columns), label, sheet.name, has_type, amount_cols, default_type)
        # The rows of the scanned head are text already (merged cells filled in); the rest
        # is read in blocks, converted column by column.
        head_texts = list(zip_longest(*first_rows, fillvalue="")) if first_rows else []
        texts = {i: head_texts[i] if i < len(head_texts) else ("",) * len(first_rows) for i in needed}
        end = self._read_block(plan, texts, [any(row) for row in first_rows], r + 1, True)
        caches: dict[int, dict] = {i: {} for i in needed}
        all_text = fmt == "csv"
        while end is not None:
            block = list(islice(rest, BLOCK_ROWS))
            if not block:
                break
            columns_of_block = list(zip_longest(*block, fillvalue=""))
            blank = ("",) * len(block)
            texts = {
                i: _column_texts(columns_of_block[i], caches[i], all_text) if i < len(columns_of_block) else blank
                for i in needed
            }
            del columns_of_block, block
            nonblank = list(map(any, zip(*texts.values(), strict=True)))
            end = self._read_block(plan, texts, nonblank, end, False, all_text)
        self._amount_warnings(label)

    def _year_end(self, c: Column, sheet: str | None, rownum: int, other: dt.date | None = None) -> dt.date:
        """The value date of an amount whose only date is the year its header names
        ("Disbursed 2023"): 31 December of that year, said once per column. ``other``: the row's
        date, of another year (the "Date of commitment" beside it), which the column does not take."""
        key = (sheet, c.header, other is not None)
        if key not in self._year_dated:
            self._year_dated.add(key)
            message = (
                f"The amounts of column {c.header!r} are dated 31 December {c.year}, the end of the year the "
                f"header names, not on the row's date {other.isoformat()}, which is of another year"
                if other is not None
                else f"The amounts of column {c.header!r} have no date of their own: they are dated "
                f"31 December {c.year}, the end of the year the header names"
            )
            self.problem(
                "warning",
                "date_from_header",
                message,
                sheet,
                rownum,
                c.header,
                other.isoformat() if other is not None else None,
            )
        return dt.date(c.year or 1, 12, 31)

    def _ask(self, columns: list[Column], label: str | None, header_row: int) -> None:
        """Ask about the headers that may mean two fields (never guess which): the header alone
        (importers.headers) or beside the sheet's other columns ("Amount" beside Commitment and
        Disbursement columns, "Date" where the flows have another date column or there are no
        flows, two columns of the flows' date on one row). An asked column is left out until a
        mapping says what it holds; a question that may be about money or the flows' dates is
        an error, so that no amount is left out or misdated unnoticed."""
        detected = [c for c in columns if c.detected]
        typed = sorted({c.field for c in columns if c.field in WIDE_TYPES}, key=WIDE_TYPES.index)
        money = [c for c in columns if c.field in AMOUNT_FIELDS or MONEY_FIELDS.intersection(c.question)]
        has_type = any(c.field == "transaction_type" for c in columns)
        dates = [c for c in columns if c.field == "value_date"]
        bare = [c for c in dates if meaning(tuple(norm(c.header).split())).concepts == {"DATE"}]
        named = [c for c in dates if c not in bare]  # "Date of commitment", "Payment date" ...
        several = named if len(named) > 1 else []
        for c in detected:
            why = ""
            if c.field == "amount" and typed and not has_type:
                c.question = (*typed, "ignore")
            elif c in bare and (len(dates) > 1 or not money):
                c.question = ("value_date", "planned_start", "planned_end", "actual_start", "actual_end")
            elif c in several:
                # "Date of commitment" beside "Date of disbursement": a row has one value date.
                c.question = ("value_date", "ignore")
                others = " and ".join(repr(d.header) for d in several if d is not c)
                why = (
                    f" Column {others} gives the flows' date too, and a row has one: keep one as the value "
                    "date and map the other to ignore, or give each flow a row of its own (with a Transaction "
                    "type column)."
                )
            if not c.question:
                continue
            about_money = any(f in MONEY_FIELDS for f in c.question)
            c.field, c.tx_type, c.year = "ignore", None, None
            words = ", ".join(FIELDS[f] for f in c.question if f != "ignore")
            if "ignore" in c.question:
                words += " (or a column to leave out)"
            self.problem(
                # A sheet without amounts has no flows to misdate: its question does not stop it.
                "error" if about_money or ("value_date" in c.question and money) else "warning",
                "ambiguous_header",
                f"Which field is column {c.header!r}? It may be: {words}.{why} Say which in the mapping "
                "(the drop-down of the column on the preview, or the mapping option): it is not guessed",
                label,
                header_row,
                c.header,
            )
        self.info.setdefault("questions", {}).update({c.header: list(c.question) for c in detected if c.question})

    def _learn_date_convention(self, reread, first_rows: list, used: list, label, header_row: int) -> None:
        """Take the file's own day/month order when its first rows write dates with slashes or
        dots and the unambiguous dates of its date columns all agree (before any is read).

        In a workbook only the dates typed as text count: real date cells need no convention."""
        columns = [(c.index, c.header) for c in used if c.field in DATE_FIELDS]
        if not any(
            _DATE_XY.fullmatch(row[i].strip()) for row in first_rows for i, _h in columns if i < len(row) and row[i]
        ):
            return
        cells = (
            ((number, header), row[i])
            for number, row in enumerate(islice(reread(), header_row, None), header_row + 1)
            for i, header in columns
            if i < len(row) and isinstance(row[i], str) and row[i]
        )
        found = infer_date_convention(cells)
        if found.kind is None:
            return
        row, column = found.where
        self.dates = found.kind
        self.info["dates"] = found.kind
        if not found.ambiguous:
            return  # every date reads one way only: the order decides nothing worth a warning
        order = "day/month/year" if found.kind == "dmy" else "month/day/year"
        day = parse_date(found.ambiguous, found.kind)
        message = (
            f"Dates such as {found.ambiguous} (row {found.ambiguous_where[0]}) are read as {order}, "
            f"{found.ambiguous} as {day.day} {_month(day.month)} {day.year}: the file also writes "
            f"{found.example} (row {row}), which can only be read that way. Say how the file writes dates "
            "if that is wrong (on the upload page 'Dates like 03/04/2021 mean'; --dates dmy or mdy on the "
            "command line; dates=dmy or mdy in the API)."
        )
        self.problem("warning", "dates_inferred", message, label, row, column, found.example)

    def _read_block(
        self, plan: _Plan, texts: dict[int, Any], nonblank: list[bool], rownum: int, head: bool, all_text: bool = False
    ) -> int | None:
        """Read data rows given column by column as text; the last row number, or None at the row limit."""
        blk = _Block(plan, texts, len(nonblank), all_text)
        n_read = sum(nonblank)
        preview = self.info["preview"].get(plan.sheet_name)
        if (
            not head
            and self.rows_read + n_read <= self.max_rows
            and (preview is None or len(preview["rows"]) >= PREVIEW_ROWS)
        ):
            before = self.rows_read
            self.rows_read += n_read
            self._fast_rows(blk, nonblank, rownum)
            if self.progress:
                for done in range((before // 5000 + 1) * 5000, self.rows_read + 1, 5000):
                    self.progress(done, 0, "reading")
            return rownum + blk.n
        # the previewed rows by number (the head's, and those this block adds)
        previewed = {r["row"]: r for r in preview["rows"]} if preview is not None else None
        for k in range(blk.n):
            rownum += 1
            if not nonblank[k]:
                continue
            self.rows_read += 1
            if self.rows_read > self.max_rows:
                self.problem(
                    "error",
                    "too_many_rows",
                    f"The file has more than {self.max_rows:,} rows; split it into smaller files",
                    plan.label,
                    rownum,
                )
                return None
            if not head and preview is not None and len(preview["rows"]) < PREVIEW_ROWS:
                row = [""] * plan.width
                for i in plan.needed:
                    row[i] = texts[i][k]
                preview["rows"].append({"row": rownum, "cells": row[: plan.n_columns], "read": ""})
                previewed[rownum] = preview["rows"][-1]
            entry = previewed.get(rownum) if previewed else None
            if entry is None:
                self._read_row(blk, k, rownum)
            else:  # say under the previewed row what it gave
                builder = self.builders.get(blk.refs[k])
                before = len(builder.record.transactions) if builder else 0
                self._read_row(blk, k, rownum)
                builder = self.builders.get(blk.refs[k])
                added = builder.record.transactions[before:] if builder else []
                entry["read"] = "; ".join(f"{t.type} {_amount_as_read(t)} on {t.value_date}" for t in added)
            if self.progress and self.rows_read % 5000 == 0:
                self.progress(self.rows_read, 0, "reading")
        return rownum

    def _fast_rows(self, blk: _Block, nonblank: list[bool], rownum: int) -> None:
        """Read a block's rows with their values parsed column by column (one conversion per
        distinct text); a row that is anything but a plain transaction line of a project
        already seen goes through ``_read_row``, in its turn, so results and problems are the
        same as reading every row one by one."""
        plan, n = blk.plan, blk.n
        col = plan.amount_col
        if col is None:
            for k in range(n):
                if nonblank[k]:
                    self._read_row(blk, k, rownum + k + 1)
            return
        # Which rows may take the fast way: a usable reference, no total in the first cell, no wide cell.
        ok = _lookup(blk.refs, self._caches["ref"], _plain_reference, blk.all_text)
        ok = [
            a and b and c
            for a, b, c in zip(
                ok, nonblank, _lookup(blk.first6[0], self._caches["first"], _plain_first, blk.all_text), strict=True
            )
        ]
        if blk.wide:
            ok = [a and not any(w) for a, w in zip(ok, zip(*(t for _c, t in blk.wide), strict=True), strict=True)]
        default_type = blk.default_type
        type_texts = blk.types if not default_type else [t or default_type for t in blk.types]
        tx_types = _lookup(type_texts, self._caches["type"], lambda t: self._tx_type(t) if t else None, blk.all_text)
        # Amounts: plain numbers that read one way only directly; anything else (12.500,
        # 1.234,56) through the cached parser.
        plain = (
            _PLAIN_NUMBER if self.decimal == "." else _PLAIN_INTEGER if self.decimal == "," else _POINT_DECIMAL
        ).fullmatch
        amounts = [Decimal(t) if plain(t) else None for t in blk.amounts]
        named: dict[int, str] = {}
        texts: list[int] = []  # the rows whose amount was read from text with separators or symbols
        notes, noted = self._amount_notes, {}
        for k, t in enumerate(blk.amounts):
            if t and amounts[k] is None:
                if t.__class__ is NumText:
                    try:
                        amounts[k] = Decimal(t)
                    except InvalidOperation:
                        pass
                    continue
                parsed = self._amount_cache.get(t) or self._parse_amount(t)
                amounts[k] = parsed[0]
                if parsed[0] is not None:
                    texts.append(k)
                    if parsed[1]:
                        named[k] = parsed[1]
                    if t in notes:
                        noted[k] = t
        if col.unit != 1 or self.unit != 1:
            amounts = [None if a is None else a * col.unit * self.unit for a in amounts]
        fallback = _currency_code(col.currency or self.default_currency or "")
        codes = _lookup(blk.currencies, self._caches["currency"], _currency_code, blk.all_text)
        codes = [c or fallback for c in codes]
        for k, name in named.items():
            codes[k] = _currency_code(blk.currencies[k] or name or col.currency or self.default_currency or "")
        for k, code in enumerate(codes):
            if code and (code in _NOT_A_CODE or not money.is_currency(code)):
                ok[k] = False  # FCFA, STD: an error that says what to write; XYZ: its funding source checked
        for k in texts:
            # 1,250 XOF (no decimals: 1250), or more decimals than the currency has: the slow way
            places = _places(codes[k])
            if places is not None and (
                (places == 0 and k in noted)
                or amounts[k] != amounts[k].quantize(Decimal(1).scaleb(-places), "ROUND_DOWN")
            ):
                ok[k] = False
        dates = _lookup(blk.value_dates, self._caches["value_date"], self._date_or_none, blk.all_text)
        if col.year and any(
            (d is None and not v) or (d is not None and d.year != col.year)
            for d, v in zip(dates, blk.value_dates, strict=True)
        ):
            # A row date in the header's year wins; none, or one of another year (a "Date of
            # commitment" beside "Disbursed 2023"), gives way to the year the header names.
            dated = []
            for k, (d, v) in enumerate(zip(dates, blk.value_dates, strict=True)):
                if d is not None and d.year != col.year:
                    d = self._year_end(col, plan.label, rownum + 1 + k, d)
                elif d is None and not v:
                    d = self._year_end(col, plan.label, rownum + 1 + k)
                dated.append(d)
            dates = dated
        elif "year" in plan.fields:
            years = _lookup(blk.years, self._caches["value_date"], self._date_or_none, blk.all_text)
            dates = [d if d is not None or v else y for d, v, y in zip(dates, blk.value_dates, years, strict=True)]
        locations = zip(
            repeat(self.filename), repeat(plan.label), range(rownum + 1, rownum + n + 1), repeat(col.header)
        )
        txs = [
            SheetTransaction(t, a, c, d, fs, po, fl, fi, ai, de, loc)
            if (y and t and a is not None and c and d)
            else None
            for y, t, a, c, d, fs, po, fl, fi, ai, de, loc in zip(
                ok,
                tx_types,
                amounts,
                codes,
                dates,
                blk.optional("funding_source"),
                blk.optional("provider_org"),
                blk.optional("flow_type"),
                blk.optional("finance_type"),
                blk.optional("aid_type"),
                blk.tx_descriptions,
                locations,
                strict=False,
            )
        ]
        refs, titles, builders, recipient_cache, zero = (
            blk.refs,
            blk.titles,
            self.builders,
            self._recipient_cache,
            Decimal(0),
        )
        for k, rkey, codes_k in zip(range(n), blk.recipient_keys(), blk.code_keys(), strict=True):
            tx = txs[k]
            b = builders.get(refs[k]) if tx is not None else None
            if b is None or codes_k != b.last_codes or (titles[k] and titles[k] != b.record.title):
                if nonblank[k]:
                    self._read_row(blk, k, rownum + k + 1)
                continue
            recipients = recipient_cache.get(rkey)
            if recipients is None:
                self._read_row(blk, k, rownum + k + 1)
                continue
            if rkey != b.last_rkey and rkey not in b.plain_rkeys:
                self._merge_recipients(b, rkey, recipients)
            b.record.transactions.append(tx)
            if noted and k in noted:
                self._note_amount(noted[k], tx.currency, rownum + k + 1, col.header, col.unit * self.unit)
            t = tx.type
            b.currencies.add(tx.currency)
            for key, _rec in recipients:
                w = b.weights[key]
                w[t] = w.get(t, zero) + tx.amount

    def _merge_recipients(self, b: _Builder, rkey: tuple | None, recipients: list) -> None:
        """Add a row's recipients to its project (a share given again replaces the earlier one).

        ``rkey`` (the row's recipient texts, None when they had a problem) is remembered so that
        the next rows with the same texts need not merge again: merging the same recipients
        twice in a row changes nothing, nor at any time when none of them carries a share."""
        known = b.recipients
        shares = False
        for key, rec in recipients:
            if key not in known:
                known[key] = RecipientRecord(country=rec.country, region=rec.region, share=rec.share)
                b.weights[key] = {}
            elif rec.share is not None:
                known[key].share = rec.share
            shares = shares or rec.share is not None
        b.last_rkey = rkey
        if rkey is not None and not shares:
            b.plain_rkeys.add(rkey)

    def _date_or_none(self, text: str) -> dt.date | None:
        """A value date or year (mid-year), or None when the text is empty or not a date."""
        if not text:
            return None
        try:
            return parse_date(text, self.dates, (7, 1))
        except CellError:
            return None

    def _read_row(self, blk: _Block, k: int, rownum: int) -> None:
        """Read one data row (k of its block): skip, report or add it to its project."""
        plan = blk.plan
        used, sheet = plan.used, plan.label
        ref = blk.refs[k]
        first_text = next((s[k] for s in blk.first6 if s[k] and s[k].__class__ is not NumText), "")
        if (
            first_text[:1] in _TOTAL_INITIALS
            and _TOTAL.match(norm(first_text))
            and (not ref or _TOTAL.match(norm(ref)))
        ):
            self.skipped["total_row"] += 1
            self.problem(
                "warning",
                "total_row",
                "Total row skipped (totals are computed by the registry)",
                sheet,
                rownum,
                None,
                first_text,
            )
            return
        values, wide_cells = blk.values(k)
        if not ref or (values.keys() == {"reference"} and not wide_cells and len(ref) > 15 and " " in ref):
            self._skip_row(values, wide_cells, ref, first_text, used, sheet, rownum)
            return
        builder = self.builders.get(ref)
        if builder is None:
            loc = Location(file=self.filename, sheet=sheet, row=rownum)
            record = ProjectRecord(reference=ref, title=values.get("title", ""), location=loc)
            record.columns = self._record_columns  # shared: the same columns for every row
            builder = self.builders[ref] = _Builder(record)
            self._project_fields(builder, values, used, sheet, rownum)
        else:
            title = values.get("title")
            if title and not builder.record.title:
                builder.record.title = title
            elif title and title != builder.record.title:
                self.problem(
                    "warning",
                    "title_differs",
                    f"Project {ref!r} has another title on row {builder.record.location.row}; the first one is kept",
                    sheet,
                    rownum,
                    self._header(used, "title"),
                    title,
                )
        flows = len(builder.record.transactions)
        rkey: tuple | None = blk.recipient_key(k)
        recipients = self._recipient_cache.get(rkey)
        if recipients is None:
            errors_before = len(self.problems)
            recipients = self._recipients(values, used, sheet, rownum)
            if len(self.problems) == errors_before:  # a clean parse is the same on every row
                self._recipient_cache[rkey] = recipients
            else:
                rkey = None  # read again (and reported again) on every row that has it
                builder.record.incomplete.add("recipients")
        self._merge_recipients(builder, rkey, recipients)
        codes = blk.code_key(k)
        if codes != builder.last_codes:
            self._areas_and_codes(builder, values, used, sheet, rownum)
            builder.last_codes = codes
        # Transactions: the row's amount (long shape) and its wide amount cells.
        cells: list[tuple[Column, str, str]] = []
        if values.get("amount"):
            type_text = values.get("transaction_type") or blk.default_type
            tx_type = self._tx_type(type_text) if type_text else None
            if tx_type is None:
                self.problem(
                    "error",
                    "unknown_transaction_type",
                    f"Unknown transaction type {type_text!r} (commitment, disbursement, "
                    "expenditure, pledge, incoming funds)"
                    if type_text
                    else "The transaction type is missing",
                    sheet,
                    rownum,
                    self._header(used, "transaction_type"),
                    type_text,
                )
                # the row's other cells are checked all the same (their problems reported too)
                if self._transaction(plan.amount_col, values["amount"], "commitment", values, used, sheet, rownum):
                    self._check_source(values, used, sheet, rownum)
            else:
                cells.append((plan.amount_col, values["amount"], tx_type))
        for c, text in wide_cells:
            cells.append((c, text, c.tx_type))
        for c, text, tx_type in cells:
            tx = self._transaction(c, text, tx_type, values, used, sheet, rownum)
            if tx is None:
                continue
            builder.record.transactions.append(tx)
            builder.currencies.add(tx.currency)
            for key, _rec in recipients:
                w = builder.weights[key]
                w[tx_type] = w.get(tx_type, Decimal(0)) + tx.amount
        if len(builder.record.transactions) == flows:  # a row that gave no flow: still the project's
            builder.record.rows.append((sheet, rownum))  # (its problems leave with it: skip-invalid)

    def _transaction(self, c: Column, text: str, tx_type: str, values: dict, used, sheet, rownum) -> Any:
        """One amount cell as a transaction, or None (reported, or an empty year of a wide layout).

        Every problem of the row's cells is reported, not only the first: a bad amount does not
        hide a bad date, and a transaction dropped for one has its funding source checked too
        (the import checks the funding sources of the transactions it is given)."""
        ok = True
        currency = ""
        if text.__class__ is NumText:  # a number cell: no separators, no symbols
            try:
                amount: Decimal | None = Decimal(text)
            except InvalidOperation:
                self.problem("error", "invalid_amount", f"{text!r} is not an amount", sheet, rownum, c.header, text)
                amount = None
            currency = _currency_code(values.get("currency") or c.currency or self.default_currency or "")
            if not self._known_code(currency, sheet, rownum, self._currency_column(values, used, c), text):
                ok = False
        else:
            settled = self._settle(
                text,
                values.get("currency"),
                c.currency or self.default_currency,
                c.unit * self.unit,
                (sheet, rownum, c.header),
                self._currency_column(values, used, c),
            )
            amount, currency = settled if settled is not None else (None, "")
        if amount == 0 and c.tx_type:
            return None  # an empty year in a wide layout
        ok = ok and amount is not None
        if ok and not currency and c.cfa:
            self.problem(
                "error",
                "ambiguous_currency",
                f"No currency: the header {c.header!r} says FCFA, and {CFA_CHOICE}. Write XOF or XAF in the "
                "header (or in a Currency column), or choose the currency of the file when uploading it",
                sheet,
                rownum,
                c.header,
                text,
            )
            ok = False
        elif ok and not currency:
            self.problem(
                "error",
                "missing_currency",
                "No currency: the Currency cell is empty; fill it, or choose the currency of the file when uploading it"
                if self._header(used, "currency")
                else "No currency: choose the currency of the file when uploading it, add a Currency column, "
                'or name the currency in the header ("Amount (EUR)")',
                sheet,
                rownum,
                c.header,
                text,
            )
            ok = False
        if values.get("value_date"):
            when = self._date(values["value_date"], "value_date", used, sheet, rownum)
            if c.year and when is not None and when.year != c.year:
                when = self._year_end(c, sheet, rownum, when)  # the header's year, not another's
        elif c.year:
            when = self._year_end(c, sheet, rownum)
        elif values.get("year"):
            when = self._date(values["year"], "year", used, sheet, rownum)
        else:
            self.problem(
                "error", "missing_date", "No value date or year for this amount", sheet, rownum, c.header, text
            )
            when = None
        if not ok or when is None:
            self._check_source(values, used, sheet, rownum)
            return None
        # A transaction passed on (an unknown currency such as XYZ included) has all its
        # values checked by the import, its funding source too.
        return SheetTransaction(
            tx_type,
            amount * c.unit * self.unit if (c.unit != 1 or self.unit != 1) else amount,
            currency,
            when,
            values.get("funding_source"),
            values.get("provider_org"),
            values.get("flow_type"),
            values.get("finance_type"),
            values.get("aid_type"),
            values.get("transaction_description", ""),
            (self.filename, sheet, rownum, c.header),
        )

    def _parse_amount(self, text: str) -> tuple:
        """(amount, named currency) of a text cell, or (None, (code, message)); remembered per text.

        An amount that reads both ways (12.500, 1,250) is read by the decimal mark the sheet's
        other amounts show; when they do not settle it, in a semicolon-separated file (written
        by a spreadsheet set to a decimal comma) the comma is the decimal mark and the point a
        thousands separator, with a warning; anywhere else it is an error that says how to
        declare the mark."""
        try:
            parsed = parse_amount(text, self.decimal)
        except AmbiguousAmount as exc:
            mark = self._learnt_mark()
            if mark is None and not self._mark_source[3]:
                parsed = (None, (exc.code, str(exc), exc))
            elif mark == exc.separator:  # 1,250 in a file that writes 10,5: 1.25, perhaps wrongly
                parsed = (exc.as_decimal, exc.currency)
                self._amount_notes[text] = ("decimals", exc.separator, exc.as_decimal, exc.as_thousands)
            elif mark is None and exc.separator == ",":  # nothing but the semicolons: a decimal comma
                parsed = (exc.as_decimal, exc.currency)
                self._amount_notes[text] = ("assumed", exc.separator, exc.as_decimal, exc.as_thousands)
            else:
                parsed = (exc.as_thousands, exc.currency)
                if mark is None:  # nothing to go by but the semicolons: the point separates thousands
                    self._amount_notes[text] = ("assumed", exc.separator, exc.as_thousands, exc.as_decimal)
        except CellError as exc:
            parsed = (None, (exc.code, str(exc), exc))
        if len(self._amount_cache) >= CACHE_LIMIT:
            self._amount_cache.clear()
        self._amount_cache[text] = parsed
        return parsed

    def _settle(
        self,
        text: str,
        given: str | None,
        fallback: str | None,
        factor: Decimal,
        where: tuple,
        currency_column: str | None = None,
    ) -> tuple[Decimal, str] | None:
        """(amount before the column's unit, currency) of a text amount cell, or None (reported).

        The currency is the row's (``given``), else the one the cell names, else ``fallback``
        (the column's, the file's). A currency without decimals (XOF, JPY) settles an amount that
        reads both ways (1,250 XOF is 1250); errors quote the cell's own text."""
        amount, named = self._amount_cache.get(text) or self._parse_amount(text)
        if amount is None:
            exc = named[2] if len(named) > 2 else None
            if not isinstance(exc, AmbiguousAmount):
                self.problem("error", named[0], named[1], *where, text)
                return None
            currency = _currency_code(given or exc.currency or fallback or "")
            if _places(currency) == 0 and exc.as_decimal != exc.as_decimal.to_integral_value():
                amount = exc.as_thousands
                self._note_amount(
                    text, currency, where[1], where[2], factor, ("currency", exc.separator, amount, exc.as_decimal)
                )
                return amount, currency
            self.problem("error", exc.code, exc.describe(factor, currency or None), *where, text)
            return None
        currency = _currency_code(given or named or fallback or "")
        if not self._known_code(currency, where[0], where[1], currency_column or where[2], text):
            return None
        note = self._amount_notes.get(text)
        if note is not None:
            how, separator, reading, other = note
            if _places(currency) == 0 and reading != reading.to_integral_value() and other == other.to_integral_value():
                amount, note = other, ("currency", separator, other, reading)
            self._note_amount(text, currency, where[1], where[2], factor, note)
        places = _places(currency)
        stored = amount * factor
        # (a plain 1000.50 XOF is left to the import's own check, which quotes it as it is)
        exact = places is None or stored == stored.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN")
        if not exact and (factor != 1 or not _PLAIN_NUMBER.fullmatch(text)):
            self.problem(
                "error",
                "invalid_amount",
                f"{text!r} is read as {_shown(stored)} {currency}, but {currency} amounts have "
                f"{places or 'no'} decimals: correct the amount or its currency",
                *where,
                text,
            )
            return None
        return amount, currency

    def _currency_column(self, values: dict, used: list[Column], c: Column) -> str | None:
        """The column a transaction's currency comes from: its row's Currency cell, else the amount's."""
        return self._header(used, "currency") if values.get("currency") else c.header

    def _check_source(self, values: dict, used: list[Column], sheet: str, rownum: int) -> None:
        """Report an unknown funding source of a transaction the reader drops for another problem
        (the import checks those of the transactions it is given, with the same message)."""
        text = values.get("funding_source")
        if not text:
            return
        if text not in self._sources:
            self._sources[text] = funding.find_funding_source(text) is not None
        if not self._sources[text]:
            self.problem(
                "error",
                "invalid_funding_source",
                f"Unknown funding source {text!r} (give its reference or exact name)",
                sheet,
                rownum,
                self._header(used, "funding_source"),
                text,
            )

    def _known_code(self, currency: str, sheet: str, rownum: int, column: str | None, text: str) -> bool:
        """False (reported) for a currency that names none the registry can take (FCFA, STD)."""
        why = _NOT_A_CODE.get(currency)
        if why is None:
            return True  # an unknown code (XYZ) is the import's to report
        self.problem(
            "error",
            "ambiguous_currency" if currency == "FCFA" else "unknown_currency",
            f"{'FCFA' if currency == 'FCFA' else repr(currency)} is not a currency code the registry takes: {why}",
            sheet,
            rownum,
            column,
            text,
        )
        return False

    def _start_amounts(self, sheet: Sheet, amount_cols: list[Column], header_row: int, first_rows: list) -> None:
        """Make ready to read a sheet's amounts: nothing learnt yet about its decimal mark."""
        self._amount_cache.clear()
        self._amount_notes.clear()
        self._noted.clear()
        self._learnt = None
        self._mark_source = (sheet.reread, amount_cols, header_row, sheet.delimiter == ";")
        if self.decimal is None and "decimal" not in self.info:
            marks = {decimal_evidence(row[c.index]) for row in first_rows for c in amount_cols if c.index < len(row)}
            marks.discard(None)
            if len(marks) == 1:
                self.info["decimal"] = marks.pop()  # what the first rows show (for the preview)

    def _learnt_mark(self) -> str | None:
        """The decimal mark the sheet's amounts show (1.250.000, 1.234,56, 12,5 ...), when they
        show one and only one; read from the whole sheet once, when an amount needs it."""
        if self._learnt is None:
            reread, columns, header_row, _semicolons = self._mark_source
            indexes = [c.index for c in columns]
            found: dict[str, tuple] = {}
            seen: dict[str, str | None] = {}
            rows = enumerate(islice(reread(), header_row, None), header_row + 1) if reread else ()
            for number, row in rows:
                for i in indexes:
                    text = row[i] if i < len(row) else None
                    if not text or not isinstance(text, str):
                        continue
                    if text not in seen:
                        seen[text] = decimal_evidence(text.strip())
                    mark = seen[text]
                    if mark and mark not in found:
                        found[mark] = (text.strip(), number, i)
                if len(found) == 2:
                    break
            if len(found) == 1:
                mark, (example, number, i) = next(iter(found.items()))
                header = next(c.header for c in columns if c.index == i)
                self._learnt = (mark, example, number, header)
                self.info["decimal"] = mark
            else:
                self._learnt = (None, None, None, None)
        return self._learnt[0]

    def _note_amount(
        self,
        text: str,
        currency: str,
        row: int,
        column: str | None,
        factor: Decimal = Decimal(1),
        note: tuple | None = None,
    ) -> None:
        """Count an amount read one of two ways, for the sheet's warning (see _amount_warnings);
        ``factor`` is the unit of its column (thousands, millions), so the warning gives the
        amount as stored; ``note`` is how it was read (else as the sheet's amounts say)."""
        how, separator, amount, other = note or self._amount_notes[text]
        if how == "decimals" and (factor != 1 or not money.is_currency(currency) or money.minor_units(currency) >= 3):
            return  # 12.250 USD millions, or three decimals in KWD, are right; an unknown currency is an error
        if factor != 1:
            amount, other = amount * factor, other * factor
        entry = self._noted.get((how, separator))
        if entry is None:
            self._noted[(how, separator)] = [1, (row, column, text, amount, other, currency)]
        else:
            entry[0] += 1
            if row < entry[1][0]:
                entry[1] = (row, column, text, amount, other, currency)

    def _amount_warnings(self, sheet: str | None) -> None:
        """One warning per way the sheet's ambiguous amounts were read, at the first of them."""
        for (how, separator), (count, (row, column, text, amount, other_reading, currency)) in sorted(
            self._noted.items(), key=lambda item: item[1][1][0]
        ):
            other = "," if separator == "." else "."
            more = f" (and {count - 1} more amount{'s' if count > 2 else ''} like it)" if count > 1 else ""
            if how == "assumed":
                role = "a thousands separator" if separator == "." else "the decimal mark"
                message = (
                    f"{text!r}{more} was read as {_shown(amount)} {currency}, with {_mark_name(separator)} as "
                    f"{role}: the file's amounts do not settle its decimal mark, and files separated by "
                    f"semicolons are written where the decimal mark is a comma. If {text!r} means "
                    f"{_shown(other_reading)} {currency}, {_declare('.')}"
                )
                code = "decimal_mark_assumed"
            elif how == "currency":
                message = (
                    f"{text!r}{more} was read as {_shown(amount)} {currency}, with {_mark_name(separator)} as a "
                    f"thousands separator: {currency} amounts have no decimals, so it cannot be "
                    f"{_shown(other_reading)}. If that is wrong, correct the amount or its currency"
                )
                code = "decimal_mark_by_currency"
            else:
                _mark, example, proof_row, _column = self._learnt
                message = (
                    f"{text!r}{more} was read as {_shown(amount)} {currency}: the file writes {example!r} "
                    f"(row {proof_row}), so {_mark_name(separator)} is its decimal mark. But {currency} amounts "
                    f"have {money.minor_units(currency)} decimals: if {text!r} means "
                    f"{_shown(other_reading)} {currency}, correct the file or {_declare(other)}"
                )
                code = "decimal_mark_doubtful"
            self.problem("warning", code, message, sheet, row, column, text)

    def _skip_row(self, values, wide_cells, ref, first_text, columns, sheet, rownum) -> None:
        """A row without a project reference, or with only a long text in it: a note or an error."""
        if ref:
            self.skipped["note_row"] += 1
            self.problem(
                "warning",
                "note_row",
                "Row with only a text in the reference column skipped (a note?)",
                sheet,
                rownum,
                None,
                ref,
            )
        elif values.keys() <= _AMOUNT_ONLY and (values.keys() - {"currency"} or wide_cells):
            amounts = [values[f] for f in (*AMOUNT_FIELDS, "need_amount") if values.get(f)]
            amounts += [text for _c, text in wide_cells]
            self.problem(
                "error",
                "missing_reference",
                f"The row holds {'amounts' if len(amounts) > 1 else 'an amount'} but no project reference "
                "nor anything else: a subtotal? Totals are computed by the registry: delete the row, or "
                "write 'Subtotal' in its first cell to have it skipped. If it is a transaction, give its "
                "project reference.",
                sheet,
                rownum,
                self._header(columns, "reference"),
                "; ".join(amounts),
            )
        elif values.keys() - {"title", "description", "transaction_description"} or wide_cells:
            self.problem(
                "error",
                "missing_reference",
                "The project reference is missing",
                sheet,
                rownum,
                self._header(columns, "reference"),
            )
        else:
            self.skipped["note_row"] += 1
            self.problem(
                "warning",
                "note_row",
                "Row without a project reference skipped (a note?)",
                sheet,
                rownum,
                None,
                first_text,
            )

    @staticmethod
    def _record_field(name: str) -> str:
        return {
            "country": "recipients",
            "region": "recipients",
            "recipient": "recipients",
            "share": "recipients",
            "area": "areas",
            "sector": "sectors",
            "wsis_action_line": "wsis_action_lines",
            "need_amount": "need",
            "need_currency": "need",
            "transaction_type": "type",
        }.get(name, name)

    @staticmethod
    def _header(columns: list[Column], name: str) -> str | None:
        return next((c.header for c in columns if c.field == name), None)

    def _date(self, text: str, field_name: str, columns, sheet, rownum) -> dt.date | None:
        year_day = (1, 1) if field_name.endswith("start") else (12, 31) if field_name.endswith("end") else (7, 1)
        key = (text, year_day)
        found = self._date_cache.get(key)
        if found is not None:
            return found
        try:
            found = parse_date(text, self.dates, year_day)
        except CellError as exc:
            self.problem("error", exc.code, str(exc), sheet, rownum, self._header(columns, field_name), text)
            return None
        if type(text) is str:
            self._date_cache[key] = found
        return found

    def _project_fields(self, b: _Builder, values: dict, columns, sheet, rownum) -> None:
        rec = b.record
        rec.description = values.get("description", "")
        rec.iati_identifier = values.get("iati_identifier") or None
        if values.get("status"):
            status = vocabulary()["status"].get(norm(values["status"]))
            if status is None:
                self.problem(
                    "error",
                    "unknown_status",
                    f"Unknown status {values['status']!r} (pipeline, active, completed, cancelled, suspended)",
                    sheet,
                    rownum,
                    self._header(columns, "status"),
                    values["status"],
                )
            rec.status = status
        for name in ("planned_start", "planned_end", "actual_start", "actual_end"):
            if values.get(name):
                setattr(rec, name, self._date(values[name], name, columns, sheet, rownum))
        if values.get("need_amount"):
            col = next(c for c in columns if c.field == "need_amount")
            text = values["need_amount"]
            fallback = col.currency or values.get("currency") or self.default_currency
            if text.__class__ is NumText:  # a number cell: never read as a text that looks the same
                settled = Decimal(text), _currency_code(values.get("need_currency") or fallback or "")
            else:
                settled = self._settle(
                    text, values.get("need_currency"), fallback, col.unit * self.unit, (sheet, rownum, col.header)
                )
            if settled is not None:
                rec.need_amount = settled[0] * col.unit * self.unit
                rec.need_currency = settled[1]

    def _recipients(self, values, columns, sheet, rownum) -> list[tuple[tuple, RecipientRecord]]:
        out = []
        share_text = values.get("share")
        for name in ("country", "region", "recipient"):
            text = values.get(name)
            if not text:
                continue
            items = split_items(text)
            for item, item_share in items:
                country = region = None
                if name in ("country", "recipient"):
                    country = self.lookups.country(item)
                if country is None and name in ("region", "recipient"):
                    region = self.lookups.region(item)
                if country is None and region is None:
                    what = "country" if name == "country" else "region" if name == "region" else "country or region"
                    hint = self.lookups.suggest(item, countries=name != "region", regions=name != "country")
                    self.problem(
                        "error",
                        f"unknown_{'country' if name != 'region' else 'region'}",
                        f"Unknown {what} {item!r}" + (f"; did you mean {hint}?" if hint else ""),
                        sheet,
                        rownum,
                        self._header(columns, name),
                        item,
                    )
                    continue
                share = None
                given = item_share or (share_text if len(items) == 1 else None)
                if given:
                    try:
                        share = parse_share(given)
                        if not 0 < share <= 100:  # the registry's rule, said here with its row
                            self.problem(
                                "error",
                                "invalid_share",
                                f"Share {given} must be above 0 and at most 100",
                                sheet,
                                rownum,
                                self._header(columns, "share"),
                                given,
                            )
                            share = None
                    except CellError:
                        self.problem(
                            "error",
                            "invalid_share",
                            f"{given!r} is not a percentage",
                            sheet,
                            rownum,
                            self._header(columns, "share"),
                            given,
                        )
                out.append(
                    (
                        (country, region),
                        RecipientRecord(country=country, region=region, share=share),
                    )
                )
        return out

    def _areas_and_codes(self, b: _Builder, values, columns, sheet, rownum) -> None:
        rec = b.record
        if values.get("area"):
            for item, share in split_items(values["area"], commas=True):
                code = self.lookups.area(item)
                if code is None:
                    rec.incomplete.add("areas")
                    self.problem(
                        "error",
                        "unknown_area",
                        f"Unknown priority area {item!r} (23a-23l or its name)",
                        sheet,
                        rownum,
                        self._header(columns, "area"),
                        item,
                    )
                elif code not in b.areas:
                    b.areas[code] = AreaRecord(code=code, share=Decimal(share) if share else None)
        if values.get("sector"):
            for item, _share in split_items(values["sector"], commas=True):
                m = re.match(r"\d{5}", item)
                if not m:
                    self.problem(
                        "error",
                        "invalid_sector",
                        f"{item!r} is not a DAC 5-digit purpose code",
                        sheet,
                        rownum,
                        self._header(columns, "sector"),
                        item,
                    )
                elif m.group(0) not in rec.sectors:
                    rec.sectors.append(m.group(0))
        if values.get("wsis_action_line"):
            for item in re.split(r"[;,/|\s]+", values["wsis_action_line"]):
                code = item.strip().upper()
                if code and code not in rec.wsis_action_lines:
                    rec.wsis_action_lines.append(code)

    def _tx_type(self, text: str) -> str | None:
        if text not in self._tx_type_cache:
            self._tx_type_cache[text] = vocabulary()["transaction_type"].get(norm(text))
        return self._tx_type_cache[text]

    def _finish(self, b: _Builder) -> ProjectRecord:
        rec = b.record
        recipients = list(b.recipients.values())
        shares = [r.share for r in recipients]
        if shares and all(s is not None for s in shares) and sum(shares) <= Decimal("1.0001") and len(shares) > 1:
            for r in recipients:  # fractions (0.6, 0.4) from cells formatted as percentages
                r.share = r.share * 100
        if all(s is None for s in shares) and len(b.currencies) <= 1:
            totals = list(b.weights.values())
            for kind in _WEIGHT_KINDS:
                if any(w.get(kind) for w in totals):
                    for key, r in b.recipients.items():
                        r.weight = b.weights[key].get(kind)
                    if len(b.recipients) > 1:
                        self._check_split(b, kind)
                    break
        rec.recipients = recipients
        rec.areas = list(b.areas.values())
        return rec

    def _check_split(self, b: _Builder, kind: str) -> None:
        """Note a project whose flows of another type split over its countries unlike the ones
        its shares come from (reported once for the file by ``_report_splits``)."""
        proportions = {}
        for each in _WEIGHT_KINDS:
            total = sum(w.get(each) or 0 for w in b.weights.values())
            if total > 0:
                proportions[each] = {key: (w.get(each) or 0) / total for key, w in b.weights.items()}
        base = proportions.get(kind)
        if base is None:
            return
        for other, split in proportions.items():
            if other != kind and any(abs(split[key] - base[key]) > Decimal("0.005") for key in base):
                self._splits.append((b, kind, base, other, split))
                return

    def _report_splits(self) -> None:
        """One warning for the file: reports spread every flow of a project by one set of shares."""
        if not self._splits:
            return
        b, kind, base, other, split = self._splits[0]

        def words(shares: dict) -> str:
            parts = []
            for key, share in shares.items():
                if share:
                    r = b.recipients[key]
                    parts.append(f"{r.country or r.region} {share * 100:.0f}%")
            return ", ".join(parts)

        more = len(self._splits) - 1
        loc = b.record.location
        self.problem(
            "warning",
            "split_differs",
            f"Project {b.record.reference!r}"
            + (f" (and {more:,} more project{'s' if more > 1 else ''})" if more else "")
            + f": its country shares come from its {kind}s ({words(base)}), but its "
            f"{other.replace('_', ' ')}s split otherwise ({words(split)}). Reports spread every flow of a "
            "project by the same shares; give a country share column, or one project per country, if "
            "they should differ.",
            loc.sheet,
            loc.row,
            b.record.columns.get("recipients"),
        )


_WEIGHT_KINDS = ("commitment", "disbursement", "expenditure", "pledge", "incoming_funds")


def read_sheet_file(path: Path, filename: str, options: dict) -> ReadResult:
    """The pipeline's reader for donor spreadsheets (registered as kind 'sheet')."""
    return SheetReader(filename, dict(options)).read(path)


def looks_like_table(head: bytes, filename: str) -> bool:
    """Spreadsheets by signature; CSV by extension (text has no signature)."""
    suffix = Path(filename).suffix.lower()
    if head.startswith(OLE_MAGIC):
        return True
    if head.startswith(ZIP_MAGIC):
        return suffix in (".xlsx", ".xlsm", ".ods", "") or b"[Content_Types].xml" in head or b"mimetype" in head
    return suffix in (".csv", ".tsv", ".txt")


register_reader("sheet", read_sheet_file, looks_like_table, ("xlsx", "xlsm", "xls", "ods", "csv", "tsv", "txt"))
