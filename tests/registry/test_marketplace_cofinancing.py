"""Co-financing: a pipeline project stays listed with its remaining gap until commitments
cover its need; the finder starts from that gap; donors see who else has committed."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from registry import money
from registry.extensions import db
from registry.models import Project
from registry.models.types import ProjectStatus, Role
from registry.services import marketplace
from registry.services.actor import Actor
from tests.registry.test_marketplace import as_actor, governments_and_donors, post, token
from tests.sessions import log_in

DAY = dt.date(2024, 3, 1)


@pytest.fixture
def people(actor, make_org, make_source):
    """Nepal's government and two donors with a fund each."""
    users = governments_and_donors(actor, make_org)
    users["fund_a"] = make_source(name="Fund A", managing_org_id=users["donor_a"].id, countries=["NPL"])
    users["fund_b"] = make_source(name="Fund B", managing_org_id=users["donor_b"].id)
    db.session.commit()
    return users


def commit(people, who, project, amount, currency="USD", day=DAY):
    fund = people["fund_a"] if who == "a" else people["fund_b"]
    tx = marketplace.commit_to_pipeline_project(as_actor(people[who]), project, fund, amount, currency, day)
    db.session.commit()
    return tx


def listed_ids(client, query="") -> list[int]:
    response = client.get(f"/api/v1/pipeline-projects{query}")
    assert response.status_code == 200, response.get_json()
    return [p["id"] for p in response.get_json()]


@pytest.fixture
def in_euros(people):
    """A pipeline project needing 1,000,000.00 EUR."""
    project = post(people, need={"amount": "1000000", "currency": "EUR"}, planned_start=dt.date(2024, 1, 2))
    db.session.commit()
    return project


def test_a_first_commitment_keeps_the_project_listed_with_its_gap_to_the_cent(client, people, in_euros):
    commit(people, "a", in_euros, "250000.00", "USD")
    project = db.session.get(Project, in_euros.id)
    assert project.status is ProjectStatus.PIPELINE
    in_eur = money.quantize(money.convert(Decimal("250000.00"), "USD", "EUR", DAY).amount, "EUR")
    expected = Decimal("1000000.00") - in_eur
    assert Decimal(0) < in_eur < Decimal("250000.00")  # a real conversion, not a copy of the USD figure
    listing = marketplace.open_projects()
    assert [p.id for p in listing.projects] == [project.id]
    assert listing.gaps[project.id].gap == expected
    body = client.get("/api/v1/pipeline-projects").get_json()[0]
    assert body["status"] == "pipeline"
    assert body["gap"]["currency"] == "EUR"
    assert body["gap"]["committed"] == str(in_eur) and body["gap"]["gap"] == str(expected)
    page = client.get("/pipeline").get_data(as_text=True)
    assert f'data-project-id="{project.id}"' in page and "co-financed" in page


def test_commitments_that_cover_the_need_take_the_project_off_the_list(client, people):
    project = post(people)  # 1,500,000 USD
    db.session.commit()
    commit(people, "a", project, "600000")
    assert db.session.get(Project, project.id).status is ProjectStatus.PIPELINE
    assert listed_ids(client) == [project.id]
    commit(people, "b", project, "899999.99")
    assert db.session.get(Project, project.id).status is ProjectStatus.PIPELINE  # one cent short
    assert client.get("/api/v1/pipeline-projects").get_json()[0]["gap"]["gap"] == "0.01"
    commit(people, "b", project, "0.01")
    assert db.session.get(Project, project.id).status is ProjectStatus.ACTIVE
    assert listed_ids(client) == []
    assert f'data-project-id="{project.id}"' not in client.get("/pipeline").get_data(as_text=True)
    # An active project still takes commitments; it does not come back to the marketplace.
    commit(people, "a", project, "1000")
    assert listed_ids(client) == []


