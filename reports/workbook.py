"""The analyst's funding-gap workbook (XLSX, written with xlsxwriter).

Every text that comes from users (titles, names, references) is written with
``write_string``: a project called ``=HYPERLINK(...)`` stays text and never
becomes a formula. Numbers are written as numbers; the workbook has no formulas.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from decimal import ROUND_HALF_EVEN, Decimal

import xlsxwriter
from flask_babel import gettext as _
from flask_babel import ngettext

from registry import i18n, money
from registry.models.types import N_
from reports import conversion_notes, queries
from reports.dimensions import DEFINITIONS, dimension_name, measure_definition, measure_name
from reports.flows import (
    Report,
    ReportSpec,
    _Keys,
    load_context,
    need_applies,
    run_report,
    stage_one,
    tx_filter,
)
from reports.forward_sheet import FORWARD_DEFINITIONS, forward_view_sheet
from reports.notes import kind, shown
from reports.quality_sheet import QUALITY_DEFINITIONS, quality_sheet
from reports.tables import measure_title

SHEET_MEASURES = [
    "need",
    "commitment",
    "disbursement",
    "gap",
    "coverage",
    "undisbursed",
    "projects",
]
SUMMARY_ONLY = ["pledge", "expenditure"]  # on the summary sheet, not in the tables
# The summary sheet: the tables' money measures, then those it alone shows, the count of projects last.
SUMMARY_MEASURES = [*(m for m in SHEET_MEASURES if m != "projects"), *SUMMARY_ONLY, "projects"]
# The sheets' names in English; each workbook names them in the request's language (sheet_name).
SHEETS = (
    N_("About"),
    N_("Summary"),
    N_("By region"),
    N_("By category"),
    N_("By priority area"),
    N_("Region x area"),
    N_("Projects with a gap"),
    N_("Quality and predictability"),
    N_("Forward view"),
)
REPORT_SHEET = N_("Report")  # the one table of a single report's workbook
BRAND = "#0B5D7A"
SHEET_NAME_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


def sheet_name(name: str) -> str:
    """A sheet's name in the reader's language, as Excel takes it: at most 31 characters,
    none of []:*?/\\."""
    return _(name).translate(SHEET_NAME_FORBIDDEN).strip("' ")[:31].strip()


def _number(value: Decimal | int) -> float:
    # XLSX stores every number as an IEEE double; amounts are exact to the cent up to ~9e13.
    return float(value)


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook, currency: str):
        places = money.minor_units(currency)
        amount = "#,##0" + ("." + "0" * places if places else "")
        self.title = book.add_format({"bold": True, "font_size": 15, "font_color": BRAND})
        self.subtitle = book.add_format({"italic": True, "font_color": "#4A5867"})
        self.header = book.add_format(
            {
                "bold": True,
                "bg_color": BRAND,
                "font_color": "#FFFFFF",
                "text_wrap": True,
                "valign": "top",
                "border": 1,
            }
        )
        self.text = book.add_format({"valign": "top"})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self.key = book.add_format({"bold": True, "valign": "top"})
        self.amount = book.add_format({"num_format": amount})
        self.ratio = book.add_format({"num_format": "0.0%"})
        self.count = book.add_format({"num_format": "#,##0"})
        self.total_text = book.add_format({"bold": True, "top": 2})
        self.total_amount = book.add_format({"bold": True, "top": 2, "num_format": amount})
        self.total_ratio = book.add_format({"bold": True, "top": 2, "num_format": "0.0%"})
        self.total_count = book.add_format({"bold": True, "top": 2, "num_format": "#,##0"})
        self.low = book.add_format({"bg_color": "#FDE2DF", "font_color": "#B42318"})
        self.mid = book.add_format({"bg_color": "#FFF0D1", "font_color": "#A86400"})
        self.high = book.add_format({"bg_color": "#DCF3E6", "font_color": "#1E7B4F"})


def _write_value(sheet, row: int, col: int, measure: str, value, fmt: _Formats, total: bool = False) -> None:
    if value is None:
        sheet.write_blank(row, col, None, fmt.total_text if total else None)
    elif measure == "coverage":
        sheet.write_number(row, col, _number(Decimal(value)), fmt.total_ratio if total else fmt.ratio)
    elif measure == "projects":
        sheet.write_number(row, col, value, fmt.total_count if total else fmt.count)
    else:
        sheet.write_number(row, col, _number(value), fmt.total_amount if total else fmt.amount)


def _coverage_rules(sheet, first_row: int, last_row: int, col: int, fmt: _Formats) -> None:
    if last_row < first_row:
        return
    rng = (first_row, col, last_row, col)
    sheet.conditional_format(*rng, {"type": "cell", "criteria": "<", "value": 0.5, "format": fmt.low})
    sheet.conditional_format(
        *rng,
        {"type": "cell", "criteria": "between", "minimum": 0.5, "maximum": 0.8, "format": fmt.mid},
    )
    sheet.conditional_format(*rng, {"type": "cell", "criteria": ">", "value": 0.8, "format": fmt.high})


OVERLAP_TOTAL = N_("Total (not the sum of the rows: categories overlap, each flow counts once)")


def _total_label(dims: list[str]) -> str:
    """A category's rows overlap (a country can be LDC and SIDS): the Total row says so."""
    return _(OVERLAP_TOTAL) if "category" in dims else _("Total")


