"""The row limit is enforced while streaming: a sheet longer than IMPORT_MAX_ROWS is refused after
counting its rows from the disk, before any sheet is loaded or any row read (a 700,000-row file
took 65 s and 2.2 GB before being refused). The time and memory it takes are in
bench/row_limit_bench.py and bench/RESULTS.md; here, the refusal and that reading stopped early.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from importers.sheets import read_sheet_file
from importers.sheets.files import HEADER_ROOM
from registry.extensions import db
from registry.services import accounts
from tests.importers.helpers import csv_bytes, xlsx

HEADER = ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"]

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Projects" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def long_xlsx(path: Path, rows: int, blank_rows: int = 0) -> Path:
    """An XLSX of a header and ``rows`` data rows (inline strings and numbers), written part by
    part as Excel lays it out, in a second or two whatever the length; ``blank_rows`` formatted
    empty rows follow (cells with a style and no value), as a template formatted far down has."""

    def cell(ref: str, text: str) -> str:
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            part.write(
                b'<?xml version="1.0" encoding="UTF-8"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            letters = "ABCDEFG"
            head = "".join(cell(f"{letters[i]}1", h) for i, h in enumerate(HEADER))
            part.write(f'<row r="1">{head}</row>'.encode())
            block = []
            for n in range(2, rows + 2):
                block.append(
                    f'<row r="{n}">{cell(f"A{n}", f"P{n}")}{cell(f"B{n}", "Clinics")}{cell(f"C{n}", "Kenya")}'
                    f'{cell(f"D{n}", "commitment")}<c r="E{n}"><v>{n}</v></c>{cell(f"F{n}", "USD")}'
                    f"{cell(f'G{n}', '2021-01-04')}</row>"
                )
                if len(block) == 10_000:
                    part.write("".join(block).encode())
                    block = []
            for n in range(rows + 2, rows + 2 + blank_rows):
                block.append(f'<row r="{n}"><c r="A{n}" s="1"/><c r="B{n}" s="1"/></row>')
                if len(block) == 10_000:
                    part.write("".join(block).encode())
                    block = []
            part.write("".join(block).encode() + b"</sheetData></worksheet>")
    return path


def long_csv(path: Path, rows: int) -> Path:
    """A CSV of a header and ``rows`` data rows."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(HEADER) + "\n")
        for start in range(0, rows, 50_000):
            handle.write(
                "".join(
                    f"P{n},Clinics,Kenya,commitment,{n},USD,2021-01-04\n"
                    for n in range(start, min(rows, start + 50_000))
                )
            )
    return path


def _refused_early(result, limit: int) -> None:
    errors = [p for p in result.problems if p.severity == "error"]
    assert [p.code for p in errors] == ["too_many_rows"]
    assert f"more than the limit of {limit:,}" in errors[0].message
    assert result.info["rows_read"] == 0  # no row was read: the count came first
    # the count stopped past the limit (and the header's room), within the block that passed it
    # (a megabyte of the file), not at the file's end
    assert limit + HEADER_ROOM < result.info["rows_counted"] < limit + HEADER_ROOM + 10_000
    assert list(result.records) == []


@pytest.mark.slow
def test_a_700000_row_csv_is_refused_before_reading(app, tmp_path):
    path = long_csv(tmp_path / "long.csv", 700_000)
    result = read_sheet_file(path, "long.csv", {})
    _refused_early(result, 500_000)
    assert "'long.csv' has at least 500,031 rows, more than the limit of 500,000" in result.problems[0].message


@pytest.mark.slow
def test_a_700000_row_xlsx_is_refused_before_its_sheet_is_loaded(app, tmp_path):
    path = long_xlsx(tmp_path / "long.xlsx", 700_000)
    result = read_sheet_file(path, "long.xlsx", {})
    _refused_early(result, 500_000)


