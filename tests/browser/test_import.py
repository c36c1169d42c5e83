"""Upload a donor file, fix its column mapping, preview, commit: in a real Chromium."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import login, screenshot
from tests.importers.helpers import csv_bytes

pytestmark = pytest.mark.browser

ROWS = [
    ["Donor return 2024 (Nordic Connectivity Agency)"],
    [],
    ["Code", "Project title", "Country", "Transaction type", "Amount (EUR thousands)", "Value date"],
    ["NCA-B-1", "Community networks", "Lao PDR", "commitment", "1.250,5", "2024-03-01"],
    ["NCA-B-1", "Community networks", "Viet Nam", "commitment", "250", "2024-03-01"],
    ["NCA-B-2", "Digital skills for teachers", "Cote d'Ivoire", "disbursement", "(12)", "2024"],
    ["Total", "", "", "", "1.488,5", ""],
]


def _log_in_as_donor(page, live_server) -> None:
    login(page, live_server, "donor@demo.invalid")
    page.goto(live_server + "/imports/")
    assert "donor@demo.invalid" in page.locator("header").inner_text()


def test_upload_fix_mapping_preview_commit(page, live_server, tmp_path):
    _log_in_as_donor(page, live_server)
    path = tmp_path / "nca-return.csv"
    path.write_bytes(csv_bytes(ROWS, ";", "cp1252"))
    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url(re.compile(r"/imports/\d+"))
    assert page.locator("#batch-status").inner_text() == "failed"
    assert page.get_by_text("No column for the project reference was found").count() == 1
    assert page.locator("table[id^=preview] tbody tr").count() == 4  # rows as read, total row included
    screenshot(page, "import-1-not-understood")

    page.select_option("select[data-header='Code']", "reference")
    page.get_by_role("button", name="Check again with these columns").click()
    page.wait_for_url(re.compile(r"/imports/\d+"))
    page.locator("#batch-status").wait_for()
    assert page.locator("#batch-status").inner_text() == "previewed"
    assert page.locator("#count-created").inner_text() == "2"
    assert page.get_by_text("Total row skipped").count() == 1
    screenshot(page, "import-2-preview")

    page.get_by_role("button", name="Commit this import").click()
    page.wait_for_url(re.compile(r"/imports/\d+"))
    page.get_by_text("Imported.").wait_for()
    assert page.locator("#batch-status").inner_text() == "committed"
    screenshot(page, "import-3-committed")
    committed = page.url

    # Undo asks first: a dismissed question leaves the import in place, an accepted one undoes it.
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.locator("#undo").click()
    assert questions and questions[0].startswith("Undo this import?")
    assert page.url == committed and page.locator("#batch-status").inner_text() == "committed"
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#undo").click()
    page.get_by_text("The import was undone").wait_for()
    page.goto(committed)
    assert page.locator("#batch-status").inner_text() == "undone"
    page.goto(live_server + "/imports/")
    assert page.get_by_text("Use the column mapping you confirmed").count() == 1
