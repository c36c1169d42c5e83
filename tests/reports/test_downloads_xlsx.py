"""The flat downloads' workbooks, written and zipped while they are sent: a well-formed
SpreadsheetML package, the CSV's rows and values cell by cell (read from the XML by the
standard's rules, and by two spreadsheet readers), the same formula safety, more rows than a
sheet holds going on on the next sheet, and the first bytes leaving before the rows are all
read."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import subprocess
import zipfile
from decimal import Decimal
from xml.etree import ElementTree

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from registry.extensions import db
from reports import downloads, xlsx_stream
from reports.downloads import RESOURCES

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"

TEXTS = {
    "formula": '=HYPERLINK("http://evil.invalid","x")',
    "plus": "+41 22 730 5111",
    "minus": "-2+3",
    "at": "@SUM(A1)",
    "spaces": "  kept spaces ",
    "markup": 'R&D <b>bold</b> & "quotes"',
    "escape_like": "a literal _x0041_ stays",
    "control": "line\ttab\nnew\x01bell",
    "languages": "تقرير 报告 отчёт",
}


@pytest.fixture
def registry(make_org, make_project, make_transaction, make_source):
    """A small registry whose texts, amounts and dates cover each way a cell is written."""
    donor = make_org(ref="DONOR-A", name="=Donor & Co")
    other = make_org(ref="DONOR-B", name="Other")
    source = make_source(kind="multilateral", ref="FS-M", areas=["23b"], countries=["KEN"], managing_org_id=other.id)
    make_source(ref="FS-B", name="-Fund", description=TEXTS["control"], managing_org_id=donor.id)
    kenya = make_project(
        org=donor,
        title=TEXTS["formula"],
        reference="+REF-1",
        description=TEXTS["markup"],
        recipients=[{"country": "KEN", "share": Decimal("66.6667")}, {"country": "UGA", "share": Decimal("33.3333")}],
        need={"amount": "5000.25", "currency": "EUR", "date": dt.date(2021, 1, 4)},
    )
    nepal = make_project(org=other, title=TEXTS["languages"], description=TEXTS["spaces"], status="completed")
    amounts = [
        (Decimal("1000.01"), "EUR", TEXTS["minus"]),
        (Decimal("-20.50"), "USD", TEXTS["at"]),
        (Decimal("1250"), "JPY", TEXTS["escape_like"]),
        (Decimal("0.10"), "USD", TEXTS["control"]),
        (Decimal("123456789.99"), "USD", TEXTS["plus"]),
    ]
    for n, (amount, currency, description) in enumerate(amounts):
        make_transaction(
            kenya if n % 2 == 0 else nepal,
            amount=amount,
            currency=currency,
            value_date=dt.date(2021, 3, 1 + n),
            description=description,
            provider_org_id=donor.id,
            funding_source_id=source.id if n == 0 else None,
        )
    db.session.commit()


def _get(client, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data()


def _csv(client, path: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(_get(client, path).decode("utf-8"))))


def _unescape(text: str) -> str:
    """ST_Xstring: ``_xHHHH_`` stands for the character U+HHHH (``_x005F_`` for ``_``)."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def _column(ref: str) -> int:
    number = 0
    for letter in re.match(r"[A-Z]+", ref).group():
        number = number * 26 + ord(letter) - 64
    return number - 1


