"""The fast block reader: a block's plain transaction lines read column by column.

Most rows of a donor file are one flow of a project already seen, with the same recipient,
area and code texts as the row before. For those, each column of the block is parsed once
per distinct text (types, currencies, dates; amounts that are plain numbers directly) and
the transaction made without looking at the row again. Any other row (a new project, a
total, a note, a bad or ambiguous cell, a wide layout) goes to the row-by-row reader
(``importers.sheets.rows``), in its turn, so the records and problems are exactly those of
reading every row one by one (tests/importers/test_sheets_fast.py checks it).

``FastRows`` is a part of ``SheetReader`` (see ``importers.sheets.reader``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from itertools import repeat
from typing import NamedTuple

from importers.sheets.amounts import NOT_A_CODE, currency_code, currency_places, fits, plain_number
from importers.sheets.blocks import Block, plain_first, plain_reference
from importers.sheets.projects import SheetTransaction
from importers.sheets.text import CellError, NumText, cached_map
from importers.sheets.values import tied_status
from registry import money

_BAD = object()  # a cell that is no tied status


def _tied_or_bad(text: str) -> str | None | object:
    """A tied-status cell's code (None when empty), or _BAD."""
    try:
        return tied_status(text) if text else None
    except CellError:
        return _BAD


class BlockAmounts(NamedTuple):
    """The amounts of a block's plain amount column, row by row."""

    values: list[Decimal | None]  # with the column's and the file's unit applied
    codes: list[str]  # the currency of each
    noted: dict[int, str]  # the rows whose amount reads two ways -> its text (for the sheet's warning)


class FastRows:
    """The fast part of SheetReader (see the module docstring)."""

    def _fast_rows(self, blk: Block, nonblank: list[bool], rownum: int) -> None:
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
        caches = self._caches
        ok = cached_map(blk.refs, caches["ref"], plain_reference, blk.all_text)
        firsts = cached_map(blk.first6[0], caches["first"], plain_first, blk.all_text)
        ok = [a and b and c for a, b, c in zip(ok, nonblank, firsts, strict=True)]
        if blk.wide:
            ok = [a and not any(w) for a, w in zip(ok, zip(*(t for _c, t in blk.wide), strict=True), strict=True)]
        default_type = blk.default_type
        type_texts = blk.types if not default_type else [t or default_type for t in blk.types]
        tx_types = cached_map(type_texts, caches["type"], lambda t: self._tx_type(t) if t else None, blk.all_text)
        amounts = self._block_amounts(blk, ok)
        noted = amounts.noted
        dates = self._block_dates(blk, rownum)
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
                amounts.values,
                amounts.codes,
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
        if "tied_status" in blk.fields:
            # a bad tied status goes the slow way, which reports it at its cell
            tied = cached_map(blk.fields["tied_status"], self._caches["tied_status"], _tied_or_bad, blk.all_text)
            for k, code in enumerate(tied):
                if code is _BAD:
                    txs[k] = None
                elif txs[k] is not None:
                    txs[k].tied_status = code
        if "flow_id" in blk.fields:  # the filled template's flow ids
            for tx, flow_id in zip(txs, blk.optional("flow_id"), strict=True):
                if tx is not None:
                    tx.flow_id = flow_id
        refs, titles, builders, recipient_cache = blk.refs, blk.titles, self.builders, self._recipient_cache
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
            if noted and k in noted:
                self.amounts.note(noted[k], tx.currency, rownum + k + 1, col.header, col.unit * self.unit)
            b.add_flow(tx, recipients)

    def _block_amounts(self, blk: Block, ok: list[bool]) -> BlockAmounts:
        """The amounts of a block's plain amount column (its unit applied) with their currencies,
        and the rows whose amount reads two ways (row -> text, for the sheet's warning). A row
        whose amount or currency needs a message is marked not ``ok`` (it goes the slow way)."""
        col, amounts_of = blk.plan.amount_col, self.amounts
        # Plain numbers that read one way only directly; anything else (12.500, 1.234,56)
        # through the sheet's cached parser.
        plain = plain_number(self.decimal)
        values = [Decimal(t) if plain(t) else None for t in blk.amounts]
        named: dict[int, str] = {}
        texts: list[int] = []  # the rows whose amount was read from text with separators or symbols
        notes, noted = amounts_of.notes, {}
        for k, t in enumerate(blk.amounts):
            if t and values[k] is None:
                if t.__class__ is NumText:
                    try:
                        values[k] = Decimal(t)
                    except InvalidOperation:
                        pass
                    continue
                parsed = amounts_of.cache.get(t) or amounts_of.parse(t)
                values[k] = parsed.value
                if parsed.value is not None:
                    texts.append(k)
                    if parsed.currency:
                        named[k] = parsed.currency
                    if t in notes:
                        noted[k] = t
        if col.unit != 1 or self.unit != 1:
            values = [None if a is None else a * col.unit * self.unit for a in values]
        fallback = currency_code(col.currency or self.default_currency or "")
        codes = cached_map(blk.currencies, self._caches["currency"], currency_code, blk.all_text)
        codes = [c or fallback for c in codes]
        for k, name in named.items():
            codes[k] = currency_code(blk.currencies[k] or name or col.currency or self.default_currency or "")
        for k, code in enumerate(codes):
            if code and (code in NOT_A_CODE or not money.is_currency(code)):
                ok[k] = False  # FCFA, STD: an error that says what to write; XYZ: its funding source checked
        for k in texts:
            # 1,250 XOF (no decimals: 1250), or more decimals than the currency has: the slow way
            places = currency_places(codes[k])
            if places is not None and ((places == 0 and k in noted) or not fits(values[k], places)):
                ok[k] = False
        return BlockAmounts(values, codes, noted)

    def _block_dates(self, blk: Block, rownum: int) -> list:
        """The value dates of a block's rows (None where a row has none, or not a date)."""
        plan, col = blk.plan, blk.plan.amount_col
        dates = cached_map(blk.value_dates, self._caches["value_date"], self._date_or_none, blk.all_text)
        if col.year and any(
            (d is None and not v) or (d is not None and d.year != col.year)
            for d, v in zip(dates, blk.value_dates, strict=True)
        ):
            # A row date in the header's year wins; none, or one of another year (a "Date of
            # commitment" beside "Disbursed 2023"), gives way to the year the header names.
            return [
                self._in_header_year(col, d, v, plan.label, rownum + 1 + k)
                for k, (d, v) in enumerate(zip(dates, blk.value_dates, strict=True))
            ]
        if "year" in plan.fields:
            years = cached_map(blk.years, self._caches["value_date"], self._date_or_none, blk.all_text)
            return [d if d is not None or v else y for d, v, y in zip(dates, blk.value_dates, years, strict=True)]
        return dates