def _table_sheet(
    book, fmt: _Formats, name: str, title: str, report: Report, chart: bool = True, measures: list | None = None
) -> None:
    """One dimension per row, the gap measures in columns, the total last, a native bar chart."""
    sheet = book.add_worksheet(name)
    spec = report.spec
    dims = spec.dimensions
    measures = [m for m in spec.measures if measures is None or m in measures]
    sheet.write_string(0, 0, title, fmt.title)
    amounts_in = _("Amounts in %(currency)s.", currency=spec.currency)
    sheet.write_string(1, 0, " ".join([amounts_in, *(shown(n) for n in report.notes[:1])]), fmt.subtitle)
    head = 3
    columns = [dimension_name(d) for d in dims]
    columns += [measure_title(m, spec.currency) for m in measures]
    for c, text in enumerate(columns):
        sheet.write_string(head, c, text, fmt.header)
    r = head
    for r, row in enumerate(report.rows, start=head + 1):
        for c, dim in enumerate(dims):
            sheet.write_string(r, c, str(row[f"{dim}_label"]), fmt.text)
        for c, m in enumerate(measures, start=len(dims)):
            _write_value(sheet, r, c, m, row.get(m), fmt)
    last = r
    total_row = last + 1
    for c, _dim in enumerate(dims):
        sheet.write_string(total_row, c, _total_label(dims) if c == 0 else "", fmt.total_text)
    for c, m in enumerate(measures, start=len(dims)):
        _write_value(sheet, total_row, c, m, report.total.get(m), fmt, total=True)
    sheet.freeze_panes(head + 1, len(dims))
    sheet.autofilter(head, 0, max(last, head), len(columns) - 1)
    for c in range(len(dims)):
        sheet.set_column(c, c, 34)
    sheet.set_column(len(dims), len(columns) - 1, 18)
    sheet.set_row(head, 32)
    if "coverage" in measures:
        _coverage_rules(sheet, head + 1, last, len(dims) + measures.index("coverage"), fmt)
    for n, note in enumerate(report.notes[1:], start=total_row + 2):
        sheet.write_string(n, 0, shown(note), fmt.subtitle)
    r = total_row + 2 + len(report.notes[1:]) + 1
    for dim, margin_rows in report.margins.items():
        r = _margin_block(sheet, fmt, report, dim, margin_rows, measures, r) + 2
    charted = [
        (m, c) for m, c in (("need", "#9DB6C4"), ("commitment", BRAND), ("disbursement", "#E07A1F")) if m in measures
    ]
    if chart and report.rows and len(dims) == 1 and charted:  # no bar to draw (gap alone): no chart
        bars = book.add_chart({"type": "bar"})
        for m, color in charted:
            col = len(dims) + measures.index(m)
            bars.add_series(
                {
                    "name": [name, head, col],
                    "categories": [name, head + 1, 0, last, 0],
                    "values": [name, head + 1, col, last, col],
                    "fill": {"color": color},
                }
            )
        bars.set_title({"name": _("%(title)s (%(currency)s)", title=title, currency=spec.currency)})
        bars.set_y_axis({"reverse": True})
        bars.set_x_axis({"num_format": "#,##0"})
        bars.set_legend({"position": "bottom"})
        bars.set_size({"width": 720, "height": max(320, 26 * len(report.rows) + 120)})
        sheet.insert_chart(head, len(columns) + 1, bars)