def _sheets(body: bytes) -> list[tuple[str, list[dict[int, tuple[str, str]]]]]:
    """Each sheet's name and rows as read from the package by the standard's rules: the
    workbook's sheets, their relationships, the worksheets' <row> and <c> elements. A cell is
    (its type, its text): ``n`` a number's <v>, ``b`` a boolean's, ``s`` an inline string."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{PKG}Relationship")}
        out = []
        for sheet in book.iter(f"{MAIN}sheet"):
            xml = ElementTree.fromstring(archive.read("xl/" + targets[sheet.get(f"{{{REL}}}id")]))
            rows = []
            for number, row in enumerate(xml.iter(f"{MAIN}row"), 1):
                assert row.get("r") == str(number)
                cells = {}
                for cell in row.iter(f"{MAIN}c"):
                    assert re.fullmatch(r"[A-Z]+(\d+)", cell.get("r")).group(1) == str(number)
                    kind = cell.get("t", "n")
                    if kind == "inlineStr":
                        cells[_column(cell.get("r"))] = ("s", _unescape(cell.find(f"{MAIN}is/{MAIN}t").text or ""))
                    else:
                        cells[_column(cell.get("r"))] = (kind, cell.find(f"{MAIN}v").text)
                rows.append(cells)
            out.append((sheet.get("name"), rows))
    return out


# The exchange rate is kept as the rate source's exact text: a text cell (as it always was).
TEXT_DECIMALS = {"usd_rate"}


def _expected(key: str, kind: str, text: str) -> tuple[str, str] | None:
    """The cell a CSV value makes (data dictionary: integers and decimals are numbers, as the
    CSV writes them; booleans are booleans; the rest the CSV's text)."""
    if text == "":
        return None
    if kind == "integer" or (kind == "decimal" and key not in TEXT_DECIMALS):
        return ("n", text)
    if kind == "boolean":
        return ("b", {"true": "1", "false": "0"}[text])
    return ("s", text)


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_the_workbook_has_the_csvs_rows_cell_by_cell(client, registry, resource):
    table = _csv(client, f"/api/v1/{resource}.csv")
    body = _get(client, f"/api/v1/{resource}.xlsx")
    [(name, rows)] = _sheets(body)
    assert name == resource
    types = [RESOURCES[resource].column(key).type for key in table[0]]
    assert len(rows) == len(table) > 2
    assert rows[0] == {i: ("s", key) for i, key in enumerate(table[0])}
    for row, line in zip(rows[1:], table[1:], strict=True):
        expected = {
            i: _expected(key, kind, text) for i, (key, kind, text) in enumerate(zip(table[0], types, line, strict=True))
        }
        assert row == {i: cell for i, cell in expected.items() if cell is not None}, line

    # two readers of the file, independent of the XML read above, see the same values
    calamine = CalamineWorkbook.from_filelike(io.BytesIO(body)).get_sheet_by_name(resource).to_python()
    book = openpyxl.load_workbook(io.BytesIO(body))
    sheet = book[resource]
    assert sheet.freeze_panes == "A2" and all(c.font.b for c in sheet[1])
    for number, line in enumerate(table):
        for col, (kind, text) in enumerate(zip(types if number else ["string"] * len(line), line, strict=True)):
            if table[0][col] in TEXT_DECIMALS:
                kind = "string"
            read = calamine[number][col]
            cell = sheet.cell(number + 1, col + 1).value
            if text == "":
                assert read == "" and cell is None
            elif kind in ("integer", "decimal"):
                assert read == float(Decimal(text)) == cell
            elif kind == "boolean":
                assert read is cell is (text == "true")
            else:
                assert read == text
                if not re.search(r"_x[0-9A-Fa-f]{4}_|[\x00-\x08\x0b-\x1f]", text):
                    assert cell == text  # openpyxl leaves the _xHHHH_ escapes as they are: not compared


def test_text_is_made_formula_safe_as_in_the_csv(client, registry):
    [_, rows] = _sheets(_get(client, "/api/v1/transactions.xlsx?columns=description,amount"))[0]
    descriptions = {row[0][1] for row in rows[1:]}
    assert descriptions == {"'-2+3", "'@SUM(A1)", "'+41 22 730 5111", TEXTS["escape_like"], TEXTS["control"]}
    assert {row[1] for row in rows[1:]} >= {("n", "-20.50"), ("n", "1250"), ("n", "0.10"), ("n", "123456789.99")}
    [_, rows] = _sheets(_get(client, "/api/v1/projects.xlsx?columns=title,reference,org_name,description"))[0]
    first = rows[1]
    assert first == {
        0: ("s", "'" + TEXTS["formula"]),
        1: ("s", "'+REF-1"),
        2: ("s", "'=Donor & Co"),
        3: ("s", TEXTS["markup"]),
    }
    assert rows[2][3] == ("s", TEXTS["spaces"])


def test_the_package_is_well_formed_and_its_parts_typed_and_related(client, registry):
    body = _get(client, "/api/v1/transactions.xlsx")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert len(names) == len(set(names))
        parts = {name: ElementTree.fromstring(archive.read(name)) for name in names}  # each part is XML
        for info in archive.infolist():
            # plain deflated 32-bit members: no Zip64, which Excel refuses in some forms
            assert info.compress_type == zipfile.ZIP_DEFLATED and info.extract_version == 20
    types = parts["[Content_Types].xml"]
    defaults = {d.get("Extension"): d.get("ContentType") for d in types.iter(f"{TYPES}Default")}
    overrides = {o.get("PartName"): o.get("ContentType") for o in types.iter(f"{TYPES}Override")}
    assert all(name.lstrip("/") in names for name in overrides)

    def content_type(name: str) -> str:
        return overrides.get("/" + name) or defaults[name.rsplit(".", 1)[-1]]

    assert all(content_type(name) for name in names if name != "[Content_Types].xml")
    package = {r.get("Type").rsplit("/", 1)[-1]: r.get("Target") for r in parts["_rels/.rels"]}
    assert package["officeDocument"] == "xl/workbook.xml"
    assert (
        content_type("xl/workbook.xml") == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    )
    assert content_type(package["core-properties"]) == "application/vnd.openxmlformats-package.core-properties+xml"
    related = {
        r.get("Id"): (r.get("Type").rsplit("/", 1)[-1], "xl/" + r.get("Target"))
        for r in parts["xl/_rels/workbook.xml.rels"]
    }
    assert all(target in names for _, target in related.values())
    [styles] = [target for kind, target in related.values() if kind == "styles"]
    assert content_type(styles).endswith("spreadsheetml.styles+xml")
    sheets = list(parts["xl/workbook.xml"].iter(f"{MAIN}sheet"))
    assert [s.get("name") for s in sheets] == ["transactions"]
    kind, target = related[sheets[0].get(f"{{{REL}}}id")]
    assert kind == "worksheet" and content_type(target) == WORKSHEET
    pane = parts[target].find(f"{MAIN}sheetViews/{MAIN}sheetView/{MAIN}pane")
    assert (pane.get("ySplit"), pane.get("state"), pane.get("topLeftCell")) == ("1", "frozen", "A2")
    # the header's style 1 is the bold font
    style = parts[styles]
    bold_xf = style.find(f"{MAIN}cellXfs")[1]
    assert style.find(f"{MAIN}fonts")[int(bold_xf.get("fontId"))].find(f"{MAIN}b") is not None
    assert {c.get("s") for c in parts[target].find(f"{MAIN}sheetData")[0]} == {"1"}
    assert not [f for part in parts.values() for f in part.iter(f"{MAIN}f")]  # no formula anywhere


def test_more_rows_than_a_sheet_holds_go_on_on_the_next_sheets(client, registry, monkeypatch):
    table = _csv(client, "/api/v1/transactions.csv?columns=id,amount,description")
    assert len(table) == 6
    monkeypatch.setattr(downloads, "XLSX_ROWS", 3)  # a header and two rows a sheet
    sheets = _sheets(_get(client, "/api/v1/transactions.xlsx?columns=id,amount,description"))
    assert [name for name, _ in sheets] == ["transactions", "transactions 2", "transactions 3"]
    assert [len(rows) for _, rows in sheets] == [3, 3, 2]
    header = {0: ("s", "id"), 1: ("s", "amount"), 2: ("s", "description")}
    assert all(rows[0] == header for _, rows in sheets)
    read = [[row[i][1] for i in range(3)] for _, rows in sheets for row in rows[1:]]
    assert read == [line for line in table[1:]]
    book = openpyxl.load_workbook(io.BytesIO(_get(client, "/api/v1/transactions.xlsx?columns=id")))
    assert book.sheetnames == ["transactions", "transactions 2", "transactions 3"]
    assert [ws.freeze_panes for ws in book.worksheets] == ["A2"] * 3


def test_exactly_full_sheets_and_no_rows():
    header = ["n"]
    two = list(xlsx_stream.workbook("s", header, ([xlsx_stream.number(str(i))] for i in range(4)), rows_per_sheet=3))
    sheets = _sheets(b"".join(two))
    assert [(name, len(rows)) for name, rows in sheets] == [("s", 3), ("s 2", 3)]  # no empty third sheet
    [(name, rows)] = _sheets(b"".join(xlsx_stream.workbook("s", header, [])))
    assert name == "s" and rows == [{0: ("s", "n")}]


def test_a_sheet_whose_xml_would_pass_the_size_limit_goes_on_on_the_next():
    """A 32-bit zip member holds less than 4 GiB: a sheet ends before its XML gets there."""
    rows = [[xlsx_stream.text("x" * 1000), xlsx_stream.boolean(i % 2 == 0)] for i in range(10)]
    body = b"".join(xlsx_stream.workbook("big", ["text", "even"], rows, sheet_bytes=3500))
    sheets = _sheets(body)
    read = [row for _, rows in sheets for row in rows[1:]]
    assert read == [{0: ("s", "x" * 1000), 1: ("b", "1" if i % 2 == 0 else "0")} for i in range(10)]
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        xml = [archive.read(f"xl/worksheets/sheet{n}.xml") for n in range(1, len(sheets) + 1)]
    assert len(xml) > 2
    tail = len(xlsx_stream.SHEET_TAIL)
    for this, following in zip(xml, xml[1:], strict=False):
        # each sheet is under the limit, and the next sheet's first row would have passed it
        first_row = re.search(rb'<row r="2">.*?</row>', following).group()
        assert len(this) - tail <= 3500 < len(this) - tail + len(first_row)
    # a single row larger than the limit still has a sheet of its own
    body = b"".join(xlsx_stream.workbook("big", ["text", "even"], rows[:2], sheet_bytes=10))
    assert [len(rows) for _, rows in _sheets(body)] == [2, 2]


def test_long_text_is_cut_at_excels_limit_without_splitting_a_character():
    long = "é" * 32_766 + "😀" + "tail"  # the emoji takes two UTF-16 units: 32,768 > 32,767
    [(_, rows)] = _sheets(b"".join(xlsx_stream.workbook("s", ["t"], [[xlsx_stream.text(long)]])))
    assert rows[1][0] == ("s", "é" * 32_766)


def test_the_workbook_streams_before_the_rows_are_all_read(client, registry, monkeypatch):
    """The first bytes, and then the zipped sheet itself, leave while the rows are still being
    read: a download whose rows would fail after 40,000 has sent some of its sheet before."""
    read = []

    def rows(choice):
        for n in range(40_000):
            read.append(n)
            # distinct hexadecimal text, which deflate cannot shrink much: bytes leave steadily
            yield [f"{n * 2654435761 % 2**64:016x}{n * 40503 % 2**32:08x}"]
        raise RuntimeError("the database went away")

    monkeypatch.setattr(downloads, "rows", rows)
    response = client.get("/api/v1/transactions.xlsx?columns=description", buffered=False)
    assert response.status_code == 200
    chunks = iter(response.response)
    first = next(chunks)
    assert first.startswith(b"PK\x03\x04") and len(read) == 0
    received = len(first)
    while received < 4 * downloads.CHUNK:
        received += len(next(chunks))
    assert 0 < len(read) < 40_000, len(read)
    with pytest.raises(RuntimeError, match="went away"):
        for _chunk in chunks:
            pass
    response.close()


def test_rows_are_read_in_batches_while_the_workbook_is_sent(client, registry, monkeypatch):
    """The real query, read BATCH rows at a time: the whole workbook is the CSV's rows."""
    monkeypatch.setattr(downloads, "BATCH", 1)
    monkeypatch.setattr(downloads, "CHUNK", 64)
    response = client.get("/api/v1/transactions.xlsx?columns=id", buffered=False)
    chunks = list(response.response)
    response.close()
    assert len(chunks) > 5 and max(len(c) for c in chunks) <= 64
    ids = [line[0] for line in _csv(client, "/api/v1/transactions.csv?columns=id")[1:]]
    [(_, rows)] = _sheets(b"".join(chunks))
    assert [row[0][1] for row in rows[1:]] == ids


@pytest.mark.slow
def test_libreoffice_reads_the_csvs_values(client, registry, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip(
            "LibreOffice (soffice) is not installed on this machine: the workbook is read by openpyxl and calamine"
        )
    table = _csv(client, "/api/v1/transactions.csv")
    (tmp_path / "transactions.xlsx").write_bytes(_get(client, "/api/v1/transactions.xlsx"))
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",  # comma, double quote, UTF-8
            "--outdir",
            str(tmp_path / "out"),
            str(tmp_path / "transactions.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    converted = list(csv.reader(io.StringIO((tmp_path / "out" / "transactions.csv").read_text("utf-8-sig"))))
    types = [RESOURCES["transactions"].column(key).type for key in table[0]]
    assert converted[0] == table[0] and len(converted) == len(table)
    for mine, theirs in zip(table[1:], converted[1:], strict=True):
        for kind, a, b in zip(types, mine, theirs, strict=True):
            if kind in ("integer", "decimal") and a:
                assert Decimal(a) == Decimal(b)  # General format: 20.5 for 20.50
            elif kind == "boolean":
                assert a.lower() == b.lower()
            else:
                assert a == b
