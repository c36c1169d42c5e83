"""Regional and cross-border projects: scope and infrastructure, the finder and the pipeline
over several countries or a region, and regional funds (Tunis Agenda paragraph 23c)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from registry.errors import PermissionDenied
from registry.extensions import db
from registry.models.scope import derive_scope, infrastructure_code, scope_code
from registry.services import marketplace, matching
from registry.services.scope import effective_scope_rows
from tests.registry.test_marketplace import PROJECT, as_actor, governments_and_donors
from tests.sessions import log_in

DAY = dt.date(2024, 6, 30)
SOUTH_ASIA = [{"country": "NPL", "share": Decimal(50)}, {"country": "BTN", "share": Decimal(30)}]
SOUTH_ASIA.append({"country": "IND", "share": Decimal(20)})


# -- scope: stated, derived, codes ---------------------------------------------------------


def test_the_scope_is_derived_from_the_recipients_unless_stated(make_project):
    national = make_project(recipients=[{"country": "KEN", "share": Decimal(100)}])
    multi = make_project(recipients=SOUTH_ASIA)
    regional = make_project(recipients=[{"region": "034", "share": Decimal(100)}])
    world = make_project(recipients=[{"region": "001", "share": Decimal(100)}])
    mixed = make_project(recipients=[{"country": "KEN", "share": Decimal(60)}, {"region": "014", "share": Decimal(40)}])
    stated = make_project(recipients=[{"country": "KEN", "share": Decimal(100)}], scope="regional")
    nowhere = make_project(recipients=[])
    expected = {
        national: ("national", True),
        multi: ("multi_country", True),
        regional: ("regional", True),
        world: ("global", True),
        mixed: ("multi_country", True),
        stated: ("regional", False),
        nowhere: (None, False),
    }
    for project, (scope, derived) in expected.items():
        assert (project.effective_scope, project.scope_derived) == (scope, derived), project
    # the reports' SQL says the same of every one of them
    rows = dict(db.session.execute(effective_scope_rows()).all())
    assert {p: rows[p.id] for p in expected} == {p: scope for p, (scope, _d) in expected.items()}


def test_the_project_list_filters_by_scope_and_infrastructure(client, make_project):
    """The list's scope is the effective one (stated, else derived); infrastructure as stated;
    the API and the page agree, and an unknown value is a 422 on the API."""
    national = make_project(title="National", recipients=[{"country": "KEN", "share": Decimal(100)}])
    multi = make_project(title="Backbone", recipients=SOUTH_ASIA, infrastructure="backbone")
    stated = make_project(title="Stated", recipients=[{"country": "KEN", "share": Decimal(100)}], scope="regional")
    regional = make_project(title="IXP", recipients=[{"region": "034", "share": Decimal(100)}], infrastructure="ixp")
    db.session.commit()

    def listed(query: str) -> set[int]:
        response = client.get(f"/api/v1/projects?per_page=100&{query}")
        assert response.status_code == 200, response.get_json()
        return {p["id"] for p in response.get_json()["items"]}

    assert listed("scope=national") == {national.id}
    assert listed("scope=multi_country") == {multi.id}
    assert listed("scope=regional") == {stated.id, regional.id}
    assert listed("infrastructure=backbone") == {multi.id}
    assert listed("scope=regional&infrastructure=ixp") == {regional.id}
    for bad in ("scope=continental", "infrastructure=road"):
        assert client.get(f"/api/v1/projects?{bad}").status_code == 422, bad
    page = client.get("/projects?scope=regional").get_data(as_text=True)
    shown = {p.id for p in (national, multi, stated, regional) if f'href="/projects/{p.id}"' in page}
    assert shown == {stated.id, regional.id}
    assert '<option value="regional" selected>' in page


def test_scope_and_infrastructure_take_codes_and_words():
    assert derive_scope(["NPL"], []) == "national"
    assert [scope_code(v) for v in ("3", "3.0", "Multi-country", "multi-national", "REGIONAL", "1", "6", "")] == [
        "multi_country",
        "multi_country",
        "multi_country",
        "multi_country",
        "regional",
        "global",
        "national",
        None,
    ]
    assert [infrastructure_code(v) for v in ("IXP", "Internet exchange point", "Submarine cable", "data center")] == [
        "ixp",
        "ixp",
        "submarine_cable",
        "data_centre",
    ]
    with pytest.raises(ValueError):
        scope_code("9")
    with pytest.raises(ValueError):
        infrastructure_code("road")


def test_the_api_states_scope_and_infrastructure_and_says_when_derived(api, make_user):
    _user, token = make_user("donor")
    body = {
        "reference": "BB-1",
        "title": "South Asia regional backbone",
        "recipients": [{"country": c["country"], "share": str(c["share"])} for c in SOUTH_ASIA],
        "infrastructure": "Backbone network",
    }
    created = api("post", "/api/v1/projects", token, json=body)
    assert created.status_code == 201, created.json
    assert created.json["scope"] == "multi_country" and created.json["scope_derived"] is True
    assert created.json["infrastructure"] == "backbone"
    changed = api(
        "patch", f"/api/v1/projects/{created.json['id']}", token, json={"scope": "2"}, headers={"If-Match": "*"}
    )
    assert changed.status_code == 200, changed.json
    assert (changed.json["scope"], changed.json["scope_derived"]) == ("regional", False)
    refused = api("post", "/api/v1/projects", token, json=dict(body, reference="BB-2", scope="continental"))
    assert refused.status_code == 422
    assert "scope" in str(refused.json["errors"])
    refused = api("post", "/api/v1/projects", token, json=dict(body, reference="BB-3", infrastructure="road"))
    assert refused.status_code == 422
    assert "infrastructure" in str(refused.json["errors"])


# -- the finder over several countries or a region ----------------------------------------


@pytest.fixture
def backbone(make_org, make_source, make_project, make_transaction):
    """A past South Asian backbone over Nepal 50 %, Bhutan 30 %, India 20 % funded by a regional
    fund for Southern Asia, and a Kenyan project funded by another fund."""
    fund = make_source(name="South Asia Connectivity Fund", kind="regional_fund", regions=["034"])
    other = make_source(name="East Africa Fund", kind="regional_fund", regions=["014"])
    project = make_project(
        title="SAARC backbone", recipients=SOUTH_ASIA, areas=[{"code": "23c", "share": Decimal(100)}]
    )
    make_transaction(project, amount=Decimal("1000.00"), funding_source_id=fund.id, value_date=dt.date(2022, 1, 10))
    kenya = make_project(title="Nairobi IXP", areas=[{"code": "23c", "share": Decimal(100)}])
    make_transaction(kenya, amount=Decimal("500.00"), funding_source_id=other.id, value_date=dt.date(2022, 1, 10))
    return fund, other, project


@pytest.mark.parametrize(("country", "region"), [("NPL", None), ("BTN", None), ("IND", None), (None, "034")])
def test_a_project_over_three_countries_is_found_from_each_country_and_from_the_region(backbone, country, region):
    fund, _other, project = backbone
    need = matching.build_need(country, "23c", day=DAY, region=region)
    found = {m.source.id: m for m in matching.find_funding(need).matches}
    assert [s.project_id for s in found[fund.id].similar] == [project.id]
    assert found[fund.id].similar[0].countries == ["NPL", "BTN", "IND"]
    # in the country: the commitment times that country's share (none for a region asked)
    share = {"NPL": Decimal("500.00"), "BTN": Decimal("300.00"), "IND": Decimal("200.00"), None: Decimal("0.00")}
    assert found[fund.id].evidence.source["country"].usd == share[country]
    assert found[fund.id].evidence.source["region"].usd == Decimal("1000.00")


def test_several_countries_are_one_need_with_the_track_record_in_any_of_them(backbone):
    fund, _other, _project = backbone
    need = matching.build_need("NPL,BTN", "23c", day=DAY)
    assert (need.countries, need.regions) == (["NPL", "BTN"], [])
    match = next(m for m in matching.find_funding(need).matches if m.source.id == fund.id)
    assert match.evidence.source["country"].usd == Decimal("800.00")  # 50 % + 30 % of 1,000.00
    # 30 eligibility + 30 area + 10 window (no instrument, no amount asked) + 10 country + 5 area
    assert match.score == 85
    assert match.score == matching.base_score(match.criteria) + matching.evidence_bonus(match.evidence)


def test_a_regional_fund_matches_a_project_in_its_region_and_not_one_outside(backbone):
    fund, other, _project = backbone
    inside = matching.find_funding(matching.build_need("NPL,BTN,IND", "23c", day=DAY))
    assert fund.id in {m.source.id for m in inside.matches}
    reason = next(m for m in inside.matches if m.source.id == fund.id).criteria[0].reason
    assert reason.startswith("All 3 countries of the project qualify: Nepal, Bhutan, and India")
    assert other.id in {m.source.id for m in inside.failing}
    astride = matching.find_funding(matching.build_need("NPL,KEN", "23c", day=DAY))
    failing = {m.source.id: m for m in astride.failing}
    assert fund.id in failing and other.id in failing  # each fund covers only one of the two
    eligibility = failing[fund.id].criteria[0]
    assert (eligibility.key, eligibility.status) == ("eligibility", matching.NOT_MET)
    assert eligibility.reason.startswith(
        "Only 1 of the project's countries qualifies (Nepal, not Kenya): the source cannot fund the whole"
    )
    assert "Kenya is not eligible: the source funds region Southern Asia (034)" in eligibility.reason


def test_a_region_asked_for_is_eligible_within_a_regional_fund(backbone):
    fund, other, _project = backbone
    result = matching.find_funding(matching.build_need(None, "23c", day=DAY, region="034"))
    assert fund.id in {m.source.id for m in result.matches}
    assert other.id in {m.source.id for m in result.failing}


def test_the_finder_api_takes_several_countries_and_a_region(client, backbone):
    fund, _other, _project = backbone
    response = client.get("/api/v1/funding-sources/match?country=NPL,BTN&priority_area=23c&date=2024-06-30")
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["query"]["country"], body["query"]["countries"]) == ("NPL", ["NPL", "BTN"])
    assert fund.id in [m["source"]["id"] for m in body["matches"]]
    response = client.get("/api/v1/funding-sources/match?region=034&priority_area=23c&date=2024-06-30")
    assert response.status_code == 200 and response.json["query"]["regions"] == ["034"]
    refused = client.get("/api/v1/funding-sources/match?country=NPL,XXX")
    assert refused.status_code == 422
    assert "XXX" in refused.json["errors"]["country"][0]
    refused = client.get("/api/v1/funding-sources/match?region=999")
    assert refused.status_code == 422 and "region" in refused.json["errors"]
    assert client.get("/api/v1/funding-sources/match").status_code == 422


# -- the pipeline ---------------------------------------------------------------------------


@pytest.fixture
def pipeline(actor, make_org, make_source):
    users = governments_and_donors(actor, make_org)
    users["fund"] = make_source(name="South Asia Connectivity Fund", kind="regional_fund", regions=["034"])
    cross = marketplace.post_pipeline_project(
        as_actor(users["npl"]),
        dict(PROJECT, title="Himalayan exchange point", country="NPL,BTN,IND", infrastructure="ixp"),
    )
    kenya = marketplace.post_pipeline_project(
        as_actor(users["ken"]), dict(PROJECT, title="Kenya-Uganda link", country="KEN,UGA")
    )
    db.session.commit()
    return users, cross, kenya


def test_a_government_posts_a_cross_border_pipeline_project_shared_evenly(pipeline):
    _users, cross, _kenya = pipeline
    assert [(r.country_iso3, r.share_ppm) for r in cross.recipients] == [
        ("NPL", 333334),
        ("BTN", 333333),
        ("IND", 333333),
    ]
    assert (cross.effective_scope, cross.scope_derived, cross.infrastructure) == ("multi_country", True, "ixp")


def test_a_government_names_its_own_country_among_the_others(pipeline):
    users, _cross, _kenya = pipeline
    with pytest.raises(PermissionDenied, match="own country"):
        marketplace.post_pipeline_project(as_actor(users["npl"]), dict(PROJECT, country="BTN,IND"))


@pytest.mark.parametrize("query", ["country=NPL", "country=BTN", "country=IND", "country=NPL,BTN", "region=034"])
def test_the_pipeline_list_finds_the_project_from_each_country_and_the_region(client, pipeline, query):
    _users, cross, kenya = pipeline
    response = client.get(f"/api/v1/pipeline-projects?{query}")
    assert response.status_code == 200, response.json
    ids = [p["id"] for p in response.json]
    assert cross.id in ids and kenya.id not in ids
    item = next(p for p in response.json if p["id"] == cross.id)
    assert (item["scope"], item["scope_derived"], item["infrastructure"]) == ("multi_country", True, "ixp")


def test_the_pipeline_list_filters_by_scope_and_refuses_unknown_places(client, pipeline):
    _users, cross, kenya = pipeline
    ids = [p["id"] for p in client.get("/api/v1/pipeline-projects?scope=multi_country").json]
    assert cross.id in ids and kenya.id in ids
    assert client.get("/api/v1/pipeline-projects?scope=national").json == []
    assert [p["id"] for p in client.get("/api/v1/pipeline-projects?region=002").json] == [kenya.id]
    assert client.get("/api/v1/pipeline-projects?region=999").status_code == 422
    assert client.get("/api/v1/pipeline-projects?country=NPL,ZZZ").status_code == 422


def test_a_regional_fund_finds_the_pipeline_projects_in_its_region_only(pipeline):
    users, cross, kenya = pipeline
    found = matching.matching_projects(users["fund"], DAY)
    assert [m.project.id for m in found] == [cross.id]
    every = {m.project.id: m for m in matching.matching_projects(users["fund"], DAY, include_failing=True)}
    assert not every[kenya.id].eligible
    assert "None of the project's 2 countries qualifies" in every[kenya.id].criteria[0].reason


# -- pages ----------------------------------------------------------------------------------


def test_the_finder_page_takes_several_countries_and_a_region(client, backbone):
    page = client.get("/find-funding?country=NPL&country=BTN&priority_area=23c&date=2024-06-30")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "South Asia Connectivity Fund" in text
    assert "All 2 countries of the project qualify: Nepal and Bhutan" in text
    assert client.get("/find-funding?region=034&priority_area=23c").status_code == 200
    assert client.get("/find-funding?country=NPL,ZZZ").status_code == 422


def test_the_pipeline_pages_show_the_scope(client, pipeline):
    users, cross, _kenya = pipeline
    listing = client.get("/pipeline?region=034")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert "Himalayan exchange point" in text and "Kenya-Uganda link" not in text
    detail = client.get(f"/pipeline/{cross.id}").get_data(as_text=True)
    assert "Multi-country" in detail and "(derived from the recipients)" in detail
    assert "Internet exchange point (IXP)" in detail
    log_in(client, users["npl"])
    form = client.get(f"/pipeline/{cross.id}/edit").get_data(as_text=True)
    assert 'name="partners"' in form and 'name="scope"' in form and 'name="infrastructure"' in form


def test_the_project_page_and_form_show_scope_and_infrastructure(client, make_project, actor):
    from registry.services import accounts

    project = make_project(recipients=SOUTH_ASIA, infrastructure="submarine cable")
    admin = accounts.create_user(actor, "admin@regional.example", "admin")
    db.session.commit()
    log_in(client, admin)
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "Multi-country" in page and "(derived from the recipients)" in page and "Submarine cable" in page
    form = client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    assert 'name="scope"' in form and 'value="submarine_cable" selected' in form
