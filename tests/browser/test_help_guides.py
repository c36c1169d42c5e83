"""The guides' screenshots are taken here, from the demo registry as each role sees it, and
written under registry/web/static/help/ (commit them): the pictures never show an older page.
Then each guide is opened and every picture in it must load."""

from __future__ import annotations

import pytest

from registry.web import help as guides
from tests.browser.conftest import PHONE, opened_page
from tests.registry.test_help_pages import STATIC

pytestmark = pytest.mark.browser

SHOT = {"viewport": {"width": 1200, "height": 760}}


def log_in(page, base_url: str, email: str) -> None:
    """Through the login form (its own button: the language switch's come first on the page)."""
    page.goto(f"{base_url}/login")
    form = page.locator("form[action$='/login']")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill("demo-password")
    form.locator("button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.parametrize("guide", guides.GUIDES, ids=lambda g: g.slug)
def test_the_screenshots_are_taken_from_the_demo_pages(browser, live_server, guide):
    with opened_page(browser, **SHOT) as page:
        log_in(page, live_server, f"{guide.role}@demo.invalid")
        for shot in guide.screenshots:
            response = page.goto(f"{live_server}{shot.path}")
            assert response is not None and response.ok, shot.path
            page.wait_for_load_state("networkidle")
            if shot.top:
                page.locator(shot.top).first.evaluate("element => element.scrollIntoView()")
            target = STATIC / shot.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target), full_page=False, animations="disabled")
            assert target.stat().st_size > 10_000, f"{shot.name} looks empty"


@pytest.mark.parametrize("options", [SHOT, PHONE], ids=["laptop", "phone"])
def test_each_guide_loads_with_its_pictures(browser, live_server, options):
    with opened_page(browser, **options) as page:
        page.goto(f"{live_server}/help/")
        assert page.locator("h1").inner_text() == "Help"
        for guide in guides.GUIDES:
            page.goto(f"{live_server}/help/{guide.slug}")
            images = page.locator("img")
            assert images.count() == len(guide.screenshots)
            for number in range(images.count()):
                image = images.nth(number)
                image.scroll_into_view_if_needed()
                page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=image.element_handle())
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= page.viewport_size["width"], f"{guide.slug} is {width}px wide"


def test_the_footer_leads_to_the_help(page, live_server):
    page.goto(live_server)
    page.locator("footer").get_by_role("link", name="Help").click()
    page.wait_for_url("**/help/")
    page.get_by_role("link", name="Ministry official").first.click()
    assert page.locator("h1").inner_text() == "Guide for ministry officials"
