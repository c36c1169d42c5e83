"""A country's own page in a real Chromium: reached from the reports' map, its sections, the map
with the country outlined, the per-person measure, on a laptop and a phone."""

import pytest

from tests.browser.conftest import LAPTOP, PHONE, opened_page, screenshot

pytestmark = pytest.mark.browser


def test_from_the_map_to_a_country_page(browser, live_server):
    with opened_page(browser, **LAPTOP) as page:
        page.goto(live_server + "/reports/?by=country&map=commitment#map")
        shape = page.locator("#map a path.map-country[class*='map-class-']").first
        iso3 = shape.get_attribute("data-country")
        shape.click()
        page.wait_for_url(f"**/countries/{iso3}")
        assert page.locator("h1").inner_text().endswith(iso3)
        for heading in ("Key figures", "Projects", "Funding sources it is eligible for", "The data itself"):
            assert page.get_by_role("heading", name=heading, exact=True).count() == 1
        assert page.locator(f"#map .map-highlight[data-country='{iso3}']").count() >= 1
        assert page.locator("table.country-figures td[data-measure='commitment']").inner_text().endswith("USD")
        page.get_by_role("link", name="Commitments per person", exact=True).click()
        page.wait_for_url("**map=commitment_per_capita**")  # the click navigates: wait for the new page
        assert "World Bank" in page.locator("#map").inner_text()
        with page.expect_download() as png:
            page.locator("#map button.map-png").click()
        assert png.value.suggested_filename == f"map-commitment_per_capita-{iso3}.png"
        page.goto(live_server + f"/countries/{iso3}")
        screenshot(page, "country-page")


def test_a_country_page_on_a_phone(browser, live_server):
    with opened_page(browser, **PHONE) as page:
        page.goto(live_server + "/reports/?by=country")
        href = page.locator("table.report-table tbody th a").first.get_attribute("href")
        page.goto(live_server + href)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1  # nothing wider than the phone: tables and the map scroll inside
        screenshot(page, "country-page-phone")
