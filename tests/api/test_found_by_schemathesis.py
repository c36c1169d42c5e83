"""The server errors schemathesis found (tests/api/test_schemathesis.py), each kept as a case."""

from __future__ import annotations

import io

import openpyxl
import pytest

from registry.extensions import db
from registry.services import accounts

HUGE = "8529670216838274853690023934032871424"  # beyond any database integer


@pytest.fixture
def admin_headers(app, actor):
    admin = accounts.create_user(actor, "admin-found@example.org", "admin")  # an admin has no organisation
    token = accounts.issue_token(actor, admin)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", f"/api/v1/imports/{HUGE}"),
        ("delete", f"/api/v1/imports/{HUGE}"),
        ("post", f"/api/v1/imports/{HUGE}/commit?skip_invalid=false"),
        ("get", "/api/v1/imports/2147483648"),
    ],
)
def test_an_import_batch_id_beyond_the_key_range_is_not_found(client, admin_headers, method, url):
    # was 500: OverflowError (SQLite) / NumericValueOutOfRange (PostgreSQL) on the primary key lookup
    response = getattr(client, method)(url, headers=admin_headers)
    assert response.status_code == 404
    assert response.json["message"].startswith("No import batch with id ")


def test_a_funding_source_without_a_managing_organisation_is_a_422(client, admin_headers):
    # was 500: an administrator has no organisation to default to, and the lookup of None warned
    body = {"kind": "other", "name": "templates", "ref": "templates"}
    response = client.post("/api/v1/funding-sources", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json["errors"] == {"managing_org_id": ["No such organisation"]}


def test_a_saved_search_id_beyond_the_key_range_is_not_found(client, admin_headers):
    # was 500: OverflowError on the primary key lookup
    response = client.delete("/api/v1/saved-searches/9223372036854775808", headers=admin_headers)
    assert response.status_code == 404
    assert response.json["message"] == "No saved search with id 9223372036854775808"


def test_the_flows_workbook_of_the_gap_alone_has_no_empty_chart(client, admin_headers, make_project, make_transaction):
    # was 500: a bar chart with no series (the gap is not drawn) made xlsxwriter refuse the workbook
    make_transaction(make_project())
    db.session.commit()
    response = client.get("/api/v1/reports/flows.xlsx?measure=gap", headers=admin_headers)
    assert response.status_code == 200
    assert response.data[:2] == b"PK"
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert "Report" in book.sheetnames
    assert book["Report"]._charts == []


@pytest.mark.parametrize(
    "query",
    [
        "donor=&donor=&donor=%00%5C&year_from=202",  # on PostgreSQL: a NUL in the third value
        "country=KEN&country=%00",
    ],
)
def test_every_value_of_a_repeated_parameter_is_checked_for_unstorable_text(client, admin_headers, query):
    response = client.get(f"/api/v1/projects.csv?{query}", headers=admin_headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "NUL" in response.get_json()["message"]
    form = client.post("/login", data={"email": ["a@b.c", "a\x00@b.c"], "password": "x"})
    assert form.status_code == 400
