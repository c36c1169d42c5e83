"""The reports page's charts follow the chosen dimensions, and every bar, cell and node is named."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

CHARTS = ("by-rows", "by-columns", "heat-map", "over-time", "sankey")


def _svg(client, name: str, query: str) -> str:
    response = client.get(f"/reports/charts/{name}.svg?{query}")
    assert response.status_code == 200, response.data[:300]
    return response.get_data(as_text=True)


def _texts(svg: str) -> list[str]:
    """The words written on a chart (what a reader sees, hover titles left out)."""
    svg = re.sub(r"<title>.*?</title>", "", svg)
    return [re.sub(r"<[^>]+>", " ", t).strip() for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)]


@pytest.fixture
def by_donor(make_org, make_project, make_transaction, make_source):
    """Two donors' flows over two years, through two kinds of funding source."""
    first, second = make_org(ref="ALPHA", name="Alpha Fund"), make_org(ref="BETA", name="Beta Agency")
    oda, private = make_source(kind="bilateral_oda"), make_source(kind="private")
    for org, source, amount, year in (
        (first, oda, "5000000.00", 2021),
        (second, private, "1200.00", 2022),
        (first, oda, "300.00", 2022),
    ):
        project = make_project(org=org, areas=[{"code": "23b", "share": Decimal(100)}])
        make_transaction(
            project,
            amount=Decimal(amount),
            value_date=dt.date(year, 3, 1),
            provider_org_id=org.id,
            funding_source_id=source.id,
        )


def test_every_chart_follows_the_rows_and_then_by(client, by_donor):
    query = "by=donor&by2=year"
    page = client.get(f"/reports/?{query}").get_data(as_text=True)
    assert page.count("<svg") == 7  # the five charts, the world map and the forward view
    for name in ("heat-map", "by-rows", "by-columns"):
        assert f'id="chart-{name}"' in page
    rows = _texts(_svg(client, "by-rows", query))
    assert "Alpha Fund (ALPHA)" in rows and "Beta Agency (BETA)" in rows
    assert "Commitments and need by donor organisation" in rows
    columns = _texts(_svg(client, "by-columns", query))
    assert "2021" in columns and "2022" in columns and "Commitments and need by year" in columns
    heat = _texts(_svg(client, "heat-map", query))
    assert "Alpha Fund (ALPHA)" in heat and "2021" in heat and "2022" in heat
    assert "Commitments: donor organisation x year" in heat
    sankey = _texts(_svg(client, "sankey", query))
    assert "From funding source kind to donor organisation to year" in sankey
    for name in ("Bilateral", "Private", "Alpha Fund", "Beta Agency", "2021", "2022"):
        assert any(t.startswith(name) for t in sankey), (name, sankey)
    # the years are chosen: the timeline draws the two flows over them
    assert "Commitments and disbursements over time" in _texts(_svg(client, "over-time", query))


def test_the_charts_without_then_by_pair_the_rows_with_priority_areas(client, by_donor):
    heat = _texts(_svg(client, "heat-map", "by=source_kind"))
    assert "Commitments: funding source kind x priority area" in heat
    assert any(t.startswith("Bilateral") for t in heat)
    timeline = _svg(client, "over-time", "by=source_kind")
    # one line of commitments per source kind, each in the legend
    assert "Commitments over time by funding source kind" in _texts(timeline)
    assert timeline.count("<path") == 2 and "Private" in _texts(timeline)
    response = client.get("/reports/charts/by-rows.svg?by=source_kind")
    assert 'filename="by-source_kind.svg"' in response.headers["Content-Disposition"]


def test_the_heat_map_names_the_areas_beside_their_codes(client, registry_data):
    heat = _texts(_svg(client, "heat-map", "by=region"))
    for code in ("23a", "23b", "23c", "23d", "23f", "Unallocated"):
        assert code in heat, (code, heat)
    # the legend under the matrix: each code with its area's name
    assert any(t.startswith("23a") and t.endswith("Capacity building") for t in heat), heat
    assert any(t.startswith("Global (no recipient") for t in heat)  # whatever rows the data has
    # the former names of the first two charts still answer
    assert client.get("/reports/charts/by-area.svg").status_code == 200


def test_small_nodes_of_the_flow_diagram_are_labelled(client, by_donor):
    """Beta's 1,200 beside Alpha's 5 million is a node of a pixel: it is named all the same."""
    sankey = _texts(_svg(client, "sankey", "by=donor&by2=priority_area"))
    assert any(t.startswith("Beta Agency (BETA)") for t in sankey), sankey
    assert any(t.startswith("Private") for t in sankey), sankey


def test_many_values_are_summed_into_others(client, make_org, make_project, make_transaction):
    for n in range(25):
        org = make_org(ref=f"D-{n:02d}", name=f"Donor {n:02d}")
        make_transaction(make_project(org=org), amount=Decimal(1000 + n), provider_org_id=org.id)
    bars = _texts(_svg(client, "by-rows", "by=donor"))
    assert "Donor 24 (D-24)" in bars and "Donor 00 (D-00)" not in bars
    assert "6 others" in bars  # 19 largest shown, the 6 smallest in one bar
