"""The reports page's untied-share view (by the page's "Rows by"), its CSV, and its language."""

from __future__ import annotations

import csv
import html
import io
import re
from decimal import Decimal

import pytest

from registry.extensions import db


@pytest.fixture
def tied_flows(app, make_org, make_project, make_transaction):
    """Two donors: A untied by default with a tied and a partially tied flow; B one untied
    flow and one of unknown status."""
    a, b = make_org(ref="UNTIED-A", name="Donor A"), make_org(ref="UNTIED-B", name="Donor B")
    pa = make_project(org=a, default_tied_status="5")
    make_transaction(pa, amount=Decimal("1000.10"))  # untied, by the default
    make_transaction(pa, amount=Decimal("300.25"), tied_status="4")
    make_transaction(pa, amount=Decimal("199.65"), tied_status="3")
    make_transaction(pa, type="disbursement", amount=Decimal("5000.00"))  # not a commitment
    pb = make_project(org=b)
    make_transaction(pb, amount=Decimal("700.00"), tied_status="5")
    make_transaction(pb, amount=Decimal("2100.00"))  # unknown
    db.session.commit()
    return a, b


def _rows(page: str) -> dict[str, list[str]]:
    table = page.split('class="data report-table untied-table"', 1)[1].split("</table>", 1)[0]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        head = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        if head:
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            out[re.sub(r"<[^>]+>", "", head.group(1)).strip()] = [
                (re.search(r'value="([^"]+)"', c) or re.search(r"^(.*)$", re.sub(r"<[^>]+>", "", c).strip())).group(1)
                for c in cells
            ]
    return out


def test_the_view_shows_each_status_the_share_and_unknown_apart(client, tied_flows):
    page = html.unescape(client.get("/reports/?by=donor&view=untied").data.decode())
    assert "Untied share by donor organisation" in page
    rows = _rows(page)
    # columns: tied, partially tied, untied, untied share, then unknown apart
    # A: 1000.10 / (300.25 + 199.65 + 1000.10) = 66.67 %
    assert rows["Donor A (UNTIED-A)"] == ["300.25", "199.65", "1000.10", "66.7 %", "0.00"]
    # B: the 2100 unknown is not in the denominator: 700 / 700
    assert rows["Donor B (UNTIED-B)"] == ["0.00", "0.00", "700.00", "100.0 %", "2100.00"]
    # (1000.10 + 700) / (300.25 + 199.65 + 1000.10 + 700) = 77.28 %
    assert rows["Total"] == ["300.25", "199.65", "1700.10", "77.3 %", "2100.00"]
    assert '<th scope="col" class="num apart">Unknown, not counted (USD)</th>' in page
    assert "never counted as untied" in page
    assert 'aria-current="true">Untied share</a>' in page
    assert '<input type="hidden" name="view" value="untied">' in page  # the filters keep the view
    # the flows view is the default and has no untied table
    assert "untied-table" not in client.get("/reports/?by=donor").data.decode()


def test_the_view_draws_each_row_by_status_with_unknown_in_grey(client, tied_flows):
    """The chart's bars are the table's amounts: each row's four parts with their exact figures,
    untied first, unknown last in grey, the legend in that order."""
    page = html.unescape(client.get("/reports/?by=donor&view=untied").data.decode())
    svg = page.split('<figure class="untied-chart">', 1)[1].split("</figure>", 1)[0]
    assert "Commitments by tied status, by donor organisation" in svg
    parts = re.findall(r'<rect [^>]*fill="(#[0-9a-f]{6})"><title>([^<]+)</title>', svg)
    assert ("#0b5d7a", "Donor A (UNTIED-A), Untied: 1,000.10 USD") in parts
    assert ("#d1495b", "Donor A (UNTIED-A), Tied: 300.25 USD") in parts
    assert ("#e07a1f", "Donor A (UNTIED-A), Partially tied: 199.65 USD") in parts
    assert ("#6b7887", "Donor B (UNTIED-B), Unknown, not counted: 2,100.00 USD") in parts
    assert len(parts) == 5  # no bar for a zero part
    legend = [svg.index(name) for name in ("Untied", "Partially tied", ">Tied<", "Unknown, not counted")]
    assert legend == sorted(legend)
    # every bar is the whole of its row's commitments, with the row's untied share at its end
    ends = re.findall(r'<text x="[\d.]+" y="[\d.]+" font-size="12" fill="#1d2733">([^<]+)</text>', svg)
    assert ends == ["100.0 %", "66.7 %"]  # B (2,800.00) first, the larger
    lengths: dict[str, float] = {}
    for width, row in re.findall(r'width="([\d.]+)" height="16" fill="#[0-9a-f]{6}"><title>([^,]+),', svg):
        lengths[row] = lengths.get(row, 0) + float(width)
    assert len(lengths) == 2 and max(lengths.values()) - min(lengths.values()) < 0.5


def test_the_csv_of_the_view(client, tied_flows):
    page = html.unescape(client.get("/reports/?by=donor&view=untied&currency=USD").data.decode())
    href = re.search(r'href="(/api/v1/reports/tied\.csv\?[^"]+)"', page).group(1)
    response = client.get(href)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "untied-share-by-donor-USD" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode())))
    assert rows[0] == [
        "donor", "Donor organisation", "Tied (USD)", "Partially tied (USD)", "Untied (USD)",
        "Unknown, not counted (USD)", "Untied share",
    ]  # fmt: skip
    by_name = {r[1]: r[2:] for r in rows[1:]}
    assert by_name["Donor A (UNTIED-A)"] == ["300.25", "199.65", "1000.10", "0.00", "0.6667"]
    assert by_name["Donor B (UNTIED-B)"] == ["0.00", "0.00", "700.00", "2100.00", "1.0000"]
    assert rows[-1][:2] == ["Total", "Total"] and rows[-1][2:] == ["300.25", "199.65", "1700.10", "2100.00", "0.7728"]


def test_the_view_in_french(client, tied_flows):
    page = html.unescape(client.get("/reports/?by=donor&view=untied", headers={"Accept-Language": "fr"}).data.decode())
    assert "untied-table" in page and "Part non liée par organisation donatrice" in page
    assert "Inconnu, non compté (USD)" in page
    assert "66,7" in page  # the share as French writes numbers
