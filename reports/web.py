"""The reports page: filters, the table and server-drawn SVG charts, each with a download."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from markupsafe import Markup
from sqlalchemy import select

from registry import i18n, money
from registry.errors import ValidationError
from registry.extensions import db
from registry.models import Country, PriorityArea, RecipientCategory, Region
from registry.models.scope import INFRASTRUCTURE_LABELS, SCOPE_LABELS
from registry.models.types import WSIS_ACTION_LINES, ProjectStatus, SourceKind, label
from registry.reference_names import area_name, category_name, region_name
from reports import charts, dimensions, downloads, forward_page, maps, population, queries
from reports.dimensions import dimension_name, dimension_names, measure_name
from reports.flows import Context, Report, ReportSpec, RowKeys, load_context, run_report, stage_one
from reports.notes import shown
from reports.schemas import load_spec
from reports.tied import DEFINITION as TIED_DEFINITION
from reports.tied import MEASURES as TIED_MEASURES
from reports.tied import measure_title as tied_title
from reports.tied import tied_chart, tied_report

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
    "action_line",
    "scope",
    "infrastructure",
    "confirmed",
)
CHARTS = ("by-rows", "by-columns", "heat-map", "over-time", "sankey")
# What the page's table shows: the flows and gaps (the default), or the untied share.
VIEWS = ("flows", "untied")
# The names the first two charts had when they were always by region and by priority area.
FORMER_NAMES = {"by-region": "by-rows", "by-area": "by-columns"}


LIST_KEYS = (
    "region",
    "country",
    "category",
    "priority_area",
    "source_kind",
    "status",
    "action_line",
    "scope",
    "infrastructure",
)


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


# Where a dimension has many values (countries, donors), a chart shows the largest and sums
# the rest in one "others" bar, row, column or node, so that every one shown is labelled.
MOST_BARS, MOST_ROWS, MOST_COLUMNS, MOST_LINES, MOST_NODES = 20, 25, 20, 6, 10
UNFOLDED = {"year"}  # a timeline keeps every year, in their order
OTHERS = "\x00others"  # the key of the sum of the values not shown (no dimension has it)
# The flow diagram starts from where the money comes from: the first of these not already chosen.
ORIGINS = ("source_kind", "donor", "funding_source")


def chart_dimensions(spec: ReportSpec) -> tuple[str, str]:
    """The rows and columns of the charts: the page's "Rows by" and "Then by"; without a
    "Then by", priority areas (or regions, when the rows are priority areas)."""
    rows = spec.dimensions[0]
    if len(spec.dimensions) > 1:
        return rows, spec.dimensions[1]
    return rows, "priority_area" if rows != "priority_area" else "region"


def chart_headings(spec: ReportSpec) -> list[tuple[str, str]]:
    """(name, heading) of each chart of the page, for the chosen dimensions."""
    rows, cols = chart_dimensions(spec)
    return [
        ("by-rows", _("By %(dimension)s", dimension=dimension_name(rows).lower())),
        ("by-columns", _("By %(dimension)s", dimension=dimension_name(cols).lower())),
        ("heat-map", _("%(rows)s x %(columns)s", rows=dimension_name(rows), columns=dimension_name(cols))),
        ("over-time", _("Over time")),
        ("sankey", _("Flow diagram")),
    ]


def _others(count: int) -> str:
    return ngettext("%(num)d other", "%(num)d others", count)


def _largest(keys: list, weight: dict, most: int) -> tuple[list, set]:
    """The keys to show, in their order: all of them, or the ``most - 1`` largest by ``weight``
    and OTHERS for the rest; and the set of keys summed into OTHERS."""
    if len(keys) <= most:
        return keys, set()
    kept = set(sorted(keys, key=lambda k: -weight.get(k, 0))[: most - 1])
    return [k for k in keys if k in kept] + [OTHERS], {k for k in keys if k not in kept}


def _charts(spec: ReportSpec, names=CHARTS, known: Report | None = None) -> dict[str, str]:
    """The charts ``names`` of the page for the dimensions and filters of ``spec`` (one pass
    over the flows serves those without a flow-level dimension); ``known``: the page's report."""
    rows_dim, cols_dim = chart_dimensions(spec)
    base = dataclasses.replace(spec, dimensions=[rows_dim], measures=list(PAGE_MEASURES))
    # In USD every chart is one query over the report facts; in another currency one pass
    # over the flows (converted per day) serves the charts without a transaction dimension.
    if spec.currency == "USD":
        context, first = Context(queries.load_reference(), {}, {}), None
    else:
        context = load_context()
        first = stage_one(base, RowKeys(context.reference, base))
    cur = spec.currency
    reports: dict[tuple[str, ...], Report] = {}
    if known is not None:
        reports[tuple(known.spec.dimensions)] = known

    def report(*dims: str) -> Report:
        if dims not in reports:
            one = dataclasses.replace(base, dimensions=list(dims))
            reuse = first if not dimensions.flow_level(dims) else None
            reports[dims] = run_report(one, first=reuse, context=context)
        return reports[dims]

    def name_of(dim: str, row: dict) -> str:
        if row[dim] is None and dim in ORIGINS:
            return _("No funding source")
        return str(row[f"{dim}_label"])

    def bars(dim: str) -> str:
        rep = report(dim)
        keys = [r[dim] for r in rep.rows]
        most = len(keys) if dim in UNFOLDED else MOST_BARS
        shown, folded = _largest(keys, {r[dim]: r["commitment"] for r in rep.rows}, most)
        items = [(name_of(dim, r), r["commitment"], r["need"]) for r in rep.rows if r[dim] not in folded]
        if folded:
            rest = [r for r in rep.rows if r[dim] in folded]
            needs = [r["need"] for r in rest if r["need"] is not None]
            items.append((_others(len(folded)), sum(r["commitment"] for r in rest), sum(needs) if needs else None))
        title = _("Commitments and need by %(dimension)s", dimension=dimension_name(dim).lower())
        return charts.bar_chart(items, title, cur)

    def cross() -> Report:
        return report(rows_dim, cols_dim)

    def labelled(dim: str, rep: Report, most: int) -> tuple[list[tuple], dict]:
        """(key, label) of the values of ``dim`` in a cross-tab in its order, the largest
        ``most``, and key -> the key it is shown under (itself or OTHERS)."""
        lines = rep.margins.get(dim) or []
        keys = [r[dim] for r in lines]
        most = len(keys) if dim in UNFOLDED else most
        shown, folded = _largest(keys, {r[dim]: r["commitment"] for r in lines}, most)
        names = {r[dim]: name_of(dim, r) for r in lines}
        names[OTHERS] = _others(len(folded))
        under = {k: (OTHERS if k in folded else k) for k in keys}
        return [(k, names[k]) for k in shown], under

    def heat_map() -> str:
        rep = cross()
        rows, row_of = labelled(rows_dim, rep, MOST_ROWS)
        cols, col_of = labelled(cols_dim, rep, MOST_COLUMNS)
        values: dict[tuple, Decimal] = {}
        for r in rep.rows:
            key = (row_of.get(r[rows_dim], OTHERS), col_of.get(r[cols_dim], OTHERS))
            values[key] = values.get(key, Decimal(0)) + r["commitment"]
        title = _(
            "Commitments: %(rows)s x %(columns)s",
            rows=dimension_name(rows_dim).lower(),
            columns=dimension_name(cols_dim).lower(),
        )
        return charts.heat_map(rows, cols, values, title, cur)

    def over_time() -> str:
        if "year" in (rows_dim, cols_dim):  # the years are chosen: the two flows over them
            rep = report("year")
            years = [r for r in rep.rows if r["year"] is not None]
            labels = [str(r["year"]) for r in years]
            series = [
                (measure_name("commitment"), [r["commitment"] for r in years]),
                (measure_name("disbursement"), [r["disbursement"] for r in years]),
            ]
            title = _("Commitments and disbursements over time")
        else:  # one line of commitments per value of the rows
            rep = report(rows_dim, "year")
            lines, line_of = labelled(rows_dim, rep, MOST_LINES)
            labels = sorted({str(r["year"]) for r in rep.rows if r["year"] is not None})
            sums: dict[tuple, Decimal] = {}
            for r in rep.rows:
                if r["year"] is not None:
                    key = (line_of.get(r[rows_dim], OTHERS), str(r["year"]))
                    sums[key] = sums.get(key, Decimal(0)) + r["commitment"]
            series = [(name, [sums.get((key, y), Decimal(0)) for y in labels]) for key, name in lines]
            title = _("Commitments over time by %(dimension)s", dimension=dimension_name(rows_dim).lower())
        # Years after the last flow carry only need (planned projects): the lines end there
        # instead of falling to zero.
        while labels and not any(values[len(labels) - 1] for _name, values in series):
            labels = labels[:-1]
            series = [(name, values[:-1]) for name, values in series]
        return charts.line_chart(labels, series, title, cur)

    def sankey() -> str:
        origin = next(d for d in ORIGINS if d not in (rows_dim, cols_dim))
        rep_first, rep_second = report(origin, rows_dim), cross()
        first_links = [
            (name_of(origin, r), name_of(rows_dim, r), r["commitment"]) for r in rep_first.rows if r["commitment"] > 0
        ]
        second_links = [
            (name_of(rows_dim, r), name_of(cols_dim, r), r["commitment"])
            for r in rep_second.rows
            if r["commitment"] > 0
        ]
        first_links, second_links = _fold_links(first_links, second_links, MOST_NODES)
        names = tuple(dimension_name(d) for d in (origin, rows_dim, cols_dim))
        title = _(
            "From %(first)s to %(second)s to %(third)s",
            first=names[0].lower(),
            second=names[1].lower(),
            third=names[2].lower(),
        )
        return charts.sankey(first_links, second_links, title, cur, columns=names)

    draw = {
        "by-rows": lambda: bars(rows_dim),
        "by-columns": lambda: bars(cols_dim),
        "heat-map": heat_map,
        "over-time": over_time,
        "sankey": sankey,
    }
    return {name: draw[name]() for name in names}


