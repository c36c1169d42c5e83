"""Output shaping: a report's cells become rows of exact and displayed figures, totals and notes.

:func:`finish` turns each cell's exact numerators (per denominator, from stage two) into the
exact measures, rounds them so that the rows add up to the total (largest remainder,
``registry.services.shares.allocate``) or, for a cross-tab, so that rows and columns add up to
the reports by each dimension alone (``reports.rounding``), labels and orders the rows, and
writes the notes. ``Report`` is what every channel (API, page, CLI, workbook) prints.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import NamedTuple

from flask_babel import gettext

from registry import money
from registry.services.shares import allocate
from reports import dimensions, queries
from reports.dimensions import AMOUNT_MEASURES, DIFFERENCES, NEED_MEASURES, SUMS
from reports.flow_sums import measure_types, measure_types_note
from reports.keys import labeller, sort_value
from reports.notes import Note, shown
from reports.rounding import controlled_round
from reports.spec import ReportSpec

NEGATIVE_GAP = Note("negative_gap")


@dataclass
class Report:
    """A computed report: rows with exact and displayed values, totals and notes."""

    spec: ReportSpec
    rows: list[dict]
    total: dict
    notes: list[str]
    generated_at: dt.datetime
    rate_note: str
    rate_dates: tuple[dt.date, dt.date] | None
    # A cross-tab's row and column totals: dimension -> one row per value (the same figures as
    # the report by that dimension alone), in display order. Empty for one dimension.
    margins: dict[str, list[dict]] = field(default_factory=dict)
    # Which flows the figures include and how much unconfirmed money (see _unconfirmed).
    confirmation: dict = field(default_factory=dict)
    # what was converted at annual rates and what could not be converted (conversion_notes)
    conversion: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        """The API shape: amounts as decimal strings."""
        out = {
            "dimensions": list(self.spec.dimensions),
            "measures": list(self.spec.measures),
            "currency": self.spec.currency,
            "filters": self.spec.filters(),
            "rows": [json_row(r, self.spec) for r in self.rows],
            "total": json_row(self.total, self.spec),
            "notes": [shown(n) for n in self.notes],
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "exchange_rates": shown(self.rate_note),
            "confirmation": self.confirmation,
            "conversion": self.conversion,
            "transaction_types": measure_types(),
        }
        if self.margins:
            amounts = [m for m in self.spec.measures if m in (*AMOUNT_MEASURES, "coverage")]
            out["margins"] = {
                dim: [
                    {dim: row[dim], f"{dim}_label": row[f"{dim}_label"]}
                    | {m: None if row.get(m) is None else str(row[m]) for m in amounts}
                    for row in rows
                ]
                for dim, rows in self.margins.items()
            }
        return out


def json_row(row: dict, spec: ReportSpec) -> dict:
    out: dict = {}
    for dim in spec.dimensions:
        if dim in row:
            out[dim] = row[dim]
            out[f"{dim}_label"] = row[f"{dim}_label"]
    for m in spec.measures:
        value = row.get(m)
        out[m] = value if value is None or m == "projects" else str(value)
    return out


def _exact(parts: dict[int, list[int]], i: int) -> Fraction | int:
    """The exact value of a cell's measure ``i``: an int when every denominator is 1 (cheap)."""
    if len(parts) == 1:
        den, nums = next(iter(parts.items()))
        return nums[i] if den == 1 else Fraction(nums[i], den)
    return sum((Fraction(nums[i], den) for den, nums in parts.items()), Fraction(0))


def exact_measures(parts: dict[int, list[int]]) -> dict[str, Fraction | int]:
    """Every amount measure's exact value from a cell's numerators per denominator."""
    out = {m: _exact(parts, i) for i, m in enumerate(SUMS)}
    for measure, plus, minus in DIFFERENCES:
        out[measure] = out[plus] - out[minus]
    return out


def shown_differences(row: dict) -> None:
    """The gap shown is the need shown minus the commitments shown, and the undisbursed the
    commitments shown minus the disbursements shown: a reader who subtracts gets the figure,
    and since the rounded needs and commitments add up along every row and column, so do
    these (rounded on their own, a gap could show 195,302.58 beside a need of 195,302.57 and
    no commitment)."""
    for measure, plus, minus in DIFFERENCES:
        if row.get(measure) is not None and row.get(plus) is not None and row.get(minus) is not None:
            row[measure] = row[plus] - row[minus]


class CrossRounding(NamedTuple):
    """A cross-tab rounded (see round_cross)."""

    shown: dict[str, dict[tuple, int]]  # measure -> cell key -> minor units
    total: dict[str, int]  # measure -> the displayed total in minor units
    lines: dict[int, list[tuple]]  # dimension position -> [(value, exact measures, {measure: minor})]
    off: dict[str, list[tuple]]  # measure -> the cells rounded further than one unit