def _margin_block(sheet, fmt: _Formats, report: Report, dim: str, rows: list[dict], measures: list, r: int) -> int:
    """A cross-tab's totals by one of its dimensions (the report by that dimension alone), which
    its rows add up to; returns the row of the block's Total row."""
    spec = report.spec
    sheet.write_string(
        r,
        0,
        _("Totals by %(dimension)s (the rows above add up to these)", dimension=dimension_name(dim).lower()),
        fmt.key,
    )
    amounts = [m for m in measures if m != "projects"]  # a project can sit in several rows
    head = r + 1
    sheet.write_string(head, 0, dimension_name(dim), fmt.header)
    for c, m in enumerate(amounts, start=1):
        sheet.write_string(head, c, measure_title(m, spec.currency), fmt.header)
    r = head
    for r, row in enumerate(rows, start=head + 1):
        sheet.write_string(r, 0, str(row[f"{dim}_label"]), fmt.text)
        for c, m in enumerate(amounts, start=1):
            _write_value(sheet, r, c, m, row.get(m), fmt)
    sheet.write_string(r + 1, 0, _total_label([dim]), fmt.total_text)
    for c, m in enumerate(amounts, start=1):
        _write_value(sheet, r + 1, c, m, report.total.get(m), fmt, total=True)
    return r + 1


def _about_sheet(
    book,
    fmt: _Formats,
    spec: ReportSpec,
    reports: list[Report],
    generated: dt.datetime,
    sheets: tuple[str, ...] = SHEETS[1:],
    title: str | None = None,
    subtitle: str | None = None,
) -> None:
    """The workbook's first sheet: what it holds, for which filters, and what each measure means
    (``sheets``: the English names of the sheets after it)."""
    sheet = book.add_worksheet(sheet_name(SHEETS[0]))
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 100)
    sheet.write_string(0, 0, title or _("ICT4D funding gap workbook"), fmt.title)
    subtitle = subtitle or _("Funding flows and gaps by region, recipient category and Tunis Agenda paragraph 23 area.")
    sheet.write_string(1, 0, subtitle, fmt.subtitle)
    rows: list[tuple[str, str]] = [
        (_("Generated (UTC)"), generated.isoformat(timespec="seconds")),
        (_("Currency"), spec.currency),
        (_("Exchange rates"), shown(reports[0].rate_note)),
    ]
    rows += conversion_notes.about_rows(reports)
    days = [r.rate_dates for r in reports if r.rate_dates]
    if days:
        first, last = min(d[0] for d in days), max(d[1] for d in days)
        rows.append((_("Rate dates"), _("%(first)s to %(last)s", first=first, last=last)))
    filters = spec.filters()  # parameter names and codes, as a script would send them
    rows.append(
        (
            _("Filters"),
            "; ".join(f"{k}: {v if not isinstance(v, list) else ', '.join(map(str, v))}" for k, v in filters.items())
            or _("none (every project and flow)"),
        )
    )
    rows.append((_("Flows counted"), _flows_counted(spec, reports[0].confirmation or {})))
    rows.append((_("Sheets"), ", ".join(sheet_name(s) for s in sheets)))
    r = 3
    for key, value in rows:
        sheet.write_string(r, 0, key, fmt.key)
        sheet.write_string(r, 1, value, fmt.wrap)
        r += 1
    r += 1
    sheet.write_string(r, 0, _("Measure"), fmt.header)
    sheet.write_string(r, 1, _("Definition"), fmt.header)
    for m in DEFINITIONS:
        r += 1
        sheet.write_string(r, 0, measure_name(m), fmt.key)
        sheet.write_string(r, 1, measure_definition(m), fmt.wrap)
    if sheet_name(SHEETS[7]) in (sheet_name(s) for s in sheets):
        for name, definition in (*QUALITY_DEFINITIONS, *FORWARD_DEFINITIONS):
            r += 1
            sheet.write_string(r, 0, str(name), fmt.key)
            sheet.write_string(r, 1, str(definition), fmt.wrap)
    r += 2
    sheet.write_string(r, 0, _("Notes"), fmt.header)
    sheet.write_string(r, 1, "", fmt.header)
    seen: list[str] = []
    for report in reports:
        for note in report.notes:
            if note not in seen:
                seen.append(note)
    for note in conversion_notes.without_covered(seen):
        r += 1
        sheet.write_string(r, 1, shown(note), fmt.wrap)


