"""The reports page's world map in a real Chromium: drawn, hover titles, small states, the
measure choice, the SVG and PNG downloads, on a laptop and a phone."""

import pytest

from tests.browser.conftest import SCREENSHOTS, screenshot

pytestmark = pytest.mark.browser


def _element_shot(page, selector: str, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.locator(selector).screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_the_map_on_the_reports_page(page, live_server):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(live_server + "/reports/?map=gap#map")
    world = page.locator("#map svg")
    box = world.bounding_box()
    assert box and box["width"] > 900 and box["height"] > 450
    assert page.locator("#map path.map-country").count() > 170
    assert page.locator("#map .map-country[class*='map-class-']").count() >= 5
    assert page.locator("#map circle.map-marker").count() >= 1  # the demo's small island states
    assert page.locator("#map table.map-apart-table tbody tr").count() >= 1
    assert requests and all(url.startswith(live_server) for url in requests)
    _element_shot(page, "#map", "map-gap")
    screenshot(page, "reports-with-map")

    page.get_by_role("link", name="Commitments", exact=True).click()
    page.wait_for_url("**map=commitment**")  # the click navigates: wait for the new page
    assert "commitments" in page.locator("#map-title").inner_text()
    _element_shot(page, "#map", "map-commitment")

    with page.expect_download() as svg:
        page.locator("#map a[download]").click()
    assert svg.value.suggested_filename == "map-commitment.svg"
    with page.expect_download() as png:
        page.locator("#map button.map-png").click()
    assert png.value.suggested_filename == "map-commitment.png"
    with open(png.value.path(), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_map_on_a_phone(phone_page, live_server):
    phone_page.goto(live_server + "/reports/?map=coverage#map")
    assert phone_page.locator("#map path.map-country").count() > 170
    _element_shot(phone_page, "#map", "map-coverage-phone")
