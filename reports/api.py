"""Report endpoints under /api/v1/reports: JSON, CSV and XLSX of flows and funding gaps."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Response, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE

from registry.api.jobs import accepted, wants_async
from registry.auth import Unauthorised, current_user
from registry.rate_limits import export_limit
from reports.flows import run_report
from reports.schemas import GapQuery, ReportOut, ReportQuery
from reports.spec import ReportSpec
from reports.tables import to_csv
from reports.tied import tied_csv, tied_report
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


def _as_json(spec: ReportSpec) -> dict:
    return run_report(spec).as_json()


def _as_csv(stem: str) -> Callable[[ReportSpec], Response]:
    @export_limit
    def respond(spec: ReportSpec) -> Response:
        report = run_report(spec)
        return _download(to_csv(report), "text/csv", _file_name(stem, report.spec, "csv"))

    return respond


@export_limit
def _flows_workbook(spec: ReportSpec) -> Response:
    report = run_report(spec)
    return _download(report_workbook(report), XLSX, _file_name("flows", report.spec, "xlsx"))


@export_limit
def _gap_workbook(spec: ReportSpec) -> Response:
    if wants_async():  # a large export: made by a queue worker, downloaded from the job
        from reports.jobs import start_gap_export

        user = current_user()
        if user is None:
            raise Unauthorised(_("Log in or send an API token to queue an export"))
        return accepted(start_gap_export(request.query_string.decode(), user))
    return _download(funding_gap_workbook(spec), XLSX, _file_name("funding-gap", spec, "xlsx", by=False))


def _route(path: str, endpoint: str, query: type[ReportQuery], doc: str, respond, **response) -> None:
    """A GET endpoint answering ``respond(spec)``, its parameters loaded through ``query``
    (a bad one: 422 naming it) and documented in the OpenAPI document with ``doc``."""

    def get(self, spec: ReportSpec):
        return respond(spec)

    get.__doc__ = doc
    get = blp.arguments(query, location="query", unknown=RAISE)(blp.response(200, **response)(get))
    blp.route(path, endpoint=endpoint)(type(endpoint, (MethodView,), {"get": get}))


_route(
    "/flows",
    "Flows",
    ReportQuery,
    "Share-weighted flows by one or two dimensions; amounts as decimal strings.",
    _as_json,
    schema=ReportOut,
)
_route(
    "/flows.csv",
    "FlowsCsv",
    ReportQuery,
    "The flows report as CSV (text cells safe from spreadsheet formulas).",
    _as_csv("flows"),
    content_type="text/csv",
)
_route(
    "/flows.xlsx",
    "FlowsXlsx",
    ReportQuery,
    "The flows report as a workbook (About sheet and the table).",
    _flows_workbook,
    content_type=XLSX,
)
_route(
    "/tied",
    "TiedStatus",
    ReportQuery,
    "Commitments by OECD DAC tying status (tied, partially tied, untied, unknown) and the untied share "
    "untied / (tied + partially tied + untied), unknown apart and never counted as untied, by one or two "
    "dimensions (measure is ignored).",
    lambda spec: tied_report(spec),
)


@export_limit
def _tied_csv(spec: ReportSpec) -> Response:
    return _download(tied_csv(tied_report(spec)), "text/csv", _file_name("untied-share", spec, "csv"))


_route(
    "/tied.csv",
    "TiedStatusCsv",
    ReportQuery,
    "The untied share as CSV: per row the commitments tied, partially tied, untied and of unknown status "
    "(never counted as untied) and the untied share as a fraction of 1; the total last.",
    _tied_csv,
    content_type="text/csv",
)
_route(
    "/funding-gap",
    "FundingGap",
    GapQuery,
    "Need, commitments, funding gap, coverage and undisbursed balance by one or two dimensions.",
    _as_json,
    schema=ReportOut,
)
_route(
    "/funding-gap.csv",
    "FundingGapCsv",
    GapQuery,
    "The funding-gap report as CSV.",
    _as_csv("funding-gap"),
    content_type="text/csv",
)
_route(
    "/funding-gap.xlsx",
    "FundingGapXlsx",
    GapQuery,
    "The analyst's funding-gap workbook (About, Summary, By region, ... Projects with a gap).",
    _gap_workbook,
    content_type=XLSX,
)
