"""The fast path of a report in USD: stage one and the share weighting in one SQL query.

``reports.cells_sql.weighted_cells`` returns each cell's exact numerators per denominator;
:func:`cells_of` decodes its rows (keys as the report shows them, the split numerators of
SQLite joined again) and :func:`run_in_database` hands them to ``reports.shaping.finish``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from registry.services.shares import UNALLOCATED_AREA
from reports import cells_sql, dimensions, queries
from reports.dimensions import AMOUNT_MEASURES, RAW_AMOUNTS
from reports.keys import GLOBAL, NO_CATEGORY, NOT_RECORDED, UNALLOCATED_RECIPIENT, RowKeys, tx_value
from reports.shaping import Report, finish
from reports.spec import NEED_NOT_ATTRIBUTED, ReportSpec, need_applies, tx_filter


class Cell(NamedTuple):
    """One row of weighted_cells: a cell's key, its denominator, the five exact numerators
    (pledge, commitment, disbursement, expenditure, need) and its number of projects."""

    key: tuple
    denominator: int
    numerators: list[int]
    projects: int


def run_in_database(
    spec: ReportSpec,
    ref: queries.Reference,
    stage=None,
    totals: dict | None = None,
    *,
    fx=None,
    notes: list | None = None,
    rate_days: list | None = None,
) -> Report:
    """The fast path: stage one and the share weighting in one SQL query.

    In USD it reads the report facts; in another currency ``fx`` (``reports.fx_facts.FxSource``)
    names the converted facts and needs, and ``notes`` / ``rate_days`` are what converting
    them found (``reports.fx_facts.run``)."""
    keys = RowKeys(ref, spec)
    dims = spec.dimensions
    with_need = need_applies(spec)
    filters = tx_filter(spec)
    options = {
        "stage": stage,
        "with_need": with_need,
        "countries": spec.countries,
        "region_codes": keys.region_filter,
        "areas": spec.areas,
        "categories": spec.categories,
        "breakpoints": keys.breakpoints if ("category" in dims or spec.categories) else None,
        "fx": fx,
    }
    count = "projects" in spec.measures
    overlapping = dimensions.overlaps(dims)  # a flow sits in every category of its country: rows overlap
    amounts = sorted({i for m in spec.measures for i in RAW_AMOUNTS[m]})
    options["amounts"] = amounts
    rows, layout = cells_sql.weighted_cells(dims, filters, count_projects=count, **options)
    cells: dict[tuple, dict[int, list[int]]] = defaultdict(dict)
    cell_projects: dict[tuple, int] = defaultdict(int)
    grand: dict[int, list[int]] = {}
    for cell in cells_of(dims, rows, layout, ref):
        _add(cells[cell.key], cell)
        if not overlapping:
            _add(grand, cell)
        cell_projects[cell.key] += cell.projects
    grand_projects = 0
    if overlapping or count:
        # the same for every report reading one staged table (same filters): compute once
        memo = stage.info if stage is not None else (totals if totals is not None else {})
        memo_key = (
            "total",
            spec.currency,
            tuple(spec.countries),
            tuple(sorted(keys.region_filter or ())),
            tuple(spec.areas),
            tuple(spec.categories),
            count,
            tuple(amounts),
        )
        if memo_key not in memo:
            total_rows, total_layout = cells_sql.weighted_cells([], filters, count_projects=count, **options)
            memo[memo_key] = list(cells_of([], total_rows, total_layout, ref))
        if overlapping:
            for cell in memo[memo_key]:
                _add(grand, cell)
        grand_projects = sum(cell.projects for cell in memo[memo_key])
    shown: list = []
    if not with_need:
        shown.append(NEED_NOT_ATTRIBUTED)
    shown += notes or []
    report = finish(spec, ref, cells, cell_projects, grand, grand_projects, shown, rate_days or [], with_need)
    # Measures that were not asked for were not summed: never show them as zeros.
    skipped = [m for m in (*AMOUNT_MEASURES, "coverage") if not set(RAW_AMOUNTS[m]) <= set(amounts)]
    for row in [*report.rows, report.total, *(r for line in report.margins.values() for r in line)]:
        for m in skipped:
            row[m] = None
            row["_exact"].pop(m, None)
    return report


def _add(parts: dict[int, list[int]], cell: Cell) -> None:
    """Add a cell's numerators to ``parts`` (numerators per denominator)."""
    target = parts.setdefault(cell.denominator, [0] * 5)
    for i in range(5):
        target[i] += cell.numerators[i]


def cells_of(dims: Sequence[str], rows: Sequence[tuple], layout: str, ref: queries.Reference) -> Iterator[Cell]:
    """The cells of the rows of cells_sql.weighted_cells (layout "one" or "split")."""
    n = len(dims)
    for row in rows:
        key = tuple(decode(d, v, ref) for d, v in zip(dims, row[:n], strict=True))
        values = row[n + 1 : -1]
        if layout == "one":
            nums = [int(v or 0) for v in values]
        else:
            nums = [
                int(values[3 * i] or 0) * SPLIT_HIGH
                + int(values[3 * i + 1] or 0) * SPLIT_MID
                + int(values[3 * i + 2] or 0)
                for i in range(5)
            ]
        yield Cell(key, int(row[n]), nums, int(row[-1]))


SPLIT_MID = cells_sql.SPLIT
SPLIT_HIGH = cells_sql.SPLIT * cells_sql.SPLIT


def decode(dim: str, value, ref: queries.Reference):
    """A dimension key from the database query as the report shows it."""
    if dimensions.is_flow_level(dim):
        return tx_value(dim, value)
    if dim == "project":
        return int(value)
    if dim == "priority_area":
        return UNALLOCATED_AREA if value == cells_sql.GLOBAL_KEY else value
    if dim == "category":
        return NO_CATEGORY if value == cells_sql.MISSING_KEY else value
    if value == cells_sql.MISSING_KEY:
        return NOT_RECORDED
    if value == cells_sql.UNALLOCATED_KEY:
        return UNALLOCATED_RECIPIENT
    if value.startswith(cells_sql.GLOBAL_KEY):
        code = value[len(cells_sql.GLOBAL_KEY) :]
        if not code:
            return GLOBAL
        return f"Regional: {ref.regions.get(code, (code,))[0]}"
    if dim in ("region", "subregion"):
        return ref.regions[value][0] if value in ref.regions else NOT_RECORDED
    return value
