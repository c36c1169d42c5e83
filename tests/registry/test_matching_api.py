"""The finder and matching-projects API: shapes, errors, and agreement with the service."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from registry import money
from registry.services import marketplace, matching


def pipeline_project(admin, gov, title, country, amount, currency="USD", **extra):
    """A grant sought for area 23b, posted by an administrator for a government (``extra`` overrides)."""
    data = {
        "title": title,
        "country": country,
        "areas": ["23b"],
        "need": {"amount": amount, "currency": currency},
        "instrument_sought": "grant",
        "contact_email": "pm@gov.example",
        **extra,
    }
    return marketplace.post_pipeline_project(admin, data, gov)


def error_shape(response, status):
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) >= {"code", "status", "message"} and body["code"] == status
    return body


def test_match_ranks_and_explains(client, make_source):
    fit = make_source(
        name="Fits",
        countries=["NPL"],
        areas=["23b"],
        min_amount="1000000",
        max_amount="5000000",
        amount_currency="USD",
    )
    closed = make_source(name="Closed", window_until=dt.date(2020, 1, 1))
    response = client.get(
        "/api/v1/funding-sources/match?country=NPL&priority_area=23b&instrument=grant"
        "&amount=2500000&currency=USD&date=2024-06-30"
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["query"] == {
        "country": "NPL",
        "countries": ["NPL"],
        "regions": [],
        "priority_areas": ["23b"],
        "instrument": "grant",
        "amount": "2500000",
        "currency": "USD",
        "amount_usd": "2500000.00",
        "date": "2024-06-30",
    }
    first = body["matches"][0]
    assert first["source"]["id"] == fit.id and first["rank"] == 1 and first["score"] == 110
    assert [c["key"] for c in first["criteria"]] == [
        "eligibility",
        "area",
        "instrument",
        "amount",
        "window",
    ]
    assert all(c["status"] == "met" and c["reason"] for c in first["criteria"])
    assert set(first["evidence"]["source"]) == {"country", "region", "area"}
    failing = {f["source"]["id"]: f for f in body["failing"]}
    assert failing[closed.id]["failed"] == ["window"] and failing[closed.id]["eligible"] is False
    assert "ranking_rule" in body


def test_match_default_date_is_today(client, make_source):
    make_source()
    body = client.get("/api/v1/funding-sources/match?country=NPL").get_json()
    assert body["query"]["date"] == dt.date.today().isoformat()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("country=ZZZ", "country"),
        ("country=NPL&priority_area=99x", "priority_area"),
        ("country=NPL&amount=100&currency=XYZ", "currency"),
        ("country=NPL&amount=1.234&currency=USD", "amount"),
        ("country=NPL&amount=abc&currency=USD", "amount"),
        ("country=NPL&instrument=loan", "instrument"),
    ],
)
def test_match_bad_input(client, query, field):
    body = error_shape(client.get(f"/api/v1/funding-sources/match?{query}"), 422)
    assert field in body["errors"]


def test_match_missing_country_and_bad_date(client):
    assert "country" in error_shape(client.get("/api/v1/funding-sources/match"), 422)["errors"]
    body = error_shape(client.get("/api/v1/funding-sources/match?country=NPL&date=2024-13-01"), 422)
    assert "date" in body["errors"]
    body = error_shape(client.get("/api/v1/funding-sources/match?country=NPL&bogus=1"), 422)
    assert "bogus" in body["errors"]


def test_match_route_is_not_captured_by_an_id_route(client):
    # /funding-sources/<int:id> style routes never see "match"; an unknown id is a clean 404.
    error_shape(client.get("/api/v1/funding-sources/999999/matching-projects"), 404)


def test_matching_projects(client, actor, make_org, make_source):
    gov = make_org(ref="GOV-NPL", name="Government of Nepal", kind="government", country_iso3="NPL")
    source = make_source(
        regions=["034"],
        areas=["23b"],
        min_amount="100000",
        max_amount="3000000",
        amount_currency="USD",
    )
    admin = actor
    fits = pipeline_project(admin, gov, "Rural broadband", "NPL", "2000000")
    too_big = pipeline_project(admin, gov, "National backbone", "NPL", "9000000")
    kenya_gov = make_org(ref="GOV-KEN", name="Government of Kenya", kind="government", country_iso3="KEN")
    elsewhere = pipeline_project(admin, kenya_gov, "Kenya hubs", "KEN", "1000000")
    body = client.get(f"/api/v1/funding-sources/{source.id}/matching-projects").get_json()
    ids = [p["project"]["id"] for p in body["projects"]]
    assert ids == [fits.id, too_big.id]  # the amount is soft: ranked lower, not excluded
    assert elsewhere.id not in ids
    top = body["projects"][0]
    assert top["score"] == 110 and top["project"]["gap"]["gap_usd"] == "2000000.00"
    assert body["projects"][1]["criteria"][3]["status"] == "not_met"
    everything = client.get(f"/api/v1/funding-sources/{source.id}/matching-projects?include_failing=true").get_json()
    failing = [p for p in everything["projects"] if p["project"]["id"] == elsewhere.id]
    assert failing and failing[0]["failed"] == ["eligibility"]


def test_gap_counts_commitments_in_both_currencies(actor, make_org, make_source):
    gov = make_org(ref="GOV-NPL", name="Government of Nepal", kind="government", country_iso3="NPL")
    project = pipeline_project(
        actor, gov, "Schools online", "NPL", "1000000", "EUR", areas=["23f"], planned_start=dt.date(2024, 1, 2)
    )
    source = make_source()
    day = dt.date(2024, 3, 1)
    tx = marketplace.commit_to_pipeline_project(actor, project, source, Decimal("250000"), "USD", day)
    gap = matching.funding_gaps([project])[project.id]
    in_eur = money.convert(Decimal("250000"), "USD", "EUR", day).amount
    assert gap.gap == Decimal("1000000.00") - in_eur
    assert gap.gap_usd == money.from_minor(project.need_usd_minor, "USD") - tx.usd_amount


def test_openapi_documents_the_finder(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/funding-sources/match",
        "/api/v1/funding-sources/{source_id}/matching-projects",
        "/api/v1/pipeline-projects/{project_id}/interests",
        "/api/v1/saved-searches",
    ):
        assert path in paths, path
