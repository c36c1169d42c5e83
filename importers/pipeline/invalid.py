"""Skip-invalid: which records each problem concerns (``attribute``), what leaving the invalid
records out would leave out, with its money (``invalid_records``), and the message text of that
money (``money_text``)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from decimal import Decimal

from importers.records import Problem, ProjectRecord
from registry import money

# -- skip-invalid: which records the errors concern -----------------------------

# Errors that concern an item of the file that is no record (an activity without an
# identifier or one whose identifier came before in the file, a row without a project
# reference, a CRS row without a year, from its Year column or its CommitmentDate): leaving the
# invalid records out leaves that item out too, and lists it.
STANDALONE_ERRORS = frozenset({"no_identifier", "repeated_activity", "missing_reference", "bad_year", "no_year"})
MAX_LISTED = 1000  # left-out records listed one by one on the batch (the totals keep them all)


def attribute(records: Iterable[ProjectRecord], problems: list[Problem], spans: bool = False) -> None:
    """Set ``Problem.owners``, the records each problem concerns, for problems not attributed yet.

    A record owns the rows of its own location, of its transactions and of ``rows`` (every row
    a reader read into it). With ``spans`` (IATI XML, where a line number is inside its
    activity) a record owns the lines from its start to the next record's start. A problem
    without a row, or on a row no record owns, gets ``[]``: it concerns the file as a whole
    (or, for ``STANDALONE_ERRORS``, an item of the file that is no record)."""
    todo = [p for p in problems if p.owners is None]
    if not todo:
        return
    records = list(records)
    owner: dict[tuple[str | None, int], ProjectRecord] = {}
    starts: list[tuple[int, int]] = []
    for index, rec in enumerate(records):
        loc = rec.location
        if spans:
            if loc.row is not None:
                starts.append((loc.row, index))
            continue
        if loc.row is not None:
            owner.setdefault((loc.sheet, loc.row), rec)
        for sheet, row in rec.rows:
            owner.setdefault((sheet, row), rec)
        for t in rec.transactions:
            where = t.__dict__.get("_where")  # a SheetTransaction's lazy location
            sheet, row = (where[1], where[2]) if isinstance(where, tuple) else (t.location.sheet, t.location.row)
            if row is not None:
                owner.setdefault((sheet, row), rec)
    starts.sort()
    lines = [line for line, _ in starts]
    for problem in todo:
        found: list[ProjectRecord] = []
        seen: set[int] = set()  # a problem may stand for thousands of rows (a set, not a scan of found)
        rows = problem.rows or ((problem.location.row,) if problem.location.row is not None else ())
        if problem.code in STANDALONE_ERRORS and problem.severity == "error":
            rows = ()  # the item itself goes; it is no record
        for row in rows:
            if spans:
                at = bisect.bisect_right(lines, row) - 1
                rec = records[starts[at][1]] if at >= 0 else None
            else:
                rec = owner.get((problem.location.sheet, row))
            if rec is None:
                found = []
                break  # a row of the problem no record owns: it is not one record's to leave out
            if id(rec) not in seen:
                seen.add(id(rec))
                found.append(rec)
        problem.owners = found


def _file_level(problem: Problem) -> bool:
    """An error that no record carries: leaving records out cannot cure it."""
    return problem.severity == "error" and not problem.owners and problem.code not in STANDALONE_ERRORS


def _money_of(records: Iterable[ProjectRecord]) -> dict[tuple[str, str], Decimal]:
    """The records' amounts as read, summed by transaction type and currency."""
    totals: dict[tuple[str, str], Decimal] = {}
    for rec in records:
        for t in rec.transactions:
            if isinstance(t.amount, Decimal) and t.amount.is_finite():
                key = (str(getattr(t.type, "value", t.type)), str(t.currency or "").upper() or "?")
                totals[key] = totals.get(key, Decimal(0)) + t.amount
    return totals


def _money_json(totals: dict[tuple[str, str], Decimal]) -> list[dict[str, str]]:
    return [{"type": k[0], "currency": k[1], "amount": str(v)} for k, v in sorted(totals.items())]


def money_text(entries: list[dict]) -> str:
    """``_money_json``'s entries as every message writes money: "incoming commitment 56,250.50
    BDT; disbursement 1,000.00 USD" (the type in words, thousands separators, the currency)."""
    parts = []
    for m in entries or ():
        currency = m["currency"]
        try:
            digits = money.format_amount(Decimal(m["amount"]), currency if money.is_currency(currency) else "")
        except (ArithmeticError, ValueError):
            digits = str(m["amount"])
        parts.append(f"{str(m['type']).replace('_', ' ')} {digits.removesuffix(' ' + currency)} {currency}")
    return "; ".join(parts)


def invalid_records(records: list[ProjectRecord], problems: list[Problem], spans: bool = False) -> dict | None:
    """What leaving the invalid records out would leave out, or None when an error concerns the
    whole file (it rejects the file whatever the user says) or there is no error.

    Returns ``{"valid": n, "invalid": m, "items_without_record": k, "money": [...],
    "items": [...]}``: each item a left-out record (reference, IATI identifier, where, why, the
    money it carried by type and currency) or an item of the file that is no record."""
    errors = [p for p in problems if p.severity == "error"]
    if not errors:
        return None
    attribute(records, problems, spans)
    if any(_file_level(p) for p in errors):
        return None
    reasons: dict[int, list[Problem]] = {}
    for p in errors:
        for rec in p.owners or ():
            reasons.setdefault(id(rec), []).append(p)
    bad = [rec for rec in records if id(rec) in reasons]
    items: list[dict] = []
    for rec in bad:
        items.append(
            {
                "reference": rec.reference,
                "iati_identifier": rec.iati_identifier,
                "sheet": rec.location.sheet,
                "row": rec.location.row,
                "reasons": [p.message for p in reasons[id(rec)]][:20],
                "money": _money_json(_money_of([rec])),
            }
        )
    alone = [p for p in errors if not p.owners]
    for p in alone:
        items.append(
            {
                "reference": None,
                "iati_identifier": None,
                "sheet": p.location.sheet,
                "row": p.location.row,
                "rows": len(p.rows) or 1,
                "reasons": [p.message],
                "value": p.value,
                "money": [],
            }
        )
    return {
        "valid": len(records) - len(bad),
        "invalid": len(bad),
        "items_without_record": len(alone),
        "money": _money_json(_money_of(bad)),
        "items": items[:MAX_LISTED],
    }


def _left_out(records: list[ProjectRecord], problems: list[Problem]) -> tuple[list[ProjectRecord], list[Problem]]:
    """The valid records, and the problems the left-out ones (and items without a record) take
    with them; run after ``invalid_records`` said leaving them out is possible."""
    errors = [p for p in problems if p.severity == "error"]
    bad = {id(rec) for p in errors for rec in p.owners or ()}
    gone = [p for p in errors if p.owners or p.code in STANDALONE_ERRORS]
    return [rec for rec in records if id(rec) not in bad], gone