def _flows_counted(spec: ReportSpec, confirmation: dict) -> str:
    """Which flows the figures count, and the unconfirmed money they include or leave out."""
    unconfirmed = confirmation.get("unconfirmed_flows", 0)
    if spec.confirmed == "only":
        counted = ngettext(
            "Confirmed flows only; %(num)d unconfirmed flow left out",
            "Confirmed flows only; %(num)d unconfirmed flows left out",
            unconfirmed,
        )
    else:
        counted = ngettext(
            "All flows, unconfirmed included; %(num)d unconfirmed flow included",
            "All flows, unconfirmed included; %(num)d unconfirmed flows included",
            unconfirmed,
        )
    amounts = [
        f"{measure_name(m).lower()} {i18n.money(Decimal(a), spec.currency)}"
        for m, a in confirmation.get("unconfirmed_amounts", {}).items()
        if Decimal(a)
    ]
    if unconfirmed and amounts:
        counted = _("%(counted)s (%(amounts)s)", counted=counted, amounts="; ".join(amounts))
    return counted


def _summary_sheet(book, fmt: _Formats, total: Report, by_year: Report) -> None:
    name = sheet_name(SHEETS[1])
    sheet = book.add_worksheet(name)
    cur = total.spec.currency
    sheet.write_string(0, 0, _("Summary"), fmt.title)
    sheet.write_string(1, 0, _("Amounts in %(currency)s", currency=cur), fmt.subtitle)
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 6, 18)
    sheet.write_string(3, 0, _("Measure"), fmt.header)
    sheet.write_string(3, 1, _("Total"), fmt.header)
    r = 3
    for m in SUMMARY_MEASURES:
        r += 1
        sheet.write_string(r, 0, measure_name(m), fmt.key)
        _write_value(sheet, r, 1, m, total.total.get(m), fmt)
    start = r + 3
    sheet.write_string(start - 1, 0, _("By year of value date (need: year of need date)"), fmt.key)
    cols = [dimension_name("year"), *(measure_title(m, cur) for m in ("commitment", "disbursement", "need"))]
    for c, text in enumerate(cols):
        sheet.write_string(start, c, text, fmt.header)
    r = start
    for r, row in enumerate(by_year.rows, start=start + 1):
        label = str(row["year_label"])
        if label.isdigit():
            sheet.write_number(r, 0, int(label))  # a year, sortable and filterable as a number
        else:
            sheet.write_string(r, 0, label, fmt.text)
        for c, m in enumerate(("commitment", "disbursement", "need"), start=1):
            _write_value(sheet, r, c, m, row.get(m), fmt)
    sheet.write_string(r + 1, 0, _("Total"), fmt.total_text)
    for c, m in enumerate(("commitment", "disbursement", "need"), start=1):
        _write_value(sheet, r + 1, c, m, by_year.total.get(m), fmt, total=True)
    sheet.freeze_panes(4, 0)
    if by_year.rows:
        line = book.add_chart({"type": "line"})
        for c, color in ((1, BRAND), (2, "#E07A1F")):
            line.add_series(
                {
                    "name": [name, start, c],
                    "categories": [name, start + 1, 0, r, 0],
                    "values": [name, start + 1, c, r, c],
                    "line": {"color": color, "width": 2.25},
                    "marker": {
                        "type": "circle",
                        "size": 5,
                        "fill": {"color": color},
                        "border": {"color": color},
                    },
                }
            )
        line.set_title({"name": _("Commitments and disbursements over time (%(currency)s)", currency=cur)})
        line.set_y_axis({"num_format": "#,##0"})
        line.set_legend({"position": "bottom"})
        line.set_size({"width": 720, "height": 360})
        sheet.insert_chart(3, 3, line)


