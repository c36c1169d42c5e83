"""`flask finder funding|projects`, `pipeline list|post|interest` and `saved-search ...`: the
results of the page and the API (the same figures, the same order), and the marketplace's
rules for who posts, who declares interest and whose searches are whose."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import PipelineInterest, Project, SavedSearch
from registry.models.types import ProjectStatus
from registry.services import marketplace

DAY = "2025-06-01"


@pytest.fixture
def market(actor, make_org, make_source, make_user):
    """A Nepalese government (and its user), a donor (and its user) with a fund for Nepal's
    broadband, and two open pipeline projects of Nepal and one of Kenya."""
    gov = make_org(ref="GOV-NPL", name="Government of Nepal", kind="government", country_iso3="NPL")
    kenya = make_org(ref="GOV-KEN", name="Government of Kenya", kind="government", country_iso3="KEN")
    government, _token = make_user("government", org=gov, country="NPL")
    donor, _token = make_user("donor")
    fund = make_source(
        managing_org_id=donor.org_id,
        name="Broadband fund",
        countries=["NPL"],
        areas=["23b"],
        instruments=["grant"],
        min_amount="100000",
        max_amount="3000000",
        amount_currency="USD",
    )
    other = make_source(name="Loans elsewhere", countries=["BOL"], instruments=["concessional_loan"])

    def post(org, title, country, amount, area="23b"):
        data = {
            "title": title,
            "country": country,
            "areas": [area],
            "need": {"amount": amount, "currency": "USD"},
            "instrument_sought": "grant",
            "contact_email": "pm@gov.example",
        }
        return marketplace.post_pipeline_project(actor, data, org)

    projects = [
        post(gov, "Rural broadband", "NPL", "2000000"),
        post(gov, "National backbone", "NPL", "9000000"),
        post(kenya, "Kenya hubs", "KEN", "1000000", area="23c"),
    ]
    db.session.commit()
    return {"government": government, "donor": donor, "fund": fund, "other": other, "projects": projects}


def invoke_json(runner, args):
    result = runner.invoke(args=[*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# -- the finder ------------------------------------------------------------------------------


def test_the_finder_gives_the_apis_figures(runner, client, market):
    api = client.get(
        f"/api/v1/funding-sources/match?country=NPL&priority_area=23b&instrument=grant"
        f"&amount=2000000&currency=USD&date={DAY}"
    ).get_json()
    args = ["finder", "funding", "--country", "npl", "--area", "23b", "--instrument", "grant"]
    cli = invoke_json(runner, [*args, "--amount", "2000000", "--currency", "USD", "--date", DAY])
    assert cli == api
    assert cli["matches"][0]["source"]["id"] == market["fund"].id
    assert market["other"].id in [m["source"]["id"] for m in cli["failing"]]


def test_the_finder_table_ranks_as_the_api_and_lists_the_misfits_apart(runner, client, market):
    api = client.get(f"/api/v1/funding-sources/match?country=NPL&priority_area=23b&date={DAY}").get_json()
    result = runner.invoke(args=["finder", "funding", "--country", "NPL", "--area", "23b", "--date", DAY])
    assert result.exit_code == 0, result.output
    ranked, _sep, misfits = result.output.partition("Not a fit")
    lines = ranked.splitlines()
    assert lines[0] == f"Funding for NPL, areas 23b, any instrument, any amount, on {DAY}:"
    assert lines[1].split() == [
        "rank",
        "score",
        "id",
        "ref",
        "source",
        "managed",
        "by",
        "failed",
        "usd",
        "in",
        "country",
    ]
    rows = [line.split() for line in lines[2:] if line.strip()]
    assert [(int(r[0]), int(r[1]), int(r[2])) for r in rows] == [
        (m["rank"], m["score"], m["source"]["id"]) for m in api["matches"]
    ]
    assert f"({len(api['failing'])}): a hard criterion is not met" in misfits
    assert market["other"].ref in misfits
    quiet = runner.invoke(args=["finder", "funding", "--country", "NPL", "--date", DAY, "--no-failing"])
    assert quiet.exit_code == 0 and "Not a fit" not in quiet.output


def test_the_finder_refuses_what_the_api_refuses(runner, market):
    result = runner.invoke(args=["finder", "funding", "--country", "XXX", "--area", "99z"])
    assert result.exit_code == 1
    assert "The search is not valid; see errors for each field" in result.output
    assert "country: Unknown country 'XXX'" in result.output and "priority_area: Unknown priority area" in result.output
    no_source = runner.invoke(args=["finder", "projects", "999999"])
    assert no_source.exit_code == 1 and "999999" in no_source.output


def test_matching_projects_for_a_source_are_the_apis(runner, client, market):
    fund = market["fund"]
    api = client.get(f"/api/v1/funding-sources/{fund.id}/matching-projects?date={DAY}").get_json()
    cli = invoke_json(runner, ["finder", "projects", str(fund.id), "--date", DAY])
    assert cli == api
    rural, backbone, kenya = market["projects"]
    assert [p["project"]["id"] for p in cli["projects"]] == [rural.id, backbone.id]
    table = runner.invoke(args=["finder", "projects", str(fund.id), "--date", DAY])
    assert table.exit_code == 0, table.output
    rows = [line.split() for line in table.output.splitlines()[2:]]
    assert [(int(r[0]), int(r[2])) for r in rows] == [(1, rural.id), (2, backbone.id)]
    assert "2000000.00" in table.output
    failing = invoke_json(runner, ["finder", "projects", str(fund.id), "--date", DAY, "--include-failing"])
    assert (
        failing
        == client.get(f"/api/v1/funding-sources/{fund.id}/matching-projects?date={DAY}&include_failing=true").get_json()
    )
    assert [p["failed"] for p in failing["projects"] if p["project"]["id"] == kenya.id] == [["eligibility"]]


# -- the pipeline ---------------------------------------------------------------------------


def test_pipeline_list_filters_as_the_page_and_the_api(runner, client, market):
    rural, backbone, kenya = market["projects"]
    assert (
        invoke_json(runner, ["pipeline", "list", "--country", "NPL"])
        == client.get("/api/v1/pipeline-projects?country=NPL").get_json()
    )
    table = runner.invoke(args=["pipeline", "list", "--area", "23c"])
    assert table.exit_code == 0, table.output
    assert "Kenya hubs" in table.output and "Rural broadband" not in table.output
    assert "1 pipeline project(s)" in table.output
    text = runner.invoke(args=["pipeline", "list", "--q", "backbone"])
    assert "National backbone" in text.output and "Kenya hubs" not in text.output
    bad = runner.invoke(args=["pipeline", "list", "--instrument", "gift"])
    assert bad.exit_code == 1 and "instrument: Unknown instrument 'gift'" in bad.output


PIPELINE = {
    "title": "District e-government centres",
    "areas": ["23b"],
    "need": {"amount": "1500000", "currency": "USD"},
    "instrument_sought": "grant",
    "contact_email": "ict@gov.example",
}


def test_a_government_posts_for_its_own_country(runner, market):
    result = runner.invoke(
        args=["pipeline", "post", "-", "--as", market["government"].email], input=json.dumps(PIPELINE)
    )
    assert result.exit_code == 0, result.output
    project = db.session.scalar(select(Project).where(Project.title == PIPELINE["title"]))
    assert project.status is ProjectStatus.PIPELINE
    assert [r.country_iso3 for r in project.recipients] == ["NPL"]
    assert f"Posted pipeline project {project.id} (PIPE-NPL-" in result.output
    assert f"http://localhost/pipeline/{project.id}" in result.output


def test_a_pipeline_project_from_yaml_as_json_output(runner, market, tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "need.yaml"
    path.write_text(
        "title: Post office connectivity\nareas: [23b]\nneed: {amount: '800000', currency: USD}\n"
        "instrument_sought: grant\ncontact_email: ict@gov.example\nplanned_start: 2026-01-01\n"
    )
    body = invoke_json(runner, ["pipeline", "post", str(path), "--as", market["government"].email])
    assert body["countries"] == ["NPL"] and body["planned_start"] == "2026-01-01"
    assert body["gap"]["gap_usd"] == "800000.00"


@pytest.mark.parametrize(
    ("who", "data", "message"),
    [
        ("donor", PIPELINE, "Only recipient governments post pipeline projects"),
        ("government", dict(PIPELINE, country="KEN"), "A government posts pipeline projects for its own country (NPL)"),
        ("government", {"title": "Half a request"}, "The pipeline project is not complete"),
        ("government", dict(PIPELINE, budget="1"), "budget: Unknown field"),
    ],
)
def test_a_pipeline_post_is_refused_as_by_the_api(runner, market, who, data, message):
    before = db.session.scalar(select(func.count(Project.id)))
    result = runner.invoke(args=["pipeline", "post", "-", "--as", market[who].email], input=json.dumps(data))
    assert result.exit_code == 1 and message in result.output
    assert db.session.scalar(select(func.count(Project.id))) == before


def test_the_system_posts_for_a_named_government(runner, market):
    gov_id = market["government"].org_id
    missing = runner.invoke(args=["pipeline", "post", "-"], input=json.dumps(dict(PIPELINE, country="NPL")))
    assert missing.exit_code == 1 and "Choose the government organisation" in missing.output
    result = runner.invoke(
        args=["pipeline", "post", "-"], input=json.dumps(dict(PIPELINE, country="NPL", org_id=gov_id))
    )
    assert result.exit_code == 0, result.output


def test_a_donor_declares_interest_once(runner, market):
    rural = market["projects"][0]
    donor = market["donor"]
    args = ["pipeline", "interest", str(rural.id), "--as", donor.email, "--note", "We fund fibre"]
    body = invoke_json(runner, args)
    assert (body["project_id"], body["org"]["id"], body["note"]) == (rural.id, donor.org_id, "We fund fibre")
    again = runner.invoke(args=args)
    assert again.exit_code == 1 and "Your organisation has already recorded interest" in again.output
    refused = runner.invoke(args=["pipeline", "interest", str(rural.id), "--as", market["government"].email])
    assert refused.exit_code == 1 and "Only donor organisations record interest" in refused.output
    assert db.session.scalar(select(func.count(PipelineInterest.id))) == 1
    text = runner.invoke(args=["pipeline", "interest", str(market["projects"][1].id), "--as", donor.email])
    assert text.exit_code == 0 and "Recorded the interest of" in text.output


def test_interest_needs_a_user(runner, market):
    result = runner.invoke(args=["pipeline", "interest", str(market["projects"][0].id)])
    assert result.exit_code == 2 and "--as" in result.output


# -- saved searches -------------------------------------------------------------------------


def test_saved_searches_are_created_listed_run_and_deleted(runner, client, market):
    donor = market["donor"]
    created = invoke_json(
        runner,
        [
            "saved-search",
            "create",
            "--as",
            donor.email,
            "--name",
            "Nepal broadband",
            "--kind",
            "funding",
            "--param",
            "country=npl",
            "--param",
            "priority_area=23b",
        ],
    )
    assert created["params"] == {"country": "NPL", "priority_area": "23b"}
    assert created["atom_url"].startswith("http://localhost/") and created["atom_url"].endswith(".atom")
    search = db.session.get(SavedSearch, created["id"])
    assert search.user_id == donor.id

    listed = runner.invoke(args=["saved-search", "list", "--as", donor.email])
    assert listed.exit_code == 0 and "Nepal broadband" in listed.output
    assert invoke_json(runner, ["saved-search", "list", "--as", donor.email]) == [created]

    run = invoke_json(runner, ["saved-search", "run", str(search.id), "--as", donor.email])
    expected = [item.row for item in marketplace.search_matches(search)]
    assert json.loads(json.dumps(expected, default=str)) == run["matches"]
    assert run["matches"][0]["source_id"] == market["fund"].id
    table = runner.invoke(args=["saved-search", "run", str(search.id), "--as", donor.email])
    assert f"Nepal broadband (funding): {len(expected)} match(es)" in table.output

    others = runner.invoke(args=["saved-search", "delete", str(search.id), "--as", market["government"].email])
    assert others.exit_code == 1 and f"No saved search with id {search.id}" in others.output
    deleted = runner.invoke(args=["saved-search", "delete", str(search.id), "--as", donor.email])
    assert deleted.exit_code == 0 and "Deleted saved search" in deleted.output
    assert db.session.get(SavedSearch, search.id) is None


def test_a_pipeline_search_runs_in_the_marketplaces_order(runner, market):
    government = market["government"]
    result = runner.invoke(
        args=[
            "saved-search",
            "create",
            "--as",
            government.email,
            "--name",
            "Open in Nepal",
            "--kind",
            "pipeline",
            "--param",
            "country=NPL",
        ]
    )
    assert result.exit_code == 0, result.output
    search_id = db.session.scalar(select(SavedSearch.id).where(SavedSearch.name == "Open in Nepal"))
    run = invoke_json(runner, ["saved-search", "run", str(search_id), "--as", government.email])
    assert {m["project_id"] for m in run["matches"]} == {p.id for p in market["projects"][:2]}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["--param", "country=XXX"], "country: Unknown country 'XXX'"),
        (["--param", "colour=blue"], "colour: Unknown parameter"),
        (["--param", "nonsense"], "is not KEY=VALUE"),
    ],
)
def test_a_saved_search_is_checked_as_the_live_search(runner, market, params, message):
    args = ["saved-search", "create", "--as", market["donor"].email, "--name", "x", "--kind", "funding"]
    result = runner.invoke(args=[*args, *params])
    assert result.exit_code in (1, 2) and message in result.output
    assert db.session.scalar(select(func.count(SavedSearch.id))) == 0


def test_an_amount_without_its_currency_is_refused_as_the_api_refuses_it(runner, client):
    api = client.get("/api/v1/funding-sources/match?country=NPL&amount=2000000")
    assert api.status_code == 422
    result = runner.invoke(args=["finder", "funding", "--country", "NPL", "--amount", "2000000"])
    assert result.exit_code == 1, result.output
    assert "currency" in result.output.lower()