def test_a_need_lowered_to_what_is_committed_is_covered(people):
    project = post(people)
    db.session.commit()
    commit(people, "a", project, "600000")
    gov = as_actor(people["npl"])
    marketplace.update_pipeline_project(gov, project, {"need": {"amount": "600000", "currency": "USD"}})
    assert project.status is ProjectStatus.ACTIVE
    assert marketplace.open_projects().projects == []


def test_withdrawing_a_co_financed_project_keeps_the_money_committed(people):
    funded = post(people, title="Funded in part")
    unfunded = post(people, title="Nobody came")
    db.session.commit()
    commit(people, "a", funded, "600000")
    gov = as_actor(people["npl"])
    marketplace.withdraw_pipeline_project(gov, funded)
    marketplace.withdraw_pipeline_project(gov, unfunded)
    assert funded.status is ProjectStatus.ACTIVE and unfunded.status is ProjectStatus.CANCELLED
    assert marketplace.was_withdrawn(unfunded)
    assert marketplace.open_projects().projects == []


def test_filters_by_commitments_and_gap_and_sorts_by_gap(client, people):
    small = post(people, title="Small", need={"amount": "200000", "currency": "USD"})
    large = post(people, title="Large", need={"amount": "3000000", "currency": "USD"})
    started = post(people, title="Started")  # 1,500,000, 1,000,000 left after a commitment
    db.session.commit()
    commit(people, "a", started, "500000")
    assert listed_ids(client, "?has_commitments=true") == [started.id]
    assert set(listed_ids(client, "?has_commitments=false")) == {small.id, large.id}
    assert set(listed_ids(client, "?min_gap=1000000")) == {started.id, large.id}
    assert listed_ids(client, "?min_gap=1000000.01") == [large.id]
    assert listed_ids(client, "?sort=gap") == [large.id, started.id, small.id]
    assert listed_ids(client, "?sort=gap_asc") == [small.id, started.id, large.id]
    for bad in ("?min_gap=lots", "?min_gap=-1", "?sort=title", "?has_commitments=maybe"):
        response = client.get(f"/api/v1/pipeline-projects{bad}")
        assert response.status_code == 422, bad
    page = client.get("/pipeline?sort=gap&min_gap=1000000").get_data(as_text=True)
    assert page.index(f'data-project-id="{large.id}"') < page.index(f'data-project-id="{started.id}"')
    assert f'data-project-id="{small.id}"' not in page
    assert client.get("/pipeline?min_gap=lots").status_code == 422
    search = marketplace.create_saved_search(
        as_actor(people["a"]), "Co-financing", "pipeline", {"has_commitments": "true"}
    )
    assert [item.id for item in marketplace.search_matches(search)] == [started.id]


def test_donors_see_who_has_committed_and_who_is_interested(client, people):
    project = post(people)
    db.session.commit()
    marketplace.express_interest(as_actor(people["b"]), project, "Our board meets in May")
    commit(people, "a", project, "600000", day=dt.date(2026, 1, 10))
    url = f"/api/v1/pipeline-projects/{project.id}"
    anonymous = client.get(url).get_json()
    [committed] = anonymous["commitments"]
    assert committed["org"]["name"] == "Donor A" and committed["funding_source"]["name"] == "Fund A"
    assert committed["amount"] == "600000.00" and committed["currency"] == "USD"
    assert committed["value_date"] == "2026-01-10"
    assert anonymous["interest_count"] == 1 and anonymous["interested"] == []
    as_donor_a = client.get(url, headers=token(people, "a")).get_json()
    assert [i["org"]["name"] for i in as_donor_a["interested"]] == ["Donor B"]
    assert "Our board meets in May" not in str(as_donor_a)
    log_in(client, people["a"])
    page = client.get(f"/pipeline/{project.id}").get_data(as_text=True)
    assert "Who has committed" in page and "Donor A" in page and "Fund A" in page and "600,000.00" in page
    assert "Donor B" in page and "Our board meets in May" not in page
    assert "stays listed for co-financing" in page


