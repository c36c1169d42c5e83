"""Screenshots of the main pages at a laptop's (1366 px) and a phone's (390 px) width, in
English and in Arabic, for a person to look at in tests/browser/screenshots/ (not kept in
git): the right-to-left layout, and on a phone the menu closed (the full page) and open
(the first screen). Each page also fits its width."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, SCREENSHOTS, opened_page, screenshot

pytestmark = pytest.mark.browser

WIDTHS = {1366: {"viewport": {"width": 1366, "height": 900}}, 390: PHONE}
PAGES = {"home": "/", "projects": "/projects", "reports": "/reports/"}


@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_screenshot(browser, live_server, name, width, language):
    accept = {"locale": language, "extra_http_headers": {"Accept-Language": language}}
    with opened_page(browser, **accept, **WIDTHS[width]) as page:
        page.goto(live_server + PAGES[name])
        assert page.evaluate("document.documentElement.dir") == ("rtl" if language == "ar" else "ltr")
        screenshot(page, f"{name}-{width}-{language}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if width == 390:
            page.locator("button[data-menu-toggle]").click()  # named in the page's language
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-{language}-menu.png"))
