"""Workbook and CSV exports: the sheets, and text that can never run as a formula."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest

from registry.spreadsheet_safety import safe_text
from reports.flows import build_spec, flows_report
from reports.tables import to_csv
from reports.workbook import SHEETS, funding_gap_workbook, report_workbook

HOSTILE_TITLE = '=HYPERLINK("http://evil.invalid","click me")'
HOSTILE_ORG = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.fixture
def hostile(make_org, make_project, make_transaction):
    org = make_org(ref="EVIL", name=HOSTILE_ORG)
    project = make_project(
        org=org,
        title=HOSTILE_TITLE,
        reference="+REF-1",
        need={"amount": "5000.00", "currency": "USD"},
    )
    make_transaction(project, amount=Decimal("1200.00"), provider_org_id=org.id)
    return project


def _sheet_xml(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {n: archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith(".xml")}


def test_workbook_has_the_sheets_and_no_formulas(hostile):
    data = funding_gap_workbook(build_spec(by="region"))
    parts = _sheet_xml(data)
    sheets = {n: x for n, x in parts.items() if n.startswith("xl/worksheets/sheet")}
    assert len(sheets) == len(SHEETS)
    for name, xml in sheets.items():
        assert "<f>" not in xml and "<f " not in xml, name
    shared = parts["xl/sharedStrings.xml"]
    assert '<t>=HYPERLINK("http://evil.invalid","click me")</t>' in shared
    assert "@SUM(1+1)" in shared
    assert any(n.startswith("xl/charts/chart") for n in parts)

    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == list(SHEETS)
    gap = book["Projects with a gap"]
    titles = [gap.cell(row=r, column=2).value for r in range(5, gap.max_row + 1)]
    assert HOSTILE_TITLE in titles
    cell = next(
        gap.cell(row=r, column=2) for r in range(5, gap.max_row + 1) if gap.cell(row=r, column=2).value == HOSTILE_TITLE
    )
    assert cell.data_type == "s"
    assert gap.cell(row=cell.row, column=1).value == "+REF-1"
    assert gap.freeze_panes == "C5"
    assert gap.auto_filter.ref.startswith("A4")
    region = book["By region"]
    assert region.freeze_panes == "B5"
    assert region.cell(row=4, column=1).value == "Region"
    about = book["About"]
    texts = [about.cell(row=r, column=2).value for r in range(1, about.max_row + 1)]
    assert "USD" in texts
    assert any(t and "Commitments divided by need" in t for t in texts)


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_workbook_figures_match_the_report(hostile, make_transaction, currency):
    make_transaction(hostile, type="pledge", amount=Decimal("300.00"))
    make_transaction(hostile, type="expenditure", amount=Decimal("45.50"))
    data = funding_gap_workbook(build_spec(by="region", currency=currency))
    book = openpyxl.load_workbook(io.BytesIO(data))
    summary = book["Summary"]
    values = {summary.cell(row=r, column=1).value: summary.cell(row=r, column=2).value for r in range(5, 14)}
    report = flows_report(by="region", currency=currency)
    for name, measure in [
        ("Commitments", "commitment"),
        ("Funding gap", "gap"),
        ("Pledges", "pledge"),  # every summary figure is filled in, in dollars too
        ("Expenditure", "expenditure"),
    ]:
        assert values[name] is not None and Decimal(str(values[name])) == report.total[measure], name
    assert report.total["pledge"] > 0 and report.total["expenditure"] > 0
    # the sheets' tables keep their gap measures only
    assert [c.value for c in book["By region"][4]][-1] == "Projects"
    years = [summary.cell(row=r, column=1).value for r in range(17, summary.max_row + 1)]
    assert years[-1] == "Total"  # the table by year ends with its Total row
    assert years[:-1] and all(isinstance(y, int) for y in years[:-1] if y is not None)


def test_single_report_workbook_opens(hostile):
    data = report_workbook(flows_report(by=["donor"]))
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["About", "Report"]
    about = {book["About"].cell(row=r, column=1).value: book["About"].cell(row=r, column=2).value for r in range(1, 12)}
    assert about["Sheets"] == "Report"  # it lists the sheets it has, not the gap workbook's
    assert book["About"]["A1"].value == "ICT4D funding flows" and "donor" in book["About"]["A2"].value
    labels = [book["Report"].cell(row=r, column=1).value for r in range(5, 8)]
    assert f"{HOSTILE_ORG} (EVIL)" in labels
    assert "<f>" not in "".join(_sheet_xml(data).values())


def test_csv_text_cells_are_prefixed(hostile):
    text = to_csv(flows_report(by="donor"))
    rows = list(csv.reader(io.StringIO(text)))
    labels = [row[1] for row in rows[1:]]
    assert "'" + HOSTILE_ORG + " (EVIL)" in labels
    # amounts stay numbers, negative ones included
    assert rows[-1][0] == "Total"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("Kenya", "Kenya")],
)
def test_safe_text(value, expected):
    assert safe_text(value) == expected