def test_the_finder_starts_from_the_remaining_gap(client, people, in_euros):
    commit(people, "a", in_euros, "250000.00", "USD")
    gap = marketplace.open_projects().gaps[in_euros.id]
    page = client.get(f"/pipeline/{in_euros.id}").get_data(as_text=True)
    link = html.unescape(page.split('id="find-funding-for-project" href="', 1)[1].split('"', 1)[0])
    query = parse_qs(urlsplit(link).query)
    assert query["amount"] == [str(gap.gap)] and query["currency"] == ["EUR"]
    assert query["project"] == [str(in_euros.id)] and query["country"] == ["NPL"]
    found = client.get(link).get_data(as_text=True)
    assert 'id="amount-from-gap"' in found and "remaining gap" in found
    assert f'value="{gap.gap}"' in found  # the amount field holds the gap
    assert money.format_amount(gap.gap, "EUR").split()[0] in found
    # Another amount is the reader's own: the finder no longer says it is the gap.
    other = link.replace(f"amount={gap.gap}", "amount=5000")
    assert 'id="amount-from-gap"' not in client.get(other).get_data(as_text=True)


def test_the_list_comes_in_pages_in_the_order_of_the_whole(client, people, monkeypatch):
    """Seven open projects (one covered, left out): pages of three in the API give the whole
    list's order, the total in X-Total-Count and the next page in Link; the page shows 50 at a
    time (three here) with its pager."""
    needs = ["200000", "3000000", "900000", "1500000", "50000", "750000", "1200000"]
    posted = [post(people, title=f"Need {n}", need={"amount": n, "currency": "USD"}) for n in needs]
    covered = post(people, title="Covered", need={"amount": "100000", "currency": "USD"})
    db.session.commit()
    commit(people, "a", covered, "100000")
    expected = [p.id for p in sorted(posted, key=lambda p: -Decimal(p.need_minor))]  # largest gap first
    whole = listed_ids(client, "?sort=gap&per_page=500")
    assert whole == expected and covered.id not in whole
    pages, url = [], "/api/v1/pipeline-projects?sort=gap&per_page=3"
    while url:
        response = client.get(url)
        assert response.status_code == 200 and response.headers["X-Total-Count"] == "7"
        pages.append([p["id"] for p in response.get_json()])
        links = {
            part.split('rel="')[1].rstrip('"'): part.split(";")[0].strip("<> ")
            for part in response.headers["Link"].split(", ")
        }
        url = links.get("next", "").replace("http://localhost", "")
    assert pages == [expected[0:3], expected[3:6], expected[6:]]
    assert client.get("/api/v1/pipeline-projects?page=9&per_page=3").get_json() == []
    for bad in ("?per_page=0", "?per_page=501", "?page=0"):
        assert client.get(f"/api/v1/pipeline-projects{bad}").status_code == 422, bad

    from registry.web import finder

    monkeypatch.setattr(finder, "PIPELINE_PER_PAGE", 3)
    second = client.get("/pipeline?sort=gap&page=2").get_data(as_text=True)
    shown = [i for i in expected if f'data-project-id="{i}"' in second]
    assert shown == expected[3:6]
    assert "7 open pipeline projects" in html.unescape(second) and 'rel="next"' in second
    last = client.get("/pipeline?sort=gap&page=99").get_data(as_text=True)  # past the end: the last page
    assert [i for i in expected if f'data-project-id="{i}"' in last] == expected[6:]