def _fold_links(first: list[tuple], second: list[tuple], most: int) -> tuple[list[tuple], list[tuple]]:
    """The links of a flow diagram with at most ``most`` nodes in each column: the smaller
    nodes of a column summed into one (its others)."""
    columns = [
        [(a, v) for a, _b, v in first],
        [(b, v) for _a, b, v in first] + [(b, v) for b, _c, v in second],
        [(c, v) for _b, c, v in second],
    ]
    renames: list[dict[str, str]] = []
    for n, pairs in enumerate(columns):
        totals: dict[str, Decimal] = {}
        for name, v in pairs:
            totals[name] = totals.get(name, Decimal(0)) + v
        if n == 1:  # the middle column's money is counted once, not on both of its sides
            totals = {k: v / 2 for k, v in totals.items()}
        keys = list(totals)
        _shown, folded = _largest(keys, totals, most)
        other = _others(len(folded))
        renames.append({k: (other if k in folded else k) for k in keys})

    def merge(links: list[tuple], left: dict, right: dict) -> list[tuple]:
        out: dict[tuple[str, str], Decimal] = {}
        for a, b, v in links:
            key = (left[a], right[b])
            out[key] = out.get(key, Decimal(0)) + v
        return [(a, b, v) for (a, b), v in out.items()]

    return merge(first, renames[0], renames[1]), merge(second, renames[1], renames[2])