@pytest.mark.parametrize("kind", ["xlsx", "csv", "ods", "xls"])
def test_every_format_is_counted_before_it_is_read(app, tmp_path, kind):
    rows = [HEADER] + [[f"P{i}", "Clinics", "Kenya", "commitment", i, "USD", "2021-01-04"] for i in range(200)]
    path = tmp_path / f"many.{kind}"
    if kind == "xlsx":
        xlsx(rows, path)
    elif kind == "csv":
        path.write_bytes(csv_bytes(rows))
    elif kind == "ods":
        import pandas as pd

        pd.DataFrame(rows[1:], columns=rows[0]).to_excel(path, engine="odf", index=False)
    else:
        import xlwt

        book = xlwt.Workbook()
        sheet = book.add_sheet("Projects")
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
        book.save(str(path))
    result = read_sheet_file(path, path.name, {"max_rows": 100})
    errors = [p for p in result.problems if p.severity == "error"]
    assert [p.code for p in errors] == ["too_many_rows"]
    assert result.info["rows_read"] == 0
    assert result.info["rows_counted"] > 100 + HEADER_ROOM


def test_formatted_empty_rows_do_not_count(app, tmp_path):
    """A template formatted far below its data: rows with styled cells and no value are not rows."""
    path = long_xlsx(tmp_path / "formatted.xlsx", 50, blank_rows=5_000)
    result = read_sheet_file(path, "formatted.xlsx", {"max_rows": 100, "currency": "USD"})
    assert not [p for p in result.problems if p.severity == "error"], result.problems[:3]
    assert result.info["rows_read"] == 50


def test_a_file_just_over_the_limit_is_still_refused_by_the_readers_own_count(app, tmp_path):
    rows = [HEADER] + [[f"P{i}", "Clinics", "Kenya", "commitment", i, "USD", "2021-01-04"] for i in range(110)]
    path = xlsx(rows, tmp_path / "just.xlsx")
    result = read_sheet_file(path, "just.xlsx", {"max_rows": 100})
    assert [p.code for p in result.problems if p.severity == "error"] == ["too_many_rows"]
    assert 0 < result.info["rows_read"] <= 101  # read up to the limit, then stopped


def test_only_the_chosen_sheet_is_counted(app, tmp_path):
    small = [HEADER, ["S-1", "Clinics", "Kenya", "commitment", 5, "USD", "2021-01-04"]]
    big = [HEADER] + [[f"P{i}", "Clinics", "Kenya", "commitment", i, "USD", "2021-01-04"] for i in range(300)]
    path = xlsx(small, tmp_path / "two.xlsx", title="Small", extra_sheets={"Big": big})
    chosen = read_sheet_file(path, "two.xlsx", {"max_rows": 100, "sheet": "Small"})
    assert [r.reference for r in chosen.records] == ["S-1"]
    every = read_sheet_file(path, "two.xlsx", {"max_rows": 100})
    assert [p.code for p in every.problems if p.severity == "error"] == ["too_many_rows"]


def test_the_api_refuses_a_file_over_the_limit_with_a_422_before_reading(app, client, actor, make_org, tmp_path):
    org = make_org(ref="LONG-DON")
    user = accounts.create_user(actor, "long@example.org", "donor", org=org)
    token = accounts.issue_token(actor, user)
    db.session.commit()
    data = long_csv(tmp_path / "long.csv", 3_000).read_bytes()
    app.config["IMPORT_MAX_ROWS"] = 1_000
    try:
        response = client.post(
            "/api/v1/imports",
            data={"file": (io.BytesIO(data), "long.csv")},
            headers={"Authorization": f"Bearer {token}"},
            content_type="multipart/form-data",
        )
    finally:
        app.config["IMPORT_MAX_ROWS"] = 500_000
    assert response.status_code == 422
    assert response.json["batch"]["counts"]["rows_read"] == 0
    assert "'long.csv' has at least 1,031 rows, more than the limit of 1,000" in response.json["errors"]["file"][0]
