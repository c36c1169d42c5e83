"""Import pages: upload -> preview -> fix the mapping -> commit; downloads; the template."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from sqlalchemy import func, select

from importers.models import SavedMapping
from registry.extensions import db
from registry.models import ImportBatch, Project
from registry.services import accounts
from tests.importers.helpers import csv_bytes, xlsx
from tests.sessions import log_in

ROWS = [
    ["Code", "Project title", "Country", "Transaction type", "Amount", "Currency", "Value date"],
    ["W-1", "Schools online", "Kenya", "commitment", "1000", "USD", "2021-01-04"],
    ["W-2", "Clinics online", "Atlantis", "commitment", "500", "USD", "2021-01-04"],
]


@pytest.fixture
def donor_client(app, client, actor, make_org):
    app.config["IMPORT_BACKGROUND"] = False
    org = make_org(ref="WEB-DON", name="Web donor")
    user = accounts.create_user(actor, "donor-web@example.org", "donor", org=org)
    db.session.commit()
    log_in(client, user)
    yield client, org
    app.config["IMPORT_BACKGROUND"] = True


def _upload(client, org, data, name="donor.csv", **form):
    body = {"file": (io.BytesIO(data), name), "org_id": str(org.id), **form}
    return client.post("/imports/", data=body, content_type="multipart/form-data", follow_redirects=True)


def test_upload_preview_fix_mapping_commit(donor_client):
    client, org = donor_client
    page = _upload(client, org, csv_bytes(ROWS))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "No column for the project reference was found" in html, html[html.find("<main") :][:3000]
    assert 'name="map:Code"' in html and "Atlantis" in html  # rows as read
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert batch.status == "failed"
    # Fix the mapping: Code is the reference; the unknown country still stops the file.
    form = {f"map:{h}": v for h, v in batch.options["mapping"]["columns"].items()}
    form["map:Code"] = "reference"
    page = client.post(f"/imports/{batch.id}/remap", data=form, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "Unknown country &#39;Atlantis&#39;" in html or "Unknown country 'Atlantis'" in html
    rows = [r[:] for r in ROWS]
    rows[2][2] = "Uganda"
    page = _upload(client, org, csv_bytes(rows), name="fixed.csv")
    html = page.get_data(as_text=True)
    assert "No column for the project reference" in html  # the file alone is still not understood
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    form = {f"map:{h}": v for h, v in batch.options["mapping"]["columns"].items()}
    form["map:Code"] = "reference"
    page = client.post(f"/imports/{batch.id}/remap", data=form, follow_redirects=True)
    preview = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert preview.status == "previewed", preview.problems
    assert 'id="commit"' in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Project).where(Project.org_id == org.id)) == 0
    page = client.post(f"/imports/{preview.id}/commit", follow_redirects=True)
    html = page.get_data(as_text=True)
    from registry.models import Job

    assert page.status_code == 200 and "Imported." in html, [
        (j.kind, j.status, j.message) for j in db.session.scalars(select(Job))
    ]
    assert db.session.scalar(select(func.count()).select_from(Project).where(Project.org_id == org.id)) == 2
    saved = db.session.scalar(select(SavedMapping).where(SavedMapping.org_id == org.id))
    assert saved.mapping["columns"]["Code"] == "reference"
    # The confirmed mapping is offered for the next file, and used.
    index = client.get("/imports/").get_data(as_text=True)
    assert "Use the column mapping you confirmed" in index
    # previews replaced by "check again" are not listed among the recent imports
    discarded = db.session.scalars(select(ImportBatch.id).where(ImportBatch.status == "discarded")).all()
    assert discarded and not any(f'href="/imports/{i}"' in index for i in discarded)
    assert f'href="/imports/{preview.id}"' in index
    rows[1][4] = "1200"
    page = _upload(client, org, csv_bytes(rows), name="next.csv", use_saved="1")
    latest = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert latest.status == "previewed" and latest.counts["projects_updated"] == 1


def test_the_preview_names_both_rows_of_a_two_row_header(donor_client, tmp_path):
    client, org = donor_client
    rows = [
        ["Portefeuille numérique"],
        [],
        ["Référence", "Intitulé du projet", "Pays bénéficiaire", "Engagements", None],
        [None, None, None, 2023, 2024],
        ["00123", "Fibre rurale", "Côte d'Ivoire", 500000, 250000],
    ]
    path = xlsx(rows, tmp_path / "merged.xlsx", merges=("D3:E3", "A3:A4", "B3:B4", "C3:C4"))
    html = _upload(client, org, path.read_bytes(), name="merged.xlsx", currency="EUR").get_data(as_text=True)
    assert "Header found on rows 3-4." in html
    html = _upload(client, org, csv_bytes(ROWS), name="one.csv").get_data(as_text=True)
    assert "Header found on row 1." in html


def test_problem_report_downloads(donor_client):
    client, org = donor_client
    _upload(client, org, csv_bytes(ROWS))
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    text = client.get(f"/imports/{batch.id}/problems.csv").get_data(as_text=True)
    assert text.lstrip("\ufeff").startswith("severity,code,sheet,row,column,value,message,file")
    assert "missing_column" in text
    data = client.get(f"/imports/{batch.id}/problems.xlsx").data
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet[1]][:3] == ["severity", "code", "sheet"]
    assert sheet.max_row == len(batch.problems) + 1


def test_other_organisations_batches_are_refused(donor_client, make_org, actor):
    client, org = donor_client
    other = make_org(ref="OTHER-WEB")
    db.session.commit()
    response = client.post(
        "/imports/",
        data={"file": (io.BytesIO(csv_bytes(ROWS)), "x.csv"), "org_id": str(other.id)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403


def test_job_status_json_and_progress_page(donor_client):
    client, org = donor_client
    response = client.post(
        "/imports/",
        data={"file": (io.BytesIO(csv_bytes(ROWS)), "x.csv"), "org_id": str(org.id)},
        content_type="multipart/form-data",
    )
    job_url = response.headers["Location"]
    job_id = re.search(r"/jobs/([0-9a-f]+)", job_url).group(1)
    status = client.get(f"/imports/jobs/{job_id}.json").json
    assert status["state"] == "done" and status["percent"] == 100 and status["url"].startswith("/imports/")


def test_blank_template(client):
    data = client.get("/imports/template.xlsx").data
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Instructions", "Projects", "Lists"]
    headers = [c.value for c in wb["Projects"][1]]
    assert headers[:3] == ["Project reference", "Project title", "Description"]
    sources = {dv.formula1 for dv in wb["Projects"].data_validations.dataValidation}
    assert {"Countries", "Types", "Currencies", "Areas"} <= sources
    assert "KEN" in [c.value for c in wb["Lists"]["A"]]


def test_a_file_without_currency_says_first_to_choose_the_files_currency(donor_client):
    client, org = donor_client
    index = client.get("/imports/").get_data(as_text=True)
    field = index[index.find('<select id="currency"') : index.find("</select>", index.find('<select id="currency"'))]
    # Optional and empty: no code that looks like a default.
    assert '<option value="" selected>' in field and 'placeholder="USD"' not in index
    assert 'value="XOF"' in field and "Only when the file has no currency column" in index
    rows = [
        ["Project reference", "Title", "Country", "Commitment 2023", "Commitment 2024"],
        ["NC-1", "Schools online", "Kenya", "1000", "2000"],
        ["NC-2", "Clinics online", "Senegal", "500", ""],
    ]
    html = _upload(client, org, csv_bytes(rows), name="no-currency.csv").get_data(as_text=True)
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert batch.status == "failed"
    first = batch.problems[0]
    assert first["code"] == "no_file_currency" and first["row"] is None
    assert first["message"].startswith("3 amounts have no currency")
    assert "Currency of the file" in first["message"] and "--currency" in first["message"]
    assert [p["code"] for p in batch.problems].count("no_file_currency") == 1  # once, not per row
    problems = html[html.find('id="problems"') :]
    assert problems.find("3 amounts have no currency") < problems.find("No currency:")
    # The rows as read say why a row gave nothing, rather than a bare dash.
    assert "Not read (Commitment 2023: No currency; Commitment 2024: No currency)" in html
    assert "Not read (Commitment 2023: No currency)" in html
    # Choosing the currency on the preview and checking again imports the file.
    form = {f"map:{h}": v for h, v in batch.options["mapping"]["columns"].items()}
    page = client.post(f"/imports/{batch.id}/remap", data={**form, "currency": "XOF"}, follow_redirects=True)
    again = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert again.status == "previewed", again.problems
    assert 'value="XOF" selected' in page.get_data(as_text=True)


def test_an_empty_currency_cell_is_reported_on_its_row_only(donor_client):
    client, org = donor_client
    rows = [r[:] for r in ROWS]
    rows[0][0] = "Project reference"
    rows[2][2], rows[2][5] = "Uganda", ""
    _upload(client, org, csv_bytes(rows), name="one-empty.csv", currency="")
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    missing = [p for p in batch.problems if "currency" in p["code"]]
    assert [(p["code"], p["row"]) for p in missing] == [("missing_currency", 3)]
    assert "the Currency cell is empty" in missing[0]["message"]


def test_a_preview_is_discarded_and_an_import_shows_its_columns_read_only(donor_client):
    client, org = donor_client
    rows = [r[:] for r in ROWS]
    rows[0][0], rows[2][2] = "Project reference", "Uganda"
    html = _upload(client, org, csv_bytes(rows)).get_data(as_text=True)
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert batch.status == "previewed", batch.problems
    # Nothing was imported yet: discarding is not an undo.
    assert "Discard this preview? Nothing from this file was imported" in html and "Undo this import?" not in html
    assert 'name="map:Project reference"' in html and 'id="recheck"' in html
    page = client.post(f"/imports/{batch.id}/commit", follow_redirects=True).get_data(as_text=True)
    assert "Imported." in page
    mapping = page[page.find('id="mapping"') : page.find("</table>", page.find('id="mapping"'))]
    assert '<th scope="row">Project reference</th>' in mapping and "Recipient country" in mapping
    assert "<select" not in page and 'id="recheck"' not in page and 'id="mapping-form"' not in page
    assert "Undo this import?" in page


def test_the_same_file_uploaded_again_is_already_imported(donor_client):
    """The saved mapping (offered, and used by default) maps the columns as they were detected:
    the same reading of the same file, so the second upload says it was imported already."""
    client, org = donor_client
    rows = [["Project reference", *ROWS[0][1:]], ROWS[1]]
    _upload(client, org, csv_bytes(rows))
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert batch.status == "previewed", batch.problems
    client.post(f"/imports/{batch.id}/commit", follow_redirects=True)
    assert db.session.get(ImportBatch, batch.id).status == "committed"
    assert db.session.scalar(select(SavedMapping).where(SavedMapping.org_id == org.id)) is not None
    page = _upload(client, org, csv_bytes(rows), use_saved="1")
    last = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert last.id == batch.id and "lready imported" in page.get_data(as_text=True)


def test_the_preview_asks_which_field_an_ambiguous_header_is(donor_client):
    client, org = donor_client
    rows = [
        ["Project reference", "Title", "Country", "Commitment", "Disbursement", "Amount", "Currency", "Value date"],
        ["Q-1", "Schools online", "Kenya", "1000", "400", "1400", "USD", "2021-01-04"],
    ]
    html = _upload(client, org, csv_bytes(rows)).get_data(as_text=True)
    assert "Which is it? Commitment amount, Disbursement amount, or (ignore this column)" in html
    select = re.search(r'<select[^>]*data-header="Amount".*?</select>', html, re.S).group(0)
    assert '<option value="" selected>— choose —</option>' in select
    assert not re.search(r'value="ignore"\s+selected', select)
    batch = db.session.scalar(select_batch())
    assert batch.status == "failed" and batch.options["questions"] == {
        "Amount": ["commitment", "disbursement", "ignore"]
    }
    # Left unanswered, it is asked again; answered, the file is understood.
    form = {f"map:{h}": v for h, v in batch.options["mapping"]["columns"].items()}
    form["map:Amount"] = ""
    client.post(f"/imports/{batch.id}/remap", data=form, follow_redirects=True)
    again = db.session.scalar(select_batch())
    assert again.status == "failed" and any(p["code"] == "ambiguous_header" for p in again.problems)
    form["map:Amount"] = "ignore"
    client.post(f"/imports/{again.id}/remap", data=form, follow_redirects=True)
    answered = db.session.scalar(select_batch())
    assert answered.status == "previewed", answered.problems


def select_batch():
    return select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1)


def test_an_administrator_chooses_the_organisation_it_is_never_the_first_of_the_list(app, client, actor, make_org):
    """The administrator's organisation list used to preselect the first organisation by name:
    a file uploaded without looking (a multi-publisher IATI export) was credited to whoever
    sorts first. Nothing is preselected: left empty, the owner is proposed from the file, and a
    file that proposes none (a spreadsheet) asks for it before anything is checked."""
    app.config["IMPORT_BACKGROUND"] = False
    try:
        make_org(ref="AAA-FIRST", name="Aardvark Aid")
        make_org(ref="ZZZ-LAST", name="Zebra Fund")
        admin = accounts.create_user(actor, "admin-web@example.org", "admin")
        db.session.commit()
        log_in(client, admin)
        html = client.get("/imports/").get_data(as_text=True)
        select_html = html[html.find('<select id="org_id"') : html.find("</select>", html.find('<select id="org_id"'))]
        assert re.search(r'<option value="" selected>\(propose it from the file\)', select_html), select_html
        before = db.session.scalar(select(func.count()).select_from(ImportBatch))
        body = {"file": (io.BytesIO(csv_bytes(ROWS)), "donor.csv")}
        page = client.post("/imports/", data=body, content_type="multipart/form-data", follow_redirects=True)
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and 'id="choose-owner"' in html
        assert "no organisation is proposed" in html
        owner_select = html[html.find('<select id="org_id"') : html.find("</select>", html.find('<select id="org_id"'))]
        assert re.search(r'<option value="" selected disabled>', owner_select) and "required" in owner_select
        assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == before
    finally:
        app.config["IMPORT_BACKGROUND"] = True


def test_an_undo_refused_at_the_requests_save_is_a_flash_not_an_error_page(donor_client):
    """Undoing a batch a later import changed is refused inside the request's one unit of work
    (registry.web.saving.save): the batch's page again with the reason, nothing undone."""
    client, org = donor_client
    header = ["Project reference", *ROWS[0][1:]]
    batches = []
    for title in ("Schools online", "Schools online, second phase"):
        _upload(client, org, csv_bytes([header, ["W-1", title, *ROWS[1][2:]]]))
        batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
        assert batch.status == "previewed", batch.problems
        client.post(f"/imports/{batch.id}/commit", follow_redirects=True)
        assert db.session.get(ImportBatch, batch.id).status == "committed"
        batches.append(batch.id)
    first, later = batches
    answer = client.post(f"/imports/{first}/undo")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/imports/{first}")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"Import batch {later} changed the same projects later; undo it first" in page
    db.session.expire_all()
    assert db.session.get(ImportBatch, first).status == "committed"
    assert db.session.scalar(select(Project.title).where(Project.reference == "W-1")) == "Schools online, second phase"