def compact_amount(value: Decimal | None, currency: str) -> Markup:
    """An amount as read at a glance (6.75 bn, 12,346) in an element whose hover title is the
    exact figure to the currency's minor unit (6,750,123,456.78 USD); the downloads carry it too."""
    if value is None:
        return Markup("–")
    return Markup('<data class="amount-compact" value="{raw}" title="{exact}">{short}</data>').format(
        raw=f"{Decimal(value):f}", exact=i18n.money(value, currency), short=i18n.compact_number(value)
    )


def measure_cell(measure: str, value, currency: str) -> Markup | str:
    """A measure's value in a table cell: amounts abbreviated with the exact figure on hover,
    coverage as a percentage, the projects counted, as the reader's locale writes numbers."""
    if value is None:
        return "–"
    if measure == "projects":
        return i18n.number(value)
    if measure in ("coverage", "untied_share"):
        return i18n.percent(value)
    return compact_amount(Decimal(value), currency)


def _choices() -> dict:
    regions = db.session.execute(
        select(Region.code, Region.name, Region.level)
        .where(Region.level.in_(("region", "subregion")))
        .order_by(Region.name)
    ).all()
    categories = db.session.execute(
        select(RecipientCategory.code, RecipientCategory.name).order_by(RecipientCategory.code)
    ).all()
    areas = db.session.execute(select(PriorityArea.code, PriorityArea.short_name).order_by(PriorityArea.code)).all()
    if not dimensions.in_english():  # the reference data's names in the reader's language
        regions = i18n.sorted_by_name(
            [(code, region_name(code, name), level) for code, name, level in regions], key=lambda r: r[1]
        )
        categories = [(code, category_name(code, name)) for code, name in categories]
        areas = [(code, area_name(code, name)) for code, name in areas]
    return {
        "dimensions": dimension_names(),
        "regions": regions,
        "categories": categories,
        "areas": areas,
        "source_kinds": [(k.value, label(k.value)) for k in SourceKind],
        "statuses": [(s.value, label(s.value)) for s in ProjectStatus],
        "action_lines": [(code, _(text)) for code, text in WSIS_ACTION_LINES.items()],
        "scopes": [(code, _(text)) for code, text in SCOPE_LABELS.items()],
        "infrastructures": [(code, _(text)) for code, text in INFRASTRUCTURE_LABELS.items()],
        # every currency a report can be converted to, the usual ones first
        "currencies": [*COMMON_CURRENCIES, *(c for c in money.convertible_currencies() if c not in COMMON_CURRENCIES)],
    }


