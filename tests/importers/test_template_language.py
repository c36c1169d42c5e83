"""The import template explains itself in the reader's language; its column names stay the
ones the import reads, whatever the language."""

from __future__ import annotations

import io

import openpyxl

from importers.template import template_columns

HEADERS = [name for name, *_ in template_columns()]


def _book(client, language: str | None):
    headers = {"Accept-Language": language} if language else {}
    response = client.get("/imports/template.xlsx", headers=headers)
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(response.data))


def test_the_instructions_follow_the_readers_language_and_the_columns_do_not(client):
    english, french = _book(client, None), _book(client, "fr")
    assert english["Instructions"]["A1"].value == "ICT4D Funding Registry: donor import template"
    assert french["Instructions"]["A1"].value != english["Instructions"]["A1"].value
    assert french["Instructions"]["B10"].value != "What goes in it"
    help_en = [english["Instructions"].cell(row=11 + i, column=2).value for i in range(len(HEADERS))]
    help_fr = [french["Instructions"].cell(row=11 + i, column=2).value for i in range(len(HEADERS))]
    assert sum(a != b for a, b in zip(help_en, help_fr, strict=True)) >= len(HEADERS) - 3  # codes may read alike
    # the import reads these names: the same in every language
    for book in (english, french):
        assert [c.value for c in book["Projects"][1]] == HEADERS
        assert [book["Instructions"].cell(row=11 + i, column=1).value for i in range(len(HEADERS))] == HEADERS