def _matrix_sheet(book, fmt: _Formats, cross: Report) -> None:
    """Regions down, priority areas across: commitments and the funding gap, colour-scaled.

    The cells are rounded under control (reports.rounding): each row adds up to its Total
    column, which is the region's figure on "By region", each column to its Total row, the
    area's figure on "By priority area", and both to the grand total.
    """
    sheet = book.add_worksheet(sheet_name(SHEETS[5]))
    cur = cross.spec.currency
    sheet.write_string(0, 0, _("Region x priority area"), fmt.title)
    sheet.write_string(
        1,
        0,
        _(
            "Amounts in %(currency)s; share-weighted. Each row adds up to its region on '%(by_region)s', each "
            "column to its area on '%(by_area)s', and both to the total, to the cent.",
            currency=cur,
            by_region=sheet_name(SHEETS[2]),
            by_area=sheet_name(SHEETS[4]),
        ),
        fmt.subtitle,
    )
    region_totals = cross.margins.get("region", [])
    area_totals = cross.margins.get("priority_area", [])
    regions = [m["region"] for m in region_totals]
    area_keys = [m["priority_area"] for m in area_totals]
    values: dict[tuple[str, str], dict] = {(row["region"], row["priority_area"]): row for row in cross.rows}
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, len(area_keys) + 1, 16)
    r = 3
    for measure in ("commitment", "gap"):
        if measure not in cross.spec.measures or cross.total.get(measure) is None:
            continue
        sheet.write_string(r, 0, measure_title(measure, cur), fmt.key)
        r += 1
        head = r
        sheet.write_string(head, 0, dimension_name("region"), fmt.header)
        for c, area_total in enumerate(area_totals, start=1):
            sheet.write_string(head, c, str(area_total["priority_area_label"]), fmt.header)
        sheet.write_string(head, len(area_keys) + 1, _("Total"), fmt.header)
        sheet.set_row(head, 45)
        for i, (reg, region_total) in enumerate(zip(regions, region_totals, strict=True), start=1):
            sheet.write_string(head + i, 0, str(region_total["region_label"]), fmt.text)
            for c, area in enumerate(area_keys, start=1):
                cell = values.get((reg, area))
                value = cell.get(measure) if cell else None
                _write_value(sheet, head + i, c, measure, value if value is not None else Decimal(0), fmt)
            _write_value(sheet, head + i, len(area_keys) + 1, measure, region_total[measure], fmt, total=True)
        last = head + len(regions)
        sheet.write_string(last + 1, 0, _("Total"), fmt.total_text)
        for c, area_total in enumerate(area_totals, start=1):
            _write_value(sheet, last + 1, c, measure, area_total[measure], fmt, total=True)
        _write_value(sheet, last + 1, len(area_keys) + 1, measure, cross.total[measure], fmt, total=True)
        if regions:
            sheet.conditional_format(
                head + 1,
                1,
                last,
                len(area_keys),
                {
                    "type": "2_color_scale",
                    "min_color": "#F5F7FA",
                    "max_color": "#0B5D7A" if measure == "commitment" else "#E07A1F",
                },
            )
        if measure == "commitment":
            sheet.freeze_panes(head + 1, 1)
        r = last + 4
    for n, note in enumerate(note for note in cross.notes if kind(note) == "beyond_one_cent"):
        sheet.write_string(r + n, 0, shown(note), fmt.subtitle)


def _projects_sheet(book, fmt: _Formats, report: Report) -> None:
    sheet = book.add_worksheet(sheet_name(SHEETS[6]))
    cur = report.spec.currency
    sheet.write_string(0, 0, _("Projects with a funding gap"), fmt.title)
    sheet.write_string(
        1,
        0,
        _("Need above commitments, largest gap first; amounts in %(currency)s, within the filters.", currency=cur),
        fmt.subtitle,
    )
    rows = [r for r in report.rows if r.get("gap") is not None and r["gap"] > 0]
    rows.sort(key=lambda r: (-r["gap"], r["project"]))
    facts = queries.project_facts([r["project"] for r in rows]) if rows else {}
    columns = [
        _("Reference"),
        _("Title"),
        _("Organisation"),
        _("Status"),
        *(measure_title(m, cur) for m in ("need", "commitment", "gap", "coverage", "disbursement")),
    ]
    head = 3
    for c, text in enumerate(columns):
        sheet.write_string(head, c, text, fmt.header)
    r = head
    for r, row in enumerate(rows, start=head + 1):
        ref, title, status, org = facts.get(row["project"], ("", "", "", ""))
        for c, text in enumerate((ref, title, org, status)):
            sheet.write_string(r, c, text, fmt.text)
        for c, m in enumerate(("need", "commitment", "gap", "coverage", "disbursement"), start=4):
            _write_value(sheet, r, c, m, row.get(m), fmt)
    last = r
    # The projects listed are those with a gap only: their total is not the report's total.
    sheet.write_string(last + 1, 0, _("Total of the projects listed (not of every project)"), fmt.total_text)
    for c in (1, 2, 3):
        sheet.write_blank(last + 1, c, None, fmt.total_text)
    listed = {m: sum((row[m] for row in rows), Decimal(0)) for m in ("need", "commitment", "gap", "disbursement")}
    listed["coverage"] = (
        str((listed["commitment"] / listed["need"]).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))
        if listed["need"] > 0
        else None
    )
    for c, m in enumerate(("need", "commitment", "gap", "coverage", "disbursement"), start=4):
        _write_value(sheet, last + 1, c, m, listed[m], fmt, total=True)
    sheet.freeze_panes(head + 1, 2)
    sheet.autofilter(head, 0, max(last, head), len(columns) - 1)
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 48)
    sheet.set_column(2, 2, 30)
    sheet.set_column(3, 3, 12)
    sheet.set_column(4, 8, 18)
    sheet.set_row(head, 32)
    _coverage_rules(sheet, head + 1, r, 7, fmt)


