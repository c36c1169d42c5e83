"""The finder and marketplace pages: forms, rights, interest, commitments, saved searches."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from registry.extensions import db
from registry.models import PipelineInterest, Project, SavedSearch
from registry.models.types import ProjectStatus
from registry.services import marketplace
from tests.registry.test_marketplace import PROJECT, as_actor, governments_and_donors
from tests.sessions import log_in


@pytest.fixture
def people(actor, make_org, make_source):
    """Nepal's and Kenya's governments, a donor with an Asian fund, another with a closed one."""
    users = governments_and_donors(actor, make_org)
    users["fund_a"] = make_source(
        name="Asia Connect Fund",
        managing_org_id=users["donor_a"].id,
        regions=["142"],
        areas=["23b"],
        min_amount="100000",
        max_amount="5000000",
    )
    users["closed"] = make_source(
        name="Old Window Fund", managing_org_id=users["donor_b"].id, window_until=dt.date(2020, 12, 31)
    )
    db.session.commit()
    return users


def login(client, user):
    log_in(client, user)


def post_project(people, **overrides):
    project = marketplace.post_pipeline_project(as_actor(people["npl"]), dict(PROJECT, **overrides))
    db.session.commit()
    return project


def test_find_funding_form_and_results(client, people):
    empty = client.get("/find-funding")
    assert empty.status_code == 200 and b"Find funding" in empty.data
    page = client.get("/find-funding?country=NPL&priority_area=23b&instrument=grant&amount=2500000&currency=USD")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    ranked, _, failing = html.partition('id="failing-heading"')
    assert "Asia Connect Fund" in ranked and "Old Window Fund" in failing
    assert "the window closed on Dec 31, 2020" in failing
    assert 'data-status="met"' in ranked and "Similar past projects" in ranked or "No similar past project" in ranked


def test_the_finder_scores_out_of_what_a_source_can_reach(client, people):
    """Every criterion met (30 + 30 + 20 + 20 + 10) and the largest track-record bonus (10 for
    the country, else 5 for the region, and 5 for the area): 125, not a number typed in a page."""
    from registry.services import matching

    assert matching.MAX_SCORE == 30 + 30 + 20 + 20 + 10 + 10 + 5
    html = client.get("/find-funding?country=NPL&priority_area=23b&instrument=grant").get_data(as_text=True)
    out_of = set(re.findall(r"/(\d+)</span></span>", html))
    assert out_of == {"125"}, out_of
    assert "/130" not in html and "plus up to 15 for a track record" in html
    scores = [int(s) for s in re.findall(r'class="score"[^>]*><strong>(\d+)</strong>', html)]
    assert scores and max(scores) <= matching.MAX_SCORE


def test_find_funding_bad_input_is_shown_on_the_form(client, people):
    page = client.get("/find-funding?country=ZZZ&amount=1.234&currency=USD")
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "Unknown country" in html and "more decimals" in html


def test_government_defaults_to_its_country(client, people):
    login(client, people["npl"])
    html = client.get("/find-funding").get_data(as_text=True)
    assert re.search(r'<option value="NPL" selected>', html)


def test_forms_offer_only_currencies_the_registry_can_convert(client, people):
    """Nepal's rupee converts at IMF annual rates; North Korea's won has no rate in any source:
    a need in KPW could never be compared or reported."""
    login(client, people["npl"])
    for url in ("/find-funding", "/pipeline/new"):
        html = client.get(url).get_data(as_text=True)
        offered = set(re.findall(r'<option value="([A-Z]{3})"[^>]*>[A-Z]{3}</option>', html))
        assert {"USD", "EUR", "GBP", "JPY"} <= offered, url
        assert "NPR" in offered and "KES" in offered, url
        assert "KPW" not in offered and "VES" not in offered, url


def test_government_posts_edits_and_withdraws_through_forms(client, people):
    login(client, people["npl"])
    form = client.get("/pipeline/new")
    assert form.status_code == 200
    assert "<strong>Nepal</strong>" in form.get_data(as_text=True)  # the officer's country by name
    response = client.post(
        "/pipeline/new",
        data={
            "title": "District e-health hubs",
            "country": "NPL",
            "areas": ["23f", "23l"],
            "need_amount": "800000",
            "need_currency": "EUR",
            "instrument_sought": "grant",
            "planned_start": "2026-03-01",
            "planned_end": "2027-12-31",
            "contact_name": "Dr Rai",
            "contact_email": "rai@health.example",
        },
    )
    assert response.status_code == 302
    project = db.session.query(Project).filter_by(title="District e-health hubs").one()
    assert project.status is ProjectStatus.PIPELINE and project.need_currency == "EUR"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "District e-health hubs" in page and "Withdraw" in page and "800,000.00 EUR" in page
    # one click from the project to the sources that could fund what remains of it
    link = re.search(r'id="find-funding-for-project" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert link.startswith("/find-funding?") and "country=NPL" in link and "instrument=grant" in link
    assert "priority_area=23f" in link and "priority_area=23l" in link and "amount=800000" in link
    assert "currency=EUR" in link and client.get(link).status_code == 200
    missing = client.post("/pipeline/new", data={"title": "", "country": "NPL", "need_amount": "x"})
    assert missing.status_code == 422 and "Required for a pipeline project" in missing.get_data(as_text=True)
    edited = client.post(
        f"/pipeline/{project.id}/edit",
        data={
            "title": "District e-health hubs (phase 1)",
            "country": "NPL",
            "areas": ["23f"],
            "need_amount": "800000",
            "need_currency": "EUR",
            "instrument_sought": "grant",
            "contact_email": "rai@health.example",
            "version": project.version,
        },
    )
    assert edited.status_code == 302
    assert client.post(f"/pipeline/{project.id}/withdraw").status_code == 302
    assert db.session.get(Project, project.id).status is ProjectStatus.CANCELLED
    assert "Withdrawn by the government" in client.get(f"/pipeline/{project.id}").get_data(as_text=True)


def test_other_governments_and_donors_cannot_edit(client, people):
    project = post_project(people)
    login(client, people["ken"])
    assert client.get(f"/pipeline/{project.id}/edit").status_code == 403
    assert client.post(f"/pipeline/{project.id}/withdraw").status_code == 403
    assert "Withdraw" not in client.get(f"/pipeline/{project.id}").get_data(as_text=True)
    login(client, people["a"])
    assert client.get("/pipeline/new").status_code == 403
    assert client.post(f"/pipeline/{project.id}/withdraw").status_code == 403
    assert db.session.get(Project, project.id).status is ProjectStatus.PIPELINE


def test_anonymous_is_sent_to_log_in_or_refused(client, people):
    response = client.get("/pipeline/new")
    assert response.status_code in (302, 401)


def test_donor_marks_interest_and_government_sees_it(client, people):
    project = post_project(people)
    login(client, people["a"])
    page = client.get(f"/pipeline/{project.id}").get_data(as_text=True)
    assert "I’m interested" in page
    assert client.post(f"/pipeline/{project.id}/interest", data={"note": "Fits our call"}).status_code == 302
    page = client.get(f"/pipeline/{project.id}").get_data(as_text=True)
    assert "Your organisation is interested" in page
    interest = db.session.query(PipelineInterest).one()
    login(client, people["b"])
    assert client.post(f"/pipeline/{project.id}/interest/{interest.id}/withdraw").status_code == 403
    # Another donor sees who is interested, to coordinate, but not the note to the government.
    seen_by_b = client.get(f"/pipeline/{project.id}").get_data(as_text=True)
    assert "Donor A" in seen_by_b and "Fits our call" not in seen_by_b and "a@donor.example" not in seen_by_b
    login(client, people["npl"])
    page = client.get(f"/pipeline/{project.id}").get_data(as_text=True)
    assert "Donor A" in page and "Fits our call" in page and "a@donor.example" in page
    login(client, people["a"])
    assert client.post(f"/pipeline/{project.id}/interest/{interest.id}/withdraw").status_code == 302
    assert db.session.query(PipelineInterest).count() == 0


def test_donor_commits_from_the_project_page(client, people):
    project = post_project(people)
    login(client, people["a"])
    page = client.get(f"/pipeline/{project.id}").get_data(as_text=True)
    assert "Record commitment" in page and "Asia Connect Fund" in page

    def commit(amount, **options):
        form = {"funding_source_id": people["fund_a"].id, "amount": amount, "currency": "USD"}
        return client.post(f"/pipeline/{project.id}/commit", data=dict(form, value_date="2026-01-15"), **options)

    response = commit("500000", follow_redirects=True)
    assert "stays listed for co-financing" in response.get_data(as_text=True)
    project = db.session.get(Project, project.id)
    assert project.status is ProjectStatus.PIPELINE  # 1,000,000 USD still unfunded
    assert [t.funding_source_id for t in project.transactions] == [people["fund_a"].id]
    bad = commit("1.001", follow_redirects=True)
    assert "more decimals" in bad.get_data(as_text=True)


def test_pipeline_list_and_projects_matching_my_fund(client, people):
    project = post_project(people)
    post_project(people, title="Kenya project", country="NPL", areas=["23f"])
    html = client.get("/pipeline?country=NPL&priority_area=23b").get_data(as_text=True)
    assert PROJECT["title"] in html and "Kenya project" not in html and "1,500,000.00 USD" in html
    assert client.get("/pipeline?country=QQQ").status_code == 422
    login(client, people["a"])
    funds = client.get("/my-funds").get_data(as_text=True)
    assert "Asia Connect Fund" in funds
    page = client.get(f"/pipeline/for-source/{people['fund_a'].id}").get_data(as_text=True)
    assert PROJECT["title"] in page and 'data-criterion="eligibility"' in page
    assert f'data-project-id="{project.id}"' in page


def test_each_role_sees_its_own_links_and_fields(client, people):
    """The pages' role checks: a donor is offered the projects matching its funds, a
    government posts for its own country only (no country to choose)."""
    post_project(people)
    listing = client.get("/pipeline").get_data(as_text=True)
    assert "Projects matching my funds" not in listing  # anonymous
    login(client, people["a"])
    assert "Projects matching my funds" in client.get("/pipeline").get_data(as_text=True)
    login(client, people["npl"])
    assert "Projects matching my funds" not in client.get("/pipeline").get_data(as_text=True)
    form = client.get("/pipeline/new").get_data(as_text=True)
    assert '<input type="hidden" name="country" value="NPL">' in form and '<select id="country"' not in form


def test_saved_searches_pages(client, people):
    login(client, people["npl"])
    response = client.post(
        "/saved-searches",
        data={
            "kind": "funding",
            "name": "Connectivity money",
            "country": "NPL",
            "priority_area": "23b",
        },
    )
    assert response.status_code == 302
    search = db.session.query(SavedSearch).one()
    page = client.get("/saved-searches").get_data(as_text=True)
    assert "Connectivity money" in page and f"/feeds/saved-searches/{search.token}.atom" in page
    assert "<td>Nepal; 23b Remote access" in page  # criteria in words, not key=value
    assert re.search(r'<a href="/find-funding\?[^"]*country=NPL[^"]*"[^>]*>Connectivity money</a>', page)
    assert client.post(f"/saved-searches/{search.id}/seen").status_code == 302
    login(client, people["a"])  # someone else's search is not theirs to delete
    assert client.post(f"/saved-searches/{search.id}/delete").status_code == 404
    login(client, people["npl"])
    assert client.post(f"/saved-searches/{search.id}/delete").status_code == 302
    assert db.session.query(SavedSearch).count() == 0


def test_every_post_form_carries_a_csrf_token(client, people):
    project = post_project(people)
    pages = []
    for who, url in (
        ("npl", "/find-funding?country=NPL"),
        ("npl", f"/pipeline/{project.id}"),
        ("npl", "/pipeline/new"),
        ("npl", "/saved-searches"),
        ("a", f"/pipeline/{project.id}"),
        ("a", "/pipeline"),
        ("a", f"/pipeline/for-source/{people['fund_a'].id}"),
    ):
        login(client, people[who])
        pages.append(client.get(url).get_data(as_text=True))
    client.post("/saved-searches", data={"kind": "pipeline", "name": "x"})
    pages.append(client.get("/saved-searches").get_data(as_text=True))
    forms = [f for html in pages for f in re.findall(r"<form[^>]*method=\"post\".*?</form>", html, re.S)]
    assert len(forms) >= 6
    assert all('name="csrf_token"' in f for f in forms)


def test_saved_searches_page_survives_odd_stored_values(client, people):
    """Codes typed in lower case are stored in upper case; a row stored before its values were
    checked (an unknown currency, a fund id that is not a number) still lets the page open."""
    login(client, people["npl"])
    actor = as_actor(people["npl"])
    typed = marketplace.create_saved_search(
        actor, "Lower case", "funding", {"country": "npl", "amount": "2500", "currency": "eur"}
    )
    assert typed.params["country"] == "NPL" and typed.params["currency"] == "EUR"
    for params, kind in (
        ({"amount": "10", "currency": "zzz", "country": "NPL"}, "funding"),
        ({"source_id": "abc"}, "pipeline"),
    ):
        db.session.add(
            SavedSearch(user_id=people["npl"].id, name=f"Old {kind}", kind=kind, params=params, token=f"t-{kind}")
        )
    db.session.commit()
    page = client.get("/saved-searches")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "2,500.00 EUR" in html and "10 ZZZ" in html and "Fund abc" in html


def test_the_finder_shows_the_gap_map_with_the_country_sought_outlined(client):
    """The reports' world map on the finder, following the areas sought; the map itself answers."""
    import re

    page = client.get("/find-funding?country=NPL&priority_area=23b&amount=500000&currency=USD").get_data(as_text=True)
    src = re.search(r'<figure class="panel finder-map">\s*<img src="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "highlight=NPL" in src and "priority_area=23b" in src and "measure=gap" in src
    svg = client.get(src)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
