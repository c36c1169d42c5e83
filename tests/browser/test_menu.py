"""The site menu on a phone: the navigation and the account links fold behind a "Menu" button
that a keyboard opens and closes; the language switch stays in view; without JavaScript the
navigation is simply shown. On a laptop the navigation is always in view and no button shows."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, login, opened_page, screenshot

pytestmark = pytest.mark.browser


def test_the_menu_folds_behind_a_button_on_a_phone(phone_page, live_server):
    page = phone_page
    page.goto(live_server + "/projects")
    button = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    assert button.is_visible()
    assert button.get_attribute("aria-expanded") == "false"
    assert page.locator("#" + button.get_attribute("aria-controls")).count() == 1
    assert nav.is_hidden()
    # the language switch is never folded
    assert page.get_by_role("button", name="العربية").is_visible()
    # the header is one line: the site's name and the button
    header = page.locator(".site-header").bounding_box()
    assert header["height"] < 70, header
    screenshot(page, "menu-closed-phone")

    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    assert nav.is_visible()
    assert page.get_by_role("link", name="Log in").is_visible()
    links = nav.get_by_role("link")
    assert links.count() >= 7
    # one item a line, each an easy target (WCAG 2.5.8 asks 24 px)
    boxes = [links.nth(i).bounding_box() for i in range(links.count())]
    assert len({round(box["x"]) for box in boxes}) == 1
    assert all(box["height"] >= 24 for box in boxes)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "menu-open-phone")

    button.click()
    assert nav.is_hidden()


def test_the_keyboard_opens_and_closes_the_menu(phone_page, live_server):
    page = phone_page
    page.goto(live_server + "/")
    button = page.get_by_role("button", name="Menu")
    button.focus()
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-expanded") == "true"
    # the menu is next in the tab order
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#site-menu') !== null")
    assert page.evaluate("document.activeElement.textContent").strip() == "Overview"
    # Escape folds it and brings the focus back to the button
    page.keyboard.press("Escape")
    assert button.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.hasAttribute('data-menu-toggle')")
    page.keyboard.press("Space")
    assert button.get_attribute("aria-expanded") == "true"


def test_the_menu_holds_the_account_links_of_a_signed_in_user(phone_page, live_server):
    page = phone_page
    login(page, live_server, "donor@demo.invalid")
    page.wait_for_url(live_server + "/")
    assert page.get_by_role("button", name="Log out").is_hidden()
    page.get_by_role("button", name="Menu").click()
    assert page.get_by_role("button", name="Log out").is_visible()
    assert page.locator(".account .who").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "menu-open-signed-in-phone")


def test_without_javascript_the_navigation_stays_in_view(browser, live_server):
    with opened_page(browser, java_script_enabled=False, **PHONE) as page:
        page.goto(live_server + "/projects")
        assert page.get_by_role("button", name="Menu").count() == 0  # hidden: not in the tree
        assert page.get_by_role("navigation", name="Main").is_visible()
        assert page.get_by_role("link", name="Funding sources").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_laptop_shows_the_navigation_and_no_button(page, live_server):
    page.goto(live_server + "/projects")
    assert page.get_by_role("button", name="Menu").count() == 0
    nav = page.get_by_role("navigation", name="Main")
    assert nav.is_visible()
    # the navigation is one line under the site's name
    links = nav.get_by_role("link")
    assert len({round(links.nth(i).bounding_box()["y"]) for i in range(links.count())}) == 1
