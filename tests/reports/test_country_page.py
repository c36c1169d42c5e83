"""A country's own page: its figures are the report's row for it (and an independent sum of the
flows written here), per person against the shipped population file, its flows by area and year,
projects with pipeline projects apart, eligible sources, downloads, 404, the map's links."""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

POPULATION_CSV = Path(__file__).resolve().parents[2] / "reports" / "data" / "population.csv"


def _people(iso3: str) -> dict[int, int]:
    with open(POPULATION_CSV, encoding="utf-8", newline="") as f:
        return {int(r["year"]): int(r["population"]) for r in csv.DictReader(f) if r["iso3"] == iso3}


def _figures(html: str) -> dict[str, str]:
    """The exact figures of the page's key-figures table, by measure."""
    return dict(re.findall(r'<td class="num" data-measure="([a-z_]+)">([^<]*)</td>', html))


def _flows(make_project, make_transaction, make_source):
    # Kenya: a whole project and half of a shared one; Uganda the other half.
    whole = make_project(
        title="Kenya rural access",
        recipients=[{"country": "KEN"}],
        areas=[{"code": "23b"}],
        need={"amount": "5000.00", "currency": "USD", "date": dt.date(2020, 1, 1)},
    )
    make_transaction(whole, amount=Decimal("1000.00"), value_date=dt.date(2021, 5, 1))
    make_transaction(whole, type="disbursement", amount=Decimal("400.00"), value_date=dt.date(2022, 5, 1))
    shared = make_project(
        title="East African backbone",
        recipients=[{"country": "KEN", "share": Decimal(50)}, {"country": "UGA", "share": Decimal(50)}],
        areas=[{"code": "23c"}],
    )
    make_transaction(shared, amount=Decimal("200.01"), value_date=dt.date(2022, 7, 1))
    pipeline = make_project(
        title="Kenya school connectivity (seeking funds)",
        status="pipeline",
        recipients=[{"country": "KEN"}],
        areas=[{"code": "23f"}],
    )
    make_source(name="Open connectivity fund", instruments=["grant"])
    return whole, shared, pipeline


def test_the_figures_are_the_reports_and_the_flows_sum(client, make_project, make_transaction, make_source):
    _flows(make_project, make_transaction, make_source)
    html = client.get("/countries/KEN").get_data(as_text=True)
    figures = _figures(html)
    # independent: 1000.00 + half of 200.01 = 1100.005, which the report's rows (rounded to add
    # up to their total) give to the cent; Uganda's page has the other half, and both add up.
    committed = Decimal("1000.00") + Decimal("200.01") / 2
    shown = Decimal(figures["commitment"].removesuffix(" USD").replace(",", ""))
    assert abs(shown - committed) <= Decimal("0.005")
    uganda = Decimal(_figures(client.get("/countries/UGA").get_data(as_text=True))["commitment"][:-4])
    assert shown + uganda == Decimal("1200.01")
    assert figures["disbursement"] == "400.00 USD"
    assert figures["need"] == "5,000.00 USD"
    # the report's row for Kenya says the same
    api = client.get("/api/v1/reports/flows?by=country").get_json()
    row = next(r for r in api["rows"] if r["country"] == "KEN")
    for measure in ("commitment", "disbursement", "need", "gap"):
        assert figures[measure] == f"{Decimal(row[measure]):,.2f} USD", measure
    # per person: the population of the file's latest year, read here from the file
    people = _people("KEN")
    latest = max(people)
    per_person = (shown / people[latest]).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    assert figures["commitment_per_capita"] == f"{per_person:,.2f} USD"
    assert f"population of {latest}, {people[latest]:,}" in html


