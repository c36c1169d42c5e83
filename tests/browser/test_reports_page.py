"""The reports page in a real Chromium: table, five SVG charts, downloads, no internet."""

import pytest

from tests.browser.conftest import SCREENSHOTS, screenshot

pytestmark = pytest.mark.browser


def test_reports_page_shows_table_and_charts(page, live_server):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(live_server + "/reports/?by=region")
    assert page.locator("h1").inner_text() == "Funding flows and gaps"
    assert page.locator("table.report-table tbody tr").count() >= 5
    assert page.locator("table.report-table tfoot").inner_text().startswith("Total")
    charts = page.locator("figure.chart svg")
    assert charts.count() == 5
    for i in range(5):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 150
    # every chart has its own download, and the table its CSV and XLSX
    assert page.locator("figure.chart a[download]").count() == 5
    table_head = page.locator("section[aria-labelledby=table-title] .panel-head")
    assert table_head.get_by_role("link", name="CSV", exact=True).count() == 1
    # and the data behind the figures: flows, projects and funding sources, each as CSV
    assert page.locator("ul.downloads-flat").get_by_role("link", name="CSV", exact=True).count() == 3
    assert page.get_by_role("link", name="Funding-gap workbook").count() == 1
    assert requests and all(url.startswith(live_server) for url in requests)
    screenshot(page, "reports")


def test_reports_cross_tab_and_download(page, live_server):
    page.goto(live_server + "/reports/")
    page.select_option("#by", "priority_area")
    page.select_option("#by2", "year")
    page.select_option("#currency", "EUR")
    page.click("form.panel button[type=submit]")  # not the language switch above it
    page.wait_for_url("**by=priority_area**")  # the click navigates: wait for the new page
    assert "EUR" in page.locator(".kpis").inner_text()
    with page.expect_download() as info:
        page.locator("#chart-sankey a[download]").click()
    assert info.value.suggested_filename == "sankey.svg"
    screenshot(page, "reports-cross-tab")


def test_a_two_way_table_in_dollars_fits_a_laptop_screen(page, live_server):
    """Region x priority area with every measure to the cent, at 1280 px: no sideways scroll,
    and a label like 'Global/unallocated' breaks after its slash instead of widening its column."""
    page.goto(live_server + "/reports/?by=region&by2=priority_area")
    scroll, width = page.evaluate(
        "() => { const e = document.querySelector('.table-scroll'); return [e.scrollWidth, e.clientWidth] }"
    )
    assert scroll <= width, (scroll, width)
    assert "/<wbr>" in page.locator("table.report-table tbody").inner_html()


def test_reports_page_fits_a_phone(phone_page, live_server):
    phone_page.goto(live_server + "/reports/")
    assert phone_page.locator("figure.chart svg").count() == 5
    screenshot(phone_page, "reports-phone")


def test_the_untied_share_view_by_donor(page, live_server):
    """The demo's untied share by donor at laptop size: the view switch, the table with unknown
    apart, its CSV, and the filters keep the view."""
    page.goto(live_server + "/reports/?by=donor")
    page.get_by_role("link", name="Untied share", exact=True).click()
    page.wait_for_url("**view=untied**")  # the click navigates: wait for the new page
    table = page.locator("table.untied-table")
    assert table.locator("thead th").last.text_content() == "Unknown, not counted (USD)"
    assert table.locator("tbody tr").count() >= 5
    assert table.locator("tfoot").inner_text().startswith("Total")
    assert "%" in table.locator("tfoot td.share").inner_text()
    panel = page.locator("section.untied-view .panel-head")
    assert (
        panel.get_by_role("link", name="CSV", exact=True).get_attribute("href").startswith("/api/v1/reports/tied.csv")
    )
    scroll, width = page.evaluate(
        "() => { const e = document.querySelector('.untied-view .table-scroll');"
        " return [e.scrollWidth, e.clientWidth] }"
    )
    assert scroll <= width, (scroll, width)
    page.locator("section.untied-view").scroll_into_view_if_needed()
    screenshot(page, "reports-untied-share")
    page.locator("section.untied-view").screenshot(path=str(SCREENSHOTS / "reports-untied-share-table.png"))
    page.select_option("#by", "region")
    page.click("form.panel button[type=submit]")
    page.wait_for_url("**by=region**view=untied**")
    page.locator("table.untied-table").wait_for()
    assert page.locator("table.untied-table").count() == 1
