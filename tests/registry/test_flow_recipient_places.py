"""A flow that names its own recipient counts there everywhere: finder, search, overview.

IATI lets a transaction name its recipient country; that flow then goes wholly to it,
whatever the project's recipient shares. Figures below are worked out by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from registry.extensions import db
from registry.services.dashboard import headline
from registry.services.matching import build_need, find_funding, pipeline_projects
from registry.services.search import ProjectFilters, project_query
from reports.flows import flows_report

D = Decimal
DAY = dt.date(2020, 3, 2)


@pytest.fixture
def places(make_org, make_source, make_project, make_transaction):
    donor = make_org(ref="PLACES", name="Places donor")
    source = make_source(managing_org_id=donor.id, instruments=["grant"], name="Places fund")

    def flow(project, amount, country=None, **kw):
        tx = make_transaction(project, amount=D(amount), value_date=DAY, funding_source_id=source.id, **kw)
        tx.recipient_country_iso3 = country
        db.session.flush()
        return tx

    shared = make_project(
        org=donor,
        title="Shared",
        recipients=[{"country": "NPL", "share": D(60)}, {"country": "IND", "share": D(40)}],
        areas=[{"code": "23b"}],
    )
    flow(shared, "1000.00")  # NPL 600, IND 400
    flow(shared, "500.00", "NPL")  # all to Nepal
    flow(shared, "300.00", "BGD")  # all to Bangladesh, which the project does not list
    other = make_project(org=donor, title="Kenyan", recipients=[{"country": "KEN"}], areas=[{"code": "23b"}])
    flow(other, "200.00", "NPL")  # named to Nepal: nothing for Kenya
    planned = make_project(
        org=donor, title="Planned", status="pipeline", recipients=[{"country": "KEN"}], areas=[{"code": "23b"}]
    )
    flow(planned, "10.00", "GHA", type="pledge")
    return {"source": source, "shared": shared, "other": other, "planned": planned}


def test_finder_evidence_counts_the_flow_where_it_went(places):
    need = build_need("NPL", "23b", "grant", "100000", "USD", dt.date(2025, 6, 30))
    result = find_funding(need)
    match = next(m for m in [*result.matches, *result.failing] if m.source.id == places["source"].id)
    evidence = match.evidence
    assert evidence.source["country"].usd == D("1300.00")  # 600 + 500 + 200
    assert evidence.source["country"].projects == 2
    # Southern Asia holds Nepal, India and Bangladesh: every commitment lands there, once.
    assert evidence.source["region"].usd == D("2000.00")
    report = flows_report(by="funding_source", measures="commitment", country="NPL")
    assert report.total["commitment"] == D("1300.00")


@pytest.mark.parametrize(
    ("filters", "titles"),
    [
        ({"country": "BGD"}, {"Shared"}),  # only a flow names Bangladesh
        ({"country": "KEN"}, {"Kenyan", "Planned"}),
        ({"country": "NPL"}, {"Shared", "Kenyan"}),
        ({"country": "GHA"}, {"Planned"}),
        ({"region": "034"}, {"Shared", "Kenyan"}),
    ],
)
def test_a_project_is_found_under_a_country_its_flows_name(places, filters, titles):
    found = {p.title for p in db.session.scalars(project_query(ProjectFilters.from_mapping(filters)))}
    assert found == titles


def test_pipeline_filter_and_overview_count_flow_recipients(places):
    assert [p.title for p in pipeline_projects({"country": "GHA"})] == ["Planned"]
    assert headline().countries == 5  # NPL, IND, KEN on projects; BGD, GHA on flows only


def test_project_page_shows_the_flow_recipient_and_the_unallocated_share(places, client):
    shared = places["shared"]
    india = next(r for r in shared.recipients if r.country_iso3 == "IND")
    india.country_iso3 = None  # a share a source gave to an unknown recipient code
    db.session.commit()
    page = client.get(f"/projects/{shared.id}").get_data(as_text=True)
    assert "Unallocated" in page and "recipient not stated or unknown" in page
    assert '<span class="code">BGD</span>' in page and "named on the flow" in page
