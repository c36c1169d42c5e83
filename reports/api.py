"""Report endpoints under /api/v1/reports: JSON, CSV and XLSX of flows and funding gaps."""

from __future__ import annotations

import re

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from reports.flows import run_report
from reports.schemas import GapQuery, ReportOut, ReportQuery
from reports.spec import ReportSpec
from reports.tables import to_csv
from reports.workbook import funding_gap_workbook, report_workbook

blp = Blueprint(
    "reports",
    __name__,
    url_prefix="/api/v1/reports",
    description="Funding flows and gaps, reconciled to the cent",
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
    def get(self, spec: ReportSpec):
        """Share-weighted flows by one or two dimensions; amounts as decimal strings."""
        return run_report(spec).as_json()


@blp.route("/flows.csv")
class FlowsCsv(MethodView):
    @blp.arguments(ReportQuery, location="query", unknown=RAISE)
    @blp.response(200, content_type="text/csv")
    def get(self, spec: ReportSpec):
        """The flows report as CSV (text cells safe from spreadsheet formulas)."""
        report = run_report(spec)
        return _download(to_csv(report), "text/csv", _file_name("flows", report.spec, "csv"))


@blp.route("/flows.xlsx")
class FlowsXlsx(MethodView):
    @blp.arguments(ReportQuery, location="query", unknown=RAISE)
    @blp.response(200, content_type=XLSX)
    def get(self, spec: ReportSpec):
        """The flows report as a workbook (About sheet and the table)."""
        report = run_report(spec)
        return _download(report_workbook(report), XLSX, _file_name("flows", report.spec, "xlsx"))


@blp.route("/funding-gap")
class FundingGap(MethodView):
    @blp.arguments(GapQuery, location="query", unknown=RAISE)
    @blp.response(200, ReportOut)
    def get(self, spec: ReportSpec):
        """Need, commitments, funding gap, coverage and undisbursed balance by one or two dimensions."""
        return run_report(spec).as_json()


@blp.route("/funding-gap.csv")
class FundingGapCsv(MethodView):
    @blp.arguments(GapQuery, location="query", unknown=RAISE)
    @blp.response(200, content_type="text/csv")
    def get(self, spec: ReportSpec):
        """The funding-gap report as CSV."""
        report = run_report(spec)
        return _download(to_csv(report), "text/csv", _file_name("funding-gap", report.spec, "csv"))


@blp.route("/funding-gap.xlsx")
class FundingGapXlsx(MethodView):
    @blp.arguments(GapQuery, location="query", unknown=RAISE)
    @blp.response(200, content_type=XLSX)
    def get(self, spec: ReportSpec):
        """The analyst's funding-gap workbook (About, Summary, By region, ... Projects with a gap)."""
        return _download(funding_gap_workbook(spec), XLSX, _file_name("funding-gap", spec, "xlsx", by=False))
