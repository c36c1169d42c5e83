"""Header detection: the header row of a sheet, and what each of its columns means.

A header is read by the column maps first (``fields.column_aliases``: data, not code), with
any unit, currency or year it names taken out ("Disbursed 2023 (EUR thousands)"); a header
no map names is read by the meaning of its words (``importers.sheets.meaning``), and one
that may mean two fields is a question to the user (``ask_about``), never a guess. The
header row is the row among the first ones whose columns mean the most
(``find_header``), with a group row of merged cells above it when that says more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from importers.messages import Text
from importers.sheets.amounts import CURRENCY_SYMBOLS
from importers.sheets.fields import AMOUNT_FIELDS, FIELDS, PLANNED, WIDE_TYPES, column_aliases
from importers.sheets.meaning import MONEY_FIELDS, meaning
from importers.sheets.text import norm
from registry import money
from registry.errors import ValidationError
from registry.models.types import N_

HEADER_SCAN_ROWS = 30  # the rows a header is looked for in

_UNITS = [
    (re.compile(r"\b(billions?|bn|milliards?|mds?|mil millones)\b"), Decimal(1_000_000_000)),
    (re.compile(r"\b(millions?|mn|mio|mln|millones|m|meur|musd)\b"), Decimal(1_000_000)),
    (re.compile(r"\b(thousands?|000s?|000|k|milliers?|miles|keur|kusd)\b"), Decimal(1000)),
]
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d|21\d\d)\b")
# Currency words of headers (after norm: "d'euros" is "deuros"); a unit word that names its
# currency too (KEUR, MUSD).
_CURRENCY_WORDS = {"euro": "EUR", "euros": "EUR", "deuros": "EUR", "keur": "EUR", "meur": "EUR"}
_CURRENCY_WORDS |= {"kusd": "USD", "musd": "USD"}
# "FCFA" is two currencies: the West African XOF (BCEAO) and the Central African XAF (BEAC).
_CFA_WORDS = {"fcfa", "cfa", "f cfa", "francs cfa", "franc cfa"}
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
    by_meaning: bool = False  # read from the header's words (importers.sheets.meaning), not a column map
    question: tuple[str, ...] = ()  # the fields an ambiguous header may mean: asked, never guessed

    @property
    def spec(self) -> str:
        """The mapping value of this column: field[:year], e.g. 'commitment:2021'."""
        return (
            f"{self.field}:{self.year}"
            if self.year and (self.field in WIDE_TYPES or self.field == PLANNED)
            else self.field
        )


def header_of(columns: list[Column], name: str) -> str | None:
    """The header of the column that holds a field, as problems name it (None when none does)."""
    return next((c.header for c in columns if c.field == name), None)


def parse_header(text: str) -> Column:
    """What a header means: its field, and any year, unit or currency it names."""
    col = Column(index=-1, header=text)
    n = norm(text)
    if not n:
        return col
    alias = column_aliases().get(n)
    if alias:
        # "Planned" alone names no year: a plan by year needs one ("Planned 2027").
        col.field = alias.field if alias.field != PLANNED else "ignore"
        _apply_extra(col, alias.options)
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
            CURRENCY_SYMBOLS.get(word)
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
    if alias and (
        alias.field in AMOUNT_FIELDS or alias.field == "need_amount" or (alias.field == PLANNED and col.year)
    ):
        col.field = alias.field
        _apply_extra(col, alias.options)
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
            Text(N_("Unknown field %(field)s for column %(column)s"), field=repr(spec), column=repr(header)),
            {
                "mapping": [
                    Text(
                        N_("%(column)s: unknown field %(field)s; choose one of %(fields)s"),
                        column=header,
                        field=repr(spec),
                        fields=list(FIELDS),
                    )
                ]
            },
        )
    detected = parse_header(header)
    col = Column(index=index, header=header, field=base, detected=False)
    col.unit, col.currency, col.cfa = detected.unit, detected.currency, detected.cfa
    if base in WIDE_TYPES:
        col.tx_type = base
        col.year = int(year) if year.strip().isdigit() else detected.year
    if base == PLANNED:
        col.year = int(year) if year.strip().isdigit() else detected.year
    return col


def explicit_mapping(options: dict) -> dict[str, str]:
    """The columns an explicit mapping names (normalised header -> field spec); the reading
    options it carries (decimal, dates, currency ...) are copied into ``options``."""
    mapping = options.get("mapping") or {}
    if isinstance(mapping, str):
        try:
            mapping = json.loads(mapping)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                Text(N_("The mapping is not valid JSON: %(error)s"), error=exc), {"mapping": [str(exc)]}
            ) from None
    if not isinstance(mapping, dict):
        raise ValidationError(
            Text(N_("The mapping must be a JSON object")), {"mapping": [Text(N_("Expected an object"))]}
        )
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


def fill_merged(rows: list[list[str]], merged: list) -> None:
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


class HeaderFound(NamedTuple):
    """The header of a sheet as found: its row, its columns and how many rows it spans."""

    row: int  # 0-based; its last row when a group row above it is part of it; -1: none found
    columns: list[Column]
    height: int  # 1, or 2 with a group row of merged cells above it


def find_header(rows: list[list[str]], explicit: dict[str, str], header_row: int | None) -> HeaderFound:
    """The header among the first rows: the one whose columns mean the most (``header_row``,
    1-based, when the user gave it)."""
    best = HeaderFound(-1, [], 1)
    best_score = 1
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
            if score > best_score or (header_row and best.row < 0):
                best, best_score = HeaderFound(r, columns, len(header_rows)), score
    return best


def ask_about(
    columns: list[Column], label: str | None, header_row: int, problem: Callable[..., None]
) -> dict[str, list[str]]:
    """Ask about the headers that may mean two fields (never guess which): the header alone
    (importers.sheets.meaning) or beside the sheet's other columns ("Amount" beside Commitment and
    Disbursement columns, "Date" where the flows have another date column or there are no
    flows, two columns of the flows' date on one row). An asked column is left out until a
    mapping says what it holds; a question that may be about money or the flows' dates is
    an error, so that no amount is left out or misdated unnoticed. Returns the questions asked
    (header -> the fields it may mean); ``problem`` reports each, as SheetReader.problem does."""
    detected = [c for c in columns if c.detected]
    typed = sorted({c.field for c in columns if c.field in WIDE_TYPES}, key=WIDE_TYPES.index)
    money_columns = [c for c in columns if c.field in AMOUNT_FIELDS or MONEY_FIELDS.intersection(c.question)]
    has_type = any(c.field == "transaction_type" for c in columns)
    dates = [c for c in columns if c.field == "value_date"]
    bare = [c for c in dates if meaning(tuple(norm(c.header).split())).concepts == {"DATE"}]
    named = [c for c in dates if c not in bare]  # "Date of commitment", "Payment date" ...
    several = named if len(named) > 1 else []
    for c in detected:
        why = ""
        if c.field == "amount" and typed and not has_type:
            c.question = (*typed, "ignore")
        elif c in bare and (len(dates) > 1 or not money_columns):
            c.question = ("value_date", "planned_start", "planned_end", "actual_start", "actual_end")
        elif c in several:
            # "Date of commitment" beside "Date of disbursement": a row has one value date.
            c.question = ("value_date", "ignore")
            others = " and ".join(repr(d.header) for d in several if d is not c)
            why = others
        if not c.question:
            continue
        about_money = any(f in MONEY_FIELDS for f in c.question)
        c.field, c.tx_type, c.year = "ignore", None, None
        words = [Text(FIELDS[f]) for f in c.question if f != "ignore"]
        if why:
            template = N_(
                "Which field is column %(header)s? It may be: %(fields)s (or a column to leave out). Column "
                "%(others)s gives the flows' date too, and a row has one: keep one as the value date and map the "
                "other to ignore, or give each flow a row of its own (with a Transaction type column). Say which "
                "in the mapping (the drop-down of the column on the preview, or the mapping option): it is not "
                "guessed"
            )
        elif "ignore" in c.question:
            template = N_(
                "Which field is column %(header)s? It may be: %(fields)s (or a column to leave out). Say which in "
                "the mapping (the drop-down of the column on the preview, or the mapping option): it is not guessed"
            )
        else:
            template = N_(
                "Which field is column %(header)s? It may be: %(fields)s. Say which in the mapping (the drop-down "
                "of the column on the preview, or the mapping option): it is not guessed"
            )
        problem(
            # A sheet without amounts has no flows to misdate: its question does not stop it.
            "error" if about_money or ("value_date" in c.question and money_columns) else "warning",
            "ambiguous_header",
            Text(template, header=repr(c.header), fields=words, others=why),
            label,
            header_row,
            c.header,
        )
    return {c.header: list(c.question) for c in detected if c.question}