def round_cross(dims, parts_of, exact_rows, total_exact, names, overlapping, measures) -> CrossRounding:
    """Round a cross-tab's cells (controlled rounding, see reports.rounding).

    ``parts_of``: each cell's numerators per denominator, in display order; ``exact_rows`` their
    exact measures; ``measures``: the amount measures to round (the report's own). Returns, per
    amount measure, the cells in minor units (``key -> int``, a cell that had no
    money only if it had to take a unit), the displayed total, the margins (per dimension
    position, ``[(value, exact measures, {measure: minor units})]`` in display order: the
    figures of the report by that dimension alone) and the cells rounded further than one unit.
    Categories overlap: a category's row adds up to the category's own figure and the other
    dimension has no margin (its values are counted once per category).
    """
    # Exact margins, summed per denominator like the cells (a Fraction sum per cell is slow).
    line_parts: list[dict] = [defaultdict(dict), defaultdict(dict)]
    for key, cell in parts_of.items():
        for p in (0, 1):
            parts = line_parts[p][key[p]]
            for den, nums in cell.items():
                acc = parts.setdefault(den, [0, 0, 0, 0, 0])
                for i in range(5):
                    acc[i] += nums[i]
    values = [sorted(line_parts[p], key=lambda v, d=dims[p]: sort_value(d, v, names.get(d))) for p in (0, 1)]
    exact_lines = [{v: exact_measures(line_parts[p][v]) for v in values[p]} for p in (0, 1)]
    controlled = [p for p in (0, 1) if not overlapping or dims[p] in dimensions.OVERLAPPING][: 1 if overlapping else 2]
    shown: dict[str, dict[tuple, int]] = {}
    shown_total: dict[str, int] = {}
    margins: dict[int, dict[str, list[int]]] = {p: {} for p in controlled}
    off: dict[str, list[tuple]] = {}
    keys = list(parts_of)
    for m in measures:
        exact = {k: r[m] for k, r in zip(keys, exact_rows, strict=True)}
        if overlapping:
            p = controlled[0]
            line_minor = [round(exact_lines[p][v][m]) for v in values[p]]
            by_line: dict = defaultdict(list)
            for k in keys:
                by_line[k[p]].append(k)
            cells_minor: dict[tuple, int] = {}
            for v in values[p]:
                line_keys = by_line[v]
                # allocate's total is round(exact line sum): the category's own figure
                rounded, _target = allocate([exact[k] for k in line_keys], exact_lines[p][v][m])
                cells_minor.update(zip(line_keys, rounded, strict=True))
            margins[p][m] = line_minor
            shown[m], shown_total[m], off[m] = cells_minor, round(total_exact[m]), []
            continue
        row_minor, total_minor = allocate([exact_lines[0][v][m] for v in values[0]], total_exact[m])
        col_minor, _total = allocate([exact_lines[1][v][m] for v in values[1]], total_exact[m])
        cells_minor, off[m] = controlled_round(
            exact, dict(zip(values[0], row_minor, strict=True)), dict(zip(values[1], col_minor, strict=True))
        )
        margins[0][m], margins[1][m] = row_minor, col_minor
        shown[m], shown_total[m] = cells_minor, total_minor
    lines = {
        p: [(v, exact_lines[p][v], {m: margins[p][m][n] for m in margins[p]}) for n, v in enumerate(values[p])]
        for p in controlled
    }
    return CrossRounding(shown, shown_total, lines, off)


