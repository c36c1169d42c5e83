"""The reports page: filters, the table and server-drawn SVG charts, each with a download."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from registry import money
from registry.errors import ValidationError
from registry.extensions import db
from registry.models import PriorityArea, RecipientCategory, Region
from registry.models.types import ProjectStatus, SourceKind, label
from reports import charts, queries
from reports.dimensions import dimension_names, measure_name
from reports.flows import Context, Report, ReportSpec, RowKeys, load_context, run_report, stage_one
from reports.schemas import load_spec
from reports.tables import format_value

bp = Blueprint(
    "reports_web",
    __name__,
    url_prefix="/reports",
    template_folder="templates",
    static_folder="static",
)

PAGE_MEASURES = ["commitment", "disbursement", "need", "gap", "coverage", "undisbursed", "projects"]
FILTER_KEYS = (
    "currency",
    "year_from",
    "year_to",
    "region",
    "country",
    "category",
    "priority_area",
    "source_kind",
    "status",
    "confirmed",
)
CHARTS = ("by-region", "by-area", "heat-map", "over-time", "sankey")


LIST_KEYS = ("region", "country", "category", "priority_area", "source_kind", "status")


def _spec_from_request() -> ReportSpec:
    """The page's form through the API's schema (its rows by / then by are the API's ``by``)."""
    args = request.args
    params: dict = {key: args.getlist(key) for key in LIST_KEYS}
    params |= {key: args.get(key) or None for key in ("currency", "year_from", "year_to", "confirmed")}
    params["by"] = [d for d in (args.get("by"), args.get("by2")) if d]
    params["measure"] = PAGE_MEASURES
    return load_spec(params)


def _filter_query(extra: dict | None = None) -> str:
    pairs = [(k, v) for k in FILTER_KEYS for v in request.args.getlist(k) if v]
    pairs += list((extra or {}).items())
    return urlencode(pairs)


def _charts(spec: ReportSpec) -> dict[str, str]:
    """Every chart of the page for the filters of ``spec`` (one pass over the flows for most)."""
    base = dataclasses.replace(spec, dimensions=["region"], measures=list(PAGE_MEASURES))
    # In USD every chart is one query over the report facts; in another currency one pass
    # over the flows (converted per day) serves the charts without a transaction dimension.
    if spec.currency == "USD":
        context, first = Context(queries.load_reference(), {}, {}), None
    else:
        context = load_context()
        first = stage_one(base, RowKeys(context.reference, base))
    cur = spec.currency

    def report(dims: list[str], reuse: bool = True) -> Report:
        one = dataclasses.replace(base, dimensions=dims)
        return run_report(one, first=first if reuse else None, context=context)

    by_region = report(["region"])
    by_area = report(["priority_area"])
    cross = report(["region", "priority_area"])
    by_year = report(["year"], reuse=False)
    kind_area = report(["source_kind", "priority_area"], reuse=False)

    def bars(rep: Report, dim: str) -> list[tuple[str, Decimal, Decimal | None]]:
        return [(str(r[f"{dim}_label"]), r["commitment"], r["need"]) for r in rep.rows]

    regions = [r["region"] for r in by_region.rows]
    area_codes = [r["priority_area"] for r in by_area.rows]
    values = {(r["region"], r["priority_area"]): r["commitment"] for r in cross.rows}
    timeline = [(str(r["year"]), r["commitment"], r["disbursement"]) for r in by_year.rows if r["year"] is not None]
    # Years after the last flow carry only need (planned projects): the flow lines end there
    # instead of falling to zero.
    while timeline and not timeline[-1][1] and not timeline[-1][2]:
        timeline.pop()
    first_links = [
        (
            label(r["source_kind"]) if r["source_kind"] else _("No funding source"),
            r["priority_area"],
            r["commitment"],
        )
        for r in kind_area.rows
        if r["commitment"] > 0
    ]
    second_links = [(r["priority_area"], r["region"], r["commitment"]) for r in cross.rows if r["commitment"] > 0]
    return {
        "by-region": charts.bar_chart(bars(by_region, "region"), _("Commitments and need by region"), cur),
        "by-area": charts.bar_chart(bars(by_area, "priority_area"), _("Commitments and need by priority area"), cur),
        "heat-map": charts.heat_map(regions, area_codes, values, _("Commitments: region x priority area"), cur),
        "over-time": charts.line_chart(timeline, _("Commitments and disbursements over time"), cur),
        "sankey": charts.sankey(
            first_links, second_links, _("From funding source kind to priority area to region"), cur
        ),
    }


def _choices() -> dict:
    regions = db.session.execute(
        select(Region.code, Region.name, Region.level)
        .where(Region.level.in_(("region", "subregion")))
        .order_by(Region.name)
    ).all()
    return {
        "dimensions": dimension_names(),
        "regions": regions,
        "categories": db.session.execute(
            select(RecipientCategory.code, RecipientCategory.name).order_by(RecipientCategory.code)
        ).all(),
        "areas": db.session.execute(
            select(PriorityArea.code, PriorityArea.short_name).order_by(PriorityArea.code)
        ).all(),
        "source_kinds": [(k.value, label(k.value)) for k in SourceKind],
        "statuses": [(s.value, label(s.value)) for s in ProjectStatus],
        # every currency a report can be converted to, the usual ones first
        "currencies": [*COMMON_CURRENCIES, *(c for c in money.convertible_currencies() if c not in COMMON_CURRENCIES)],
    }


COMMON_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "SEK", "CAD", "AUD", "XOF", "XAF")


@bp.get("/")
def index():
    """The reports page."""
    errors: dict = {}
    report = chart_svgs = None
    try:
        spec = _spec_from_request()
        report = run_report(spec)
        chart_svgs = _charts(spec)
    except ValidationError as exc:
        errors = exc.errors
    query = _filter_query()
    table_query = _filter_query({"by": request.args.get("by") or "region"})
    if request.args.get("by2"):
        table_query += "&" + urlencode({"by": request.args["by2"]})
    return (
        render_template(
            "reports/index.html",
            report=report,
            charts=chart_svgs,
            errors=errors,
            args=request.args,
            measures=PAGE_MEASURES,
            measure_names={m: measure_name(m) for m in PAGE_MEASURES},
            fmt=format_value,
            short=charts.short_amount,
            query=query,
            table_query=table_query,
            field_labels=FIELD_LABELS,
            **_choices(),
        ),
        422 if errors else 200,
    )


# The names of the page's filters as its form shows them, for its error messages.
FIELD_LABELS = {
    "by": _l("Rows by"),
    "by2": _l("Then by"),
    "currency": _l("Currency"),
    "year_from": _l("From year"),
    "year_to": _l("To year"),
    "region": _l("Region"),
    "category": _l("Category"),
    "priority_area": _l("Priority area"),
    "source_kind": _l("Source kind"),
    "status": _l("Project status"),
    "confirmed": _l("Flows counted"),
}


@bp.get("/charts/<name>.svg")
def chart(name: str):
    """One chart as an SVG file (the download button of each chart)."""
    if name not in CHARTS:
        abort(404)
    try:
        spec = _spec_from_request()
    except ValidationError as exc:
        return Response(exc.message, status=422, mimetype="text/plain")
    svg = _charts(spec)[name]
    return Response(
        svg,
        mimetype="image/svg+xml",
        headers={"Content-Disposition": f'attachment; filename="{name}.svg"'},
    )
