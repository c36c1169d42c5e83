"""The API, the command line and the page give the same numbers; bad names are 4xx."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import openpyxl
import pytest


def test_api_shape(client, registry_data):
    response = client.get("/api/v1/reports/flows?by=region&by=priority_area&measure=commitment&measure=gap")
    assert response.status_code == 200
    body = response.get_json()
    assert body["dimensions"] == ["region", "priority_area"]
    assert body["currency"] == "USD"
    assert set(body) >= {"dimensions", "currency", "filters", "rows", "total", "notes"}
    row = body["rows"][0]
    assert {"region", "priority_area", "commitment", "gap"} <= set(row)
    assert isinstance(row["commitment"], str)
    total = sum(Decimal(r["commitment"]) for r in body["rows"])
    assert str(total) == body["total"]["commitment"]


def test_api_filters_are_echoed(client, registry_data):
    body = client.get("/api/v1/reports/funding-gap?by=country&region=002&year_from=2020").get_json()
    assert body["filters"] == {"regions": ["002"], "year_from": 2020}
    assert "gap" in body["rows"][0] and "coverage" in body["rows"][0]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("by=planet", "by"),
        ("measure=profit", "measure"),
        ("by=region&by=country&by=year", "by"),
        ("currency=XXX", "currency"),
        ("year_from=soon", "year_from"),
        ("country=ATL", "country"),
        ("priority_area=99z", "priority_area"),
    ],
)
def test_api_rejects_bad_names(client, query, field):
    response = client.get(f"/api/v1/reports/flows?{query}")
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422
    assert field in body["errors"]


def test_api_rejects_unknown_parameters(client):
    response = client.get("/api/v1/reports/flows?colour=red")
    assert response.status_code == 422


def test_api_csv_and_xlsx(client, registry_data):
    response = client.get("/api/v1/reports/flows.csv?by=country")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.decode().splitlines()[0].startswith("country,Country,")
    assert 'filename="flows-by-country-USD.csv"' in response.headers["Content-Disposition"]
    response = client.get("/api/v1/reports/flows.xlsx?by=region&by=priority_area&currency=EUR")
    assert 'filename="flows-by-region-priority_area-EUR.xlsx"' in response.headers["Content-Disposition"]
    response = client.get("/api/v1/reports/funding-gap.xlsx?region=002")
    assert response.status_code == 200
    # the filters are in the name: a filtered download never takes an unfiltered one's name
    assert 'filename="funding-gap-USD-regions-002.xlsx"' in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert "Projects with a gap" in book.sheetnames
    assert client.get("/api/v1/reports/funding-gap.csv?by=nope").status_code == 422
    response = client.get("/api/v1/reports/flows.csv?by=region&priority_area=23b&year_from=2020")
    assert 'filename="flows-by-region-USD-year_from-2020-areas-23b.csv"' in response.headers["Content-Disposition"]


def test_cli_prints_the_api_numbers(runner, client, registry_data):
    result = runner.invoke(args=["report", "flows", "--by", "region", "--measure", "commitment", "--format", "json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    api = client.get("/api/v1/reports/flows?by=region&measure=commitment").get_json()
    assert cli["rows"] == api["rows"] and cli["total"] == api["total"]
    table = runner.invoke(args=["report", "gap", "--by", "priority_area"])
    assert table.exit_code == 0
    assert "Total" in table.output and "Funding gap (USD)" in table.output


def test_cli_rejects_bad_dimension(runner):
    result = runner.invoke(args=["report", "flows", "--by", "galaxy"])
    assert result.exit_code == 2
    assert "Unknown dimension 'galaxy'" in result.output


def test_cli_export_funding_gap(runner, registry_data, tmp_path):
    out = tmp_path / "gap.xlsx"
    result = runner.invoke(args=["export", "funding-gap", str(out), "--currency", "EUR"])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[0] == "About"


def test_export_group_is_shared(app):
    """`export funding-gap` joins an existing export group rather than replacing it."""
    import click
    from flask.cli import AppGroup

    from reports.cli import _add_to_group, funding_gap_command

    other = AppGroup("export")

    @other.command("iati")
    def iati():  # pragma: no cover - only listed
        click.echo("iati")

    commands = dict(app.cli.commands)
    try:
        app.cli.commands.pop("export", None)
        app.cli.add_command(other)
        _add_to_group(app, "export", "Exports", funding_gap_command)
        assert set(app.cli.commands["export"].commands) == {"iati", "funding-gap"}
    finally:
        app.cli.commands.clear()
        app.cli.commands.update(commands)


def test_reports_page(client, registry_data):
    response = client.get("/reports/?by=region&by2=priority_area&currency=EUR")
    assert response.status_code == 200
    html = response.data.decode()
    assert "Regional: Africa" in html
    assert html.count("<svg") == 7  # the five charts, the world map and the forward view
    assert "/api/v1/reports/flows.csv?" in html and "funding-gap.xlsx" in html


def test_reports_page_in_cfa_francs_keeps_the_currency_and_its_decimals(client, registry_data):
    """XOF is offered, stays selected, and has no decimals in the table (its exact figures on hover)."""
    import re

    html = client.get("/reports/?by=region&currency=XOF").data.decode()
    assert "<option selected>XOF</option>" in html and ">STN</option>" in html
    amounts = re.findall(r'<td class="num"><data class="amount-compact" value="([^"]*)" title="([^"]*)">', html)
    assert amounts and all(title.endswith(" XOF") for _value, title in amounts)
    assert not [a for a in amounts if "." in a[0] or "." in a[1]]


def test_reports_page_shows_bad_filters(client):
    response = client.get("/reports/?by=region&year_from=next")
    assert response.status_code == 422
    assert "<li>From year: " in response.data.decode()  # the form's own words, not year_from
    response = client.get("/reports/?by=region&year_from=2020&year_to=2010")
    assert response.status_code == 422 and "<li>To year: " in response.data.decode()


def test_rows_by_donor_come_in_the_order_of_their_names(client, make_org, make_project, make_transaction):
    from reports.flows import flows_report

    for ref, name in (("Z-1", "Aardvark Fund"), ("A-1", "Zebra Agency"), ("M-1", "middle trust")):
        org = make_org(ref=ref, name=name)
        make_transaction(make_project(org=org), amount=Decimal("10.00"), provider_org_id=org.id)
    labels = [row["donor_label"] for row in flows_report(by="donor").rows]
    assert [label.split(" (")[0] for label in labels if "(" in label][:3] == [
        "Aardvark Fund",
        "middle trust",
        "Zebra Agency",
    ]


def test_chart_download(client, registry_data):
    response = client.get("/reports/charts/sankey.svg?region=002")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.data.startswith(b"<svg")
    assert client.get("/reports/charts/pie.svg").status_code == 404


def test_the_timeline_ends_with_the_last_year_of_flows(client, make_project, make_transaction):
    """A planned project's need dated in a later year does not pull the flow lines to zero."""
    import datetime as dt

    funded = make_project()
    make_transaction(funded, amount=Decimal("500.00"), value_date=dt.date(2021, 5, 3))
    make_transaction(funded, amount=Decimal("700.00"), value_date=dt.date(2022, 5, 3))
    make_project(need={"amount": "9000.00", "currency": "USD", "date": dt.date(2024, 7, 1)})
    svg = client.get("/reports/charts/over-time.svg").get_data(as_text=True)
    assert ">2021<" in svg and ">2022<" in svg
    assert ">2024<" not in svg
