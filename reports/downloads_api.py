"""Flat downloads under /api/v1: /projects.csv|.xlsx|.jsonl, /transactions.* and
/funding-sources.*, and their data dictionary (/api/v1/downloads/dictionary.json).

Every format is streamed as the rows are read, the workbook too (zipped as it is written).
Every download counts against the export rate limit, checked before any row is read."""

from __future__ import annotations

from flask import Response, jsonify, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from registry.rate_limits import export_limit
from reports import downloads
from reports.downloads import FORMATS, RESOURCES, Choice

blp = Blueprint(
    "downloads",
    __name__,
    url_prefix="/api/v1",
    description="Flat downloads of projects, money flows and funding sources (CSV, XLSX, JSON Lines)",
)


def _headers(choice: Choice, suffix: str) -> dict:
    return {
        "Content-Disposition": f'attachment; filename="{choice.resource.name}.{suffix}"',
        # a proxy that buffers would hold the stream back until the end
        "X-Accel-Buffering": "no",
        "Cache-Control": "no-store",
    }


@export_limit
def _respond(choice: Choice, suffix: str) -> Response:
    if suffix == "xlsx":
        body = stream_with_context(downloads.xlsx_chunks(choice))
    elif suffix == "csv":
        body = stream_with_context(downloads.csv_chunks(choice))
    else:
        body = stream_with_context(downloads.jsonl_chunks(choice))
    return Response(body, mimetype=FORMATS[suffix], headers=_headers(choice, suffix))


def _route(resource: downloads.Resource, suffix: str) -> None:
    endpoint = downloads.endpoint(resource, suffix)
    query = downloads.query_schema(resource)

    def get(self, choice: Choice):
        return _respond(choice, suffix)

    get.__doc__ = (
        f"{resource.title}, one row per object, as {suffix.upper()}: the columns of the data dictionary "
        "(/api/v1/downloads/dictionary.json), the reports' filters; text cells safe from spreadsheet formulas."
    )
    get = blp.arguments(query, location="query", unknown=RAISE)(blp.response(200, content_type=FORMATS[suffix])(get))
    blp.route(f"/{resource.name}.{suffix}", endpoint=endpoint)(type(endpoint, (MethodView,), {"get": get}))


for _resource in RESOURCES.values():
    for _suffix in FORMATS:
        _route(_resource, _suffix)


@blp.route("/downloads/dictionary.json", endpoint="Dictionary")
class Dictionary(MethodView):
    @blp.response(200)
    def get(self):
        """The data dictionary of the downloads: every column's key, type and meaning."""
        return jsonify(downloads.dictionary())
