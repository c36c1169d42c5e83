"""Exports and error messages speak the request's language (Accept-Language, or the user's
setting); a script that sends none keeps the English headers, and machine keys stay as they are."""

from __future__ import annotations

import csv
import io

import flask_babel
import openpyxl
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import NullTranslations, Translations

FRENCH = {
    "Region": "Région",
    "Commitments": "Engagements",
    "%(measure)s (%(currency)s)": "%(measure)s (%(currency)s)",
    "Total": "Total général",
    "About": "À propos",
    "By region": "Par région",
    "The report parameters are not valid": "Les paramètres du rapport ne sont pas valides",
    "Unknown dimension %(name)s; expected one of %(choices)s": "Dimension inconnue %(name)s ; attendu : %(choices)s",
}


@pytest.fixture
def french(monkeypatch):
    """A French catalogue of a few messages (the real ones are translated after extraction)."""
    catalog = Catalog(locale="fr")
    for english, french in FRENCH.items():
        catalog.add(english, french)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    translations = Translations(buffer)

    def get_translations(self):
        locale = flask_babel.get_locale()
        return translations if locale is not None and locale.language == "fr" else NullTranslations()

    monkeypatch.setattr(flask_babel.Domain, "get_translations", get_translations)


def test_exports_follow_the_request_language_and_scripts_keep_english(client, registry_data, french):
    header = client.get(
        "/api/v1/reports/flows.csv?by=region&measure=commitment", headers={"Accept-Language": "fr"}
    ).get_data(as_text=True)
    head, *rows = list(csv.reader(io.StringIO(header)))
    assert head[:3] == ["region", "Région", "Engagements (USD)"]  # the code column keeps its key
    total = next(row for row in rows if row and row[0] == "Total")  # scripts find it by its code
    assert total[1] == "Total général"
    english = client.get("/api/v1/reports/flows.csv?by=region&measure=commitment").get_data(as_text=True)
    assert english.startswith("region,Region,Commitments (USD)\r\n")
    book = openpyxl.load_workbook(
        io.BytesIO(client.get("/api/v1/reports/funding-gap.xlsx", headers={"Accept-Language": "fr"}).data)
    )
    assert book.sheetnames[:3] == ["À propos", "Summary", "Par région"]
    assert book["Par région"]["A4"].value == "Région"
    body = client.get("/api/v1/reports/flows?by=region", headers={"Accept-Language": "fr"}).get_json()
    assert "region_label" in body["rows"][0] and "commitment" in body["total"]  # machine keys stay


def test_errors_follow_the_request_language(client, french):
    body = client.get("/api/v1/reports/flows?by=planet", headers={"Accept-Language": "fr"}).get_json()
    assert body["errors"]["by"][0].startswith("Dimension inconnue 'planet' ; attendu : region, ")
    page = client.get("/reports/?by=planet", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Dimension inconnue &#39;planet&#39;" in page