def test_the_first_rows_table_is_a_focusable_scroll_region_with_a_cue(donor_client, client):
    """Wider than the page at 1366 px, the rows as read scroll in a region the keyboard can
    reach, named for screen readers, with a note and shaded edges (CSS from a file: the CSP
    forbids style attributes)."""
    client, org = donor_client
    html = _upload(client, org, csv_bytes(ROWS)).get_data(as_text=True)
    region = re.search(r'<div class="table-scroll preview-scroll"[^>]*>', html).group(0)
    assert 'role="region"' in region and 'tabindex="0"' in region
    assert 'aria-labelledby="preview-title-1"' in region and 'aria-describedby="preview-note-1"' in region
    assert '<h2 id="preview-title-1">First rows of the file, not read</h2>' in html  # its name
    assert "scroll it sideways to see every column" in html
    assert " style=" not in html and "<style" not in html
    css_url = re.search(r'<link rel="stylesheet" href="([^"]*imports\.css)"', html).group(1)
    with client.get(css_url) as css:
        assert css.status_code == 200 and css.mimetype == "text/css"
        text = css.get_data(as_text=True)
    assert ".preview-scroll" in text and "overflow-x: auto" in text


def test_a_file_without_a_title_column_says_which_column_is_missing(donor_client):
    """Not "0 rows read" above a list of rows: the page says first that nothing was read, for
    want of which column, and what the header has instead."""
    client, org = donor_client
    rows = [["Project reference", "Country", "Transaction type", "Amount", "Currency", "Value date"]]
    rows += [[f"NT-{i}", "Kenya", "commitment", "1000", "USD", "2021-01-04"] for i in range(3)]
    html = _upload(client, org, csv_bytes(rows), name="no-title.csv").get_data(as_text=True)
    notice = html[html.find('id="missing-columns"') :][:1200]
    assert "Nothing was read: the file has no column for the project title." in notice, notice
    assert "Its header, on row 1, has: &#39;Project reference&#39;, &#39;Country&#39;" in notice
    assert "choose the column that holds it" in notice
    assert "First rows of the file, not read" in html and "First rows as read" not in html
    assert html.find('id="missing-columns"') < html.find('class="kpis"')


