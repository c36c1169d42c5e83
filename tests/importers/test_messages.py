"""An import's problems are kept in English with their message id and parameters, and are
translated when shown: on the page, in the downloads and in the API, in the reader's language."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from importers import messages
from importers.messages import Text
from importers.records import Location, Problem
from registry.extensions import db
from registry.models import ImportBatch
from registry.models.types import N_
from registry.services import accounts
from tests.catalogues import FRENCH_READER, use_french_catalogue
from tests.importers.helpers import csv_bytes
from tests.sessions import log_in

ROWS = [
    ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"],
    ["MSG-1", "Schools online", "Kenya", "commitment", "lots", "USD", "2021-01-04"],
]
TEMPLATE = "%(value)s is not an amount"


def _pseudo_french(monkeypatch):
    """A catalogue of one message: the one an unreadable amount is reported with."""
    monkeypatch.setattr(
        messages, "gettext", lambda text: "%(value)s n'est pas un montant" if text == TEMPLATE else text
    )


def test_a_text_is_its_english_message_and_keeps_its_id():
    text = Text(N_("Project %(ref)s has %(n)s flows"), ref="'P-1'", n=12500)
    assert text == "Project 'P-1' has 12,500 flows"
    stored = Problem("error", text, Location(file="f.csv", row=3)).as_dict()
    assert stored["message"] == "Project 'P-1' has 12,500 flows"
    assert stored["template"] == "Project %(ref)s has %(n)s flows" and stored["params"] == {"ref": "'P-1'", "n": 12500}
    # A message written as plain text keeps no id; gluing a Text to more text gives plain text.
    assert "template" not in Problem("error", "Plain", Location()).as_dict()
    assert not isinstance(text + ".", Text)


def test_a_stored_problem_is_shown_in_the_readers_language(app, monkeypatch):
    _pseudo_french(monkeypatch)
    with app.test_request_context("/imports/1"):
        problem = Problem("error", Text(N_(TEMPLATE), value="'lots'"), Location()).as_dict()
        assert messages.shown(problem) == "'lots' n'est pas un montant"
        # Kept without an id (an older batch): the catalogue translates it when it has it.
        assert messages.shown({"message": "Plain"}) == "Plain"
        api = messages.api_problem(problem)
        assert "template" not in api and "params" not in api and api["message"] == "'lots' n'est pas un montant"


@pytest.fixture
def donor_client(app, client, actor, make_org):
    app.config["IMPORT_BACKGROUND"] = False
    org = make_org(ref="MSG-DON", name="Message donor")
    user = accounts.create_user(actor, "donor-msg@example.org", "donor", org=org)
    db.session.commit()
    log_in(client, user)
    yield client, org
    app.config["IMPORT_BACKGROUND"] = True


def test_the_page_the_download_and_the_api_translate_what_the_batch_keeps_in_english(donor_client, monkeypatch):
    client, org = donor_client
    body = {"file": (io.BytesIO(csv_bytes(ROWS)), "amounts.csv"), "org_id": str(org.id)}
    client.post("/imports/", data=body, content_type="multipart/form-data")
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    kept = next(p for p in batch.problems if p["code"] == "invalid_amount")
    assert kept["message"] == "'lots' is not an amount" and kept["template"] == TEMPLATE
    _pseudo_french(monkeypatch)
    html = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "n&#39;est pas un montant" in html and "is not an amount" not in html
    text = client.get(f"/imports/{batch.id}/problems.csv").get_data(as_text=True)
    assert text.lstrip("\ufeff").startswith("severity,code,sheet,row,column,value,message,file")
    assert "'lots' n'est pas un montant" in text


# --- in French from a catalogue: the way the translators' catalogues will be read -------------

FRENCH = {
    "%(value)s is not a date (use YYYY-MM-DD)": "%(value)s nest pas une date (AAAA-MM-JJ)",
    "invalid date": "date invalide",
    "recipient-country %(code)s is not a country the registry knows": (
        "le pays bénéficiaire %(code)s est inconnu du registre"
    ),
    "%(why)s: %(percentage)s %% of the activity's flows (%(money)s) stays unallocated, not handed to the other "
    "recipients": "%(why)s : %(percentage)s %% des flux de l’activité (%(money)s) restent sans bénéficiaire",
}


@pytest.fixture
def french(app, tmp_path, monkeypatch):
    """The app reads a French catalogue that translates the messages of FRENCH."""
    use_french_catalogue(app, tmp_path, monkeypatch, FRENCH)
    return app


def _upload(client, org, body: bytes, name: str) -> ImportBatch:
    data = {"file": (io.BytesIO(body), name), "org_id": str(org.id)}
    client.post("/imports/", data=data, content_type="multipart/form-data")
    return db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))


def test_a_sheet_problem_and_its_kind_read_in_french_and_stay_english_without_the_header(french, donor_client):
    client, org = donor_client
    rows = [ROWS[0], ["MSG-2", "Schools online", "Kenya", "commitment", "1000", "USD", "someday"]]
    batch = _upload(client, org, csv_bytes(rows), "dates.csv")
    kept = next(p for p in batch.problems if p["code"] == "invalid_date")
    assert kept["message"] == "'someday' is not a date (use YYYY-MM-DD)"  # the batch keeps the English
    html = client.get(f"/imports/{batch.id}", headers=FRENCH_READER).get_data(as_text=True)
    assert "&#39;someday&#39; nest pas une date (AAAA-MM-JJ)" in html and "is not a date" not in html
    assert "date invalide : 1" in html or "date invalide: 1" in html
    english = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "&#39;someday&#39; is not a date (use YYYY-MM-DD)" in english and "invalid date: 1" in english
    assert "nest pas" not in english


def test_an_iati_problem_reads_in_french_with_its_reason_translated_too(french, donor_client):
    from tests.importers.iati_xml import activity, document

    client, org = donor_client
    recipients = '<recipient-country code="KE" percentage="60"/><recipient-country code="XX" percentage="40"/>'
    batch = _upload(client, org, document(activity(recipients=recipients, org=org.ref)), "activities.xml")
    kept = next(p for p in batch.problems if p["code"] == "unallocated_recipient")
    english_message = (
        "recipient-country XX is not a country the registry knows: 40 % of the activity's flows "
        "(commitment 400.00 USD) stays unallocated, not handed to the other recipients"
    )
    assert kept["message"] == english_message
    html = client.get(f"/imports/{batch.id}", headers=FRENCH_READER).get_data(as_text=True)
    assert (
        "le pays bénéficiaire XX est inconnu du registre : 40 % des flux de l’activité "
        "(commitment 400.00 USD) restent sans bénéficiaire"
    ) in html
    assert "stays unallocated" not in html
    english = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert english_message.replace("'", "&#39;") in english


def test_the_money_of_left_out_records_is_written_as_the_readers_locale_writes_amounts(french):
    from flask_babel import refresh

    from registry import i18n

    entries = [{"type": "disbursement", "amount": "1250000.5", "currency": "USD"}]
    with french.test_request_context("/api/v1/imports", headers=FRENCH_READER):
        assert messages.money_shown(entries) == f"disbursement {i18n.money('1250000.5', 'USD')}"
        assert "1,250,000.50" not in messages.money_shown(entries)
        assert messages.code_name("invalid_date") == "date invalide"
    with french.test_request_context("/api/v1/imports"):
        refresh()  # the locale is kept on the application context the test shares
        assert messages.money_shown(entries) == "disbursement 1,250,000.50 USD"
        assert messages.code_name("some_new_code") == "some new code"
