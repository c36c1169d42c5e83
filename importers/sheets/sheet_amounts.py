"""Amounts in their sheet: what ``amounts.parse_amount`` cannot settle from one cell alone.

An amount that reads both ways (12.500, 1,250) is read by the decimal mark the sheet's other
amounts show (learnt from the whole sheet once, when the first such amount is met); when
they do not settle it, a semicolon-separated file (written by a spreadsheet set to a decimal
comma) takes the comma as the decimal mark, with a warning; anywhere else it is an error
that says how to declare the mark. A currency without decimals (XOF, JPY) settles it too.
Each way an amount was read one of two ways is said once per sheet, at its first cell,
with a count of the others (``warnings``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any, NamedTuple

from importers.messages import Text
from importers.sheets.amounts import (
    NOT_A_CODE,
    PLAIN_NUMBER,
    AmbiguousAmount,
    Amount,
    currency_code,
    currency_places,
    decimal_evidence,
    fits,
    parse_amount,
    shown,
)
from importers.sheets.columns import Column
from importers.sheets.text import CACHE_LIMIT, CellError
from registry import money
from registry.models.types import N_

# How an amount read one of two ways was read, by how and separator: each a whole sentence.
_READ_AS = {
    ("assumed", "."): N_(
        "%(amounts)s was read as %(amount)s %(currency)s, with the point as a thousands separator: the file's "
        "amounts do not settle its decimal mark, and files separated by semicolons are written where the "
        "decimal mark is a comma. If %(text)s means %(other)s %(currency)s, choose the decimal separator "
        "1,234.56 on the upload page, --decimal . on the command line, decimal=. in the API"
    ),
    ("assumed", ","): N_(
        "%(amounts)s was read as %(amount)s %(currency)s, with the comma as the decimal mark: the file's "
        "amounts do not settle its decimal mark, and files separated by semicolons are written where the "
        "decimal mark is a comma. If %(text)s means %(other)s %(currency)s, choose the decimal separator "
        "1,234.56 on the upload page, --decimal . on the command line, decimal=. in the API"
    ),
    ("currency", "."): N_(
        "%(amounts)s was read as %(amount)s %(currency)s, with the point as a thousands separator: "
        "%(currency)s amounts have no decimals, so it cannot be %(other)s. If that is wrong, correct the "
        "amount or its currency"
    ),
    ("currency", ","): N_(
        "%(amounts)s was read as %(amount)s %(currency)s, with the comma as a thousands separator: "
        "%(currency)s amounts have no decimals, so it cannot be %(other)s. If that is wrong, correct the "
        "amount or its currency"
    ),
    ("decimals", "."): N_(
        "%(amounts)s was read as %(amount)s %(currency)s: the file writes %(example)s (row %(row)s), so the "
        "point is its decimal mark. But %(currency)s amounts have %(places)s decimals: if %(text)s means "
        "%(other)s %(currency)s, correct the file or choose the decimal separator 1.234,56 on the upload "
        "page, --decimal , on the command line, decimal=, in the API"
    ),
    ("decimals", ","): N_(
        "%(amounts)s was read as %(amount)s %(currency)s: the file writes %(example)s (row %(row)s), so the "
        "comma is its decimal mark. But %(currency)s amounts have %(places)s decimals: if %(text)s means "
        "%(other)s %(currency)s, correct the file or choose the decimal separator 1,234.56 on the upload "
        "page, --decimal . on the command line, decimal=. in the API"
    ),
}
_CODES = {"assumed": "decimal_mark_assumed", "currency": "decimal_mark_by_currency"}


class Where(NamedTuple):
    """Where a cell is, as a problem names it."""

    sheet: str | None
    row: int
    column: str | None


class ParsedAmount(NamedTuple):
    """A text amount cell as parse_amount reads it in this sheet: its value and the currency it
    names, or (value None) the error that says why it cannot be read."""

    value: Decimal | None
    currency: str | None
    error: CellError | None = None


class AmountNote(NamedTuple):
    """How an amount that reads two ways was read."""

    how: str  # "decimals": by the sheet's mark; "assumed": by its semicolons; "currency": by its decimals
    separator: str  # the ',' or '.' that could mean either
    reading: Decimal  # the value taken
    other: Decimal  # the value it would have the other way


class LearntMark(NamedTuple):
    """The decimal mark a sheet's amounts show, and the first amount that shows it."""

    mark: str | None
    example: str | None = None
    row: int | None = None
    column: str | None = None


class _Example(NamedTuple):
    row: int
    column: str | None
    text: str
    amount: Decimal
    other: Decimal
    currency: str


@dataclass
class _Noted:
    """The amounts of a sheet read one way of two for one reason: how many, and the first."""

    count: int
    first: _Example


