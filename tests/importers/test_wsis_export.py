"""Projects in the shape of the WSIS Stocktaking database (CSV and XLSX), linked from the list."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest

from importers.wsis_export import COLUMNS


@pytest.fixture
def listed(make_org, make_project, make_transaction):
    donor = make_org(ref="DON", name="Donor Agency")
    bank = make_org(ref="BANK", name="Regional Bank")
    backbone = make_project(
        org=donor,
        title="Cross-border backbone",
        description="=Fibre between two capitals",
        wsis_action_lines=["C11", "C2"],
        recipients=[{"country": "KEN", "share": Decimal(50)}, {"country": "UGA", "share": Decimal(50)}],
        planned_start=dt.date(2021, 1, 1),
        planned_end=dt.date(2024, 6, 30),
    )
    make_transaction(backbone, provider_org_id=bank.id)
    make_project(org=donor, title="Media training", wsis_action_lines=["C9"])
    return backbone


def _csv(client, query: str = "") -> list[dict]:
    response = client.get(f"/api/v1/projects.wsis.csv{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_csv_has_a_row_per_project_in_the_stocktaking_shape(client, listed):
    rows = _csv(client)
    assert tuple(rows[0]) == COLUMNS
    row = next(r for r in rows if r["title"] == "Cross-border backbone")
    assert row["action_lines"] == "C2; C11"
    assert row["action_line_names"].startswith("C2 Information and communication infrastructure; C11 ")
    assert row["countries"] == "Kenya; Uganda" and row["country_codes"] == "KEN; UGA"
    assert row["partners"] == "Donor Agency; Regional Bank"
    assert (row["start_date"], row["end_date"]) == ("2021-01-01", "2024-06-30")
    assert row["description"] == "'=Fibre between two capitals"  # never run as a formula
    assert row["link"].endswith(f"/projects/{listed.id}") and row["link"].startswith("http")


def test_the_list_filters_apply(client, listed):
    assert [r["title"] for r in _csv(client, "?action_line=C9")] == ["Media training"]
    assert client.get("/api/v1/projects.wsis.csv?action_line=C42").status_code == 422


def test_xlsx_holds_the_same_rows(client, listed):
    response = client.get("/api/v1/projects.wsis.xlsx?action_line=C2")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data))["WSIS Stocktaking"]
    values = list(sheet.values)
    assert values[0] == COLUMNS
    assert [v[0] for v in values[1:]] == ["Cross-border backbone"]
    assert values[1][COLUMNS.index("description")] == "=Fibre between two capitals"  # text, not a formula


def test_the_project_list_links_to_the_export_with_its_filters(client, listed):
    page = client.get("/projects?action_line=C2&page=1").get_data(as_text=True)
    assert "/api/v1/projects.wsis.csv?action_line=C2" in page
    assert "/api/v1/projects.wsis.xlsx?action_line=C2" in page
