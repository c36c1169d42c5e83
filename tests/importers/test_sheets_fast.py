"""The fast column-wise reading gives exactly what reading row by row gives."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import random

import pytest

from importers import sheets
from importers.records import Location
from importers.sheets import BLOCK_ROWS, SheetReader, SheetTransaction, csv_rows, read_sheet_file
from importers.sheets.text import column_texts
from tests.importers.helpers import csv_bytes, xlsx

HEADERS = ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date", "Notes"]


def _rows(n: int, odd: bool = True) -> list[list]:
    """Repeated references, countries, types and dates; distinct amounts; a few odd rows."""
    rng = random.Random(7)
    rows = [HEADERS]
    for i in range(n):
        p = i // 7
        rows.append(
            [
                f"P-{p:04d}",
                f"Project {p}",
                ["KEN", "Tanzania", "NA", "Viet Nam"][(p + i % 2) % 4],
                "commitment" if i % 3 == 0 else "disbursement",
                f"{rng.randint(1, 10**7) / 100:.2f}",
                ["USD", "eur", "€", ""][p % 4],
                dt.date(2015 + i % 9, 1 + i % 12, 1 + i % 28),
                f"Tranche {i % 5}",
            ]
        )
    if not odd:
        return rows
    # Rows the fast way must hand over: a bad amount, an unknown country, a total, a note,
    # another title, a blank row, a missing reference, an ambiguous date.
    rows[40][4] = "12,34x"
    rows[300][2] = "Atlantis"
    rows[310] = ["Total", None, None, None, "999", "USD", None, None]
    rows[320] = ["A note about the figures above", None, None, None, None, None, None, None]
    rows[330][1] = "Another title"
    rows[340] = [None] * 8
    rows[350][0] = None
    rows[360][6] = "03/04/2021"
    return rows


def _row_by_row(monkeypatch) -> None:
    """Make every block go through the row-by-row reading (the reference behaviour)."""

    def one_by_one(self, blk, nonblank, rownum):
        for k in range(blk.n):
            if nonblank[k]:
                self._read_row(blk, k, rownum + k + 1)

    monkeypatch.setattr(SheetReader, "_fast_rows", one_by_one)


def _result(path, options=None):
    result = read_sheet_file(path, path.name, dict(options or {}))
    records = [dataclasses.asdict(r) for r in result.records]
    return records, [p.as_dict() for p in result.problems], result.info


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_fast_reading_equals_row_by_row(app, tmp_path, monkeypatch, kind):
    rows = _rows(3 * BLOCK_ROWS + 17)
    if kind == "csv":
        path = tmp_path / "donor.csv"
        path.write_bytes(csv_bytes([[c.isoformat() if isinstance(c, dt.date) else c for c in r] for r in rows]))
    else:
        path = xlsx(rows, tmp_path / "donor.xlsx")
    calls = []
    full_row = SheetReader._read_row
    monkeypatch.setattr(SheetReader, "_read_row", lambda self, *a: calls.append(a[1]) or full_row(self, *a))
    fast = _result(path, {"currency": "GBP"})
    assert len(calls) < len(rows) // 3  # most rows took the fast way
    monkeypatch.setattr(SheetReader, "_read_row", full_row)
    records, problems, _info = fast
    assert len(records) > 100 and sum(len(r["transactions"]) for r in records) > 3 * BLOCK_ROWS - 20
    codes = {p["code"] for p in problems}
    assert {"invalid_amount", "unknown_country", "total_row", "note_row", "title_differs"} <= codes
    assert {"missing_reference", "ambiguous_date"} <= codes
    _row_by_row(monkeypatch)
    assert _result(path, {"currency": "GBP"}) == fast


def test_ambiguous_amounts_are_read_and_counted_alike_both_ways(app, tmp_path, monkeypatch):
    """12.500 in a semicolon file without evidence: thousands, one warning counting every cell."""
    rows = _rows(2 * BLOCK_ROWS + 5, odd=False)
    for row in rows[1:]:
        row[4] = row[4].split(".")[0]  # whole amounts: nothing shows the decimal mark
    changed = range(3, len(rows), 50)
    for i in changed:
        rows[i][4] = f"{i}.500"
    rows[53][4] = "3.500"  # the same text again: counted again
    path = tmp_path / "donor.csv"
    path.write_bytes(csv_bytes([[c.isoformat() if isinstance(c, dt.date) else c for c in r] for r in rows], ";"))
    fast = _result(path, {"currency": "GBP"})
    records, problems, _info = fast
    amounts = {t["location"]["row"]: t["amount"] for r in records for t in r["transactions"]}
    assert amounts[4] == amounts[54] == 3500 and amounts[104] == 103500
    assert not [p for p in problems if p["severity"] == "error"]
    [note] = [p for p in problems if p["code"] == "decimal_mark_assumed"]
    assert note["row"] == 4 and f"and {len(changed) - 1} more amounts like it" in note["message"]
    _row_by_row(monkeypatch)
    assert _result(path, {"currency": "GBP"}) == fast


def test_a_transaction_location_is_made_when_asked(app, tmp_path):
    path = tmp_path / "donor.csv"
    path.write_bytes(csv_bytes(_rows(20, odd=False)))
    result = read_sheet_file(path, path.name, {"currency": "USD"})
    tx = result.records[0].transactions[1]
    assert isinstance(tx, SheetTransaction)
    assert tx.location == Location(file="donor.csv", sheet=None, row=3, column="Amount")
    assert tx.location is tx.location  # made once
    copy = dataclasses.replace(tx, amount=tx.amount + 1)
    assert copy.location == tx.location and copy.amount == tx.amount + 1


@pytest.mark.parametrize(
    "text",
    [
        "a,b,c\r\n1,2,3\r\n",
        "a;b\n\n1;2\n",
        "a,b\r1,2\rlast,row",
        "only\n",
        "",
        "a,\xa0b ,c\n,,\n",
        "a,b\n\n\r\n1,2",
        "a,b\x0cc\n1,\x1e2\n",  # form feed and record separator stay inside their row
        "a\u2028b,c\x85d\n1,2\n",
        "x\vy,z\r\n",
    ],
)
def test_quote_free_csv_is_split_like_the_csv_module(text):
    delimiter = ";" if ";" in text else ","
    expected = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert list(csv_rows(text, delimiter)) == expected


def test_quoted_csv_goes_through_the_csv_module():
    text = 'a,b\n"1,5","say ""hi"""\n'
    assert list(csv_rows(text, ",")) == [["a", "b"], ["1,5", 'say "hi"']]


def test_column_texts_keep_number_and_boolean_cells_apart():
    cells = (True, 1.0, 1, "1", "", 2.5, dt.datetime(2021, 3, 4, 5, 6))
    cache: dict = {}
    texts = column_texts(cells, cache, all_text=False)
    assert texts == [sheets.cell_text(c) for c in cells]
    assert texts[0] == "TRUE" and type(texts[1]) is sheets.NumText and type(texts[3]) is str