class SheetAmounts:
    """The amount cells of one file, sheet after sheet: parsed once per distinct text, settled
    with their currency, and the ambiguous ones counted for one warning each way."""

    def __init__(self, decimal: str | None, info: dict[str, Any], problem: Callable[..., None]) -> None:
        self.decimal = decimal  # the file's declared mark, or None
        self.info = info  # the reading's facts (the reader's info: "decimal" is set here)
        self.problem = problem
        self.cache: dict[str, ParsedAmount] = {}
        self.notes: dict[str, AmountNote] = {}  # text -> how it was read, when it reads two ways
        self._noted: dict[tuple[str, str], _Noted] = {}  # (how, separator) -> count and first
        self._learnt: LearntMark | None = None
        self._reread: Callable[[], Iterator[list]] | None = None
        self._columns: list[Column] = []
        self._header_row = 0
        self._semicolons = False

    def start_sheet(
        self,
        reread: Callable[[], Iterator[list]] | None,
        columns: list[Column],
        header_row: int,
        first_rows: list,
        semicolons: bool,
    ) -> None:
        """Make ready to read a sheet's amounts: nothing learnt yet about its decimal mark."""
        self.cache.clear()
        self.notes.clear()
        self._noted.clear()
        self._learnt = None
        self._reread, self._columns, self._header_row, self._semicolons = reread, columns, header_row, semicolons
        if self.decimal is None and "decimal" not in self.info:
            marks = {decimal_evidence(row[c.index]) for row in first_rows for c in columns if c.index < len(row)}
            marks.discard(None)
            if len(marks) == 1:
                self.info["decimal"] = marks.pop()  # what the first rows show (for the preview)

    def parse(self, text: str) -> ParsedAmount:
        """A text amount cell read in this sheet (see the module docstring); remembered per text."""
        try:
            amount = parse_amount(text, self.decimal)
            parsed = ParsedAmount(amount.value, amount.currency)
        except AmbiguousAmount as exc:
            mark = self.learnt_mark()
            if mark is None and not self._semicolons:
                parsed = ParsedAmount(None, None, exc)
            elif mark == exc.separator:  # 1,250 in a file that writes 10,5: 1.25, perhaps wrongly
                parsed = ParsedAmount(exc.as_decimal, exc.currency)
                self.notes[text] = AmountNote("decimals", exc.separator, exc.as_decimal, exc.as_thousands)
            elif mark is None and exc.separator == ",":  # nothing but the semicolons: a decimal comma
                parsed = ParsedAmount(exc.as_decimal, exc.currency)
                self.notes[text] = AmountNote("assumed", exc.separator, exc.as_decimal, exc.as_thousands)
            else:
                parsed = ParsedAmount(exc.as_thousands, exc.currency)
                if mark is None:  # nothing to go by but the semicolons: the point separates thousands
                    self.notes[text] = AmountNote("assumed", exc.separator, exc.as_thousands, exc.as_decimal)
        except CellError as exc:
            parsed = ParsedAmount(None, None, exc)
        if len(self.cache) >= CACHE_LIMIT:
            self.cache.clear()
        self.cache[text] = parsed
        return parsed

    def settle(
        self,
        text: str,
        given: str | None,
        fallback: str | None,
        factor: Decimal,
        where: Where,
        currency_column: str | None = None,
    ) -> Amount | None:
        """The amount (before the column's unit) and currency of a text amount cell, or None (reported).

        The currency is the row's (``given``), else the one the cell names, else ``fallback``
        (the column's, the file's). A currency without decimals (XOF, JPY) settles an amount that
        reads both ways (1,250 XOF is 1250); errors quote the cell's own text."""
        parsed = self.cache.get(text) or self.parse(text)
        amount, error = parsed.value, parsed.error
        if amount is None:
            if not isinstance(error, AmbiguousAmount):
                self.problem("error", error.code, error.message, *where, text)
                return None
            currency = currency_code(given or error.currency or fallback or "")
            if currency_places(currency) == 0 and error.as_decimal != error.as_decimal.to_integral_value():
                amount = error.as_thousands
                note = AmountNote("currency", error.separator, amount, error.as_decimal)
                self.note(text, currency, where.row, where.column, factor, note)
                return Amount(amount, currency)
            self.problem("error", error.code, error.describe(factor, currency or None), *where, text)
            return None
        currency = currency_code(given or parsed.currency or fallback or "")
        if not self.known_code(currency, where.sheet, where.row, currency_column or where.column, text):
            return None
        note = self.notes.get(text)
        if note is not None:
            if (
                currency_places(currency) == 0
                and note.reading != note.reading.to_integral_value()
                and note.other == note.other.to_integral_value()
            ):
                amount, note = note.other, AmountNote("currency", note.separator, note.other, note.reading)
            self.note(text, currency, where.row, where.column, factor, note)
        places = currency_places(currency)
        stored = amount * factor
        # (a plain 1000.50 XOF is left to the import's own check, which quotes it as it is)
        if places is not None and not fits(stored, places) and (factor != 1 or not PLAIN_NUMBER.fullmatch(text)):
            self.problem(
                "error",
                "invalid_amount",
                Text(
                    N_(
                        "%(text)s is read as %(amount)s %(currency)s, but %(currency)s amounts have %(places)s "
                        "decimals: correct the amount or its currency"
                    ),
                    text=repr(text),
                    amount=shown(stored),
                    currency=currency,
                    places=str(places),
                )
                if places
                else Text(
                    N_(
                        "%(text)s is read as %(amount)s %(currency)s, but %(currency)s amounts have no decimals: "
                        "correct the amount or its currency"
                    ),
                    text=repr(text),
                    amount=shown(stored),
                    currency=currency,
                ),
                *where,
                text,
            )
            return None
        return Amount(amount, currency)

    def known_code(self, currency: str, sheet: str | None, rownum: int, column: str | None, text: str) -> bool:
        """False (reported) for a currency that names none the registry can take (FCFA, STD)."""
        why = NOT_A_CODE.get(currency)
        if why is None:
            return True  # an unknown code (XYZ) is the import's to report
        self.problem(
            "error",
            "ambiguous_currency" if currency == "FCFA" else "unknown_currency",
            Text(
                N_("%(currency)s is not a currency code the registry takes: %(why)s"),
                currency="FCFA" if currency == "FCFA" else repr(currency),
                why=why,
            ),
            sheet,
            rownum,
            column,
            text,
        )
        return False

    def learnt_mark(self) -> str | None:
        """The decimal mark the sheet's amounts show (1.250.000, 1.234,56, 12,5 ...), when they
        show one and only one; read from the whole sheet once, when an amount needs it."""
        if self._learnt is None:
            header_row, indexes = self._header_row, [c.index for c in self._columns]
            found: dict[str, tuple] = {}
            seen: dict[str, str | None] = {}
            reread = self._reread
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
                header = next(c.header for c in self._columns if c.index == i)
                self._learnt = LearntMark(mark, example, number, header)
                self.info["decimal"] = mark
            else:
                self._learnt = LearntMark(None)
        return self._learnt.mark

    def note(
        self,
        text: str,
        currency: str,
        row: int,
        column: str | None,
        factor: Decimal = Decimal(1),
        note: AmountNote | None = None,
    ) -> None:
        """Count an amount read one of two ways, for the sheet's warning (see ``warnings``);
        ``factor`` is the unit of its column (thousands, millions), so the warning gives the
        amount as stored; ``note`` is how it was read (else as the sheet's amounts say)."""
        note = note or self.notes[text]
        how, amount, other = note.how, note.reading, note.other
        if how == "decimals" and (factor != 1 or not money.is_currency(currency) or money.minor_units(currency) >= 3):
            return  # 12.250 USD millions, or three decimals in KWD, are right; an unknown currency is an error
        if factor != 1:
            amount, other = amount * factor, other * factor
        example = _Example(row, column, text, amount, other, currency)
        entry = self._noted.get((how, note.separator))
        if entry is None:
            self._noted[(how, note.separator)] = _Noted(1, example)
        else:
            entry.count += 1
            if row < entry.first.row:
                entry.first = example

    def warnings(self, sheet: str | None) -> None:
        """One warning per way the sheet's ambiguous amounts were read, at the first of them."""
        for (how, separator), noted in sorted(self._noted.items(), key=lambda item: item[1].first.row):
            count, first = noted.count, noted.first
            text, amount, other_reading, currency = first.text, first.amount, first.other, first.currency
            if count == 1:
                amounts = repr(text)
            elif count == 2:
                amounts = Text(N_("%(text)s (and 1 more amount like it)"), text=repr(text))
            else:
                amounts = Text(N_("%(text)s (and %(n)s more amounts like it)"), text=repr(text), n=str(count - 1))
            learnt = self._learnt
            message = Text(
                _READ_AS[(how, separator)],
                amounts=amounts,
                text=repr(text),
                amount=shown(amount),
                other=shown(other_reading),
                currency=currency,
                example=repr(learnt.example) if how == "decimals" else "",
                row=str(learnt.row) if how == "decimals" else "",
                places=str(money.minor_units(currency)) if how == "decimals" else "",
            )
            code = _CODES.get(how, "decimal_mark_doubtful")
            self.problem("warning", code, message, sheet, first.row, first.column, text)