def test_the_list_reads_each_gap_as_funding_gaps_computes_it(app, make_org, make_project, make_transaction):
    """The list sums commitments in the database and converts only those in another currency
    than the need's: every project's gap equals ``funding_gaps``' flow-by-flow reading, digit for
    digit, whatever the mix (same currency, other currencies, no rate, no need, a need without
    a USD value, a deleted commitment, none at all)."""
    from sqlalchemy import update

    from registry.models import Transaction
    from registry.services import matching
    from registry.services.deletion import delete_transaction

    org = make_org()
    day = dt.date(2024, 3, 1)

    def pipeline(need):
        return make_project(org, status="pipeline", need=need, planned_start=day)

    eur = pipeline({"amount": "1000000", "currency": "EUR"})
    make_transaction(eur, amount=Decimal("250000.00"), currency="EUR", value_date=day)
    make_transaction(eur, amount=Decimal("100000.00"), currency="EUR", value_date=dt.date(2024, 5, 2))
    mixed = pipeline({"amount": "2000000", "currency": "EUR"})
    make_transaction(mixed, amount=Decimal("250000.00"), currency="EUR", value_date=day)
    make_transaction(mixed, amount=Decimal("300000.00"), currency="USD", value_date=day)
    make_transaction(mixed, amount=Decimal("150000"), currency="JPY", value_date=dt.date(2023, 11, 20))
    xof = pipeline({"amount": "500000000", "currency": "XOF"})
    make_transaction(xof, amount=Decimal("100000000"), currency="XOF", value_date=day)
    covered = pipeline({"amount": "1000", "currency": "USD"})
    make_transaction(covered, amount=Decimal("1000.00"), currency="USD", value_date=day)
    unconvertible = pipeline({"amount": "750000", "currency": "GBP"})
    make_transaction(unconvertible, amount=Decimal("9000.00"), currency="USD", value_date=day)
    no_need = pipeline(None)
    make_transaction(no_need, amount=Decimal("5000.00"), currency="USD", value_date=day)
    make_transaction(no_need, amount=Decimal("7000.00"), currency="EUR", value_date=day)
    bare = pipeline({"amount": "123456.78", "currency": "KES"})
    deleted = pipeline({"amount": "80000", "currency": "USD"})
    gone = make_transaction(deleted, amount=Decimal("80000.00"), currency="USD", value_date=day)
    make_transaction(deleted, amount=Decimal("100.00"), currency="USD", value_date=day, type="disbursement")
    db.session.flush()
    delete_transaction(Actor(label="tester", channel="cli", role=Role.ADMIN), gone)
    # A commitment no rate converts (the rate file does not reach it) and a need kept without a
    # USD value: the conversion fails flow by flow, and the USD gap is unknown.
    stuck = make_transaction(unconvertible, amount=Decimal("5000.00"), currency="EUR", value_date=day)
    db.session.execute(
        update(Transaction)
        .where(Transaction.id == stuck.id)
        .values(value_date=dt.date(1950, 1, 1), usd_minor=None, usd_rate=None, usd_rate_date=None, usd_rate_source=None)
    )
    db.session.execute(update(Project).where(Project.id == bare.id).values(need_usd_minor=None))
    db.session.commit()

    rows, gaps = matching.listed_gaps(matching.pipeline_statement({}, *marketplace.cofinancing.GAP_COLUMNS))
    assert {row.id for row in rows} == {p.id for p in (eur, mixed, xof, covered, unconvertible, no_need, bare, deleted)}
    expected = matching.funding_gaps(rows)
    for row in rows:
        assert {k: str(v) for k, v in vars(gaps[row.id]).items()} == {
            k: str(v) for k, v in vars(expected[row.id]).items()
        }, row.id
    # Hand figures for some of them: the gap in the need's own currency, to the cent.
    assert gaps[eur.id].gap == Decimal("650000.00") and gaps[eur.id].committed_usd > 0
    assert gaps[xof.id].gap == Decimal("400000000") and str(gaps[xof.id].committed) == "100000000"
    assert gaps[covered.id].gap == Decimal("0.00")
    assert gaps[unconvertible.id].gap is None and gaps[unconvertible.id].committed is None
    assert gaps[no_need.id].need is None and gaps[no_need.id].gap_usd is None
    assert str(gaps[bare.id].gap) == "123456.78" and gaps[bare.id].gap_usd is None
    assert str(gaps[deleted.id].gap) == "80000.00" and str(gaps[deleted.id].committed_usd) == "0.00"
    # What the list shows follows from them: the covered project is off it.
    listing = marketplace.open_projects()
    assert covered.id not in [p.id for p in listing.projects]
    assert listing.total == 7