def finish(spec, ref, cells, cell_projects, grand, grand_projects, notes, rate_days, need_applies) -> Report:
    dims = spec.dimensions
    currency = spec.currency
    overlapping = dimensions.overlaps(dims)
    names = {d: queries.labels_for(d, {k[i] for k in cells}) for i, d in enumerate(dims)}
    labels = {d: labeller(ref, d, names.get(d, {})) for d in dims}

    def sort_key(k: tuple) -> tuple:
        return tuple(sort_value(d, v, names.get(d)) for d, v in zip(dims, k, strict=True))

    ordered = sorted(cells, key=sort_key)
    exact_rows = [exact_measures(cells[k]) for k in ordered]
    total_exact = exact_measures(grand)

    margins: dict[str, list[dict]] = {}
    off: dict[str, list[tuple]] = {}
    if len(dims) == 2:
        # Only the measures asked for: a cell that takes a cent in one measure is shown as a row,
        # and a measure nobody reads must not add rows.
        # The gap and the undisbursed amount are differences of the figures shown (see
        # shown_differences): asking for them rounds what they are made of too.
        wanted = set(spec.measures)
        for measure, plus, minus in DIFFERENCES:
            if measure in wanted:
                wanted |= {plus, minus}
        asked = [m for m in AMOUNT_MEASURES if m in wanted]
        shown, shown_total, lines, off = round_cross(
            dims, {k: cells[k] for k in ordered}, exact_rows, total_exact, names, overlapping, asked
        )
        for m in AMOUNT_MEASURES:
            if m not in asked:
                shown[m], shown_total[m] = None, round(total_exact[m])
        extra = {k for by_key in shown.values() if by_key is not None for k in by_key} - set(cells)
        if extra:
            # A unit that had to go to a cell without money (see reports.rounding): show the cell.
            zero = exact_measures({})
            exact_of = dict(zip(ordered, exact_rows, strict=True)) | {k: dict(zero) for k in extra}
            ordered = sorted([*ordered, *extra], key=sort_key)
            exact_rows = [exact_of[k] for k in ordered]
        for p, line in lines.items():
            dim = dims[p]
            margins[dim] = []
            for value, exact, minor in line:
                margin = {m: money.from_minor(minor[m], currency) if m in minor else None for m in AMOUNT_MEASURES}
                margin["coverage"] = _ratio(exact["commitment"], exact["need"])
                margin["_exact"] = exact
                margin[dim] = value
                margin[f"{dim}_label"] = labels[dim](value)
                margins[dim].append(margin)
    else:
        shown, shown_total = {}, {}
        for m in AMOUNT_MEASURES:
            if overlapping:
                minor = [round(r[m]) for r in exact_rows]
                shown_total[m] = round(total_exact[m])
            else:
                minor, shown_total[m] = allocate([r[m] for r in exact_rows], total_exact[m])
            shown[m] = dict(zip(ordered, minor, strict=True))

    rows: list[dict] = [{} for _ in ordered]
    total: dict = {}
    for m in AMOUNT_MEASURES:
        by_key = shown[m]
        for row, key in zip(rows, ordered, strict=True):
            row[m] = None if by_key is None else money.from_minor(by_key.get(key, 0), currency)
        total[m] = money.from_minor(shown_total[m], currency)
    for row, exact, key in zip(rows, exact_rows, ordered, strict=True):
        row["coverage"] = _ratio(exact["commitment"], exact["need"])
        row["projects"] = _count(cell_projects[key]) if key in cell_projects else 0
        row["_exact"] = exact
        for dim, value in zip(dims, key, strict=True):
            row[dim] = value
            row[f"{dim}_label"] = labels[dim](value)
    total["coverage"] = _ratio(total_exact["commitment"], total_exact["need"])
    total["projects"] = _count(grand_projects)
    total["_exact"] = total_exact
    for dim in dims:
        total[dim] = "Total"  # the key scripts look for
        total[f"{dim}_label"] = gettext("Total")
    for row in [*rows, total, *(r for line in margins.values() for r in line)]:
        shown_differences(row)
    if not need_applies:
        for row in [*rows, total, *(r for line in margins.values() for r in line)]:
            for m in NEED_MEASURES:
                row[m] = None
    beyond = sorted({k for m in spec.measures for k in off.get(m, [])}, key=sort_key)
    notes += _notes(spec, beyond, [*exact_rows, total_exact], need_applies)
    rate_note, rate_dates = _rate_note(currency, rate_days)
    return Report(spec, rows, total, notes, dt.datetime.now(dt.UTC), rate_note, rate_dates, margins)


def _count(projects: set[int] | int) -> int:
    return projects if isinstance(projects, int) else len(projects)


def _ratio(numerator: Fraction, denominator: Fraction) -> str | None:
    if denominator <= 0:
        return None
    value = Decimal(numerator.numerator * denominator.denominator) / Decimal(
        numerator.denominator * denominator.numerator
    )
    return str(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def _notes(spec: ReportSpec, beyond: list[tuple], exact: list[dict], need_applies: bool) -> list[str]:
    """The notes of a report on how its figures add up (``beyond``: the cross-tab cells rounded
    further than one unit; ``exact``: the exact measures of the rows and of the total)."""
    dims = spec.dimensions
    overlapping = dimensions.overlaps(dims)
    notes: list[str] = []
    if overlapping:
        if "category" in dims:
            notes.append(Note("categories_overlap"))
        if "action_line" in dims:
            notes.append(Note("action_lines_overlap"))
        if len(dims) == 2:
            notes.append(Note("categories_cross" if "category" in dims else "action_lines_cross"))
    elif len(dims) == 2:
        notes.append(Note("cross_rounding"))
    else:
        notes.append(Note("rounding"))
    if beyond:
        cells_text = "; ".join(" / ".join(str(v) for v in k) for k in beyond[:10])
        notes.append(Note("beyond_one_cent", count=len(beyond), cells=cells_text))
    notes.append(Note("recipients"))
    notes.append(measure_types_note())
    notes.append(Note("projects_counted"))
    if need_applies and "gap" in spec.measures and any(r["gap"] < 0 for r in exact):
        notes.append(NEGATIVE_GAP)
    if need_applies and ("year" in dims or spec.year_from or spec.year_to):
        notes.append(Note("need_year"))
    return notes


def _rate_note(currency: str, rate_days: list[dt.date]) -> tuple[str, tuple[dt.date, dt.date] | None]:
    """Which rates converted the figures (and the range of their dates)."""
    if currency == "USD":
        return Note("rates", currency=currency), None
    rate_dates = (min(rate_days), max(rate_days)) if rate_days else None
    if rate_dates is None:
        return Note("rates", currency=currency), None
    return Note("rates", currency=currency, first=str(rate_dates[0]), last=str(rate_dates[1])), rate_dates
