"""Amounts per person on the world map: the amount in the report's currency divided by the
country's population (reports/data/population.csv, World Bank SP.POP.TOTL) of the report's last
year, or of the latest earlier year the file has; a country the file lacks is "no data"."""

from __future__ import annotations

import csv
import datetime as dt
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

POPULATION_CSV = Path(__file__).resolve().parents[2] / "reports" / "data" / "population.csv"
SVG = "{http://www.w3.org/2000/svg}"


def _people(iso3: str) -> dict[int, int]:
    """The file's figures for one country, read here without the registry's code."""
    with open(POPULATION_CSV, encoding="utf-8", newline="") as f:
        return {int(r["year"]): int(r["population"]) for r in csv.DictReader(f) if r["iso3"] == iso3}


def _cents(amount: str, people: int) -> Decimal:
    return (Decimal(amount) / Decimal(people)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def _map(client, query: str) -> ET.Element:
    response = client.get(f"/reports/map.svg?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return ET.fromstring(response.get_data(as_text=True))


def _title(root: ET.Element, iso3: str) -> str:
    element = next(e for e in root.iter() if e.get("data-country") == iso3)
    return element.find(f"{SVG}title").text


def _texts(root: ET.Element, css: str) -> list[str]:
    return [e.text for e in root.iter(f"{SVG}text") if e.get("class") == css]


def test_the_file_is_small_and_whole():
    with open(POPULATION_CSV, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["iso3", "year", "population"]
    assert min(int(r["year"]) for r in rows) == 2000
    assert all(int(r["population"]) > 0 for r in rows)
    assert len({(r["iso3"], r["year"]) for r in rows}) == len(rows)
    sources = (POPULATION_CSV.parent / "SOURCES.md").read_text(encoding="utf-8")
    assert "population.csv" in sources and "SP.POP.TOTL" in sources and "PDDL" in sources


def test_per_person_to_the_cent(client, make_project, make_transaction):
    kenya = make_project(recipients=[{"country": "KEN"}], areas=[{"code": "23a"}])
    make_transaction(kenya, amount=Decimal("123456789.01"), value_date=dt.date(2022, 3, 1))
    make_transaction(kenya, type="disbursement", amount=Decimal("45678901.23"), value_date=dt.date(2023, 3, 1))
    people = _people("KEN")

    # the report's last year is 2023: the population of 2023
    root = _map(client, "measure=commitment_per_capita&year_to=2023")
    expected = _cents("123456789.01", people[2023])
    assert _title(root, "KEN") == f"Kenya: {expected:,.2f} USD per person (population 2023: {people[2023]:,})"
    root = _map(client, "measure=disbursement_per_capita&year_to=2023")
    expected = _cents("45678901.23", people[2023])
    assert _title(root, "KEN") == f"Kenya: {expected:,.2f} USD per person (population 2023: {people[2023]:,})"
    assert "World Bank, World Development Indicators (SP.POP.TOTL)" in " ".join(_texts(root, "map-source"))

    # no last year, or one after the file's: the file's latest year
    latest = max(people)
    for query in ("", "&year_to=2031"):
        root = _map(client, "measure=commitment_per_capita" + query)
        expected = _cents("123456789.01", people[latest])
        assert _title(root, "KEN") == f"Kenya: {expected:,.2f} USD per person (population {latest}: {people[latest]:,})"
        assert any(f"population in {latest}" in t for t in _texts(root, "map-source"))


def test_a_country_without_population_is_no_data_not_nought(client, make_project, make_transaction):
    assert _people("NIU") == {}  # Niue: the World Bank publishes no figure
    niue = make_project(recipients=[{"country": "NIU"}], areas=[{"code": "23a"}])
    make_transaction(niue, amount=Decimal("5000.00"))
    kenya = make_project(recipients=[{"country": "KEN"}], areas=[{"code": "23a"}])
    make_transaction(kenya, amount=Decimal("5000.00"))
    root = _map(client, "measure=commitment_per_capita")
    (circle,) = [e for e in root.iter() if e.get("data-country") == "NIU"] or [None]
    assert circle is None  # not drawn as a figure (Niue is a point: drawn only with a figure)
    assert _texts(root, "map-no-population") == ["No population figure, not on the map: Niue"]
    assert "map-class-" in next(e for e in root.iter() if e.get("data-country") == "KEN").get("class")
    # its commitment is still on the commitments map
    root = _map(client, "measure=commitment")
    assert _title(root, "NIU") == "Niue: 5,000.00 USD"
    page = client.get("/reports/?map=commitment_per_capita").get_data(as_text=True)
    assert "No population figure, not on the map: Niue" in page
    assert "SP.POP.TOTL" in page


def test_a_shaped_country_without_population_says_so(client, make_project, make_transaction):
    assert _people("ESH") == {}  # Western Sahara has a shape at 1:110m and no World Bank figure
    place = make_project(recipients=[{"country": "ESH"}], areas=[{"code": "23a"}])
    make_transaction(place, amount=Decimal("10.00"))
    root = _map(client, "measure=disbursement_per_capita")
    shape = next(e for e in root.iter() if e.get("data-country") == "ESH")
    assert "map-no-data" in shape.get("class")
    assert shape.find(f"{SVG}title").text == "Western Sahara: no population figure"


def test_regional_amounts_stay_apart_as_amounts(client, make_project, make_transaction):
    regional = make_project(recipients=[{"region": "002"}], areas=[{"code": "23c"}])
    make_transaction(regional, amount=Decimal("250.00"))
    root = _map(client, "measure=commitment_per_capita")
    assert _texts(root, "map-apart") == ["Regional: Africa: 250.00 USD"]


def test_the_measure_switch_offers_per_person(client, make_project, make_transaction):
    make_transaction(make_project(), amount=Decimal("1.00"))
    page = client.get("/reports/").get_data(as_text=True)
    assert "map=commitment_per_capita#map" in page and "Commitments per person" in page
    assert "map=disbursement_per_capita#map" in page
    assert client.get("/reports/map.svg?measure=need_per_capita").status_code == 422
