"""A donor deletes a project with the button on its page, finds it on the Deleted page and
restores it: the pages a person sees, with screenshots."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.browser


def test_delete_then_restore_a_project_from_the_pages(page, live_server):
    login(page, live_server, "donor@demo.invalid")
    page.goto(f"{live_server}/organisations?q=Nordic")
    page.click("a:has-text('Nordic Connectivity Agency')")  # the donor's own organisation
    first = page.locator("main a[href^='/projects/']").first
    title = first.inner_text()
    first.click()
    project_url = page.url
    page.on("dialog", lambda dialog: dialog.accept())  # "Delete this project and its transactions?"
    page.click("form[action$='/delete'] button[type=submit] >> nth=-1")
    page.wait_for_url(f"{live_server}/projects**")
    assert f"Deleted “{title}”" in page.content()

    page.click("header a:has-text('Deleted')")
    assert page.locator("h1").inner_text() == "Deleted projects"
    assert title in page.locator("#deleted-list").inner_text()
    screenshot(page, "deleted-projects")

    response = page.goto(project_url)
    assert response is not None and response.status == 410
    banner = page.locator("#deleted-banner")
    assert "This project is deleted" in banner.inner_text() and "donor@demo.invalid" in banner.inner_text()
    screenshot(page, "deleted-project-banner")
    page.click("#restore")
    page.wait_for_url(project_url)
    assert f"Restored “{title}”" in page.content()
    assert page.locator("h1").inner_text() == title
    page.goto(f"{live_server}/deleted/projects")
    assert "Nothing of this kind is deleted." in page.content()
