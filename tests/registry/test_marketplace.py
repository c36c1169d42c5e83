"""Pipeline projects, interest, commitments and saved searches: rules, rights, API and feeds."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from xml.etree import ElementTree

import pytest

from registry.errors import ConflictError, PermissionDenied, ValidationError
from registry.extensions import db
from registry.models import AuditEvent, PipelineInterest
from registry.models.types import ProjectStatus
from registry.services import accounts, marketplace, matching
from registry.services.actor import Actor

ATOM = "{http://www.w3.org/2005/Atom}"


def as_actor(user) -> Actor:
    return Actor(
        label=user.email,
        channel="web",
        user_id=user.id,
        org_id=user.org_id,
        role=user.role.value,
        country_iso3=user.country_iso3,
    )


def governments_and_donors(actor, make_org) -> dict:
    """Nepal's and Kenya's governments and two donors, each with a user account, and the
    organisations behind them (``gov_npl``, ``donor_a``, ``donor_b``)."""
    gov_npl = make_org(ref="GOV-NPL", name="Government of Nepal", kind="government", country_iso3="NPL")
    gov_ken = make_org(ref="GOV-KEN", name="Government of Kenya", kind="government", country_iso3="KEN")
    donor_a = make_org(ref="DONOR-A", name="Donor A")
    donor_b = make_org(ref="DONOR-B", name="Donor B")
    return {
        "npl": accounts.create_user(actor, "gov@npl.example", "government", org=gov_npl, country_iso3="NPL"),
        "ken": accounts.create_user(actor, "gov@ken.example", "government", org=gov_ken, country_iso3="KEN"),
        "a": accounts.create_user(actor, "a@donor.example", "donor", org=donor_a),
        "b": accounts.create_user(actor, "b@donor.example", "donor", org=donor_b),
        "gov_npl": gov_npl,
        "donor_a": donor_a,
        "donor_b": donor_b,
    }


@pytest.fixture
def people(actor, make_org, make_source):
    """Nepal's and Kenya's governments, two donors with a fund each, an analyst."""
    users = governments_and_donors(actor, make_org)
    users["analyst"] = accounts.create_user(actor, "analyst@example.org", "analyst")
    users["admin"] = accounts.create_user(actor, "admin@example.org", "admin")
    users["fund_a"] = make_source(name="Fund A", managing_org_id=users["donor_a"].id, countries=["NPL"])
    users["fund_b"] = make_source(name="Fund B", managing_org_id=users["donor_b"].id)
    # Error responses roll the session back: keep the setup (the test's outer transaction
    # is still rolled back at the end).
    db.session.commit()
    return users


PROJECT = {
    "title": "Community networks in the hills",
    "areas": ["23b", "23l"],
    "need": {"amount": "1500000", "currency": "USD"},
    "instrument_sought": "grant",
    "planned_start": dt.date(2026, 1, 1),
    "planned_end": dt.date(2028, 12, 31),
    "contact_name": "Ms Sharma",
    "contact_email": "sharma@gov.example",
}


def post(people, **overrides):
    return marketplace.post_pipeline_project(as_actor(people["npl"]), dict(PROJECT, **overrides))


# -- posting and editing ------------------------------------------------------------------


def test_government_posts_for_its_own_country(people):
    project = post(people)
    assert project.status is ProjectStatus.PIPELINE
    assert [r.country_iso3 for r in project.recipients] == ["NPL"]
    assert [a.area_code for a in project.areas] == ["23b", "23l"]
    assert project.org_id == people["gov_npl"].id and project.reference.startswith("PIPE-NPL-")
    with pytest.raises(PermissionDenied):
        post(people, country="IND")


@pytest.mark.parametrize("who", ["a", "analyst"])
def test_only_governments_post(people, who):
    with pytest.raises(PermissionDenied):
        marketplace.post_pipeline_project(as_actor(people[who]), dict(PROJECT, country="NPL"))


@pytest.mark.parametrize("missing", ["title", "areas", "need", "instrument_sought", "contact_email"])
def test_a_pipeline_project_is_complete(people, missing):
    data = dict(PROJECT)
    data.pop(missing)
    with pytest.raises(ValidationError) as caught:
        marketplace.post_pipeline_project(as_actor(people["npl"]), data)
    assert missing in caught.value.errors


def test_bad_need_is_a_field_error(people):
    with pytest.raises(ValidationError) as caught:
        post(people, need={"amount": "12.345", "currency": "USD"})
    assert "need" in caught.value.errors


def test_only_the_countrys_government_edits_and_withdraws(people):
    project = post(people)
    for who in ("ken", "a", "b", "analyst"):
        with pytest.raises(PermissionDenied):
            marketplace.update_pipeline_project(as_actor(people[who]), project, {"title": "Hijacked"})
        with pytest.raises(PermissionDenied):
            marketplace.withdraw_pipeline_project(as_actor(people[who]), project)
    marketplace.update_pipeline_project(as_actor(people["npl"]), project, {"title": "Hill networks"})
    assert project.title == "Hill networks"
    with pytest.raises(PermissionDenied):  # cannot move it to another country either
        marketplace.update_pipeline_project(as_actor(people["npl"]), project, {"country": "KEN"})
    marketplace.update_pipeline_project(as_actor(people["admin"]), project, {"title": "By admin"})
    marketplace.withdraw_pipeline_project(as_actor(people["npl"]), project)
    assert project.status is ProjectStatus.CANCELLED
    assert project not in matching.pipeline_projects()
    with pytest.raises(ConflictError):  # withdrawn: no more edits
        marketplace.update_pipeline_project(as_actor(people["npl"]), project, {"title": "Again"})


def test_stale_version_is_refused(people):
    project = post(people)
    with pytest.raises(ConflictError):
        marketplace.update_pipeline_project(as_actor(people["npl"]), project, {"title": "X"}, expected_version=99)


# -- interest -----------------------------------------------------------------------------


def test_interest_rules(people):
    project = post(people)
    interest = marketplace.express_interest(as_actor(people["a"]), project, "Fits our 2026 call")
    with pytest.raises(ConflictError):
        marketplace.express_interest(as_actor(people["a"]), project)
    with pytest.raises(PermissionDenied):
        marketplace.express_interest(as_actor(people["npl"]), project)
    marketplace.express_interest(as_actor(people["b"]), project)
    assert [i.org.name for i in marketplace.interests(project)] == ["Donor A", "Donor B"]
    assert marketplace.can_see_interests(as_actor(people["npl"]), project)
    assert not marketplace.can_see_interests(as_actor(people["ken"]), project)
    # A donor of another organisation cannot withdraw someone else's interest.
    with pytest.raises(PermissionDenied):
        marketplace.withdraw_interest(as_actor(people["b"]), interest)
    marketplace.withdraw_interest(as_actor(people["a"]), interest)
    assert [i.org.name for i in marketplace.interests(project)] == ["Donor B"]
    assert db.session.query(AuditEvent).filter_by(entity_type="pipeline_interest", action="delete").count() == 1


def test_commitment_links_the_source_and_the_project_stays_listed(people):
    project = post(people)
    with pytest.raises(PermissionDenied):  # donor B does not manage fund A
        marketplace.commit_to_pipeline_project(as_actor(people["b"]), project, people["fund_a"], "100", "USD")
    with pytest.raises(PermissionDenied):
        marketplace.commit_to_pipeline_project(as_actor(people["npl"]), project, people["fund_a"], "100", "USD")
    tx = marketplace.commit_to_pipeline_project(
        as_actor(people["a"]), project, people["fund_a"], "600000", "USD", dt.date(2026, 1, 10)
    )
    assert tx.funding_source_id == people["fund_a"].id and tx.type.value == "commitment"
    assert tx.provider_org_id == people["fund_a"].managing_org_id
    assert project.status is ProjectStatus.PIPELINE  # 900,000 of the 1,500,000 still unfunded
    gap = matching.funding_gaps([project])[project.id]
    assert gap.gap_usd == Decimal("900000.00")
    assert [p.id for p in marketplace.open_projects().projects] == [project.id]


# -- API ----------------------------------------------------------------------------------


def token(people, who):
    value = accounts.issue_token(as_actor(people[who]), people[who])
    db.session.commit()
    return {"Authorization": f"Bearer {value}"}


def test_api_post_edit_withdraw(client, people):
    body = dict(
        PROJECT,
        planned_start="2026-01-01",
        planned_end="2028-12-31",
        need={"amount": "1500000", "currency": "USD"},
    )
    assert client.post("/api/v1/pipeline-projects", json=body).status_code == 401
    refused = client.post("/api/v1/pipeline-projects", json=body, headers=token(people, "a"))
    assert refused.status_code == 403 and refused.get_json()["code"] == 403
    created = client.post("/api/v1/pipeline-projects", json=body, headers=token(people, "npl"))
    assert created.status_code == 201, created.get_json()
    project = created.get_json()
    assert project["countries"] == ["NPL"] and project["gap"]["gap_usd"] == "1500000.00"
    url = f"/api/v1/pipeline-projects/{project['id']}"
    ken = client.patch(url, json={"title": "X"}, headers=token(people, "ken"))
    assert ken.status_code == 403
    stale = client.patch(url, json={"title": "X", "version": 99}, headers=token(people, "npl"))
    assert stale.status_code == 409
    unsure = client.patch(url, json={"title": "X"}, headers=token(people, "npl"))
    assert unsure.status_code == 428 and "If-Match" in unsure.get_json()["errors"]
    assert client.get(url).headers["ETag"] == created.headers["ETag"]  # nothing changed
    changed = client.patch(
        url,
        json={"title": "Hill networks", "version": project["version"]},
        headers=token(people, "npl"),
    )
    assert changed.status_code == 200 and changed.get_json()["title"] == "Hill networks"
    assert changed.headers["ETag"] != created.headers["ETag"]
    stale_tag = client.patch(
        url, json={"title": "X"}, headers={**token(people, "npl"), "If-Match": created.headers["ETag"]}
    )
    assert stale_tag.status_code == 412
    bad = client.post("/api/v1/pipeline-projects", json=dict(body, areas=["23z"]), headers=token(people, "npl"))
    assert bad.status_code == 422 and "areas" in bad.get_json()["errors"]
    listed = client.get("/api/v1/pipeline-projects?country=NPL").get_json()
    assert [p["id"] for p in listed] == [project["id"]]
    assert client.get("/api/v1/pipeline-projects?country=QQQ").status_code == 422
    gone = client.post(f"{url}/withdraw", headers=token(people, "npl"))
    assert gone.status_code == 200 and gone.get_json()["status"] == "cancelled"
    assert client.get("/api/v1/pipeline-projects?country=NPL").get_json() == []


def test_api_interest_and_commitment(client, people):
    project = post(people)
    db.session.commit()
    url = f"/api/v1/pipeline-projects/{project.id}"
    made = client.post(f"{url}/interests", json={"note": "Call us"}, headers=token(people, "a"))
    assert made.status_code == 201
    interest = made.get_json()
    assert client.post(f"{url}/interests", json={}, headers=token(people, "a")).status_code == 409
    assert client.post(f"{url}/interests", json={}, headers=token(people, "npl")).status_code == 403
    client.post(f"{url}/interests", json={}, headers=token(people, "b"))
    seen_by_gov = client.get(f"{url}/interests", headers=token(people, "npl")).get_json()
    assert [i["org"]["name"] for i in seen_by_gov] == ["Donor A", "Donor B"]
    assert seen_by_gov[0]["note"] == "Call us" and seen_by_gov[0]["user_email"] == "a@donor.example"
    seen_by_b = client.get(f"{url}/interests", headers=token(people, "b")).get_json()
    assert [i["org"]["name"] for i in seen_by_b] == ["Donor B"]
    other = client.delete(f"{url}/interests/{interest['id']}", headers=token(people, "b"))
    assert other.status_code == 403
    assert db.session.get(PipelineInterest, interest["id"]) is not None
    assert client.delete(f"{url}/interests/{interest['id']}", headers=token(people, "a")).status_code == 428
    assert db.session.get(PipelineInterest, interest["id"]) is not None
    mine = {**token(people, "a"), "If-Match": made.headers["ETag"]}
    assert client.delete(f"{url}/interests/{interest['id']}", headers=mine).status_code == 204

    def commit_from_fund_a(who, amount, **extra):
        body = {"funding_source_id": people["fund_a"].id, "amount": amount, "currency": "USD", **extra}
        return client.post(f"{url}/commitments", headers=token(people, who), json=body)

    commit = commit_from_fund_a("a", "500000", value_date="2026-02-01")
    assert commit.status_code == 201, commit.get_json()
    assert commit.get_json()["project_status"] == "pipeline"
    assert commit.get_json()["gap"]["gap"] == "1000000.00"
    assert commit_from_fund_a("b", "1").status_code == 403  # donor B does not manage fund A


# -- saved searches and feeds -------------------------------------------------------------


def test_a_search_never_marked_seen_lists_every_current_match_as_new(client, people):
    donor = as_actor(people["a"])
    older = post(people, title="Posted before the search")
    db.session.commit()
    search = marketplace.create_saved_search(donor, "Nepal pipeline", "pipeline", {"country": "NPL"})
    search.created_at = older.created_at + dt.timedelta(minutes=5)
    db.session.flush()
    rows = list(csv.DictReader(io.StringIO(client.get(f"/feeds/saved-searches/{search.token}.csv").text)))
    assert [r["title"] for r in rows] == ["Posted before the search"]
    marketplace.mark_seen(donor, search)
    rows = list(csv.DictReader(io.StringIO(client.get(f"/feeds/saved-searches/{search.token}.csv").text)))
    assert rows == []


def test_saved_search_feeds(client, people, make_source):
    donor = as_actor(people["a"])
    search = marketplace.create_saved_search(donor, "Nepal pipeline", "pipeline", {"country": "NPL"})
    with pytest.raises(ValidationError):
        marketplace.create_saved_search(donor, "Bad", "pipeline", {"country": "QQQ"})
    with pytest.raises(ValidationError):
        marketplace.create_saved_search(donor, "Bad", "funding", {"country": "NPL", "amount": "x", "currency": "USD"})
    first = post(people, title="First project")
    db.session.commit()
    response = client.get(f"/feeds/saved-searches/{search.token}.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = ElementTree.fromstring(response.data)
    titles = [e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")]
    assert titles == ["First project"]
    link = feed.find(f"{ATOM}entry/{ATOM}link").get("href")
    assert link.endswith(f"/pipeline/{first.id}")
    # CSV: only what is new since the search was marked seen.
    rows = list(csv.DictReader(io.StringIO(client.get(f"/feeds/saved-searches/{search.token}.csv").text)))
    assert [r["title"] for r in rows] == ["First project"] and rows[0]["gap_usd"] == "1500000.00"
    marketplace.mark_seen(donor, search)
    search.last_seen_at = first.created_at  # the next project is created later than this
    second = post(people, title="Second project")
    second.created_at = first.created_at + dt.timedelta(seconds=5)
    db.session.flush()
    rows = list(csv.DictReader(io.StringIO(client.get(f"/feeds/saved-searches/{search.token}.csv").text)))
    assert [r["title"] for r in rows] == ["Second project"]
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"/feeds/saved-searches/{search.token}.csv?since=2000-01-01").text))
    )
    assert {r["title"] for r in rows} == {"First project", "Second project"}
    assert client.get("/feeds/saved-searches/not-a-token.atom").status_code == 404


def test_funding_search_feed_lists_eligible_sources(client, people, make_source):
    gov = as_actor(people["npl"])
    search = marketplace.create_saved_search(
        gov,
        "Connectivity",
        "funding",
        {"country": "NPL", "priority_area": "23b", "instrument": "grant"},
    )
    closed = make_source(name="Closed fund", window_until=dt.date(2020, 1, 1))
    feed = ElementTree.fromstring(client.get(f"/feeds/saved-searches/{search.token}.atom").data)
    titles = [e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")]
    assert "Fund A" in titles and "Fund B" in titles and closed.name not in titles


def test_saved_search_api_and_ownership(client, people):
    created = client.post(
        "/api/v1/saved-searches",
        headers=token(people, "a"),
        json={"name": "Mine", "kind": "pipeline", "params": {"priority_area": "23b"}},
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["atom_url"].endswith(".atom") and body["csv_url"].endswith(".csv")
    assert client.get("/api/v1/saved-searches", headers=token(people, "b")).get_json() == []
    assert client.delete(f"/api/v1/saved-searches/{body['id']}", headers=token(people, "b")).status_code == 404
    assert client.delete(f"/api/v1/saved-searches/{body['id']}", headers=token(people, "a")).status_code == 428
    mine = {**token(people, "a"), "If-Match": created.headers["ETag"]}
    assert client.delete(f"/api/v1/saved-searches/{body['id']}", headers=mine).status_code == 204
    bad = client.post(
        "/api/v1/saved-searches",
        headers=token(people, "a"),
        json={"name": "Bad", "kind": "other", "params": {}},
    )
    assert bad.status_code == 422 and "kind" in bad.get_json()["errors"]


def test_changing_areas_and_country_keeps_rows_consistent_and_audited(people):
    project = post(people)
    marketplace.update_pipeline_project(as_actor(people["npl"]), project, {"areas": ["23f", "23b"]})
    assert [(a.area_code, a.share_ppm) for a in project.areas] == [("23b", 500_000), ("23f", 500_000)]
    events = db.session.query(AuditEvent).filter_by(entity_type="project", entity_id=project.id, action="update")
    assert any("areas" in e.summary for e in events)
    marketplace.update_pipeline_project(as_actor(people["admin"]), project, {"country": "KEN"})
    assert [r.country_iso3 for r in project.recipients] == ["KEN"]
    with pytest.raises(ValidationError):
        marketplace.update_pipeline_project(as_actor(people["admin"]), project, {"areas": ["23q"]})


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "A\x00B"), ("country", "\x00\x00\x00"), ("areas", ["\x00"]), ("contact_email", "a\x00@b.c")],
)
def test_nul_characters_are_refused_before_the_database(people, field, value):
    data = {**PROJECT, "country": "NPL", field: value}
    with pytest.raises(ValidationError) as caught:  # as an admin, who may name any country
        marketplace.post_pipeline_project(as_actor(people["admin"]), data, people["gov_npl"])
    assert field in caught.value.errors


def test_nul_in_filters_and_notes(people):
    for filters in ({"country": "\x00\x00\x00"}, {"priority_area": "\x00"}, {"q": "x\x00"}):
        with pytest.raises(ValidationError):
            marketplace.pipeline_filters(filters)
    with pytest.raises(ValidationError):
        marketplace.express_interest(as_actor(people["a"]), post(people), "note\x00")
