"""A donor registers a project in a real browser; the main pages at desktop and phone width."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.browser


def test_donor_registers_a_project_adds_a_commitment_and_sees_the_history(page, live_server):
    login(page, live_server, "donor@demo.invalid")
    page.wait_for_url(live_server + "/")
    page.goto(live_server + "/projects")
    page.get_by_role("link", name="Register a project").click()
    page.fill("#f-title", "Community networks for Kenya and Uganda")
    page.fill("#f-reference", "BROWSER-1")
    page.select_option("#f-status", "active")
    page.fill("#f-planned_start", "2021-01-01")
    page.fill("#f-planned_end", "2023-12-31")
    page.select_option("#recipients-0-place", "KEN")
    page.fill("#recipients-0-share", "60")
    page.select_option("#recipients-1-place", "UGA")
    page.fill("#recipients-1-share", "40")
    page.select_option("#areas-0-code", "23b")
    page.fill("#areas-0-share", "70")
    page.select_option("#areas-1-code", "23d")
    page.fill("#areas-1-share", "30")
    # The add-row enhancement works (and is keyboard-reachable as a button).
    page.get_by_role("button", name="+ Add a recipient").click()
    assert page.locator("#recipients-5-place").count() == 1
    screenshot(page, "project-form")
    page.get_by_role("button", name="Register project").click()

    page.wait_for_url(re.compile(r".*/projects/\d+$"))
    project_url = page.url
    shares = page.locator("table.shares").first.inner_text()
    assert "Kenya" in shares and "60 %" in shares and "Uganda" in shares and "40 %" in shares
    areas = page.locator("table.shares").nth(1).inner_text()
    assert "23b" in areas and "70 %" in areas and "23d" in areas and "30 %" in areas

    page.get_by_role("link", name="Add transaction").click()
    page.select_option("#f-type", "commitment")
    page.fill("#f-amount", "100000.00")
    page.select_option("#f-currency", "EUR")
    page.fill("#f-value_date", "2021-03-15")
    page.get_by_role("button", name="Add transaction").click()
    page.wait_for_url(re.compile(r".*/projects/\d+#transactions$"))
    row = page.locator("#transactions tbody tr").first.inner_text()
    assert "100,000.00 EUR" in row and "2021-03-15" in row
    usd = re.search(r"(\d{2,3},\d{3}\.\d{2})\s", row.split("EUR", 1)[1]).group(1)
    assert usd != "100,000.00"  # converted at the ECB rate of the value date

    page.goto(live_server + "/projects?q=community+networks&country=UGA")
    listed = page.locator("table.project-table tbody")
    assert "Community networks for Kenya and Uganda" in listed.inner_text()
    # the list abbreviates amounts for reading; the exact figure is on hover
    assert listed.locator(f'data[title="{usd}"]').count() == 1

    page.goto(project_url)
    page.get_by_role("link", name="Edit project").click()
    page.fill("#f-title", "Community networks, phase 2")
    page.fill("#recipients-0-share", "50")
    page.fill("#recipients-1-share", "50")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(project_url)
    assert page.locator("h1").inner_text() == "Community networks, phase 2"
    history = page.locator("#history").inner_text()
    assert "Community networks for Kenya and Uganda" in history  # before
    assert "Community networks, phase 2" in history  # after
    assert "KEN 60 %" in history and "KEN 50 %" in history, history
    assert "donor@demo.invalid" in history and "via web" in history and "UTC" in history
    screenshot(page, "project-detail")


def test_form_errors_are_shown_next_to_the_fields(page, live_server):
    login(page, live_server, "donor@demo.invalid")
    page.wait_for_url(live_server + "/")
    page.goto(live_server + "/projects/new")
    page.fill("#f-reference", "BROWSER-ERR")
    page.select_option("#recipients-0-place", "KEN")
    page.fill("#recipients-0-share", "60")
    page.select_option("#recipients-1-place", "NPL")
    page.fill("#recipients-1-share", "30")
    page.get_by_role("button", name="Register project").click()
    assert page.locator("#title-error").inner_text()
    assert "add up to 100" in page.locator("#recipients-error").inner_text()
    assert page.locator("#recipients-1-share").input_value() == "30"
    screenshot(page, "project-form-errors")


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("projects", "/projects"),
        ("projects-filtered", "/projects?region=002&area=23b&sort=-need"),
        ("project", "/projects/1"),
        ("funding-sources", "/funding-sources"),
        ("funding-source", "/funding-sources/1"),
        ("organisations", "/organisations"),
        ("organisation", "/organisations/1"),
        ("login", "/login"),
    ],
)
def test_main_pages_at_desktop_and_phone_width(page, phone_page, live_server, name, path):
    for viewer, suffix in ((page, ""), (phone_page, "-phone")):
        response = viewer.goto(live_server + path)
        assert response.status == 200
        screenshot(viewer, name + suffix)
        width = viewer.evaluate("document.documentElement.scrollWidth")
        viewport = viewer.viewport_size["width"]
        assert width <= viewport, f"{path} is {width}px wide at {viewport}px"


def test_keyboard_reaches_the_main_navigation_and_forms(page, live_server):
    page.goto(live_server + "/projects")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Skip to content"
    names = []
    for _ in range(14):  # past the six languages of the switch and the site's name
        page.keyboard.press("Tab")
        names.append(page.evaluate("document.activeElement.textContent").strip())
    assert "Projects" in names and "Funding sources" in names


def test_project_form_fits_a_phone(phone_page, live_server):
    login(phone_page, live_server, "donor@demo.invalid")
    phone_page.wait_for_url(live_server + "/")
    phone_page.goto(live_server + "/projects/new")
    screenshot(phone_page, "project-form-phone")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    # Share inputs sit beside their country on the same row.
    place = phone_page.locator("#recipients-0-place").bounding_box()
    share = phone_page.locator("#recipients-0-share").bounding_box()
    assert abs(place["y"] - share["y"]) < 5 and share["x"] > place["x"]


def test_a_project_with_its_edit_actions_fits_a_phone(phone_page, live_server):
    """An editor's transactions table has an actions column with a visually hidden header: that
    header must stay inside the table's scroll box, not widen the page."""
    login(phone_page, live_server, "admin@demo.invalid")
    phone_page.wait_for_url(live_server + "/")
    phone_page.goto(live_server + "/projects/1")
    assert phone_page.locator("#transactions th .visually-hidden").count() == 1  # the editor's view
    screenshot(phone_page, "project-editor-phone")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_projects_transactions_show_their_dollar_values_on_a_phone(phone_page, live_server):
    """No column of the transactions, the USD values least of all, is out of sight on a phone."""
    login(phone_page, live_server, "donor@demo.invalid")
    phone_page.wait_for_url(live_server + "/")
    phone_page.goto(live_server + "/projects/10")
    screenshot(phone_page, "project-transactions-phone")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    box = phone_page.evaluate(
        "() => { const e = document.querySelector('#transactions .table-scroll');"
        " return [e.scrollWidth, e.clientWidth] }"
    )
    assert box[0] <= box[1], box
    usd = phone_page.locator("#transactions td[data-label='USD']").first
    assert usd.is_visible() and usd.bounding_box()["x"] + usd.bounding_box()["width"] <= 390
    assert re.fullmatch(r"[\d,]+\.\d\d", usd.inner_text().strip())