GOOD = [
    ["Project reference", "Project title", "Country", "Transaction type", "Amount", "Currency", "Value date"],
    ["D-1", "Schools online", "Kenya", "commitment", "1000", "USD", "2021-01-04"],
    ["D-2", "Clinics online", "Uganda", "commitment", "500", "USD", "2021-01-04"],
]


def test_a_commit_that_would_differ_from_its_preview_is_not_made(donor_client, actor):
    """Another import between the preview and the commit: the commit says how it differs
    (what the preview said, what it would do now) and asks for a new check; nothing is saved."""
    from importers import pipeline
    from registry.unit_of_work import commit

    client, org = donor_client
    _upload(client, org, csv_bytes(GOOD), name="two.csv")
    preview = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert preview.status == "previewed" and preview.counts["projects_created"] == 2
    other = pipeline.run_import("sheet", "one.csv", csv_bytes(GOOD[:2]), org, actor)
    assert other.status == "committed"
    commit()
    page = client.post(f"/imports/{preview.id}/commit", follow_redirects=True)
    html = page.get_data(as_text=True)
    db.session.expire_all()
    preview = db.session.get(ImportBatch, preview.id)
    assert preview.status == "previewed", preview.options.get("differs")
    assert preview.options["differs"]["preview"]["projects_created"] == 2
    assert preview.options["differs"]["now"]["projects_created"] == 1
    assert preview.options["differs"]["now"]["projects_unchanged"] == 1  # the other file brought it as is
    notice = html[html.find('id="differs"') :][:3000]
    assert "Not committed: the registry changed since this preview" in notice
    row = re.search(
        r"<th scope=\"row\">Projects to create</th><td class=\"num\">2</td><td class=\"num\"><strong>1<", notice
    )
    assert row, notice
    assert 'id="check-again"' in notice and 'id="commit"' not in html
    assert db.session.scalar(select(func.count()).select_from(Project).where(Project.org_id == org.id)) == 1
    # A second try is refused the same way, until the file is checked again.
    page = client.post(f"/imports/{preview.id}/commit", follow_redirects=True)
    assert "check the file again before committing it" in page.get_data(as_text=True)
    page = client.post(f"/imports/{preview.id}/remap", data={"keep": "1"}, follow_redirects=True)
    fresh = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    assert fresh.id != preview.id and fresh.status == "previewed" and "differs" not in fresh.options
    assert fresh.counts["projects_created"] == 1 and fresh.counts["projects_unchanged"] == 1
    page = client.post(f"/imports/{fresh.id}/commit", follow_redirects=True)
    assert "Imported." in page.get_data(as_text=True)
