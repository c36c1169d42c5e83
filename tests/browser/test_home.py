import pytest

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_home_page_shows_headline_figures_without_internet(page, live_server):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(live_server + "/")
    assert page.locator("h1").inner_text().startswith("Where the money")
    assert page.locator(".kpi-value").first.inner_text() == "400"
    assert page.get_by_text("Demo data").count() >= 1
    # The stylesheet is served and applied (the header is on the brand colour).
    header_colour = page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor")
    assert header_colour == "rgb(11, 93, 122)"
    # Every asset comes from the app itself: nothing is fetched from another host.
    assert requests and all(url.startswith(live_server) for url in requests)
    screenshot(page, "home")


def test_home_page_fits_a_phone(phone_page, live_server):
    phone_page.goto(live_server + "/")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    screenshot(phone_page, "home-phone")
