"""The untied share of commitments, by any report dimension (Tunis Agenda, paragraph 27:
financing "preferably untied"). The definition and the share's formula are written once, in
``registry.services.tied``, which the project page uses too.

Definition (the OECD DAC tying status, as the CRS and IATI TiedStatus publish it): of the
commitments whose tying status is known, the share that is untied,

    untied_share = untied / (tied + partially tied + untied)

A flow's status is its own (IATI transaction tied-status), else its project's default
(IATI default-tied-status); a flow with neither is unknown, shown apart (``unknown``) and
never counted as untied nor in the denominator. Amounts are commitments (IATI transaction
type 2) in the report's currency, share-weighted like every report figure, so that the four
amounts of a row add up to its commitments in the flows report with the same filters.

Each group is the flows report of the same dimensions and filters restricted to the flows
of that status (``ReportSpec.tied_statuses``): every dimension works as it does there.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from flask_babel import gettext as _
from flask_babel import ngettext

from registry import i18n, money
from registry.models.types import N_
from registry.services.tied import AMOUNTS, GROUPS, untied_share
from registry.spreadsheet_safety import safe_text
from reports import charts
from reports.spec import ReportSpec

MEASURES = (*AMOUNTS, "untied_share")
# The measures as people read them (the page, the CSV's and the workbook's titles).
MEASURE_LABELS = {
    "tied": N_("Tied"),
    "partially_tied": N_("Partially tied"),
    "untied": N_("Untied"),
    "unknown": N_("Unknown, not counted"),
    "untied_share": N_("Untied share"),
}
DEFINITION = N_(
    "Untied share = untied / (tied + partially tied + untied), of commitments (IATI transaction type 2), by the "
    "OECD DAC tying status (IATI TiedStatus 3 partially tied, 4 tied, 5 untied; a flow without one takes its "
    "project's default). Commitments of unknown status are shown apart and never counted as untied, nor in the "
    "denominator; a row whose commitments are all of unknown status has no untied share."
)


def tied_report(spec: ReportSpec) -> dict:
    """Per row of ``spec``'s dimensions (and in total): the commitments by tied status and the
    untied share, as decimal strings (the share as a fraction of 1, empty when unknown)."""
    from reports.flows import run_report

    rows: dict[tuple, dict] = {}
    exact: dict[tuple, dict[str, Fraction | int]] = {}
    totals: dict[str, Decimal] = {}
    total_exact: dict[str, Fraction | int] = {}
    dims = list(spec.dimensions)
    for group, code in GROUPS.items():
        report = run_report(replace(spec, measures=["commitment"], tied_statuses=[code]))
        for row in report.rows:
            key = tuple(row.get(d) for d in dims)
            out = rows.setdefault(
                key, {d: row.get(d) for d in dims} | {f"{d}_label": row.get(f"{d}_label") for d in dims}
            )
            out[group] = row["commitment"]
            exact.setdefault(key, {})[group] = row["_exact"]["commitment"]
        totals[group] = report.total["commitment"]
        total_exact[group] = report.total["_exact"]["commitment"]
    zero = money.from_minor(0, spec.currency)

    def finish(out: dict, parts: dict) -> dict:
        for group in AMOUNTS:
            out[group] = str(out.get(group, zero))
        share = untied_share(parts.get("tied", 0), parts.get("partially_tied", 0), parts.get("untied", 0))
        out["untied_share"] = None if share is None else str(share)
        return out

    shown = [
        finish(out, exact[key]) for key, out in rows.items() if any(Decimal(str(out.get(g, 0))) != 0 for g in AMOUNTS)
    ]
    return {
        "dimensions": dims,
        "measures": list(MEASURES),
        "currency": spec.currency,
        "filters": spec.filters(),
        "rows": shown,
        "total": finish({d: "Total" for d in dims} | dict(totals), total_exact),
        "definition": (
            "untied_share = untied / (tied + partially tied + untied), of commitments (IATI transaction type 2), "
            "by the OECD DAC tying status (IATI TiedStatus 3 partially tied, 4 tied, 5 untied; a flow without "
            "one takes its project's default); unknown is shown apart and never counted as untied"
        ),
    }


def measure_title(measure: str, currency: str) -> str:
    """A measure's column title in the reader's language, an amount's with its currency."""
    name = _(MEASURE_LABELS[measure])
    return name if measure == "untied_share" else _("%(measure)s (%(currency)s)", measure=name, currency=currency)


def tied_csv(report: dict) -> str:
    """The untied-share report as CSV: each dimension's code (titled by its key, which scripts
    read back) and name, the four amounts and the share (a fraction of 1); the total last."""
    from reports.dimensions import dimension_name

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    dims = report["dimensions"]
    head: list[str] = []
    for dim in dims:
        head += [dim, dimension_name(dim)]
    writer.writerow(head + [measure_title(m, report["currency"]) for m in MEASURES])
    for row in [*report["rows"], report["total"]]:
        total = row is report["total"]
        cells: list = []
        for dim in dims:
            code = row.get(dim)
            cells += [
                "Total" if total else ("" if code is None else str(code)),
                _("Total") if total else row.get(f"{dim}_label"),
            ]
        cells += [row[m] for m in MEASURES]
        writer.writerow([safe_text(v) if isinstance(v, str) else ("" if v is None else str(v)) for v in cells])
    return buffer.getvalue()


# The chart: untied first (the share the Tunis Agenda asks for), unknown last and grey (apart).
CHART_ORDER = ("untied", "partially_tied", "tied", "unknown")
CHART_COLOURS = (charts.BRAND, charts.ACCENT, "#d1495b", charts.MUTED)
MOST_BARS = 15  # the largest rows; the rest summed in one bar


def tied_chart(report: dict, dimension_label: str) -> str:
    """The commitments of each row by tied status as stacked bars (untied, partially tied, tied,
    unknown), the largest rows first and the rest in one bar: the untied share seen at a glance,
    the unknown part apart in grey."""
    dim = report["dimensions"][0]
    items = [
        (str(row.get(f"{dim}_label") or row.get(dim) or "–"), [Decimal(row[group]) for group in CHART_ORDER])
        for row in report["rows"]
    ]
    items.sort(key=lambda item: -sum(item[1], Decimal(0)))
    if len(items) > MOST_BARS:
        rest = items[MOST_BARS - 1 :]
        summed = [sum((values[k] for _name, values in rest), Decimal(0)) for k in range(len(CHART_ORDER))]
        items = [*items[: MOST_BARS - 1], (ngettext("%(num)d other", "%(num)d others", len(rest)), summed)]
    ends = []
    for _name, values in items:
        parts = dict(zip(CHART_ORDER, values, strict=True))
        share = untied_share(Fraction(parts["tied"]), Fraction(parts["partially_tied"]), Fraction(parts["untied"]))
        ends.append("–" if share is None else i18n.percent(share))
    currency = report["currency"]
    title = _("Commitments by tied status, by %(dimension)s", dimension=dimension_label)
    desc = _(
        "Bars of equal length, one for each %(dimension)s: its commitments in %(currency)s split into untied, "
        "partially tied, tied and of unknown status (grey, never counted as untied), with its untied share at the "
        "end of the bar and the exact amounts on hover.",
        dimension=dimension_label,
        currency=currency,
    )
    return charts.stacked_bars(
        items,
        [_(MEASURE_LABELS[group]) for group in CHART_ORDER],
        title,
        currency,
        desc=desc,
        empty=_("No commitment matches the filters."),
        colours=CHART_COLOURS,
        proportional=True,
        ends=ends,
    )
