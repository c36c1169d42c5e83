"""Where a problem is (the file, sheet, row and column) reads in the reader's language as one
whole phrase, like the problem itself: on the import page, in the API's errors and inside the
messages that name another record's place. The batch and the command line keep the English."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select

from importers import messages
from importers.records import Location, Problem
from importers.sheets.files import _unreadable
from registry.extensions import db
from registry.models import ImportBatch
from registry.services import accounts
from tests.catalogues import FRENCH_READER, use_french_catalogue
from tests.importers.helpers import csv_bytes
from tests.sessions import log_in

HEADER = ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"]
TWICE = "Project %(ref)s appears twice in the file (first at %(place)s)"  # a message naming a place
FRENCH = {
    "%(file)s, row %(row)s": "%(file)s, ligne %(row)s",
    "%(file)s, sheet %(sheet)s, row %(row)s, column %(column)s": "%(file)s, feuille %(sheet)s, ligne %(row)s, "
    "colonne %(column)s",
    "row %(row)s, column %(column)s": "ligne %(row)s, colonne %(column)s",
    "sheet %(sheet)s, row %(row)s": "feuille %(sheet)s, ligne %(row)s",
    "%(where)s: %(message)s": "%(where)s : %(message)s",
    "%(value)s is not an amount": "%(value)s n’est pas un montant",
    TWICE: "Le projet %(ref)s figure deux fois dans le fichier (d’abord à %(place)s)",
    "Sheet %(sheet)s of %(file)s cannot be read as an XLSX workbook: it is damaged (%(reason)s)": (
        "La feuille %(sheet)s de %(file)s ne peut être lue comme classeur XLSX : elle est endommagée (%(reason)s)"
    ),
}


@pytest.fixture
def french(app, tmp_path, monkeypatch):
    use_french_catalogue(app, tmp_path, monkeypatch, FRENCH)
    return app


@pytest.fixture
def donor_client(app, client, actor, make_org):
    app.config["IMPORT_BACKGROUND"] = False
    org = make_org(ref="LOC-DON", name="Location donor")
    user = accounts.create_user(actor, "donor-location@example.org", "donor", org=org)
    db.session.commit()
    log_in(client, user)
    yield client, org
    app.config["IMPORT_BACKGROUND"] = True


def test_a_place_is_one_phrase_in_english_and_in_the_readers_language(french):
    cell = Location(file="f.xlsx", sheet="Data", row=4, column="Amount")
    assert cell.describe() == "f.xlsx, sheet 'Data', row 4, column 'Amount'"  # the logs' and the CLI's text
    assert Location(column="Amount").describe() == "column 'Amount'"
    assert Location(file="f.csv").describe() == "f.csv" and Location().describe() == ""
    with french.test_request_context("/imports/1", headers=FRENCH_READER):
        assert messages.shown(cell.describe()) == "f.xlsx, feuille 'Data', ligne 4, colonne 'Amount'"
        # Kept on a problem as a parameter of its message, it is translated with it.
        problem = Problem("error", messages.Text(TWICE, ref="'P-1'", place=cell.describe()), Location()).as_dict()
        assert messages.shown(problem) == (
            "Le projet 'P-1' figure deux fois dans le fichier (d’abord à f.xlsx, feuille 'Data', ligne 4, "
            "colonne 'Amount')"
        )


def test_the_place_of_a_record_left_out_reads_in_french_on_the_import_page(french, donor_client, tmp_path):
    from tests.importers.helpers import xlsx

    client, org = donor_client
    rows = [HEADER, ["OK-1", "Schools", "Kenya", "commitment", "100", "USD", "2021-01-04"]]
    rows.append(["BAD-1", "Clinics", "Kenya", "commitment", "lots", "USD", "2021-02-04"])
    body = {"file": (io.BytesIO(xlsx(rows, tmp_path / "f.xlsx", title="Data").read_bytes()), "f.xlsx")}
    client.post("/imports/", data={**body, "org_id": str(org.id)}, content_type="multipart/form-data")
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    html = client.get(f"/imports/{batch.id}", headers=FRENCH_READER).get_data(as_text=True)
    assert "feuille &#39;Data&#39;, ligne 3" in html and "sheet &#39;Data&#39;, row 3" not in html
    english = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "sheet &#39;Data&#39;, row 3" in english


def test_the_apis_errors_name_the_cell_in_the_readers_language(french, client, actor, make_org):
    make_org(ref="LOC-API", name="API donor")
    user = accounts.create_user(actor, "admin-location@example.org", "admin")
    token = {"Authorization": f"Bearer {accounts.issue_token(actor, user)}"}
    db.session.commit()
    rows = [HEADER, ["API-1", "Schools", "Kenya", "commitment", "lots", "USD", "2021-01-04"]]

    def post(headers: dict):
        body = {"file": (io.BytesIO(csv_bytes(rows)), "amounts.csv"), "org": "LOC-API", "dry_run": "true"}
        return client.post(
            "/api/v1/imports", data=body, headers={**token, **headers}, content_type="multipart/form-data"
        )

    response = post(FRENCH_READER)
    assert response.status_code == 422, response.json
    assert "ligne 2, colonne 'Amount' : 'lots' n’est pas un montant" in response.json["errors"]["file"]
    english = post({})
    assert "row 2, column 'Amount': 'lots' is not an amount" in english.json["errors"]["file"]


def test_a_damaged_sheet_is_named_in_the_readers_language(french):
    error = _unreadable("uploads/donor.xlsx", "xlsx", ValueError("bad zip"), sheet="Flows")
    assert error.message == "Sheet 'Flows' of 'donor.xlsx' cannot be read as an XLSX workbook: it is damaged (bad zip)"
    with french.test_request_context("/api/v1/imports", headers=FRENCH_READER):
        assert error.message.translated() == (
            "La feuille 'Flows' de 'donor.xlsx' ne peut être lue comme classeur XLSX : elle est endommagée (bad zip)"
        )


def test_an_inferred_date_order_writes_the_date_as_the_reader_does(french):
    from importers.sheets.reader import _DATES_INFERRED

    when = dt.date(2024, 4, 3)
    message = messages.Text(
        _DATES_INFERRED["dmy"], ambiguous="03/04/2024", ambiguous_row="3", date=when, example="13/02/2024", row="2"
    )
    assert "03/04/2024 as 3 April 2024: the file also writes 13/02/2024 (row 2)" in message
    with french.test_request_context("/imports/1", headers=FRENCH_READER):
        # The message itself is not in this small catalogue; its date still reads as French writes it.
        assert "3 avril 2024" in messages.shown(message)