def funding_gap_workbook(spec: ReportSpec) -> bytes:
    """Build the funding-gap workbook for the filters and currency of ``spec``."""
    generated = dt.datetime.now(dt.UTC)
    # Only the two-stage path (another currency) spreads sums over the shares in Python.
    context = load_context() if spec.currency != "USD" else (queries.load_reference(), {}, {})
    ref = context[0]
    base = dataclasses.replace(spec, dimensions=["region"], measures=list(SHEET_MEASURES))
    # USD sheets each run as one query in the database; in another currency one pass
    # over the flows (converted per day) serves every sheet without a transaction dimension.
    first = None if spec.currency == "USD" else stage_one(base, _Keys(ref, base), with_buckets=True)

    totals: dict = {}  # every sheet has the same filters, so the same grand total

    def report(dims: list[str], stage=None) -> Report:
        # the region sheet's report also gives the summary its pledges and expenditure
        extra = SUMMARY_ONLY if dims == ["region"] else []
        one = dataclasses.replace(base, dimensions=dims, measures=[*base.measures, *extra])
        return run_report(one, first=first, context=context, stage=stage, totals=totals)

    by_year = run_report(dataclasses.replace(base, dimensions=["year"]), context=context, totals=totals)
    by_category = report(["category"])
    if spec.currency == "USD":
        # one scan of the flows into a temporary table of per-project sums, read by four sheets
        with queries.staged_sums(tx_filter(base), with_need=need_applies(base)) as stage:
            by_region, by_area, cross, by_project = (
                report(dims, stage)
                for dims in (["region"], ["priority_area"], ["region", "priority_area"], ["project"])
            )
    else:
        by_region, by_area, cross, by_project = (
            report(dims) for dims in (["region"], ["priority_area"], ["region", "priority_area"], ["project"])
        )

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    book.set_properties(
        {
            "title": _("ICT4D funding gap"),
            "subject": _("Funding flows and gaps"),
            "company": "ICT4D Funding Registry",
        }
    )
    fmt = _Formats(book, spec.currency)
    _about_sheet(book, fmt, base, [by_region, by_category, by_area, cross], generated)
    _summary_sheet(book, fmt, by_region, by_year)
    _table_sheet(book, fmt, sheet_name(SHEETS[2]), _("Funding by region"), by_region, measures=SHEET_MEASURES)
    title = _("Funding by recipient category (rows overlap)")
    _table_sheet(book, fmt, sheet_name(SHEETS[3]), title, by_category)
    _table_sheet(book, fmt, sheet_name(SHEETS[4]), _("Funding by Tunis Agenda paragraph 23 area"), by_area)
    _matrix_sheet(book, fmt, cross)
    _projects_sheet(book, fmt, by_project)
    quality_sheet(book, fmt, sheet_name(SHEETS[7]), spec)
    forward_view_sheet(book, fmt, sheet_name(SHEETS[8]), spec.currency, spec.donors)
    book.close()
    return buffer.getvalue()


def report_workbook(report: Report) -> bytes:
    """A single report as a workbook: About and the report's table (for the .xlsx downloads)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    fmt = _Formats(book, report.spec.currency)
    names = [dimension_name(d).lower() for d in report.spec.dimensions]
    if len(names) == 1:
        subtitle = _("Funding flows by %(rows)s, in %(currency)s.", rows=names[0], currency=report.spec.currency)
        title = _("Funding by %(rows)s", rows=names[0])
    else:
        subtitle = _(
            "Funding flows by %(rows)s x %(columns)s, in %(currency)s.",
            rows=names[0],
            columns=names[1],
            currency=report.spec.currency,
        )
        title = _("Funding by %(rows)s x %(columns)s", rows=names[0], columns=names[1])
    _about_sheet(
        book,
        fmt,
        report.spec,
        [report],
        report.generated_at,
        sheets=(REPORT_SHEET,),
        title=_("ICT4D funding flows"),
        subtitle=subtitle,
    )
    _table_sheet(book, fmt, sheet_name(REPORT_SHEET), title, report, chart=len(report.spec.dimensions) == 1)
    book.close()
    return buffer.getvalue()
