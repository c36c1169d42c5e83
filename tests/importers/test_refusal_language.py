"""A file refused as a whole (not IATI XML it can read, not CRS microdata) is refused in the
reader's language: the batch keeps the English message with its id and parameters, the import
page and the API show it translated (Accept-Language), and in English without the header."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from importers.crs import CrsFileError
from importers.crs.files import read_frame
from importers.iati import IatiFileError
from importers.iati.xml import check_version
from registry.extensions import db
from registry.models import ImportBatch
from registry.services import accounts
from tests.catalogues import FRENCH_READER, use_french_catalogue
from tests.importers.iati_xml import activity, document
from tests.sessions import log_in

VERSION = "%(file)s: IATI version %(version)s is not supported (versions 2.01 to 2.03 are)"
NO_USD = "%(file)s: no USD_Commitment or USD_Disbursement column"
FRENCH = {
    VERSION: "%(file)s : la version IATI %(version)s n’est pas prise en charge (les versions 2.01 à 2.03 le sont)",
    NO_USD: "%(file)s : aucune colonne USD_Commitment ni USD_Disbursement",
}
CRS_WITHOUT_AMOUNTS = b"Year|DonorCode|CrsID|PurposeCode|RecipientCode\n2022|1|2022000001|22040|248\n"


@pytest.fixture
def french(app, tmp_path, monkeypatch):
    """The app reads a French catalogue that translates the two refusals of FRENCH."""
    use_french_catalogue(app, tmp_path, monkeypatch, FRENCH)
    return app


@pytest.fixture
def donor_client(app, client, actor, make_org):
    app.config["IMPORT_BACKGROUND"] = False
    org = make_org(ref="REF-DON", name="Refused donor")
    user = accounts.create_user(actor, "donor-refusal@example.org", "donor", org=org)
    db.session.commit()
    log_in(client, user)
    yield client, org
    app.config["IMPORT_BACKGROUND"] = True


@pytest.fixture
def admin_token(app, actor):
    user = accounts.create_user(actor, "admin-refusal@example.org", "admin")
    token = accounts.issue_token(actor, user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def _upload(client, org, body: bytes, name: str) -> ImportBatch:
    data = {"file": (io.BytesIO(body), name), "org_id": str(org.id)}
    client.post("/imports/", data=data, content_type="multipart/form-data")
    return db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))


def test_a_refusal_is_its_english_message_and_keeps_its_id():
    with pytest.raises(IatiFileError) as refused:
        check_version("1.05", "old.xml")
    message = str(refused.value)
    assert message == "old.xml: IATI version 1.05 is not supported (versions 2.01 to 2.03 are)"
    assert message.template == VERSION and message.params == {"file": "old.xml", "version": "1.05"}
    with pytest.raises(CrsFileError) as refused:
        read_frame(io.BytesIO(b"no separator here\n"), "notes.txt")
    assert str(refused.value) == "No column separator found in the header line (expected | , ; or tab)"
    assert str(refused.value).template == str(refused.value)


def test_an_iati_file_of_another_version_is_refused_in_french_on_the_import_page(french, donor_client):
    client, org = donor_client
    batch = _upload(client, org, document(activity(org=org.ref), version="1.05"), "old.xml")
    kept = next(p for p in batch.problems if p["code"] == "unreadable_file")
    assert kept["message"] == "old.xml: IATI version 1.05 is not supported (versions 2.01 to 2.03 are)"
    assert kept["template"] == VERSION
    html = client.get(f"/imports/{batch.id}", headers=FRENCH_READER).get_data(as_text=True)
    assert "old.xml : la version IATI 1.05 n’est pas prise en charge" in html
    assert "is not supported" not in html
    english = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "old.xml: IATI version 1.05 is not supported (versions 2.01 to 2.03 are)" in english
    assert "prise en charge" not in english


def test_a_crs_file_without_amounts_is_refused_in_french_by_the_api(french, client, admin_token, make_org):
    make_org(ref="CRS-DON", name="CRS donor")

    def post(headers: dict):
        body = {"file": (io.BytesIO(CRS_WITHOUT_AMOUNTS), "crs.txt"), "org": "CRS-DON", "dry_run": "true"}
        return client.post(
            "/api/v1/imports", data=body, headers={**admin_token, **headers}, content_type="multipart/form-data"
        )

    response = post(FRENCH_READER)
    assert response.status_code == 422, response.json
    messages = [p["message"] for p in response.json["batch"]["problems"] if p["code"] == "unreadable_file"]
    assert messages == ["crs.txt : aucune colonne USD_Commitment ni USD_Disbursement"]
    assert any("aucune colonne USD_Commitment" in e for e in response.json["errors"]["file"])
    batch = db.session.get(ImportBatch, response.json["batch"]["id"])
    kept = next(p for p in batch.problems if p["code"] == "unreadable_file")
    assert kept["message"] == "crs.txt: no USD_Commitment or USD_Disbursement column"  # kept in English
    english = post({})
    assert english.status_code == 422
    messages = [p["message"] for p in english.json["batch"]["problems"] if p["code"] == "unreadable_file"]
    assert messages == ["crs.txt: no USD_Commitment or USD_Disbursement column"]
