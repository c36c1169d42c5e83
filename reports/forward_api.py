"""Forward view and predictability under /api/v1/reports: the measures of ``reports.forward``
as JSON, and the forward-spending report as JSON and CSV."""

from __future__ import annotations

import csv
import io

from flask import Response
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import RAISE, Schema, fields, validate

from registry.rate_limits import export_limit
from registry.spreadsheet_safety import safe_text
from reports.api import blp
from reports.forward import FORWARD_DIMENSIONS, forward_spending, predictability
from reports.schemas import Currency, Year


class PredictabilityQuery(Schema):
    currency = Currency(load_default="USD", metadata={"description": "Reporting currency (ISO 4217)"})
    year_from = Year("First year shown (default: the first year planned)")
    year_to = Year("Last year shown (default: the last year planned)")
    donor = fields.List(fields.String(), load_default=list, metadata={"description": "Donor organisation reference"})


class ForwardQuery(Schema):
    by = fields.String(load_default="country", validate=validate.OneOf(FORWARD_DIMENSIONS))
    currency = Currency(load_default="USD", metadata={"description": "Reporting currency (ISO 4217)"})
    start_year = Year("First of the three years (default: next year)")
    donor = fields.List(fields.String(), load_default=list, metadata={"description": "Donor organisation reference"})


def _predictability_args(args: dict) -> dict:
    years = None
    if args.get("year_from") and args.get("year_to"):
        years = range(args["year_from"], args["year_to"] + 1)
    return {"currency": args["currency"], "years": years, "donors": args["donor"]}


@blp.route("/predictability", endpoint="Predictability")
class Predictability(MethodView):
    @blp.arguments(PredictabilityQuery, location="query", unknown=RAISE)
    @blp.response(200)
    def get(self, args):
        """Planned and disbursed by year with the in-year predictability (the registry's own ratio:
        disbursed in a year / planned for it, not capped; not the Paris Declaration indicator 7 or
        GPEDC indicator 5a computation per provider and recipient country), absorption (disbursed /
        committed) and the median days from first commitment to first disbursement, by donor."""
        return predictability(**_predictability_args(args))


@blp.route("/forward-spending", endpoint="ForwardSpending")
class ForwardSpending(MethodView):
    @blp.arguments(ForwardQuery, location="query", unknown=RAISE)
    @blp.response(200)
    def get(self, args):
        """What is planned to be disbursed in each of the next three years by country, region or
        priority area, each plan split by the project's shares to the cent."""
        return forward_spending(args["by"], args["currency"], args["start_year"], args["donor"])


def forward_csv(report: dict) -> str:
    """The forward-spending report as CSV: the key (a code machines read back), then a column a
    year and the total; the notes after a blank line."""
    out = io.StringIO()
    writer = csv.writer(out)
    years = [str(y) for y in report["years"]]
    writer.writerow([report["dimension"], *years, _("Total"), _("Currency")])
    for row in [*report["rows"], {"key": _("Total"), **report["total"]}]:
        writer.writerow([safe_text(row["key"]), *(row[y] for y in years), row["total"], report["currency"]])
    if report["notes"]:
        writer.writerow([])
        for note in report["notes"]:
            writer.writerow([safe_text(note)])
    return out.getvalue()


@blp.route("/forward-spending.csv", endpoint="ForwardSpendingCsv")
class ForwardSpendingCsv(MethodView):
    @blp.arguments(ForwardQuery, location="query", unknown=RAISE)
    @blp.response(200, content_type="text/csv")
    @export_limit
    def get(self, args):
        """The forward-spending report as CSV."""
        report = forward_spending(args["by"], args["currency"], args["start_year"], args["donor"])
        name = f"forward-spending-by-{report['dimension']}-{report['currency']}-{report['years'][0]}.csv"
        return Response(
            forward_csv(report), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )
