"""Report endpoints under /api/v1/reports: JSON, CSV and XLSX of flows and funding gaps."""

from __future__ import annotations

import re

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields

from reports.flows import GAP_MEASURES, MEASURES, Report, build_spec, run_report
from reports.tables import to_csv
from reports.workbook import funding_gap_workbook, report_workbook

blp = Blueprint(
    "reports",
    __name__,
    url_prefix="/api/v1/reports",
    description="Funding flows and gaps, reconciled to the cent",
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportQuery(Schema):
    """Dimensions, measures, filters and currency; lists repeat or use commas (by=region&by=priority_area)."""

    class Meta:
        unknown = RAISE

    by = fields.List(fields.String(), load_default=list, metadata={"description": "one or two dimensions"})
    measure = fields.List(fields.String(), load_default=list, metadata={"description": "measures (default: all)"})
    currency = fields.String(load_default="USD")
    year_from = fields.String(load_default=None)
    year_to = fields.String(load_default=None)
    region = fields.List(fields.String(), load_default=list, metadata={"description": "M49 codes, e.g. 002"})
    country = fields.List(fields.String(), load_default=list, metadata={"description": "ISO3 codes"})
    category = fields.List(fields.String(), load_default=list)
    priority_area = fields.List(fields.String(), load_default=list)
    source_kind = fields.List(fields.String(), load_default=list)
    donor = fields.List(fields.String(), load_default=list, metadata={"description": "organisation refs"})
    status = fields.List(fields.String(), load_default=list)
    confirmed = fields.String(
        load_default="all",
        metadata={
            "description": "all (default): every flow, the meta says how much is unconfirmed; only: flows "
            "confirmed by the organisation that manages their funding source"
        },
    )


class ReportOut(Schema):
    dimensions = fields.List(fields.String())
    measures = fields.List(fields.String())
    currency = fields.String()
    filters = fields.Dict()
    rows = fields.List(fields.Dict())
    total = fields.Dict()
    notes = fields.List(fields.String())
    generated_at = fields.String()
    exchange_rates = fields.String()
    margins = fields.Dict(
        metadata={
            "description": "two dimensions: each dimension's totals, which the cross-tab's rows/columns add up to"
        }
    )
    confirmation = fields.Dict(
        metadata={"description": "confirmed (all|only), unconfirmed_flows, unconfirmed_included, unconfirmed_amounts"}
    )
    conversion = fields.Dict(
        metadata={"description": "amounts converted at IMF annual rates (and their share), and amounts not converted"}
    )
    transaction_types = fields.Dict(metadata={"description": "the IATI transaction types each measure counts"})


def _report(args: dict, default_measures) -> Report:
    params = dict(args)
    params["measures"] = params.pop("measure")
    return run_report(build_spec(default_measures=default_measures, **params))


def _file_name(stem: str, spec, suffix: str, by: bool = True) -> str:
    """A download's name that says what it holds, filters included:
    flows-by-region-priority_area-EUR-areas-23b-year_from-2020.csv."""
    parts = [stem]
    if by and spec.dimensions:
        parts.append("by-" + "-".join(spec.dimensions))
    parts.append(spec.currency)
    for name, value in spec.filters().items():
        values = value if isinstance(value, list) else [value]
        parts.append(f"{name}-" + "+".join(str(v) for v in values))
    name = re.sub(r"[^A-Za-z0-9_.+-]+", "_", "-".join(parts))
    return f"{name[:150]}.{suffix}"


def _download(body: bytes | str, mimetype: str, filename: str) -> Response:
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@blp.route("/flows")
class Flows(MethodView):
    @blp.arguments(ReportQuery, location="query", unknown=RAISE)
    @blp.response(200, ReportOut)
    def get(self, args):
        """Share-weighted flows by one or two dimensions; amounts as decimal strings."""
        return _report(args, tuple(MEASURES)).as_json()


@blp.route("/flows.csv")
class FlowsCsv(MethodView):
    @blp.arguments(ReportQuery, location="query", unknown=RAISE)
    @blp.response(200, content_type="text/csv")
    def get(self, args):
        """The flows report as CSV (text cells safe from spreadsheet formulas)."""
        report = _report(args, tuple(MEASURES))
        return _download(to_csv(report), "text/csv", _file_name("flows", report.spec, "csv"))


@blp.route("/flows.xlsx")
class FlowsXlsx(MethodView):
    @blp.arguments(ReportQuery, location="query", unknown=RAISE)
    @blp.response(200, content_type=XLSX)
    def get(self, args):
        """The flows report as a workbook (About sheet and the table)."""
        report = _report(args, tuple(MEASURES))
        return _download(report_workbook(report), XLSX, _file_name("flows", report.spec, "xlsx"))


@blp.route("/funding-gap")
class FundingGap(MethodView):
    @blp.arguments(ReportQuery, location="query", unknown=RAISE)
    @blp.response(200, ReportOut)
    def get(self, args):
        """Need, commitments, funding gap, coverage and undisbursed balance by one or two dimensions."""
        return _report(args, GAP_MEASURES).as_json()


@blp.route("/funding-gap.csv")
class FundingGapCsv(MethodView):
    @blp.arguments(ReportQuery, location="query", unknown=RAISE)
    @blp.response(200, content_type="text/csv")
    def get(self, args):
        """The funding-gap report as CSV."""
        report = _report(args, GAP_MEASURES)
        return _download(to_csv(report), "text/csv", _file_name("funding-gap", report.spec, "csv"))


@blp.route("/funding-gap.xlsx")
class FundingGapXlsx(MethodView):
    @blp.arguments(ReportQuery, location="query", unknown=RAISE)
    @blp.response(200, content_type=XLSX)
    def get(self, args):
        """The analyst's funding-gap workbook (About, Summary, By region, ... Projects with a gap)."""
        params = dict(args)
        params["measures"] = params.pop("measure")
        spec = build_spec(default_measures=GAP_MEASURES, **params)
        return _download(funding_gap_workbook(spec), XLSX, _file_name("funding-gap", spec, "xlsx", by=False))
