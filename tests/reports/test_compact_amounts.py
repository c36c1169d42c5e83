"""Large amounts read at a glance on the page (6.75 bn, the exact figure on hover) while every
export keeps them to the cent."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import openpyxl
import pytest

BIG = Decimal("6750123456.78")


@pytest.fixture
def big(make_project, make_transaction):
    project = make_project(need={"amount": "9000000000.00", "currency": "USD"})
    make_transaction(project, amount=BIG)
    return project


def test_the_page_abbreviates_totals_cards_and_cells_with_the_exact_figure_on_hover(client, big):
    html = client.get("/reports/?by=region").get_data(as_text=True)
    kpis = html[html.index('class="kpis"') :][:2000]
    # the card and the total: 6.75 bn at a glance, the exact figure to the cent on hover
    card = '<data class="amount-compact" value="6750123456.78" title="6,750,123,456.78 USD">6.75 bn</data>'
    assert card in kpis
    foot = html[html.index("<tfoot>") :][:3000]
    assert card in foot
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    assert 'title="6,750,123,456.78 USD">6.75 bn</data>' in body
    assert "6,750,123,456.78</td>" not in html  # no cell spells the figure out any more
    assert "75.0 %" in kpis  # coverage: 6.75 bn of a need of 9 bn


def test_every_export_keeps_the_exact_amount(client, big):
    body = client.get("/api/v1/reports/flows?by=region&measure=commitment").get_json()
    assert body["total"]["commitment"] == "6750123456.78"
    rows = list(csv.reader(io.StringIO(client.get("/api/v1/reports/flows.csv?by=region").get_data(as_text=True))))
    total = next(row for row in rows if row and row[0] == "Total")
    assert "6750123456.78" in total
    for url, sheet in (
        ("/api/v1/reports/flows.xlsx?by=region", "Report"),
        ("/api/v1/reports/funding-gap.xlsx", "By region"),
    ):
        book = openpyxl.load_workbook(io.BytesIO(client.get(url).data))
        numbers = [c for row in book[sheet].iter_rows(values_only=True) for c in row if isinstance(c, float)]
        assert any(Decimal(str(n)) == BIG for n in numbers), (url, numbers)


def test_the_charts_abbreviate_and_keep_the_exact_figure_on_hover(client, big):
    svg = client.get("/reports/charts/by-rows.svg?by=region").get_data(as_text=True)
    assert "<title>6,750,123,456.78 USD</title>6.75 bn</text>" in svg


def test_the_page_writes_numbers_as_the_readers_locale_does(client, big):
    client.set_cookie("lang", "fr")
    html = client.get("/reports/?by=region").get_data(as_text=True)
    kpis = html[html.index('class="kpis"') :][:2000]
    titles = re.findall(r'title="([^"]*)">([^<]*)</data>', kpis)
    assert titles, kpis
    exact, short = titles[0]
    assert exact.replace("\u202f", " ").replace("\xa0", " ") == "6 750 123 456,78 USD"
    assert short.startswith("6,75")  # 6,75 Md
