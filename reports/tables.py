"""A report as a plain table: header and cells, for CSV, the command line and the pages."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from flask_babel import gettext as _

from registry.spreadsheet_safety import safe_text
from reports import conversion_notes
from reports.dimensions import dimension_name, measure_name
from reports.flows import Report

# Dimensions whose value (a code or id) differs from the label shown to people.
CODED = {
    "country",
    "category",
    "income_group",
    "funding_source",
    "donor",
    "source_kind",
    "finance_type",
    "flow_type",
}


def _with_code(dim: str, codes: bool | None) -> bool:
    return codes if codes is not None else dim in CODED


def header(report: Report, *, codes: bool | None = True) -> list[str]:
    """Column titles: each dimension (with its code column, titled by its key, which scripts
    read back) then each measure; the titles people read in the request's language."""
    cols: list[str] = []
    for dim in report.spec.dimensions:
        if _with_code(dim, codes):
            cols.append(dim)
        cols.append(dimension_name(dim))
    cols += [measure_title(m, report.spec.currency) for m in report.spec.measures]
    return cols


def measure_title(measure: str, currency: str) -> str:
    """A measure's column title, with the currency of an amount: ``Commitments (USD)``."""
    if not _is_amount(measure):
        return measure_name(measure)
    return _("%(measure)s (%(currency)s)", measure=measure_name(measure), currency=currency)


def _is_amount(measure: str) -> bool:
    return measure not in ("coverage", "projects")


def cells(report: Report, row: dict, *, codes: bool | None = True, label: str | None = None) -> list:
    """The values of one row in header order (Decimal amounts, str labels, int counts);
    ``label`` in place of the row's own labels (the total's, in the reader's language)."""
    out: list = []
    for dim in report.spec.dimensions:
        if _with_code(dim, codes):
            out.append("" if row.get(dim) is None else str(row[dim]))
        out.append(row.get(f"{dim}_label", "") if label is None else label)
    for m in report.spec.measures:
        value = row.get(m)
        if m == "coverage" and value is not None:
            value = Decimal(value)
        out.append(value)
    return out


def to_csv(report: Report) -> str:
    """The report as CSV: one row per report row, then the total; text cells injection-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header(report))
    for row in [*report.rows, report.total]:
        # the total's code cells keep "Total" (scripts look for it); its label cells are read
        values = cells(report, row, label=_("Total") if row is report.total else None)
        writer.writerow([safe_text(v) if isinstance(v, str) else ("" if v is None else str(v)) for v in values])
    for footer in conversion_notes.csv_footer(report):  # amounts not converted, or at annual rates
        writer.writerow([safe_text(v) for v in footer])
    return buffer.getvalue()


def format_value(measure: str, value) -> str:
    """Display text of a measure value (thousands separators; coverage as a percentage)."""
    if value is None:
        return "–"
    if measure == "projects":
        return f"{value:,}"
    if measure == "coverage":
        return f"{Decimal(value) * 100:.1f} %"
    if isinstance(value, Decimal):
        return f"{value:,}"  # the report currency's own decimals (none for JPY or XOF)
    return f"{value:,.2f}"


def to_text_table(report: Report) -> str:
    """A fixed-width table for the terminal, total last, notes below."""
    head = header(report, codes=None)
    n_dims = len(head) - len(report.spec.measures)
    body = []
    for row in [*report.rows, report.total]:
        values = cells(report, row, codes=None)
        text = [str(v) for v in values[:n_dims]]
        text += [format_value(m, v) for m, v in zip(report.spec.measures, values[n_dims:], strict=True)]
        body.append(text)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(head)]

    def line(values: list[str]) -> str:
        parts = [v.ljust(w) if i < n_dims else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [line(head), rule, *(line(r) for r in body[:-1]), rule, line(body[-1])]
    out.append("")
    out += [f"Note: {n}" for n in report.notes]
    out.append(f"Exchange rates: {report.rate_note}")
    return "\n".join(out)
