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
    # On a desktop the problems stay a table.
    assert page.evaluate("getComputedStyle(document.querySelector('#problems')).display") == "table"
    screenshot(page, "import-1-not-understood")
    # Discarding a check that imported nothing does not speak of undoing an import.
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.locator("#discard").click()
    assert questions and questions[0].startswith("Discard this preview?") and "removed" not in questions[0]

    page.select_option("select[data-header='Code']", "reference")
    page.get_by_role("button", name="Check again with these columns").click()
    page.wait_for_url(re.compile(r"/imports/\d+"))
    page.locator("#batch-status").wait_for()
    assert page.locator("#batch-status").inner_text() == "previewed"
    # six columns fit a laptop's width: no note that the table scrolls
    assert page.locator(".scroll-note").count() == 1 and page.locator(".scroll-note").is_hidden()
    assert page.locator("#count-created").inner_text() == "2"
    assert page.get_by_text("Total row skipped").count() == 1
    screenshot(page, "import-2-preview")

    page.get_by_role("button", name="Commit this import").click()
    page.wait_for_url(re.compile(r"/imports/\d+"))
    page.get_by_text("Imported.").wait_for()
    assert page.locator("#batch-status").inner_text() == "committed"
    # What was imported is shown, not offered for change: no drop-downs without a button.
    assert page.locator("#mapping th", has_text="Code").count() == 1
    assert page.locator("#mapping").get_by_text("Project reference").count() == 1
    assert page.locator("main select").count() == 0 and page.locator("#recheck").count() == 0
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


PROBLEM_ROWS = [
    ["Project reference", "Title", "Country", "Commitment 2023", "Commitment 2024"],
    ["PH-1", "Schools online in the rural districts of the north", "Kenya", "1000", "2000"],
    ["PH-2", "Clinics online", "Atlantis", "500", ""],
]


def test_a_preview_with_problems_reads_on_a_phone(phone_page, live_server, tmp_path):
    page = phone_page
    login(page, live_server, "donor@demo.invalid")
    page.wait_for_url(live_server + "/")
    page.goto(live_server + "/imports/")
    path = tmp_path / "phone-return.csv"
    path.write_bytes(csv_bytes(PROBLEM_ROWS))
    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url(re.compile(r"/imports/\d+"))
    assert page.locator("#batch-status").inner_text() == "failed"
    screenshot(page, "import-problems-phone")
    # the note that the first rows scroll sideways is shown exactly when they do
    for note in page.locator(".scroll-note").all():
        region = page.locator(f'[aria-describedby~="{note.get_attribute("id")}"]')
        overflows = region.evaluate("e => e.scrollWidth > e.clientWidth")
        assert note.is_visible() == overflows
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The whole menu (when shown: on a phone it folds behind its button) and the brand are on
    # the screen, none of it cut by an edge.
    outside = page.evaluate(
        """() => [...document.querySelectorAll('.brand-mark, .menu-toggle, .main-nav a')]
              .filter(e => e.getClientRects().length)
              .filter(e => { const r = e.getBoundingClientRect(); return r.left < 8 || r.right > innerWidth - 8 })
              .map(e => e.textContent.trim())"""
    )
    assert outside == []
    # Problems are cards: no sideways scrolling, and each message on a readable width.
    box = page.evaluate(
        "() => { const e = document.querySelector('#problems').parentElement; return [e.scrollWidth, e.clientWidth] }"
    )
    assert box[0] <= box[1], box
    widths = page.evaluate(
        "() => [...document.querySelectorAll('#problems td.message')].map(e => e.getBoundingClientRect().width)"
    )
    # Five problems, and the two year columns' warnings that their flows are dated 31 December.
    assert len(widths) == 7 and min(widths) >= 250, widths
    # The two year columns' drop-downs are wide enough to tell 2023 from 2024.
    for header in ("Commitment 2023", "Commitment 2024"):
        select = page.locator(f"select[data-header='{header}']")
        assert select.bounding_box()["width"] >= 250
        assert select.evaluate("e => e.selectedOptions[0].textContent.trim()").endswith(header[-4:])
