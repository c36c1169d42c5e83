"""A dimension declared in the registry alone is a report parameter on every channel.

The test declares a throwaway flow-level dimension over an existing column (a flow's IATI
aid type), with no fact column, no schema field, no label code and no CLI option of its own,
and checks that the schema accepts it, that the OpenAPI document lists it with its meaning,
and that the API, the page and the command line report by it, with figures that equal the
test's own sums of its flows and add up to the report's total.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from flask import Flask
from flask_smorest import Api

from registry.errors import ValidationError
from registry.models import Transaction
from reports import dimensions
from reports.api import blp
from reports.dimensions import Dimension, Level
from reports.flow_sums import TxFilter, facts_apply
from reports.schemas import ReportQuery, build_spec

MEANING = "IATI aid type of the flow (A01 budget support, C01 project-type...)"


def _declare() -> Dimension:
    return dimensions.register(Dimension("aid_type", "Aid type", MEANING, Level.FLOW, sql=lambda: Transaction.aid_type))


def _by_parameter(config) -> dict:
    """The parameter ``by`` of the reports' OpenAPI document, built now (flask-smorest builds
    the document when the blueprint is registered) from the app's settings, by an API object
    of its own: the app's document, shared by every app of the process, stays as it is."""
    fresh = Flask("openapi")
    fresh.config.update({k: v for k, v in config.items() if k.startswith(("API_", "OPENAPI_"))})
    Api(fresh).register_blueprint(blp)
    doc = fresh.test_client().get("/api/v1/openapi.json").get_json()
    params = doc["paths"]["/api/v1/reports/flows"]["get"]["parameters"]
    return next(p for p in params if p["name"] == "by")


def _by_parameter_of(app) -> dict:
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    return next(p for p in doc["paths"]["/api/v1/reports/flows"]["get"]["parameters"] if p["name"] == "by")


@pytest.fixture
def aid_type(app):
    declared = _declare()
    yield declared
    dimensions.unregister("aid_type")


@pytest.fixture
def aid_flows(make_project, make_transaction):
    """Flows of three aid types (one none) in projects spread over countries and a region."""
    spread = make_project(
        recipients=[{"country": "KEN", "share": Decimal("33.3333")}, {"country": "UGA", "share": Decimal("66.6667")}],
        areas=[{"code": "23a", "share": Decimal("50")}, {"code": "23b", "share": Decimal("50")}],
    )
    regional = make_project(recipients=[{"region": "002"}], areas=[{"code": "23c"}])
    flows = [
        (spread, "A01", "1000.01"),
        (spread, "C01", "333.33"),
        (regional, "C01", "0.07"),
        (regional, None, "250.00"),
        (spread, "A01", "12345.67"),
    ]
    for project, aid, amount in flows:
        make_transaction(project, amount=Decimal(amount), aid_type=aid, value_date=dt.date(2021, 3, 1))
    expected: dict[str | None, Decimal] = {}
    for _project, aid, amount in flows:
        expected[aid] = expected.get(aid, Decimal(0)) + Decimal(amount)
    return expected


def test_the_schema_accepts_a_dimension_once_it_is_declared(app):
    with pytest.raises(ValidationError) as refused:
        build_spec(by="aid_type")
    assert "Unknown dimension 'aid_type'" in refused.value.errors["by"][0]
    _declare()
    try:
        assert ReportQuery().load({"by": ["aid_type", "region"]}).dimensions == ["aid_type", "region"]
        # a flow-level dimension without a fact column is read from the transactions
        assert not facts_apply(["aid_type"], TxFilter()) and facts_apply(["donor"], TxFilter())
    finally:
        dimensions.unregister("aid_type")


def test_the_openapi_document_lists_a_declared_dimension_with_its_meaning(app):
    before = _by_parameter(app.config)
    assert before == _by_parameter_of(app)  # the app's own document, built the same way
    assert "aid_type" not in before["schema"]["items"]["enum"]
    _declare()
    try:
        after = _by_parameter(app.config)
    finally:
        dimensions.unregister("aid_type")
    assert after["schema"]["items"]["enum"] == [*before["schema"]["items"]["enum"], "aid_type"]
    assert after["schema"]["x-enum-descriptions"]["aid_type"] == f"Aid type: {MEANING}"
    assert f"`aid_type`: Aid type: {MEANING}" in after["description"]


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_reports_by_a_declared_dimension_add_up(client, aid_type, aid_flows, currency):
    url = f"/api/v1/reports/flows?by=aid_type&measure=commitment&currency={currency}"
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    rows = {row["aid_type"]: Decimal(row["commitment"]) for row in report["rows"]}
    assert sum(rows.values()) == Decimal(report["total"]["commitment"])
    by_region = client.get(f"/api/v1/reports/flows?by=region&measure=commitment&currency={currency}").get_json()
    assert report["total"]["commitment"] == by_region["total"]["commitment"]
    if currency == "USD":
        # a flow-level dimension takes each flow whole: the test's own sums of its flows
        assert rows == {aid: total for aid, total in aid_flows.items()}
        assert {row["aid_type_label"] for row in report["rows"]} == {"A01", "C01", "Not recorded"}
    cross = client.get(f"/api/v1/reports/flows?by=aid_type&by=country&measure=commitment&currency={currency}")
    cross = cross.get_json()
    for aid, margin in zip(
        [m["aid_type"] for m in cross["margins"]["aid_type"]], cross["margins"]["aid_type"], strict=True
    ):
        cells = [Decimal(r["commitment"]) for r in cross["rows"] if r["aid_type"] == aid]
        assert sum(cells) == Decimal(margin["commitment"]) == rows[aid]


def test_the_page_and_the_command_line_take_a_declared_dimension(client, runner, aid_type, aid_flows):
    page = client.get("/reports/?by=aid_type")
    assert page.status_code == 200
    html = page.data.decode()
    assert '<option value="aid_type" selected>Aid type</option>' in html and "A01" in html
    result = runner.invoke(args=["report", "flows", "--by", "aid_type", "--measure", "commitment", "--format", "json"])
    assert result.exit_code == 0, result.output
    api = client.get("/api/v1/reports/flows?by=aid_type&measure=commitment").get_json()
    assert json.loads(result.output)["rows"] == api["rows"]
