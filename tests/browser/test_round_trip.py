"""The donor's round trip in a real Chromium: download my projects, change a title in the
workbook, upload it again; the preview lists exactly that change, the commit applies it."""

from __future__ import annotations

import re

import openpyxl
import pytest

from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.browser


def test_download_my_projects_edit_one_title_upload_and_commit(page, live_server, tmp_path):
    login(page, live_server, "donor@demo.invalid")
    page.wait_for_url(live_server + "/")
    page.goto(live_server + "/imports/")
    with page.expect_download() as info:
        page.locator("#my-projects").click()
    path = tmp_path / "my-projects.xlsx"
    info.value.save_as(path)

    book = openpyxl.load_workbook(path)
    sheet = book["Projects"]
    header = [cell.value for cell in sheet[1]]
    title, reference = header.index("Project title"), header.index("Project reference")
    row = next(r for r in sheet.iter_rows(min_row=2) if r[title].value)  # a project's first row
    old_title, changed = row[title].value, row[reference].value
    row[title].value = f"{old_title} (phase 2)"
    book.save(path)

    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url(re.compile(r"/imports/\d+"))
    page.wait_for_selector("#batch-status")
    assert page.locator("#batch-status").inner_text() == "previewed"
    changes = page.locator("#changes-table tbody tr")
    assert changes.count() == 1, page.locator("#changes").inner_text()
    text = changes.first.inner_text()
    assert changed in text and old_title in text and f"{old_title} (phase 2)" in text
    screenshot(page, "round-trip-preview")

    page.get_by_role("button", name="Commit this import").click()
    page.wait_for_url(re.compile(r"/imports/\d+"))
    page.wait_for_function("document.querySelector('#batch-status').textContent.trim() === 'committed'")
    screenshot(page, "round-trip-committed")
    page.goto(live_server + "/projects?q=" + changed)
    assert f"{old_title} (phase 2)" in page.locator("main").inner_text()