COMMON_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "SEK", "CAD", "AUD", "XOF", "XAF")


@bp.get("/")
def index():
    """The reports page."""
    errors: dict = {}
    report = chart_svgs = world_map = tied = forward = None
    map_measure = request.args.get("map") if request.args.get("map") in maps.MEASURES else "gap"
    view = request.args.get("view") if request.args.get("view") in VIEWS else "flows"
    try:
        spec = _spec_from_request()
        report = run_report(spec)
        chart_svgs = _charts(spec, known=report)
        world_map = _map(spec, map_measure)
        if view == "untied":  # by the rows only: four statuses by two dimensions would not read
            tied = tied_report(dataclasses.replace(spec, dimensions=spec.dimensions[:1]))
            tied["chart"] = tied_chart(tied, dimension_name(spec.dimensions[0]).lower())
        forward = forward_page.forward_section(spec)
    except ValidationError as exc:
        errors = exc.errors
    query = _filter_query()
    table_query = _filter_query({"by": request.args.get("by") or "region"})
    tied_query = table_query
    if request.args.get("by2"):
        table_query += "&" + urlencode({"by": request.args["by2"]})
    keep = [(k, v) for k in (*FILTER_KEYS, "by", "by2", "map") for v in request.args.getlist(k) if v]
    view_links = {v: "?" + urlencode([*keep, *([("view", v)] if v != "flows" else [])]) for v in VIEWS}
    return (
        render_template(
            "reports/index.html",
            report=report,
            charts=chart_svgs,
            chart_headings=chart_headings(spec) if report else [],
            errors=errors,
            args=request.args,
            measures=PAGE_MEASURES,
            measure_names={m: measure_name(m) for m in PAGE_MEASURES},
            cell=measure_cell,
            amount=compact_amount,
            query=query,
            table_query=table_query,
            downloads=downloads.page_links(request.args),
            field_labels=FIELD_LABELS,
            note_text=shown,
            world_map=world_map,
            map_measure=map_measure,
            map_measure_name=maps.map_measure_name(map_measure),
            map_choices=_map_choices(),
            per_person_note=maps.per_person_note,
            population_source=str(population.SOURCE),
            country_pages=set(db.session.scalars(select(Country.iso3))),
            map_query=_filter_query({"measure": map_measure}),
            view=view,
            view_links=view_links,
            tied=tied,
            tied_measures=TIED_MEASURES,
            tied_title=tied_title,
            tied_definition=TIED_DEFINITION,
            tied_query=tied_query,
            forward=forward,
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
    "action_line": _l("WSIS action line"),
    "confirmed": _l("Flows counted"),
}


@bp.get("/charts/<name>.svg")
def chart(name: str):
    """One chart as an SVG file (the download button of each chart), named after what it shows:
    by-donor.svg, heat-map-region-year.svg."""
    name = FORMER_NAMES.get(name, name)
    if name not in CHARTS:
        abort(404)
    try:
        spec = _spec_from_request()
    except ValidationError as exc:
        return Response(exc.message, status=422, mimetype="text/plain")
    svg = _charts(spec, names=[name])[name]
    rows, cols = chart_dimensions(spec)
    filename = {"by-rows": f"by-{rows}", "by-columns": f"by-{cols}", "heat-map": f"heat-map-{rows}-{cols}"}
    return Response(
        svg,
        mimetype="image/svg+xml",
        headers={"Content-Disposition": f'attachment; filename="{filename.get(name, name)}.svg"'},
    )


def _map(
    spec: ReportSpec, measure: str, highlight: str | None = None, page: bool = True, known: Report | None = None
) -> tuple[maps.MapData, str]:
    """The world map of ``measure`` by recipient country for the page's filters: (its data, its
    SVG); on the page the amounts not allocated to one country are its table, not in the drawing.
    ``known``: the report by country with the map's measures, when the caller has it already."""
    if known is None:
        by_country = dataclasses.replace(spec, dimensions=["country"], measures=list(maps.REPORT_MEASURES))
        known = run_report(by_country)
    countries = set(db.session.scalars(select(Country.iso3)))
    data = maps.map_data(known, measure, countries)
    title = _("%(measure)s by recipient country", measure=maps.map_measure_name(measure))
    link = (lambda iso3: url_for("countries.country", iso3=iso3)) if page else None
    return data, maps.svg(data, title, highlight=highlight, list_apart=not page, link=link)


def _map_choices() -> list[tuple[str, str, str]]:
    """(measure, name, the page's address showing it) of each measure the map can show."""
    keep = [(k, v) for k in (*FILTER_KEYS, "by", "by2") for v in request.args.getlist(k) if v]
    return [(m, maps.map_measure_name(m), "?" + urlencode([*keep, ("map", m)]) + "#map") for m in maps.MEASURES]


@bp.get("/map.svg")
def map_svg():
    """The world map as an SVG file: ``measure`` (commitment, disbursement, need, gap, coverage,
    commitment_per_capita, disbursement_per_capita), the reports' filters, and ``highlight`` (an
    ISO alpha-3 code) to outline one country."""
    measure = request.args.get("measure") or "gap"
    if measure not in maps.MEASURES:
        return Response(_("Unknown measure: %(measure)s", measure=measure), status=422, mimetype="text/plain")
    try:
        spec = _spec_from_request()
    except ValidationError as exc:
        return Response(exc.message, status=422, mimetype="text/plain")
    highlight = (request.args.get("highlight") or "").upper() or None
    _data, svg = _map(spec, measure, highlight=highlight, page=False)
    return Response(
        svg,
        mimetype="image/svg+xml",
        headers={"Content-Disposition": f'attachment; filename="map-{measure}.svg"'},
    )
