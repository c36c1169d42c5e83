"""The funding-gap workbook's "Quality and predictability" sheet: the qualities paragraph 27
of the Tunis Agenda asks of ICT4D financing ("more predictable, preferably untied, and
sustainable") and the South-South and triangular share, one block per measure, each written
by its own function from the same figures as the API:

- the untied share by the report's rows (``reports.tied.tied_report``: GET /api/v1/reports/tied);
- the flows by direction (``reports.flows.run_report`` by ``direction``: GET
  /api/v1/reports/flows?by=direction);
- the in-year predictability, absorption and disbursement lag by donor and year
  (``reports.forward_sheet.write_predictability_rows``: GET /api/v1/reports/predictability).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from reports.dimensions import dimension_name, measure_name
from reports.flows import Report, run_report
from reports.forward import predictability
from reports.forward_sheet import write_predictability_rows
from reports.spec import ReportSpec
from reports.tied import DEFINITION as TIED_DEFINITION
from reports.tied import MEASURE_LABELS as TIED_LABELS
from reports.tied import MEASURES as TIED_MEASURES
from reports.tied import tied_report

QUALITY_SHEET_TITLE = _l("Quality and predictability")
# The measures this sheet adds, for the workbook's About sheet (the predictability's are
# reports.forward_sheet.FORWARD_DEFINITIONS).
QUALITY_DEFINITIONS = (
    (_l("Untied share"), TIED_DEFINITION),
    (
        _l("Flow direction"),
        _l(
            "North-South, South-South, triangular or multilateral, from the provider's country and its DAC "
            "membership on the value date, the provider's kind, the funding source and the activity's IATI "
            "collaboration type, or set by hand on the project with a reason; unknown is shown apart and never "
            "guessed. The rows add up to the total."
        ),
    ),
    (_l("Share of commitments"), _l("A direction's commitments divided by all commitments, unknown included.")),
)
DIRECTION_MEASURES = ["commitment", "disbursement"]
SHARE_PLACES = Decimal("0.0001")


def _cell(sheet: Any, row: int, col: int, value: Decimal | str | None, style: Any) -> None:
    # XLSX keeps every number as an IEEE double: amounts are exact to the cent up to ~9e13.
    if value is None:
        sheet.write_blank(row, col, None, style)
    else:
        sheet.write_number(row, col, float(Decimal(value)), style)


def write_untied_rows(sheet: Any, row: int, report: dict, fmt: Any) -> int:
    """Write the untied share of ``report`` (``reports.tied.tied_report``, one dimension) from
    ``row``: a header, a row per value of the dimension, the total; returns the next free row.
    The unknown amounts come last, apart from the three statuses the share is made of."""
    dim = report["dimensions"][0]
    currency = report["currency"]
    order = [m for m in TIED_MEASURES if m != "unknown"] + ["unknown"]
    titles = [dimension_name(dim)] + [
        _(TIED_LABELS[m])
        if m == "untied_share"
        else _("%(measure)s (%(currency)s)", measure=_(TIED_LABELS[m]), currency=currency)
        for m in order
    ]
    for c, title in enumerate(titles):
        sheet.write_string(row, c, title, fmt.header)
    for item in [*report["rows"], report["total"]]:
        row += 1
        total = item is report["total"]
        sheet.write_string(
            row, 0, _("Total") if total else str(item[f"{dim}_label"]), fmt.total_text if total else fmt.text
        )
        for c, m in enumerate(order, start=1):
            if m == "untied_share":
                _cell(sheet, row, c, item[m], fmt.total_ratio if total else fmt.ratio)
            else:
                _cell(sheet, row, c, item[m], fmt.total_amount if total else fmt.amount)
    return row + 1


def direction_share(part: Decimal, whole: Decimal) -> Decimal | None:
    """A direction's share of the commitments to four places; None when nothing is committed."""
    return None if not whole else (Decimal(part) / Decimal(whole)).quantize(SHARE_PLACES)


def write_direction_rows(sheet: Any, row: int, report: Report, fmt: Any) -> int:
    """Write the flows by direction of ``report`` (``run_report`` by ``direction``) from ``row``:
    a header, a row per direction, the total; returns the next free row."""
    currency = report.spec.currency
    titles = [dimension_name("direction")]
    titles += [_("%(measure)s (%(currency)s)", measure=measure_name(m), currency=currency) for m in DIRECTION_MEASURES]
    titles.append(_("Share of commitments"))
    for c, title in enumerate(titles):
        sheet.write_string(row, c, title, fmt.header)
    whole = report.total["commitment"]
    for item in [*report.rows, report.total]:
        row += 1
        total = item is report.total
        sheet.write_string(
            row, 0, _("Total") if total else str(item["direction_label"]), fmt.total_text if total else fmt.text
        )
        for c, m in enumerate(DIRECTION_MEASURES, start=1):
            _cell(sheet, row, c, item[m], fmt.total_amount if total else fmt.amount)
        share = direction_share(item["commitment"], whole)
        _cell(sheet, row, len(DIRECTION_MEASURES) + 1, share, fmt.total_ratio if total else fmt.ratio)
    return row + 1


def quality_sheet(book: Any, fmt: Any, name: str, spec: ReportSpec) -> None:
    """The "Quality and predictability" sheet for the filters and currency of ``spec``: the untied
    share by its first dimension (region by default), the flows by direction, and the
    predictability by donor and year (its notes below it)."""
    sheet = book.add_worksheet(name)
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 6, 17)
    sheet.write_string(0, 0, str(QUALITY_SHEET_TITLE), fmt.title)
    subtitle = _(
        'Amounts in %(currency)s. The Tunis Agenda (paragraph 27) asks for financial resources that are "more '
        'predictable, preferably untied, and sustainable".',
        currency=spec.currency,
    )
    sheet.write_string(1, 0, subtitle, fmt.subtitle)
    rows = spec.dimensions[:1] or ["region"]
    row = 3
    sheet.write_string(row, 0, _("Untied share by %(rows)s", rows=dimension_name(rows[0]).lower()), fmt.key)
    row = write_untied_rows(sheet, row + 1, tied_report(dataclasses.replace(spec, dimensions=rows)), fmt)
    by_direction = run_report(dataclasses.replace(spec, dimensions=["direction"], measures=list(DIRECTION_MEASURES)))
    row += 1
    sheet.write_string(row, 0, _("By flow direction"), fmt.key)
    row = write_direction_rows(sheet, row + 1, by_direction, fmt)
    row += 1
    sheet.write_string(row, 0, _("Predictability by donor and year"), fmt.key)
    forward = predictability(spec.currency, donors=spec.donors or ())
    row = write_predictability_rows(sheet, row + 1, forward, fmt)
    for note in forward["notes"]:
        row += 1
        sheet.write_string(row, 0, note, fmt.wrap)
