"""The administrator's pages in a real browser, at desktop (1366 px) and phone (390 px) width."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import PHONE, login, opened_page, screenshot

pytestmark = pytest.mark.browser

WIDTHS = {"": 1366, "-phone": 390}


WIDE = {"viewport": {"width": 1366, "height": 900}}


@pytest.fixture
def wide_page(browser):
    """A fresh page at a laptop's width (1366 px)."""
    with opened_page(browser, **WIDE) as fresh:
        yield fresh


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{page.url} is {width}px wide at {viewport}px"


def test_admin_invites_someone_who_sets_a_password_and_is_then_deactivated(wide_page, browser, live_server):
    page = wide_page
    login(page, live_server, "admin@demo.invalid")
    page.wait_for_url(live_server + "/")
    page.get_by_role("link", name="Admin", exact=True).click()
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Users").click()
    page.wait_for_url(live_server + "/admin/users")
    assert "donor@demo.invalid" in page.locator("table.data").inner_text()

    page.get_by_role("link", name="Invite someone").click()
    page.fill("#f-email", "officer@ministry.example")
    page.select_option("#f-role", "analyst")
    page.fill("#f-name", "Ada Officer")
    page.get_by_role("button", name="Invite").click()
    page.wait_for_url(re.compile(r".*/admin/users/\d+$"))
    assert "pass on the link" in page.locator(".flashes").inner_text()
    link = page.locator("#invitation-link").input_value()
    assert "/invitation/" in link
    screenshot(page, "admin-user-invited")
    _fits(page)

    with opened_page(browser, **PHONE) as phone:
        phone.goto(link)
        screenshot(phone, "admin-set-password-phone")
        phone.fill("#f-password", "a-long-password")
        phone.fill("#f-confirmation", "a-long-password")
        phone.get_by_role("button", name="Set password").click()
        phone.wait_for_url(live_server + "/login")
        login(phone, live_server, "officer@ministry.example", "a-long-password")
        phone.wait_for_url(live_server + "/")
        assert "officer@ministry.example" in phone.locator(".account").text_content()

        page.reload()
        assert page.locator("#invitation-link").count() == 0
        page.on("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Deactivate account").click()
        page.wait_for_url(re.compile(r".*/admin/users/\d+$"))
        assert "Deactivated officer@ministry.example" in page.locator(".flashes").inner_text()
        phone.goto(live_server + "/")
        assert "officer@ministry.example" not in phone.locator("header").text_content()  # signed out

    page.get_by_role("link", name="Changes to this account").click()
    events = page.locator("ol.history").inner_text()
    assert (
        "Deactivated officer@ministry.example" in events and "Set a new password for officer@ministry.example" in events
    )
    assert "Created account officer@ministry.example" in events


def test_reference_reload_shows_what_changed(wide_page, live_server):
    page = wide_page
    login(page, live_server, "admin@demo.invalid")
    page.wait_for_url(live_server + "/")
    page.goto(live_server + "/admin/reference")
    page.get_by_role("button", name="Reload from the shipped files").click()
    page.wait_for_url(re.compile(r".*/admin/reference/reloads/\d+$"))
    assert "no change" in page.locator("h2").first.inner_text()
    screenshot(page, "admin-reference-reload")
    page.goto(live_server + "/admin/reference")
    assert "Latest reloads" in page.content()
    page.get_by_role("link", name="Countries and territories").click()
    assert "Afghanistan" in page.locator("table.data").inner_text()


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("admin-index", "/admin/"),
        ("admin-users", "/admin/users"),
        ("admin-invite", "/admin/users/invite"),
        ("admin-user", "/admin/users/1"),
        ("admin-audit", "/admin/audit?entity_type=project"),
        ("admin-reference", "/admin/reference"),
        ("admin-reference-table", "/admin/reference/category_memberships"),
        ("admin-imports", "/admin/imports"),
        ("admin-history", "/admin/history/project/1"),
    ],
)
def test_admin_pages_at_desktop_and_phone_width(wide_page, phone_page, live_server, name, path):
    for viewer, suffix in ((wide_page, ""), (phone_page, "-phone")):
        login(viewer, live_server, "admin@demo.invalid")
        viewer.wait_for_url(live_server + "/")
        response = viewer.goto(live_server + path)
        assert response.status == 200
        screenshot(viewer, name + suffix)
        _fits(viewer)
        assert viewer.viewport_size["width"] == WIDTHS[suffix]


def test_a_donor_gets_no_admin_link_and_a_403(page, live_server):
    login(page, live_server, "donor@demo.invalid")
    page.wait_for_url(live_server + "/")
    assert page.get_by_role("link", name="Admin", exact=True).count() == 0
    assert page.goto(live_server + "/admin/users").status == 403


def test_admin_sees_a_donors_import_in_the_jobs_list(wide_page, browser, live_server, tmp_path):
    path = tmp_path / "nca-2024.csv"
    path.write_bytes(
        b"Project reference,Title,Country,Priority area,Type,Amount,Currency,Value date\n"
        b"ADM-1,Backbone study,KEN,23c,commitment,250000,EUR,2024-03-01\n"
    )
    with opened_page(browser, **WIDE) as page:
        login(page, live_server, "donor@demo.invalid")
        page.wait_for_url(live_server + "/")
        page.goto(live_server + "/imports/")
        page.set_input_files("input[name=file]", str(path))
        page.get_by_role("button", name="Upload and check").click()
        page.wait_for_url(re.compile(r"/imports/\d+"))
        page.locator("#batch-status").wait_for()
    login(wide_page, live_server, "admin@demo.invalid")
    wide_page.wait_for_url(live_server + "/")
    wide_page.goto(live_server + "/admin/imports")
    row = wide_page.locator("table.data tbody tr", has_text="nca-2024.csv")
    assert "donor@demo.invalid" in row.inner_text() and "Nordic Connectivity Agency" in row.inner_text()
    screenshot(wide_page, "admin-imports-listed")
    row.get_by_role("link").first.click()
    wide_page.wait_for_url(re.compile(r"/imports/\d+$"))
