"""The row-by-row reader: one data row of a block read cell by cell, every problem of it
reported with its sheet, row, column and value. It is the reference reading: the fast
reader (``importers.sheets.fast``) hands it every row that is anything but a plain
transaction line of a project already seen.

``RowReader`` is a part of ``SheetReader`` (see ``importers.sheets.reader``): it uses the
reader's ``problem``, ``amounts``, ``builders``, ``dates``, ``default_currency``, ``unit``
and the project part (``importers.sheets.projects``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from importers.messages import Text
from importers.records import Location, ProjectRecord
from importers.sheets.amounts import CFA_CHOICE, currency_code
from importers.sheets.blocks import TOTAL, Block, is_total
from importers.sheets.columns import Column, header_of
from importers.sheets.dates import parse_date
from importers.sheets.fields import AMOUNT_FIELDS, PLANNED, vocabulary
from importers.sheets.projects import ProjectBuilder, SheetTransaction
from importers.sheets.sheet_amounts import Where
from importers.sheets.text import CellError, NumText, norm
from importers.sheets.values import tied_status
from registry.models.types import N_
from registry.services import funding
from registry.services import plans as plan_service

# The fields of a row that holds nothing but amounts (an unlabelled subtotal, most likely).
_AMOUNT_ONLY = frozenset((*AMOUNT_FIELDS, "need_amount", "currency"))


class RowReader:
    """The row-by-row part of SheetReader (see the module docstring)."""

    def _read_row(self, blk: Block, k: int, rownum: int) -> None:
        """Read one data row (k of its block): skip, report or add it to its project."""
        plan = blk.plan
        used, sheet = plan.used, plan.label
        ref = blk.refs[k]
        first_text = next((s[k] for s in blk.first6 if s[k] and s[k].__class__ is not NumText), "")
        if is_total(first_text) and (not ref or TOTAL.match(norm(ref))):
            self.skipped["total_row"] += 1
            self.problem(
                "warning",
                "total_row",
                N_("Total row skipped (totals are computed by the registry)"),
                sheet,
                rownum,
                None,
                first_text,
            )
            return
        row = blk.values(k)
        values, wide_cells = row.values, row.wide
        if not ref or (values.keys() == {"reference"} and not wide_cells and len(ref) > 15 and " " in ref):
            self._skip_row(values, wide_cells, ref, first_text, used, sheet, rownum)
            return
        builder = self.builders.get(ref)
        if builder is None:
            loc = Location(file=self.filename, sheet=sheet, row=rownum)
            record = ProjectRecord(reference=ref, title=values.get("title", ""), location=loc)
            record.columns = self._record_columns  # shared: the same columns for every row
            builder = self.builders[ref] = ProjectBuilder(record)
            self._project_fields(builder, values, used, sheet, rownum)
        else:
            title = values.get("title")
            if title and not builder.record.title:
                builder.record.title = title
            elif title and title != builder.record.title:
                self.problem(
                    "warning",
                    "title_differs",
                    Text(
                        N_("Project %(ref)s has another title on row %(row)s; the first one is kept"),
                        ref=repr(ref),
                        row=str(builder.record.location.row),
                    ),
                    sheet,
                    rownum,
                    header_of(used, "title"),
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
                    Text(
                        N_(
                            "Unknown transaction type %(value)s (commitment, disbursement, "
                            "expenditure, pledge, incoming funds)"
                        ),
                        value=repr(type_text),
                    )
                    if type_text
                    else N_("The transaction type is missing"),
                    sheet,
                    rownum,
                    header_of(used, "transaction_type"),
                    type_text,
                )
                # the row's other cells are checked all the same (their problems reported too)
                if self._transaction(plan.amount_col, values["amount"], "commitment", values, used, sheet, rownum):
                    self._check_source(values, used, sheet, rownum)
            else:
                cells.append((plan.amount_col, values["amount"], tx_type))
        for c, text in wide_cells:
            if c.field == PLANNED:
                self._planned_cell(builder, c, text, values, used, sheet, rownum)
            else:
                cells.append((c, text, c.tx_type))
        for c, text, tx_type in cells:
            tx = self._transaction(c, text, tx_type, values, used, sheet, rownum)
            if tx is None:
                continue
            builder.add_flow(tx, recipients)
        if len(builder.record.transactions) == flows:  # a row that gave no flow: still the project's
            builder.record.rows.append((sheet, rownum))  # (its problems leave with it: skip-invalid)

    def _transaction(self, c: Column, text: str, tx_type: str, values: dict, used, sheet, rownum) -> Any:
        """One amount cell as a transaction, or None (reported, or an empty year of a wide layout).

        Every problem of the row's cells is reported, not only the first: a bad amount does not
        hide a bad date, and a transaction dropped for one has its funding source checked too
        (the import checks the funding sources of the transactions it is given)."""
        amount, currency, ok = self._cell_amount(c, text, values, used, sheet, rownum)
        if amount == 0 and c.tx_type:
            return None  # an empty year in a wide layout
        tied = values.get("tied_status")
        if tied:
            try:
                tied = tied_status(tied)
            except CellError as exc:
                self.problem("error", exc.code, exc.message, sheet, rownum, header_of(used, "tied_status"), tied)
                ok = False
        date_text = values.get("value_date")
        when = self._date(date_text, "value_date", used, sheet, rownum) if date_text else None
        if c.year:
            when = self._in_header_year(c, when, date_text, sheet, rownum)
        elif not date_text and values.get("year"):
            when = self._date(values["year"], "year", used, sheet, rownum)
        elif not date_text:
            self.problem(
                "error", "missing_date", "No value date or year for this amount", sheet, rownum, c.header, text
            )
        if not ok or when is None:
            self._check_source(values, used, sheet, rownum)
            return None
        # A transaction passed on (an unknown currency such as XYZ included) has all its
        # values checked by the import, its funding source too.
        tx = SheetTransaction(
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
        tx.tied_status = tied or None
        if not c.tx_type:  # the row's own amount: its flow id (a wide layout's cells have none)
            tx.flow_id = values.get("flow_id") or None
        return tx

    def _planned_cell(self, b: ProjectBuilder, c: Column, text: str, values: dict, used, sheet, rownum) -> None:
        """A planned disbursement for the year its header names, in the row's currency, added to
        its project's plan of that year (zero: nothing planned that year); reported when bad."""
        if not c.year:
            self.problem(
                "error",
                "planned_without_year",
                Text(
                    N_(
                        "Column %(header)s holds planned disbursements but names no year: write the year in "
                        'the header ("Planned 2027"), or map the column to one'
                    ),
                    header=repr(c.header),
                ),
                sheet,
                rownum,
                c.header,
                text,
            )
            return
        if not plan_service.YEAR_MIN <= c.year <= plan_service.YEAR_MAX:
            self.problem(
                "error",
                "planned_year_out_of_range",
                Text(
                    N_("Column %(header)s plans for %(year)s: a plan by year is for a year from %(low)s to %(high)s"),
                    header=repr(c.header),
                    year=str(c.year),
                    low=str(plan_service.YEAR_MIN),
                    high=str(plan_service.YEAR_MAX),
                ),
                sheet,
                rownum,
                c.header,
                text,
            )
            return
        amount, currency, ok = self._cell_amount(c, text, values, used, sheet, rownum)
        if amount is None or (not ok and amount != 0):
            return
        if amount < 0:
            self.problem(
                "error",
                "negative_plan",
                Text(N_("A planned disbursement is not negative: %(value)s"), value=repr(text)),
                sheet,
                rownum,
                c.header,
                text,
            )
            return
        if c.unit != 1 or self.unit != 1:
            amount = amount * c.unit * self.unit
        b.add_plan(c.year, currency if amount else "", amount, Location(self.filename, sheet, rownum))

    def _cell_amount(self, c: Column, text: str, values: dict, used, sheet, rownum) -> tuple[Decimal | None, str, bool]:
        """An amount cell read with its currency (the row's Currency cell, the header's, the
        file's): (amount, currency, whether both are usable); every problem of it reported."""
        ok = True
        currency = ""
        if text.__class__ is NumText:  # a number cell: no separators, no symbols
            try:
                amount: Decimal | None = Decimal(text)
            except InvalidOperation:
                self.problem(
                    "error",
                    "invalid_amount",
                    Text(N_("%(value)s is not an amount"), value=repr(text)),
                    sheet,
                    rownum,
                    c.header,
                    text,
                )
                amount = None
            currency = currency_code(values.get("currency") or c.currency or self.default_currency or "")
            if not self.amounts.known_code(currency, sheet, rownum, self._currency_column(values, used, c), text):
                ok = False
        else:
            settled = self.amounts.settle(
                text,
                values.get("currency"),
                c.currency or self.default_currency,
                c.unit * self.unit,
                Where(sheet, rownum, c.header),
                self._currency_column(values, used, c),
            )
            amount, currency = (settled.value, settled.currency) if settled is not None else (None, "")
        if amount == 0 and (c.tx_type or c.field == PLANNED):
            return amount, currency, ok  # an empty year: no currency asked of it
        ok = ok and amount is not None
        if ok and not currency and c.cfa:
            self.problem(
                "error",
                "ambiguous_currency",
                Text(
                    N_(
                        "No currency: the header %(header)s says FCFA, and %(choice)s. Write XOF or XAF in the "
                        "header (or in a Currency column), or choose the currency of the file when uploading it"
                    ),
                    header=repr(c.header),
                    choice=CFA_CHOICE,
                ),
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
                N_(
                    "No currency: the Currency cell is empty; fill it, or choose the currency of the file "
                    "when uploading it"
                )
                if header_of(used, "currency")
                else N_(
                    "No currency: choose the currency of the file when uploading it, add a Currency column, "
                    'or name the currency in the header ("Amount (EUR)")'
                ),
                sheet,
                rownum,
                c.header,
                text,
            )
            ok = False
        return amount, currency, ok

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
                N_(
                    "The row holds amounts but no project reference nor anything else: a subtotal? Totals "
                    "are computed by the registry: delete the row, or write 'Subtotal' in its first cell to "
                    "have it skipped. If it is a transaction, give its project reference."
                )
                if len(amounts) > 1
                else N_(
                    "The row holds an amount but no project reference nor anything else: a subtotal? Totals "
                    "are computed by the registry: delete the row, or write 'Subtotal' in its first cell to "
                    "have it skipped. If it is a transaction, give its project reference."
                ),
                sheet,
                rownum,
                header_of(columns, "reference"),
                "; ".join(amounts),
            )
        elif values.keys() - {"title", "description", "transaction_description"} or wide_cells:
            self.problem(
                "error",
                "missing_reference",
                N_("The project reference is missing"),
                sheet,
                rownum,
                header_of(columns, "reference"),
            )
        else:
            self.skipped["note_row"] += 1
            self.problem(
                "warning",
                "note_row",
                N_("Row without a project reference skipped (a note?)"),
                sheet,
                rownum,
                None,
                first_text,
            )

    def _in_header_year(
        self, c: Column, when: dt.date | None, date_text: str | None, sheet: str | None, rownum: int
    ) -> dt.date | None:
        """The value date of an amount of a column whose header names a year ("Disbursed 2023"):
        the row's date when it is of that year (or not a date: reported already), else the end
        of the header's year."""
        if when is not None:
            return when if when.year == c.year else self._year_end(c, sheet, rownum, when)
        return when if date_text else self._year_end(c, sheet, rownum)

    def _year_end(self, c: Column, sheet: str | None, rownum: int, other: dt.date | None = None) -> dt.date:
        """The value date of an amount whose only date is the year its header names
        ("Disbursed 2023"): 31 December of that year, said once per column. ``other``: the row's
        date, of another year (the "Date of commitment" beside it), which the column does not take."""
        key = (sheet, c.header, other is not None)
        if key not in self._year_dated:
            self._year_dated.add(key)
            message = (
                Text(
                    N_(
                        "The amounts of column %(header)s are dated 31 December %(year)s, the end of the year "
                        "the header names, not on the row's date %(date)s, which is of another year"
                    ),
                    header=repr(c.header),
                    year=str(c.year),
                    date=other.isoformat(),
                )
                if other is not None
                else Text(
                    N_(
                        "The amounts of column %(header)s have no date of their own: they are dated "
                        "31 December %(year)s, the end of the year the header names"
                    ),
                    header=repr(c.header),
                    year=str(c.year),
                )
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

    def _currency_column(self, values: dict, used: list[Column], c: Column) -> str | None:
        """The column a transaction's currency comes from: its row's Currency cell, else the amount's."""
        return header_of(used, "currency") if values.get("currency") else c.header

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
                Text(N_("Unknown funding source %(value)s (give its reference or exact name)"), value=repr(text)),
                sheet,
                rownum,
                header_of(used, "funding_source"),
                text,
            )

    def _date(self, text: str, field_name: str, columns, sheet, rownum) -> dt.date | None:
        year_day = (1, 1) if field_name.endswith("start") else (12, 31) if field_name.endswith("end") else (7, 1)
        key = (text, year_day)
        found = self._date_cache.get(key)
        if found is not None:
            return found
        try:
            found = parse_date(text, self.dates, year_day)
        except CellError as exc:
            self.problem("error", exc.code, exc.message, sheet, rownum, header_of(columns, field_name), text)
            return None
        if type(text) is str:
            self._date_cache[key] = found
        return found

    def _date_or_none(self, text: str) -> dt.date | None:
        """A value date or year (mid-year), or None when the text is empty or not a date."""
        if not text:
            return None
        try:
            return parse_date(text, self.dates, (7, 1))
        except CellError:
            return None

    def _tx_type(self, text: str) -> str | None:
        if text not in self._tx_type_cache:
            self._tx_type_cache[text] = vocabulary()["transaction_type"].get(norm(text))
        return self._tx_type_cache[text]
