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

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from registry import money
from registry.services.tied import AMOUNTS, GROUPS, untied_share
from reports.spec import ReportSpec

MEASURES = (*AMOUNTS, "untied_share")


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