def test_sections_of_the_page(client, make_project, make_transaction, make_source):
    whole, shared, pipeline = _flows(make_project, make_transaction, make_source)
    response = client.get("/countries/KEN?year_to=2022")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Kenya" in html
    assert "Eastern Africa" in html  # its M49 region
    # flows by area and by year, each a captioned table
    area_table = html[html.index('id="by-priority_area"') :]
    area_table = area_table[: area_table.index("</table>")]
    assert "<caption>" in area_table and "23b" in area_table and "23c" in area_table
    year_table = html[html.index('id="by-year"') :]
    year_table = year_table[: year_table.index("</table>")]
    assert "2021" in year_table and "2022" in year_table
    # projects with links, the pipeline apart
    projects = html[html.index('class="country-projects"') :]
    projects = projects[: projects.index("</ul>")]
    assert "Kenya rural access" in projects and "East African backbone" in projects
    assert "seeking funds" not in projects
    pipelines = html[html.index('class="country-pipeline"') :]
    assert "Kenya school connectivity (seeking funds)" in pipelines[: pipelines.index("</ul>")]
    # the finder's eligible sources, and the flat downloads for the country
    assert "Open connectivity fund" in html[html.index('class="country-sources"') :]
    assert "country=KEN" in html[html.index('class="downloads-flat"') :]
    # the map: the world, Kenya outlined
    assert 'data-country="KEN"' in html and "map-highlight" in html


def test_categories_are_dated(client):
    # Bhutan: an LDC from 18 November 1971 until its graduation on 13 December 2023, still an LLDC
    html = client.get("/countries/BTN").get_data(as_text=True)
    table = html[html.index('aria-labelledby="categories-title"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(
        r"<tr><th scope=\"row\"><span class=\"code\">(\w+)</span>[^<]*</th><td>([^<]*)</td><td>([^<]*)</td>", table
    )
    assert ("LDC", "Nov 18, 1971", "Dec 13, 2023 (no longer a member from that day)") in rows
    assert ("LLDC", "Oct 24, 1945", "still a member") in rows


def test_a_country_with_no_data(client):
    response = client.get("/countries/TUV")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Tuvalu" in html
    assert "No money flow or need is registered for this country" in html
    assert "No project is registered for this country." in html


def test_a_country_without_population(client, make_project, make_transaction):
    assert _people("NIU") == {}
    make_transaction(make_project(recipients=[{"country": "NIU"}]), amount=Decimal("10.00"))
    html = client.get("/countries/NIU").get_data(as_text=True)
    figures = _figures(html)
    assert figures["commitment"] == "10.00 USD"
    assert figures["commitment_per_capita"] == "no data: no population figure"
    assert "No population figure for this country" in html


def test_unknown_codes_are_404(client):
    assert client.get("/countries/ZZZ").status_code == 404
    assert client.get("/countries/ken").status_code == 404
    assert client.get("/countries/KENYA").status_code == 404


def test_the_name_in_the_readers_language(client, make_project):
    make_project(recipients=[{"country": "CIV"}])
    client.set_cookie("language", "fr")
    html = client.get("/countries/CIV", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Côte d’Ivoire" in html or "Côte d'Ivoire" in html


def test_the_map_and_the_table_link_to_country_pages(client, make_project, make_transaction):
    make_transaction(make_project(), amount=Decimal("5.00"))
    html = client.get("/reports/?by=country&map=commitment").get_data(as_text=True)
    assert re.search(r'<a href="/countries/KEN" tabindex="-1"><path class="map-country[^"]*" data-country="KEN"', html)
    assert '<th scope="row"><a href="/countries/KEN">Kenya</a></th>' in html
    # the file has no links: its reader has no site around it
    assert "<a " not in client.get("/reports/map.svg?measure=commitment").get_data(as_text=True)


def test_project_pages_and_the_finder_link_to_country_pages(client, make_project, make_source):
    project = make_project(title="Linked project", recipients=[{"country": "NPL"}])
    make_source()
    detail = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert '<a href="/countries/NPL">Nepal</a>' in detail
    listing = client.get("/projects").get_data(as_text=True)
    assert '<a href="/countries/NPL">Nepal</a>' in listing
    finder = client.get("/find-funding?country=NPL").get_data(as_text=True)
    assert 'href="/countries/NPL"' in finder
