"""Cross-border projects in the reports: a scope dimension whose rows add up, and the scope and
infrastructure filters; a multi-country project's money still follows its country shares."""

from __future__ import annotations

from decimal import Decimal

import pytest

from registry import errors
from reports.flows import build_spec, flows_report, run_report


@pytest.fixture
def registry_of_four(make_project, make_transaction):
    """A Kenyan project (national), a backbone over Nepal 50 %, Bhutan 30 %, India 20 %
    (multi-country, derived), a project recorded against Southern Asia (regional, derived), and
    a Kenyan one stated regional."""
    national = make_project(recipients=[{"country": "KEN", "share": Decimal(100)}])
    make_transaction(national, amount=Decimal("100.00"))
    backbone = make_project(
        recipients=[
            {"country": "NPL", "share": Decimal(50)},
            {"country": "BTN", "share": Decimal(30)},
            {"country": "IND", "share": Decimal(20)},
        ],
        infrastructure="backbone",
        need={"amount": Decimal("2000.00"), "currency": "USD"},
    )
    make_transaction(backbone, amount=Decimal("1234.50"))
    region = make_project(recipients=[{"region": "034", "share": Decimal(100)}], infrastructure="ixp")
    make_transaction(region, amount=Decimal("33.33"))
    stated = make_project(recipients=[{"country": "KEN", "share": Decimal(100)}], scope="regional")
    make_transaction(stated, amount=Decimal("10.00"))
    return national, backbone, region, stated


@pytest.mark.parametrize("currency_in_database", [True, False])
def test_the_scope_rows_add_up_to_the_total_to_the_cent(registry_of_four, currency_in_database):
    # in USD the cells are summed in the database; in_database=False: the same sums in Python
    report = run_report(build_spec(by="scope"), in_database=currency_in_database)
    rows = {row["scope"]: row for row in report.rows}
    # national 100.00; multi-country 1,234.50; regional 33.33 (derived) + 10.00 (stated)
    assert {k: r["commitment"] for k, r in rows.items()} == {
        "national": Decimal("100.00"),
        "multi_country": Decimal("1234.50"),
        "regional": Decimal("43.33"),
    }
    assert {k: r["projects"] for k, r in rows.items()} == {"national": 1, "multi_country": 1, "regional": 2}
    assert report.total["commitment"] == Decimal("1377.83") == sum(r["commitment"] for r in report.rows)
    assert rows["multi_country"]["scope_label"] == "Multi-country"


def test_crossed_with_countries_a_multi_country_project_follows_its_shares(registry_of_four):
    report = flows_report(by=["scope", "country"])
    cells = {(row["scope"], row["country"]): row["commitment"] for row in report.rows}
    # 1,234.50 × 50 %, 30 %, 20 %: nothing moved, nothing lost
    assert cells[("multi_country", "NPL")] == Decimal("617.25")
    assert cells[("multi_country", "BTN")] == Decimal("370.35")
    assert cells[("multi_country", "IND")] == Decimal("246.90")
    assert cells[("national", "KEN")] == Decimal("100.00")
    assert cells[("regional", "KEN")] == Decimal("10.00")
    assert sum(v for (scope, _c), v in cells.items() if scope == "multi_country") == Decimal("1234.50")


def test_the_filters_single_out_cross_border_projects(registry_of_four):
    cross = flows_report(by="country", scope=["multi_country", "regional"])
    assert cross.total["commitment"] == Decimal("1277.83")
    assert cross.spec.filters()["scopes"] == ["multi_country", "regional"]
    backbone = flows_report(by="country", infrastructure="backbone")
    assert backbone.total["commitment"] == Decimal("1234.50")
    assert backbone.total["need"] == Decimal("2000.00")
    assert flows_report(by="region", scope="multi-country").total["projects"] == 1  # words are taken
    assert flows_report(by="region", infrastructure=["ixp", "backbone"]).total["commitment"] == Decimal("1267.83")


def test_an_unknown_scope_or_infrastructure_is_refused(client, registry_of_four):
    with pytest.raises(errors.ValidationError):
        flows_report(scope="continental")
    with pytest.raises(errors.ValidationError):
        flows_report(infrastructure="road")
    assert client.get("/api/v1/reports/flows?scope=continental").status_code == 422
    body = client.get("/api/v1/reports/flows?by=scope&infrastructure=backbone,ixp").get_json()
    assert {row["scope"]: row["commitment"] for row in body["rows"]} == {
        "multi_country": "1234.50",
        "regional": "33.33",
    }


def test_the_reports_page_offers_the_scope(client, registry_of_four):
    page = client.get("/reports/?by=scope&scope=multi_country")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    page.close()
    assert 'name="scope"' in text and 'name="infrastructure"' in text and "Multi-country" in text
