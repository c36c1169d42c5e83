"""The forward plan on a project page and its form, and the reports page's Forward view, in a
real Chromium at laptop size, on the demo data (`make run`); screenshots of both to look at."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.conftest import LAPTOP, SCREENSHOTS, login, opened_page

pytestmark = pytest.mark.browser


def _planned_project(page, base: str) -> dict:
    """A project of the demo donor's organisation (DEMO-NCA) that has a forward plan."""
    for number in range(1, 5):
        listing = page.request.get(f"{base}/api/v1/projects?status=active&per_page=100&page={number}").json()
        for item in listing["items"]:
            if item["org"]["ref"] != "DEMO-NCA":
                continue
            plans = page.request.get(f"{base}/api/v1/projects/{item['id']}/plans").json()
            if plans["planned_disbursements"] and plans["budgets"]:
                return item
    raise AssertionError("the demo data has no active DEMO-NCA project with a forward plan")


def test_a_donor_sees_and_edits_the_forward_plan(browser, live_server):
    year = dt.date.today().year
    with opened_page(browser, **LAPTOP) as page:
        project = _planned_project(page, live_server)
        login(page, live_server, "donor@demo.invalid")
        page.goto(f"{live_server}/projects/{project['id']}")
        section = page.locator("#forward-plan")
        assert section.locator("h2").inner_text() == "Forward plan"
        years = section.locator("table.plan-years tbody tr")
        assert years.count() >= 3
        assert section.locator("table.plan-years caption").inner_text().startswith("Budgets and planned disbursements")
        items = section.locator("table.plan-items").inner_text()
        assert "Budget" in items and "Planned disbursement" in items and "Committed" in items
        SCREENSHOTS.mkdir(exist_ok=True)
        section.screenshot(path=str(SCREENSHOTS / "forward-plan-project.png"))

        # The form: this year and the next four at least; a bad value is shown beside its row.
        section.get_by_role("link", name="Edit the forward plan").click()
        page.wait_for_url(f"{live_server}/projects/{project['id']}/plan")
        assert page.locator("h1").inner_text() == "Forward plan"
        row = page.locator(f"tr:has(th:text-is('{year + 4}'))").first
        row.locator("input[name$='-amount']").fill("12,5x")
        page.get_by_role("button", name="Save forward plan").click()
        page.locator(".flash-error").first.wait_for()  # the refused form comes back after the click
        assert page.locator(".flash-error").count() == 1
        assert page.locator(".error-message").count() == 1
        page.locator(f"tr:has(th:text-is('{year + 4}')) input[name$='-amount']").first.fill("250000")
        page.get_by_role("button", name="Save forward plan").click()
        page.wait_for_url(f"{live_server}/projects/{project['id']}#forward-plan")
        assert "Saved the forward plan" in page.locator(".flash").first.inner_text()
        plan_row = page.locator(f"#forward-plan table.plan-years tr:has(th:text-is('{year + 4}'))")
        assert "250,000.00" in plan_row.inner_text()
        page.screenshot(path=str(SCREENSHOTS / "forward-plan-project-page.png"), full_page=True)


def test_the_reports_page_has_the_forward_view(browser, live_server):
    with opened_page(browser, **LAPTOP) as page:
        page.goto(f"{live_server}/reports/?by=region")
        view = page.locator("#forward-view")
        assert view.locator("h2").inner_text() == "Forward view"
        table = view.locator("table.forward-table")
        assert "by region" in table.locator("caption").inner_text()
        assert table.locator("tbody tr").count() >= 3
        assert table.locator("tfoot").inner_text().startswith("Total")
        svg = view.locator(".forward-chart svg")
        box = svg.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 150
        assert svg.locator("desc").count() == 1
        measures = view.locator("table.predictability-table").inner_text()
        assert "In-year ratio" in measures and "%" in measures and "Absorption" in measures
        assert (
            view.get_by_role("link", name="CSV", exact=True)
            .get_attribute("href")
            .startswith("/api/v1/reports/forward-spending.csv?by=region")
        )
        SCREENSHOTS.mkdir(exist_ok=True)
        view.screenshot(path=str(SCREENSHOTS / "forward-view-reports.png"))
