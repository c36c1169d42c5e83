"""Data rows in blocks: a sheet's rows below its header, BLOCK_ROWS at a time, turned into
columns of text (``text_blocks``), with each field's column found once per block (``Block``).
Both the fast reader and the row-by-row reader read a block; the ``Plan`` of a sheet, fixed
once its header is known, says which columns they read."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice, repeat, zip_longest
from typing import Any, NamedTuple

from importers.sheets.columns import Column
from importers.sheets.fields import PLANNED
from importers.sheets.text import NumText, column_texts, norm

BLOCK_ROWS = 256  # data rows converted column by column at a time (small: stays in the CPU cache)

_TOTAL_INITIALS = set("TtGgSsΣ")
TOTAL = re.compile(r"^(grand )?(sub ?)?totals?\b|^sous total|^total general|^total des|^suma\b|^total\b")


def is_total(text: str) -> bool:
    """A cell that starts a total row ("Total", "Subtotal", "Sous-total", "Suma" ...)."""
    return text[:1] in _TOTAL_INITIALS and TOTAL.match(norm(text)) is not None


def plain_reference(text: str) -> bool:
    """A project reference that is neither empty nor perhaps a note (a long text with spaces)."""
    return bool(text) and not (len(text) > 15 and " " in text)


def plain_first(text: str) -> bool:
    """A first cell that is text and not the start of a total row."""
    if not text or text.__class__ is NumText:
        return False
    return not is_total(text)


@dataclass
class Plan:
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
            if not c.tx_type and c.field != PLANNED:  # a year's column is read cell by cell
                self.fields.setdefault(c.field, []).append(c.index)
        self.amount_col = next((c for c in self.used if c.field == "amount" and not c.tx_type), None)


class RowValues(NamedTuple):
    """The cells of one data row: by field (the first non-empty cell of each), and its wide amount
    cells (planned disbursements by year among them)."""

    values: dict[str, str]
    wide: list[tuple[Column, str]]


class Block:
    """A block of data rows as columns of text, and each field's column (first non-empty cell)."""

    def __init__(self, plan: Plan, texts: dict[int, Any], n: int, all_text: bool = False) -> None:
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
        # The cells read one by one: wide amount columns and planned disbursements by year.
        self.wide = [(c, texts[c.index]) for c in plan.used if c.tx_type or c.field == PLANNED]
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

    def values(self, k: int) -> RowValues:
        """Row k's values by field (the first non-empty cell of each) and its wide amount cells."""
        values: dict[str, str] = {}
        wide: list[tuple[Column, str]] = []
        for c in self.plan.used:
            v = self.texts[c.index][k]
            if not v:
                continue
            if c.tx_type or c.field == PLANNED:
                wide.append((c, v))
            elif c.field not in values:
                values[c.field] = v
        return RowValues(values, wide)


class TextBlock(NamedTuple):
    """Data rows as columns of text (column index -> one text per row), and which rows hold anything."""

    texts: dict[int, Any]
    nonblank: list[bool]


def head_block(first_rows: list[list[str]], needed: list[int]) -> TextBlock:
    """The rows scanned for the header below it, already text (merged cells filled in), as a block."""
    head_texts = list(zip_longest(*first_rows, fillvalue="")) if first_rows else []
    texts = {i: head_texts[i] if i < len(head_texts) else ("",) * len(first_rows) for i in needed}
    return TextBlock(texts, [any(row) for row in first_rows])


def text_blocks(rows: Iterable[list], needed: list[int], all_text: bool) -> Iterator[TextBlock]:
    """The rest of a sheet's raw rows, BLOCK_ROWS at a time, converted column by column."""
    caches: dict[int, dict] = {i: {} for i in needed}
    rows = iter(rows)
    while True:
        block = list(islice(rows, BLOCK_ROWS))
        if not block:
            return
        columns_of_block = list(zip_longest(*block, fillvalue=""))
        blank = ("",) * len(block)
        texts = {
            i: column_texts(columns_of_block[i], caches[i], all_text) if i < len(columns_of_block) else blank
            for i in needed
        }
        del columns_of_block, block
        yield TextBlock(texts, list(map(any, zip(*texts.values(), strict=True))))
