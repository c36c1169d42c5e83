"""A spreadsheet's tied-status column: its headers in English, French and Spanish, the IATI
TiedStatus codes and the words of each language, a bad cell reported where it is, and the
donor's round trip that writes each flow's own status back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from importers import pipeline
from importers.sheets import parse_header, read_sheet_file
from importers.template import TEMPLATE_COLUMNS, filled_workbook, template_workbook
from registry.extensions import db
from registry.models import Transaction
from registry.models.types import Role
from registry.services.actor import Actor
from tests.importers.helpers import csv_bytes, xlsx

HEADERS = [name for name, *_ in TEMPLATE_COLUMNS]


@pytest.mark.parametrize(
    "header",
    [
        "Tied status",
        "Tying status",
        "Tied aid status",
        "Statut de déliement",
        "Aide liée",
        "Ayuda ligada",
        "Estado de vinculación",
        "Untied status code",
    ],  # fmt: skip
)
def test_the_headers_of_the_tied_status(app, header):
    assert parse_header(header).field == "tied_status"


def _rows(tied: list[str], header: str = "Tied status") -> list[list]:
    head = ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date", header]
    return [head] + [
        ["P1", "Schools online", "KEN", "commitment", str(100 + i), "USD", "2024-03-01", value]
        for i, value in enumerate(tied)
    ]


def _read(path):
    result = read_sheet_file(path, path.name, {})
    return {r.reference: r for r in result.records}, result.problems


# The IATI TiedStatus codelist: 3 partially tied, 4 tied, 5 untied; the DAC's words in
# English, French (liée, non liée, partiellement déliée) and Spanish (ligada, desligada).
CELLS = [
    ("5", "5"), ("4", "4"), ("3", "3"), ("5.0", "5"), ("untied", "5"), ("Partially tied", "3"), ("TIED", "4"),
    ("non liée", "5"), ("Déliée", "5"), ("liée", "4"), ("partiellement déliée", "3"),
    ("desligada", "5"), ("ligada", "4"), ("parcialmente desligada", "3"), ("", None),
]  # fmt: skip


def test_codes_and_words_of_three_languages_give_each_flow_its_status(app, tmp_path):
    path = tmp_path / "tied.csv"
    path.write_bytes(csv_bytes(_rows([cell for cell, _code in CELLS])))
    records, problems = _read(path)
    assert not [p for p in problems if p.severity == "error"], problems
    got = [t.tied_status for t in sorted(records["P1"].transactions, key=lambda t: t.amount)]
    assert got == [code for _cell, code in CELLS]


def test_a_workbook_with_number_cells_reads_the_codes(app, tmp_path):
    path = xlsx(_rows([5, 3, 4, None]), tmp_path / "tied.xlsx")
    records, problems = _read(path)
    assert not [p for p in problems if p.severity == "error"], problems
    assert [t.tied_status for t in records["P1"].transactions] == ["5", "3", "4", None]


def test_a_bad_tied_status_is_an_error_at_its_cell(app, tmp_path):
    # Rows 2 and 3 read the fast way (a project already seen); row 4's cell is no status.
    path = tmp_path / "tied.csv"
    path.write_bytes(csv_bytes(_rows(["untied", "tied", "mostly untied", "6"], header="Aide liée")))
    records, problems = _read(path)
    errors = [p for p in problems if p.severity == "error"]
    assert [(p.code, p.location.row, p.location.column, p.value) for p in errors] == [
        ("invalid_tied_status", 4, "Aide liée", "mostly untied"),
        ("invalid_tied_status", 5, "Aide liée", "6"),
    ]
    assert "3 partially tied, 4 tied, 5 untied" in str(errors[0].message)
    assert [t.tied_status for t in records["P1"].transactions] == ["5", "4"]  # the bad rows give no flow


def test_the_blank_template_offers_the_three_statuses(app):
    import io

    book = openpyxl.load_workbook(io.BytesIO(template_workbook(rows=10)))
    header = [c.value for c in book["Projects"][1]]
    assert "Tied status" in header
    lists = book["Lists"]
    column = next(c[0].column for c in lists.iter_cols(min_row=1, max_row=1) if c[0].value == "TiedStatuses")
    assert [lists.cell(r, column).value for r in range(2, 5)] == ["untied", "partially tied", "tied"]
    validations = book["Projects"].data_validations.dataValidation
    letter = openpyxl.utils.get_column_letter(header.index("Tied status") + 1)
    assert any(v.formula1 == "TiedStatuses" and str(v.sqref).startswith(f"{letter}2") for v in validations)


@pytest.fixture
def donor(app, make_org, make_project, make_transaction):
    """A donor whose project is untied by default, with a flow tied on its own, a flow
    partially tied and a flow that takes the default."""
    org = make_org(ref="TIED-DON", name="Tied donor")
    project = make_project(org, reference="T-1", title="Backbone", default_tied_status="5")
    make_transaction(project, amount=Decimal("1000"), tied_status="4")
    make_transaction(project, amount=Decimal("300"), tied_status="3")
    make_transaction(project, type="disbursement", amount=Decimal("200"), value_date=dt.date(2024, 2, 1))
    db.session.commit()
    return org


def _download(org, path):
    with open(path, "wb") as out:
        filled_workbook(org, out)
    sheet = openpyxl.load_workbook(path)["Projects"]
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _save(path, rows, headers=HEADERS):
    book = openpyxl.load_workbook(path)
    sheet = book["Projects"]
    sheet.delete_rows(1, sheet.max_row)
    sheet.append(headers)
    for r in rows:
        sheet.append([r.get(h) for h in headers])
    book.save(path)


def _import(org, path, dry_run=True):
    actor = Actor(label="donor", channel="web", role=Role.DONOR, org_id=org.id)
    batch = pipeline.run_import("sheet", path.name, path.read_bytes(), org, actor, dry_run=dry_run)
    db.session.commit()
    return batch


def _stored():
    return {t.id: t.tied_status for t in db.session.scalars(select(Transaction).order_by(Transaction.id))}


def test_the_filled_template_writes_each_flows_own_status_and_an_unchanged_file_changes_nothing(donor, tmp_path):
    before = _stored()
    path = tmp_path / "mine.xlsx"
    rows = _download(donor, path)
    # The flow's own status, not the project's default: a flow without one stays without one.
    assert {r["Flow id"]: r["Tied status"] for r in rows} == {
        i: {"4": "tied", "3": "partially tied", None: None}[code] for i, code in before.items()
    }
    preview = _import(donor, path)
    assert preview.status == "previewed", preview.problems
    c = preview.counts
    assert (c["projects_updated"], c["transactions"], c.get("changes")) == (0, 0, None), c
    assert _import(donor, path, dry_run=False).status == "committed"
    assert _stored() == before


def test_a_changed_status_is_the_one_change_and_a_file_without_the_column_keeps_it(donor, tmp_path):
    before = _stored()
    first = min(before)
    path = tmp_path / "mine.xlsx"
    rows = _download(donor, path)
    for r in rows:
        if r["Flow id"] == first:
            r["Tied status"] = "non liée"
    _save(path, rows)
    preview = _import(donor, path)
    changes = [(ch["flow"], ch["field"], ch["old"], ch["new"]) for ch in preview.counts["changes"]]
    assert changes == [(first, "tied_status", "4", "5")]
    assert _import(donor, path, dry_run=False).status == "committed"
    assert _stored() == before | {first: "5"}
    # An older template without the column, its amount changed: the flows keep their status.
    rows = _download(donor, path)
    rows[0]["Amount"] = 1001
    _save(path, rows, [h for h in HEADERS if h != "Tied status"])
    assert _import(donor, path, dry_run=False).status == "committed"
    assert _stored() == before | {first: "5"}
    assert db.session.get(Transaction, first).amount_minor == 100100
