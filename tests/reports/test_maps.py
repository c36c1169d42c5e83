"""The world map of the reports: one shape or circle per country, classes, exact figures on
hover, the amounts not allocated to one country apart, small states visible, the filters."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from reports import maps

SVG = "{http://www.w3.org/2000/svg}"


def _svg(client, query: str = "") -> ET.Element:
    response = client.get(f"/reports/map.svg?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "image/svg+xml"
    assert "attachment" in response.headers["Content-Disposition"]
    return ET.fromstring(response.get_data(as_text=True))


def _drawn(root: ET.Element, iso3: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("data-country") == iso3]


def _with_data(root: ET.Element) -> set[str]:
    return {e.get("data-country") for e in root.iter() if "map-class-" in (e.get("class") or "")}


def test_the_shapes_cover_the_registry_countries():
    world = maps.world()
    assert len(world.shapes) > 170
    assert {"KEN", "BRA", "RUS", "XKX", "FJI"} <= set(world.shapes)
    assert {"TUV", "MDV", "KIR", "GLP", "MUS"} <= set(world.points)  # too small for 1:110m
    assert "ATA" not in world.shapes
    # Kenya's centre is in East Africa: right of the middle, a little above the equator's line.
    x, y = world.centre("KEN")
    assert world.width / 2 < x < world.width * 0.7
    assert world.tiny("TUV") and world.tiny("MDV") and not world.tiny("BRA")


def test_one_shape_or_circle_per_country_with_a_figure(client, registry_data):
    root = _svg(client, "measure=commitment")
    assert _with_data(root) == {"KEN", "UGA", "BGD", "NPL", "HTI"}
    for iso3 in ("KEN", "UGA", "BGD", "NPL", "HTI"):
        assert len([e for e in _drawn(root, iso3) if e.tag == f"{SVG}path"]) == 1
    # countries the report has no figure for are drawn hatched, and said so in the legend
    brazil = _drawn(root, "BRA")[0]
    assert "map-no-data" in brazil.get("class") and brazil.get("fill") == "url(#map-no-data)"
    assert "no figure in this report" in ET.tostring(root, encoding="unicode")


def test_the_title_gives_the_exact_figure(client, registry_data):
    root = _svg(client, "measure=commitment")
    kenya = next(e for e in _drawn(root, "KEN") if e.tag == f"{SVG}path")
    assert kenya.find(f"{SVG}title").text == "Kenya: 333.36 USD"
    gap = next(e for e in _drawn(_svg(client, "measure=gap"), "HTI") if e.tag == f"{SVG}path")
    assert gap.find(f"{SVG}title").text == "Haiti: -6,172.83 USD"
    coverage = next(e for e in _drawn(_svg(client, "measure=coverage"), "KEN") if e.tag == f"{SVG}path")
    assert coverage.find(f"{SVG}title").text == "Kenya: 0.1 %"


def test_classes_of_known_figures():
    values = {"A": Decimal(1), "B": Decimal(2), "C": Decimal(3), "D": Decimal(4), "E": Decimal(5)}
    classes = maps.classify("commitment", values | {"Z": Decimal(0)})
    assert classes.class_of == {"Z": 0, "A": 1, "B": 2, "C": 3, "D": 4, "E": 5}
    assert classes.colour_of["E"] == maps.BLUES[-1] and classes.colour_of["Z"] == maps.ZERO
    assert [name for _c, name in classes.entries][:2] == ["none", "up to 1"]
    gap = maps.classify("gap", {"A": Decimal(-5), "B": Decimal(10)})
    assert gap.colour_of["A"] == maps.NEGATIVE and gap.colour_of["B"] in maps.REDS
    coverage = maps.classify("coverage", {"low": Decimal("0.05"), "half": Decimal("0.5"), "all": Decimal("1.2")})
    assert coverage.class_of == {"low": 0, "half": 3, "all": 4}


def test_map_classes_follow_the_figures(client, registry_data):
    root = _svg(client, "measure=gap")
    classes = {iso3: e.get("class") for iso3 in ("KEN", "HTI", "NPL") for e in _drawn(root, iso3)}
    assert "map-class-0" in classes["HTI"] and "map-class-0" in classes["NPL"]  # negative gaps
    assert "map-class-0" not in classes["KEN"]


def test_amounts_not_allocated_to_one_country_are_shown_apart(client, registry_data):
    root = _svg(client, "measure=commitment")
    apart = [e.text for e in root.iter(f"{SVG}text") if e.get("class") == "map-apart"]
    assert apart == ["Global (no recipient country/region given): 99.99 USD", "Regional: Africa: 250.00 USD"]
    page = client.get("/reports/?map=commitment").get_data(as_text=True)
    table = page[page.index('class="data map-apart-table"') :]
    table = table[: table.index("</table>")]
    assert "Regional: Africa" in table and "Global (no recipient country/region given)" in table
    assert 'title="250.00 USD"' in table


def test_small_states_are_circles(client, make_project, make_transaction):
    for iso3 in ("TUV", "MDV"):
        project = make_project(recipients=[{"country": iso3}], areas=[{"code": "23a"}])
        make_transaction(project, amount=Decimal("1000.00"))
    root = _svg(client, "measure=commitment")
    for iso3, name in (("TUV", "Tuvalu"), ("MDV", "Maldives")):
        (circle,) = _drawn(root, iso3)
        assert circle.tag == f"{SVG}circle" and "map-class-" in circle.get("class")
        assert circle.find(f"{SVG}title").text == f"{name}: 1,000.00 USD"
    # a small state with a shape at this scale gets a circle over it too
    project = make_project(recipients=[{"country": "TTO"}], areas=[{"code": "23a"}])
    make_transaction(project, amount=Decimal("5.00"))
    tags = sorted(e.tag for e in _drawn(_svg(client, "measure=commitment"), "TTO"))
    assert tags == [f"{SVG}circle", f"{SVG}path"]


def test_names_are_escaped():
    data = maps.MapData(
        "commitment",
        "USD",
        {"KEN": Decimal(1)},
        {"KEN": '<script>alert("x")</script>'},
        [("Regional: <b>&</b>", Decimal(2))],
    )
    text = maps.svg(data, 'Title "<i>"')
    assert "<script>" not in text and "<b>" not in text and "<i>" not in text
    assert "&lt;script&gt;" in text and "&lt;b&gt;&amp;&lt;/b&gt;" in text
    ET.fromstring(text)  # well-formed
    assert "style=" not in text


def test_the_map_follows_the_filters(client, registry_data):
    # Only 2022 flows: Kenya's 0.07 commitment split three ways, Haiti and Nepal nothing.
    root = _svg(client, "measure=commitment&year_from=2022&year_to=2022")
    assert _with_data(root) >= {"KEN"} and "HTI" not in _with_data(root)
    kenya = next(e for e in _drawn(root, "KEN") if e.tag == f"{SVG}path")
    assert kenya.find(f"{SVG}title").text == "Kenya: 0.02 USD"
    # another currency: the figures in it
    euro = _svg(client, "measure=commitment&currency=EUR")
    assert "EUR" in ET.tostring(euro, encoding="unicode")
    # a region filter keeps Africa's countries
    africa = _svg(client, "measure=commitment&region=002")
    assert _with_data(africa) == {"KEN", "UGA"}


def test_highlight_outlines_one_country(client, registry_data):
    root = _svg(client, "measure=gap&highlight=ken")
    assert all("map-highlight" in e.get("class") for e in _drawn(root, "KEN"))
    assert not [e for e in _drawn(root, "UGA") if "map-highlight" in e.get("class")]


def test_bad_measure_or_filter_is_refused(client):
    assert client.get("/reports/map.svg?measure=pledge").status_code == 422
    assert client.get("/reports/map.svg?year_from=abc").status_code == 422


def test_the_reports_page_shows_the_map(client, registry_data):
    page = client.get("/reports/?map=need").get_data(as_text=True)
    assert 'id="map"' in page and "map-country" in page
    assert 'href="/reports/map.svg?measure=need"' in page
    assert 'data-filename="map-need.png"' in page
    assert re.search(r'href="\?[^"]*map=coverage#map"', page)
    assert "style=" not in page[page.index('id="map"') : page.index("chart-grid")]


@pytest.mark.parametrize(("language", "figure"), [("fr", "Kenya\u00a0: 333,36 USD"), ("ar", "333.36")])
def test_the_map_speaks_the_readers_language(client, registry_data, language, figure):
    response = client.get("/reports/map.svg?measure=commitment", headers={"Accept-Language": language})
    root = ET.fromstring(response.get_data(as_text=True))
    kenya = next(e for e in _drawn(root, "KEN") if e.tag == f"{SVG}path")
    assert figure in kenya.find(f"{SVG}title").text


def test_no_flows_still_draws_the_world(client):
    root = _svg(client, "measure=commitment")
    assert not _with_data(root)
    assert len(list(root.iter(f"{SVG}path"))) > 170
