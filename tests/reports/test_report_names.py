"""A report's rows and notes in the reader's language: the reference data's names (catalogue and
CLDR), the rows built in code and the notes; a request without a language keeps the English, and
the keys and code columns stay as they are."""

from __future__ import annotations

import csv
import io
import pickle

import flask_babel
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import NullTranslations, Translations

from reports.notes import Note, shown

CATALOGUES = {
    "fr": {
        "Africa": "Afrique",
        "Regional: %(region)s": "Régional : %(region)s",
        "Global (no recipient country/region given)": "Mondial (aucun pays ni région bénéficiaire)",
        "Total": "Total général",
        "Capacity building": "Renforcement des capacités",
        "Projects are counted once per row; a project spread over several rows appears in each.": (
            "Chaque projet compte une fois par ligne ; un projet réparti sur plusieurs lignes figure dans chacune."
        ),
        "USD values of each flow at the %(source)s of its value date, as recorded with the flow.": (
            "Valeurs en USD de chaque flux au %(source)s de sa date de valeur, telles qu'enregistrées."
        ),
    },
    "ar": {"Africa": "أفريقيا", "Total": "المجموع"},
}


@pytest.fixture
def catalogues(monkeypatch):
    """Small French and Arabic catalogues (the real ones are translated after extraction)."""
    found = {}
    for language, messages in CATALOGUES.items():
        catalog = Catalog(locale=language)
        for english, translated in messages.items():
            catalog.add(english, translated)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        found[language] = Translations(buffer)

    def get_translations(self):
        locale = flask_babel.get_locale()
        return found.get(locale.language if locale is not None else "", NullTranslations())

    monkeypatch.setattr(flask_babel.Domain, "get_translations", get_translations)


def _flows(client, query: str, language: str | None = None) -> dict:
    headers = {"Accept-Language": language} if language else {}
    return client.get(f"/api/v1/reports/flows?{query}", headers=headers).get_json()


def test_rows_and_notes_follow_the_reader_language_and_keys_stay(client, registry_data, catalogues):
    body = _flows(client, "by=region", "fr")
    labels = {row["region"]: row["region_label"] for row in body["rows"]}
    assert labels["Africa"] == "Afrique"  # the key stays the registry's English
    assert labels["Regional: Africa"] == "Régional : Afrique"
    assert labels["Global (no recipient country/region given)"] == "Mondial (aucun pays ni région bénéficiaire)"
    assert body["total"]["region"] == "Total" and body["total"]["region_label"] == "Total général"
    assert "Chaque projet compte une fois par ligne" in " ".join(body["notes"])
    assert body["exchange_rates"].startswith("Valeurs en USD de chaque flux au European Central Bank")
    countries = {row["country"]: row["country_label"] for row in _flows(client, "by=country", "fr")["rows"]}
    assert countries["UGA"] == "Ouganda"  # CLDR
    areas = {
        row["priority_area"]: row["priority_area_label"] for row in _flows(client, "by=priority_area", "fr")["rows"]
    }
    assert areas["23a"] == "23a Renforcement des capacités"
    arabic = _flows(client, "by=region", "ar")
    assert {row["region"]: row["region_label"] for row in arabic["rows"]}["Africa"] == "أفريقيا"
    assert arabic["total"]["region_label"] == "المجموع"
    assert {r["country"]: r["country_label"] for r in _flows(client, "by=country", "ar")["rows"]}["KEN"] == "كينيا"


def test_the_csv_labels_follow_the_reader_language_and_codes_stay(client, registry_data, catalogues):
    text = client.get("/api/v1/reports/flows.csv?by=country", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    rows = {row[0]: row[1] for row in csv.reader(io.StringIO(text)) if row}
    assert rows["UGA"] == "Ouganda" and rows["Regional: Africa"] == "Régional : Afrique"


def test_a_request_without_a_language_keeps_the_english(client, registry_data, catalogues):
    body = _flows(client, "by=region")
    labels = {row["region"]: row["region_label"] for row in body["rows"]}
    assert labels["Africa"] == "Africa" and labels["Regional: Africa"] == "Regional: Africa"
    assert body["total"]["region_label"] == "Total"
    assert "Projects are counted once per row; a project spread over several rows appears in each." in body["notes"]
    assert body["exchange_rates"].startswith("USD values of each flow at the European Central Bank daily reference")
    countries = {row["country"]: row["country_label"] for row in _flows(client, "by=country")["rows"]}
    assert countries["UGA"] == "Uganda"
    page = client.get("/reports/?by=region").get_data(as_text=True)
    assert "Regional: Africa" in page and "Projects are counted once per row" in page


def test_a_note_keeps_its_english_text_kind_and_parameters(app, catalogues):
    note = Note("beyond_one_cent", count=2, cells="Africa / 23a; Asia / 23b")
    assert note.startswith("2 cell(s) of this cross-tab differ") and note.kind == "beyond_one_cent"
    assert pickle.loads(pickle.dumps(note)).params == note.params
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert shown(Note("projects_counted")).startswith("Chaque projet compte")
        assert shown("a plain note") == "a plain note"
