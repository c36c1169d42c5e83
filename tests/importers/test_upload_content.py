"""Uploads are what their content says, not what their name claims, and a damaged workbook is a
422 that names the file and the damage: on the API, the pages and the command line."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from importers.pipeline import check_content, check_upload, identify
from importers.pipeline.ole2 import DamagedOle2, check_ole2
from importers.sheets import read_sheet_file
from registry.errors import ValidationError
from registry.extensions import db
from registry.models import ImportBatch
from registry.services import accounts
from tests.importers.helpers import csv_bytes, xlsx
from tests.sessions import log_in

ROWS = [
    ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"],
    ["UP-1", "Connected clinics", "Kenya", "commitment", "1000", "USD", "2021-01-04"],
    ["UP-2", "Rural backbone", "Uganda", "disbursement", "250.50", "USD", "2021-02-01"],
]
# The start of a real PE file: the DOS stub ("MZ", then binary header fields and NULs).
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program"


def _xlsx_bytes(tmp_path: Path, rows=ROWS) -> bytes:
    return xlsx(rows, tmp_path / "good.xlsx").read_bytes()


def _cut(data: bytes) -> bytes:
    """The workbook cut short, as an interrupted download leaves it."""
    return data[: len(data) // 2]


def _corrupt_deflate(data: bytes, part: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The workbook with bytes of one part's compressed stream overwritten (the zip directory intact)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(part)
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    damaged = bytearray(data)
    for i in range(start + 2, start + min(info.compress_size - 2, 40)):
        damaged[i] ^= 0x5A
    return bytes(damaged)


def _bad_xml(data: bytes) -> bytes:
    """A whole archive whose sheet part is not well-formed XML."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body[: len(body) // 2]  # cut inside the sheet's XML
            dst.writestr(info.filename, body)
    return out.getvalue()


def _looping_xls() -> bytes:
    """An Excel 97-2003 workbook whose directory chain points back at itself: calamine follows
    such a chain until memory runs out."""
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Projects")
    for r, row in enumerate(ROWS):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    data = bytearray(out.getvalue())
    first_dir = struct.unpack_from("<I", data, 0x30)[0]
    fat_sector = struct.unpack_from("<I", data, 0x4C)[0]
    entry = 512 + fat_sector * 512 + first_dir * 4
    struct.pack_into("<I", data, entry, first_dir)  # the directory's next sector: itself
    return bytes(data)


@pytest.fixture
def donor(app, actor, make_org):
    org = make_org(ref="UP-DON", name="Upload donor")
    user = accounts.create_user(actor, "donor-upload@example.org", "donor", org=org)
    token = accounts.issue_token(actor, user)
    db.session.commit()
    return org, {"Authorization": f"Bearer {token}"}, user


def _api_upload(client, headers, data: bytes, name: str):
    body = {"file": (io.BytesIO(data), name)}
    return client.post("/api/v1/imports", data=body, headers=headers, content_type="multipart/form-data")


def _batches() -> int:
    return db.session.scalar(select(func.count()).select_from(ImportBatch))


# -- what a file is ------------------------------------------------------------------------------


def test_content_is_identified_by_its_bytes(app, tmp_path):
    cases = {
        "a.xlsx": (_xlsx_bytes(tmp_path), "xlsx"),
        "a.csv": (csv_bytes(ROWS), "text"),
        "a.tsv": (csv_bytes(ROWS, "\t", "utf-16"), "text"),
        "a.xml": (b'<?xml version="1.0"?><iati-activities/>', "xml"),
        "a.xls": (_looping_xls(), "xls"),
        "a.exe": (EXECUTABLE, "other"),
        "a.pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "other"),
        "a.bin": (bytes(range(256)) * 4, "other"),
        "mz.csv": (csv_bytes([["MZ", "Mozambique", "1000"]]), "text"),  # text, not an executable
    }
    for name, (data, kind) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert identify(path).kind == kind, name


def test_an_executable_renamed_xlsx_is_refused_naming_what_it_is(app, tmp_path):
    path = tmp_path / "report.xlsx"
    path.write_bytes(EXECUTABLE)
    with pytest.raises(ValidationError) as refused:
        check_content(path, "report.xlsx")
    assert refused.value.code == 422
    assert "'report.xlsx' is a Windows executable" in refused.value.message
    # The reader itself refuses it too (it was read as CSV text and gave 0 rows).
    with pytest.raises(ValidationError, match="Windows executable"):
        read_sheet_file(path, "report.xlsx", {})


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("projects.xlsx", csv_bytes(ROWS), "named as an XLSX workbook but is text"),
        ("projects.csv", b"%PDF-1.4\n", "is a PDF document"),
        ("projects.xls", csv_bytes(ROWS), "named as an Excel 97-2003 workbook but is text"),
        ("activities.xml", csv_bytes(ROWS), "named as XML but is text"),
        ("projects.ods", b"PK\x05\x06" + b"\x00" * 18, "named as an OpenDocument spreadsheet but is a ZIP archive"),
    ],
)
def test_a_name_that_promises_another_format_is_refused(app, tmp_path, name, data, said):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValidationError, match=said):
        check_content(path, name)


