"""Arabic pages lay out right to left: the header, tables and forms mirror (the stylesheet
uses logical properties: inline-start, text-align: start and end), and figures stay readable."""

from __future__ import annotations

import pytest

from tests.browser.conftest import LAPTOP, PHONE, opened_page

pytestmark = pytest.mark.browser


def arabic(browser, options):
    return opened_page(browser, locale="ar", extra_http_headers={"Accept-Language": "ar"}, **options)


def style(page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"(el) => getComputedStyle(el).{prop}")


@pytest.mark.parametrize("options", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_arabic_pages_lay_out_right_to_left(browser, live_server, options):
    with arabic(browser, options) as page:
        page.goto(live_server + "/projects")
        assert page.evaluate("document.documentElement.dir") == "rtl"
        width = page.viewport_size["width"]
        # the site's name starts at the right-hand edge
        brand = page.locator(".brand").bounding_box()
        assert brand["x"] + brand["width"] > width * 0.6, brand
        # a table's text starts on the right; its figures line up on the left (the end)
        assert style(page, "table.data thead th", "textAlign") == "start"
        # (left, not end: a figure that reads left to right would end on the right)
        assert style(page, "table.data td.num", "textAlign") == "left"
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_arabic_header_and_skip_link_mirror(browser, live_server):
    with arabic(browser, LAPTOP) as page:
        page.goto(live_server + "/")
        links = page.get_by_role("navigation").first.get_by_role("link")
        first, last = links.first.bounding_box(), links.last.bounding_box()
        assert first["x"] > last["x"]  # the first item on the right
        page.keyboard.press("Tab")
        skip = page.locator(".skip-link").bounding_box()
        assert skip["x"] + skip["width"] >= page.viewport_size["width"] - 1  # in the right-hand corner
        # a key figure's coloured edge is on its right
        assert style(page, ".kpi", "borderRightWidth") == "4px"


def test_figures_and_charts_stay_readable_in_arabic(browser, live_server):
    with arabic(browser, PHONE) as page:
        page.goto(live_server + "/reports/")
        # a figure reads left to right (its minus sign before it), aligned at the table's end
        assert style(page, "table.data td.num", "unicodeBidi") == "plaintext"
        # a key figure lines up with its label on the right
        value = page.locator(".kpi-value").first.bounding_box()
        card = page.locator(".kpi").first.bounding_box()
        assert value["x"] + value["width"] > card["x"] + card["width"] - 30, (value, card)
        # a chart keeps the layout it was drawn with, and scrolls from its labels' side
        assert style(page, ".chart-body svg", "direction") == "ltr"
        assert page.eval_on_selector(".chart-body", "(el) => el.scrollLeft") == 0