def test_real_files_pass_the_check(app, tmp_path):
    for name, data in {
        "good.xlsx": _xlsx_bytes(tmp_path),
        "good.csv": csv_bytes(ROWS, ";", "cp1252"),
        "good16.csv": csv_bytes(ROWS, "\t", "utf-16"),
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        check_upload(path, name)
        records = read_sheet_file(path, name, {}).records
        assert sorted(r.reference for r in records) == ["UP-1", "UP-2"], name


# -- damaged workbooks ---------------------------------------------------------------------------


def test_a_looping_ole2_chain_is_refused_before_calamine_follows_it(app, tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(_looping_xls())
    with pytest.raises(DamagedOle2, match="directory's chain loops"):
        check_ole2(path)
    with pytest.raises(ValidationError, match="'old.xls' cannot be read as an Excel 97-2003 workbook: it is damaged"):
        read_sheet_file(path, "old.xls", {})


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_cut, "is damaged: it is a damaged ZIP archive"),
        (_corrupt_deflate, "part 'xl/worksheets/sheet1.xml'"),
        (_bad_xml, "cannot be read as an XLSX workbook: it is damaged"),
    ],
)
def test_a_damaged_workbook_is_a_422_naming_it_on_the_api(client, donor, tmp_path, damage, said):
    _org, headers, _user = donor
    before = _batches()
    response = _api_upload(client, headers, damage(_xlsx_bytes(tmp_path)), "donor.xlsx")
    assert response.status_code == 422, response.json
    assert set(response.json) >= {"code", "status", "message", "errors"}
    assert "'donor.xlsx'" in response.json["message"] and said in response.json["message"]
    assert _batches() == before  # refused before any batch: nothing imported, nothing "committed"


def test_an_executable_renamed_xlsx_is_a_422_on_the_api(client, donor):
    _org, headers, _user = donor
    before = _batches()
    response = _api_upload(client, headers, EXECUTABLE, "budget.xlsx")
    assert response.status_code == 422
    assert response.json["message"].startswith("'budget.xlsx' is a Windows executable")
    assert response.json["errors"] == {"file": ["The content is a Windows executable (it starts with MZ)"]}
    assert _batches() == before


@pytest.mark.parametrize(
    ("data", "name", "said"),
    [
        (EXECUTABLE, "budget.xlsx", "is a Windows executable"),
        (b"cut", "budget.xlsx", "named as an XLSX workbook but is text"),
        (None, "old.xls", "directory&#39;s chain loops"),
    ],
)
def test_the_upload_page_refuses_with_a_422_page(app, client, donor, data, name, said):
    org, _headers, user = donor
    app.config["IMPORT_BACKGROUND"] = False
    try:
        log_in(client, user)
        body = {"file": (io.BytesIO(data if data is not None else _looping_xls()), name), "org_id": str(org.id)}
        page = client.post("/imports/", data=body, content_type="multipart/form-data")
    finally:
        app.config["IMPORT_BACKGROUND"] = True
    assert page.status_code == 422
    assert said in page.get_data(as_text=True)


def test_the_upload_page_refuses_a_damaged_archive_with_a_422_page(app, client, donor, tmp_path):
    org, _headers, user = donor
    log_in(client, user)
    body = {"file": (io.BytesIO(_corrupt_deflate(_xlsx_bytes(tmp_path))), "donor.xlsx"), "org_id": str(org.id)}
    page = client.post("/imports/", data=body, content_type="multipart/form-data")
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "donor.xlsx" in text and "xl/worksheets/sheet1.xml" in text


def test_a_damaged_sheet_read_in_a_page_job_ends_in_its_message_not_a_crash(app, client, donor, tmp_path):
    org, _headers, user = donor
    app.config["IMPORT_BACKGROUND"] = False
    try:
        log_in(client, user)
        body = {"file": (io.BytesIO(_bad_xml(_xlsx_bytes(tmp_path))), "donor.xlsx"), "org_id": str(org.id)}
        page = client.post("/imports/", data=body, content_type="multipart/form-data")
        job_id = page.headers["Location"].rsplit("/", 1)[-1]
        state = client.get(f"/imports/jobs/{job_id}.json").json
    finally:
        app.config["IMPORT_BACKGROUND"] = True
    assert state["state"] == "error"
    assert "'donor.xlsx' cannot be read as an XLSX workbook: it is damaged" in state["message"]


@pytest.mark.parametrize(
    ("make", "name", "said"),
    [
        (lambda tmp: EXECUTABLE, "budget.xlsx", "is a Windows executable"),
        (lambda tmp: _cut(_xlsx_bytes(tmp)), "donor.xlsx", "damaged ZIP archive"),
        (lambda tmp: _corrupt_deflate(_xlsx_bytes(tmp)), "donor.xlsx", "xl/worksheets/sheet1.xml"),
        (lambda tmp: _bad_xml(_xlsx_bytes(tmp)), "donor.xlsx", "cannot be read as an XLSX workbook"),
        (lambda tmp: _looping_xls(), "old.xls", "chain loops"),
    ],
)
def test_the_command_line_refuses_with_the_message_and_status_1(runner, make_org, tmp_path, make, name, said):
    org = make_org(ref="CLI-UP")
    path = tmp_path / name
    path.write_bytes(make(tmp_path))
    result = runner.invoke(args=["import", "sheet", str(path), "--org", org.ref])
    assert result.exit_code == 1, result.output
    assert said in result.output and name in result.output
    assert "Traceback" not in result.output
