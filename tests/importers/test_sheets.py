"""Reading donor spreadsheets: every reading case on a small file built in the test."""

from __future__ import annotations

import datetime as dt
import time
import zipfile
from decimal import Decimal

import pytest

from importers.sheets import (
    AmbiguousAmount,
    UploadRefused,
    check_archive,
    decimal_evidence,
    decode_text,
    infer_date_convention,
    parse_amount,
    parse_date,
    parse_header,
    read_sheet_file,
    sniff_delimiter,
    xlsx_formats,
)
from tests.importers.helpers import csv_bytes, xlsx


def _read(path, options=None):
    result = read_sheet_file(path, path.name, dict(options or {}))
    return {r.reference: r for r in result.records}, result.problems, result.info


def _errors(problems):
    return [p for p in problems if p.severity == "error"]


def test_title_rows_merged_year_headers_totals_and_text_cells(app, tmp_path):
    path = xlsx(
        [
            ["Donor report 2023"],
            ["Figures in USD"],
            ["Project reference", "Title", "Country", "Commitments", None, "Disbursements", None],
            [None, None, None, 2021, 2022, 2021, 2022],
            ["00123", "Schools online", "NA", 1000, "2,000.50", 500, None],
            [None, None, None, None, None, None, None],
            ["00123", "Schools online", "Tanzania", 3000, None, None, None],
            ["Total", None, None, 4000, 2000.5, 500, None],
        ],
        tmp_path / "wide.xlsx",
        merges=("D3:E3", "F3:G3"),
    )
    records, problems, info = _read(path, {"currency": "USD"})
    assert not _errors(problems), problems
    rec = records["00123"]  # leading zeros kept
    assert [r.country for r in rec.recipients] == ["NAM", "TZA"]  # NA stays Namibia
    got = sorted((t.type, t.amount, t.value_date.year) for t in rec.transactions)
    assert got == [
        ("commitment", Decimal("1000"), 2021),
        ("commitment", Decimal("2000.50"), 2022),
        ("commitment", Decimal("3000"), 2021),
        ("disbursement", Decimal("500"), 2021),
    ]
    # Shares from each country's commitments: NAM 3000.50, TZA 3000.
    assert [r.weight for r in rec.recipients] == [Decimal("3000.50"), Decimal("3000")]
    assert info["skipped"] == {"total_row": 1}
    total = [p for p in problems if p.code == "total_row"][0]
    assert total.location.row == 8 and total.location.sheet == "Projects"
    assert info["mapping"]["columns"]["Disbursements 2022"] == "disbursement:2022"


def test_csv_semicolon_windows_1252_french_headers_decimal_comma_and_units(app, tmp_path):
    rows = [
        [
            "Référence",
            "Intitulé",
            "Pays",
            "Type de transaction",
            "Montant (EUR milliers)",
            "Date de valeur",
        ],
        ["AFD-1", "Télécentres", "Côte d'Ivoire", "Engagement", "1.234,5", "15/03/2021"],
        ["AFD-1", "Télécentres", "Côte d'Ivoire", "Décaissement", "(10,25)", "2021"],
    ]
    path = tmp_path / "fr.csv"
    path.write_bytes(csv_bytes(rows, ";", "cp1252"))
    records, problems, info = _read(path)
    assert not _errors(problems), problems
    rec = records["AFD-1"]
    assert rec.title == "Télécentres" and rec.recipients[0].country == "CIV"
    commitment, disbursement = rec.transactions
    assert (commitment.type, commitment.amount, commitment.currency) == (
        "commitment",
        Decimal("1234500"),
        "EUR",
    )
    assert commitment.value_date == dt.date(2021, 3, 15)
    assert (disbursement.type, disbursement.amount) == ("disbursement", Decimal("-10250"))
    assert disbursement.value_date == dt.date(2021, 7, 1)  # a year alone: mid-year
    assert info["decimal"] == ","


def test_utf16_tab_separated_with_spanish_headers(app, tmp_path):
    rows = [
        ["Referencia", "Título", "País", "Tipo de transacción", "Monto", "Moneda", "Fecha valor"],
        ["ES-7", "Conectividad rural", "Bolivia", "Desembolso", "$1,500.00", "", "2022-05-02"],
    ]
    path = tmp_path / "es.txt"
    path.write_bytes(b"\xff\xfe" + csv_bytes(rows, "\t", "utf-16-le"))
    records, problems, _ = _read(path)
    assert not _errors(problems), problems
    tx = records["ES-7"].transactions[0]
    assert (tx.type, tx.amount, tx.currency, records["ES-7"].recipients[0].country) == (
        "disbursement",
        Decimal("1500.00"),
        "USD",
        "BOL",
    )


@pytest.mark.parametrize(
    "name, iso3",
    [
        ("Tanzania", "TZA"),
        ("Cote d'Ivoire", "CIV"),
        ("Lao PDR", "LAO"),
        ("DR Congo", "COD"),
        ("Viet Nam", "VNM"),
        ("Tanzanie", "TZA"),
        ("KE", "KEN"),
        ("404", "KEN"),
        ("ken", "KEN"),
        ("NA", "NAM"),
        ("République démocratique du Congo", "COD"),
    ],
)
def test_country_names_codes_and_variants(app, tmp_path, name, iso3):
    path = tmp_path / "c.csv"
    path.write_bytes(csv_bytes([["Reference", "Title", "Country"], ["P", "T", name]]))
    records, problems, _ = _read(path)
    assert not _errors(problems)
    assert records["P"].recipients[0].country == iso3


def test_regions_areas_sectors_and_unknown_values(app, tmp_path):
    rows = [
        ["Reference", "Title", "Recipient", "Priority area", "Purpose code", "WSIS action line"],
        [
            "R1",
            "Backbone",
            "South of Sahara, regional",
            "23c; Broadband capacity",
            "22040 ICT",
            "C2, C7",
        ],
        ["R2", "Other", "002", "23b", "22020", ""],
        ["R3", "Bad", "Atlantis", "23z", "ICT", ""],
        ["R4", "Typo", "Malawii", "23b", "", ""],
        ["R5", "Not in ISO", "Kosovo", "23b", "", ""],
        ["R6", "Alpha-2", "XK", "23b", "", ""],
        ["R7", "Alpha-3", "xkx", "23b", "", ""],
        ["R8", "UN wording", "Kosovo (UNSCR 1244/99)", "23b", "", ""],
    ]
    path = tmp_path / "r.csv"
    path.write_bytes(csv_bytes(rows))
    records, problems, _ = _read(path)
    assert records["R1"].recipients[0].region == "202"
    assert [a.code for a in records["R1"].areas] == ["23c", "23d"]
    assert records["R1"].sectors == ["22040"] and records["R1"].wsis_action_lines == ["C2", "C7"]
    assert records["R2"].recipients[0].region == "002"
    codes = {(p.code, p.value, p.location.row, p.location.column) for p in _errors(problems)}
    assert ("unknown_country", "Atlantis", 4, "Recipient") in codes
    assert ("unknown_area", "23z", 4, "Priority area") in codes
    assert ("invalid_sector", "ICT", 4, "Purpose code") in codes
    messages = {p.value: p.message for p in _errors(problems)}
    assert messages["Malawii"] == "Unknown country or region 'Malawii'; did you mean Malawi (MWI)?"
    assert "did you mean" not in messages["Atlantis"]  # nothing close: no guess
    # Kosovo is on the DAC list without an ISO 3166-1 code: by name, XK (IATI) and XKX alike
    assert "Kosovo" not in messages
    for ref in ("R5", "R6", "R7", "R8"):
        assert [(r.country, r.region) for r in records[ref].recipients] == [("XKX", None)], ref


def test_dates_excel_serials_iso_words_and_ambiguity(app):
    assert parse_date("44197", None) == dt.date(2021, 1, 1)  # Excel serial
    assert parse_date("2021-03-04", None) == dt.date(2021, 3, 4)
    assert parse_date("25/12/2021", None) == dt.date(2021, 12, 25)
    assert parse_date("12/25/2021", None) == dt.date(2021, 12, 25)
    assert parse_date("4 mars 2021", None) == dt.date(2021, 3, 4)
    assert parse_date("March 4, 2021", None) == dt.date(2021, 3, 4)
    assert parse_date("2021", None, (12, 31)) == dt.date(2021, 12, 31)
    with pytest.raises(ValueError, match="day/month/year or month/day/year"):
        parse_date("03/04/2021", None)
    assert parse_date("03/04/2021", "dmy") == dt.date(2021, 4, 3)
    assert parse_date("03/04/2021", "mdy") == dt.date(2021, 3, 4)


def test_ambiguous_dates_are_errors_unless_the_convention_is_given(app, tmp_path):
    rows = [
        ["Reference", "Title", "Amount", "Currency", "Date"],
        ["P", "T", "10", "USD", "03/04/2021"],
    ]
    path = tmp_path / "d.csv"
    path.write_bytes(csv_bytes(rows))
    _, problems, _ = _read(path)
    assert [p.code for p in _errors(problems)] == ["ambiguous_date"]
    assert _errors(problems)[0].location.column == "Date"
    records, problems, _ = _read(path, {"dates": "dmy"})
    assert not _errors(problems) and records["P"].transactions[0].value_date == dt.date(2021, 4, 3)


def test_a_files_unambiguous_dates_give_its_convention(app, tmp_path):
    """03/02/2025 beside 15/01/2025 in the same file is 3 February: the file writes day first."""
    rows = [
        ["Reference", "Title", "Amount", "Currency", "Date"],
        ["P", "T", "10", "USD", "03/02/2025"],
        ["P", "T", "20", "USD", "15/01/2025"],
        ["Q", "T", "30", "USD", "28.02.2025"],
    ]
    path = tmp_path / "dmy.csv"
    path.write_bytes(csv_bytes(rows))
    records, problems, info = _read(path)
    assert not _errors(problems)
    assert [t.value_date for t in records["P"].transactions] == [dt.date(2025, 2, 3), dt.date(2025, 1, 15)]
    assert info["dates"] == "dmy"
    [note] = [p for p in problems if p.code == "dates_inferred"]
    assert note.severity == "warning" and "day/month/year" in note.message and note.value == "15/01/2025"
    assert (note.location.row, note.location.column) == (3, "Date")  # where the example is

    # month first, learnt the same way
    path.write_bytes(csv_bytes([rows[0], ["P", "T", "10", "USD", "03/02/2025"], ["P", "T", "5", "USD", "01/15/2025"]]))
    records, problems, _ = _read(path)
    assert not _errors(problems) and records["P"].transactions[0].value_date == dt.date(2025, 3, 2)

    # a file that writes both ways (or none) learns nothing: the ambiguous date stays an error
    both = [*rows, ["R", "T", "1", "USD", "01/15/2025"]]
    path.write_bytes(csv_bytes(both))
    _, problems, _ = _read(path)
    assert [p.code for p in _errors(problems)] == ["ambiguous_date"]
    assert not [p for p in problems if p.code == "dates_inferred"]

    # only the date columns count: a version number or a date in a description proves nothing
    noise = [
        ["Reference", "Title", "Amount", "Currency", "Date", "Description"],
        ["P", "T", "10", "USD", "03/04/2021", "Software v1.13.20 rollout, report printed 04/13/2021"],
    ]
    path.write_bytes(csv_bytes(noise))
    _, problems, _ = _read(path)
    assert [p.code for p in _errors(problems)] == ["ambiguous_date"]
    # rows are records, not lines: a quoted description over three lines does not shift them
    quoted = [
        ["Reference", "Title", "Amount", "Currency", "Date", "Description"],
        ["P", "T", "10", "USD", "03/04/2021", "line one\nline two\nline three"],
        ["P", "T", "20", "USD", "15/04/2021", ""],
    ]
    path.write_bytes(csv_bytes(quoted))
    records, problems, _ = _read(path)
    [note] = [p for p in problems if p.code == "dates_inferred"]
    assert (note.location.row, note.location.column) == (3, "Date")
    assert records["P"].transactions[0].value_date == dt.date(2021, 4, 3)

    # a declared convention wins over the file's evidence (for the dates that need one)
    path.write_bytes(csv_bytes(rows))
    records, problems, _ = _read(path, {"dates": "mdy"})
    assert records["P"].transactions[0].value_date == dt.date(2025, 3, 2)
    assert not [p for p in problems if p.code == "dates_inferred"]


def test_only_real_dates_teach_the_order_and_the_warning_quotes_the_files_own_date(app, tmp_path):
    found = infer_date_convention([(2, "31/02/2024"), (3, "03/04/2024"), (4, "2024-05-06")])
    assert found.kind is None  # 31 February is no date: it proves nothing
    found = infer_date_convention([(2, "30/02/2024"), (3, "13/02/2024"), (4, "03/04/2024"), (5, "02/30/2024")])
    assert (found.kind, found.example, found.where, found.ambiguous, found.ambiguous_where) == (
        "dmy",
        "13/02/2024",
        3,
        "03/04/2024",
        4,
    )

    rows = [
        ["Reference", "Title", "Amount", "Currency", "Date"],
        ["P", "T", "10", "USD", "31/02/2024"],
        ["P", "T", "20", "USD", "03/04/2024"],
    ]
    path = tmp_path / "d.csv"
    path.write_bytes(csv_bytes(rows))
    _, problems, info = _read(path)
    assert [(p.code, p.location.row) for p in _errors(problems)] == [("invalid_date", 2), ("ambiguous_date", 3)]
    assert "dates" not in info and not [p for p in problems if p.code == "dates_inferred"]

    rows[1][4] = "13/02/2024"
    path.write_bytes(csv_bytes(rows))
    records, problems, _ = _read(path)
    assert not _errors(problems) and records["P"].transactions[1].value_date == dt.date(2024, 4, 3)
    [note] = [p for p in problems if p.code == "dates_inferred"]
    assert note.message.startswith("Dates such as 03/04/2024 (row 3) are read as day/month/year, 03/04/2024 as 3 April")
    assert "13/02/2024 (row 2)" in note.message and "03/04/2021" not in note.message.split("(on the upload page")[0]

    # Nothing reads both ways: the order changes nothing, and no warning says it does.
    rows[2][4] = "15/04/2024"
    path.write_bytes(csv_bytes(rows))
    _, problems, info = _read(path)
    assert not _errors(problems) and info["dates"] == "dmy"
    assert not [p for p in problems if p.code == "dates_inferred"]


def test_a_workbooks_text_dates_give_its_convention(app, tmp_path):
    """Dates typed as text in a workbook teach the order as a CSV's do; real date cells
    are left alone and cannot decide it."""
    rows = [
        ["Budget ICT 2025"],
        ["Reference", "Title", "Amount", "Currency", "Date"],
        ["P", "T", "10", "USD", "03/02/2025"],
        ["P", "T", "20", "USD", dt.date(2025, 1, 15)],
        ["Q", "T", "30", "USD", "28/02/2025"],
    ]
    path = xlsx(rows, tmp_path / "dmy.xlsx")
    records, problems, info = _read(path)
    assert not _errors(problems)
    assert [t.value_date for t in records["P"].transactions] == [dt.date(2025, 2, 3), dt.date(2025, 1, 15)]
    assert info["dates"] == "dmy"
    [note] = [p for p in problems if p.code == "dates_inferred"]
    assert (note.location.sheet, note.location.row, note.location.column) == ("Projects", 5, "Date")
    assert note.value == "28/02/2025"

    # a real date cell proves nothing: without a text date read one way only, 03/02 stays ambiguous
    path = xlsx([*rows[:4], ["Q", "T", "30", "USD", dt.date(2025, 2, 28)]], tmp_path / "cells.xlsx")
    _, problems, _ = _read(path)
    assert [(p.code, p.location.row) for p in _errors(problems)] == [("ambiguous_date", 3)]


def test_numbers_excel_shows_with_leading_zeros_keep_them(app, tmp_path):
    """A reference typed as the number 123 in a cell formatted 00000 is 00123, as Excel shows it."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Projects"
    ws.append(["Budget 2024"])  # a title row: the header and the cells are found below it
    ws.append([None, "Reference", "Title", "Country", "Amount", "Currency", "Date"])
    ws.append([None, 123, "Padded", "GHA", 1000, "USD", dt.date(2024, 7, 1)])
    ws.append([None, 45, "Plain", "GHA", 2000, "USD", dt.date(2024, 7, 1)])
    ws.append([None, 7, "Three digits", "GHA", 3000, "USD", dt.date(2024, 7, 1)])
    ws["B3"].number_format = "00000"
    ws["B5"].number_format = "000;-000"  # a section for negatives too
    ws["E3"].number_format = "#,##0.00"
    wb.save(tmp_path / "padded.xlsx")
    records, problems, _ = _read(tmp_path / "padded.xlsx")
    assert not _errors(problems)
    assert sorted(records) == ["00123", "007", "45"]
    assert records["00123"].transactions[0].amount == Decimal("1000")

    # the sheet's XML is scanned in blocks: a cell tag cut by a block's end is still found
    with zipfile.ZipFile(tmp_path / "padded.xlsx") as archive:
        styles = xlsx_formats.padded_styles(archive)
        whole = xlsx_formats._padded(archive.open("xl/worksheets/sheet1.xml"), styles)
        assert whole == {2: [(1, 5)], 4: [(1, 3)]}
        for size in (1, 7, 64):
            assert xlsx_formats._padded(archive.open("xl/worksheets/sheet1.xml"), styles, size) == whole


def test_a_split_that_differs_by_flow_type_is_pointed_out(app, tmp_path):
    """Shares come from the commitments; a disbursement to Kenya alone would be spread 75/25
    over Kenya and Uganda by the reports: the donor is told, at the project's first row."""
    header = ["Project reference", "Project title", "Recipient country", "Transaction type", "Amount", "Currency"]
    rows = [
        header,
        ["M-01", "E-health", "Kenya", "commitment", "30000", "USD"],
        ["M-01", "E-health", "Uganda", "commitment", "10000", "USD"],
        ["M-01", "E-health", "Kenya", "disbursement", "5000", "USD"],
        ["M-02", "Same split", "Kenya", "commitment", "300", "USD"],
        ["M-02", "Same split", "Uganda", "commitment", "100", "USD"],
        ["M-02", "Same split", "Kenya", "disbursement", "30", "USD"],
        ["M-02", "Same split", "Uganda", "disbursement", "10", "USD"],
        ["M-03", "Other", "Ghana", "commitment", "50", "USD"],
        ["M-03", "Other", "Togo", "commitment", "50", "USD"],
        ["M-03", "Other", "Togo", "expenditure", "50", "USD"],
    ]
    path = tmp_path / "split.csv"
    path.write_bytes(csv_bytes([[*r, "Value date" if i == 0 else "2024-03-01"] for i, r in enumerate(rows)]))
    records, problems, _ = _read(path)
    assert not _errors(problems)
    [note] = [p for p in problems if p.code == "split_differs"]
    assert (note.location.row, note.location.column) == (2, "Recipient country")
    # one warning for the file, with the first project as its example
    assert note.message.startswith("Project 'M-01' (and 1 more project): its country shares come from its commitments")
    assert "KEN 75%, UGA 25%" in note.message and "disbursements split otherwise (KEN 100%)" in note.message
    assert [r.weight for r in records["M-01"].recipients] == [Decimal("30000"), Decimal("10000")]


def test_amounts(app):
    assert parse_amount("1,234.56", ".") == (Decimal("1234.56"), None)
    assert parse_amount("1.234,56", ",") == (Decimal("1234.56"), None)
    assert parse_amount("1 234 567", ",") == (Decimal("1234567"), None)
    assert parse_amount("(1,000)", ".") == (Decimal("-1000"), None)
    assert parse_amount("€ 12", ".") == (Decimal("12"), "EUR")
    assert parse_amount("12 CHF", ".") == (Decimal("12"), "CHF")
    with pytest.raises(ValueError):
        parse_amount("twelve", ".")


def test_an_amount_shows_its_decimal_mark_or_reads_both_ways(app):
    # Unknown decimal mark: an amount that shows its own is read by it ...
    assert parse_amount("1.250.000", None) == (Decimal("1250000"), None)
    assert parse_amount("1.234,56 €", None) == (Decimal("1234.56"), "EUR")
    assert parse_amount("1,234.56", None) == (Decimal("1234.56"), None)
    assert parse_amount("12,5", None) == (Decimal("12.5"), None)
    assert parse_amount("12.50", None) == (Decimal("12.50"), None)
    assert parse_amount("1 250,500", None) == (Decimal("1250.500"), None)  # spaces group: the comma is decimal
    assert parse_amount("1,25,000", None) == (Decimal("125000"), None)  # Indian grouping
    assert [decimal_evidence(t) for t in ("1.250.000", "1,234.56", "12,5", "12.50", "0,250", "12.500", "1250")] == [
        ",",
        ".",
        ",",
        ".",
        ",",
        None,
        None,
    ]
    # ... one whose only separator is followed by three digits reads both ways.
    for text, thousands, decimal in (("12.500", "12500", "12.500"), ("-1,250", "-1250", "-1.250")):
        with pytest.raises(AmbiguousAmount) as caught:
            parse_amount(text, None)
        assert (caught.value.as_thousands, caught.value.as_decimal) == (Decimal(thousands), Decimal(decimal))
        assert caught.value.code == "ambiguous_amount"
    message = str(caught.value)
    assert "-1250 if the comma separates thousands, or -1.25 if it is the decimal mark" in message
    assert "upload page" in message and "--decimal" in message and "decimal=" in message
    # A declared mark always wins, and a plain number is no exception to it.
    assert parse_amount("12.500", ",") == (Decimal("12500"), None)
    assert parse_amount("12.500", ".") == (Decimal("12.500"), None)
    assert parse_amount("1,250", ",") == (Decimal("1.250"), None)
    # Thousands separators set apart groups of three: 12.50 is no amount with a decimal comma.
    for text, decimal, other in (("1.250.000", ".", "1250000"), ("12.50", ",", "12.5"), ("1,234.5", ",", "1234.5")):
        with pytest.raises(ValueError, match=f"with the {'point' if decimal == '.' else 'comma'} as the decimal"):
            parse_amount(text, decimal)
        with pytest.raises(ValueError, match=f"it would be {other}.*--decimal {',' if decimal == '.' else '.'}"):
            parse_amount(text, decimal)


def _amounts(records):
    return [t.amount for r in records.values() for t in r.transactions]


def test_a_semicolon_files_comma_is_its_decimal_mark_and_units_count_in_the_warning(app, tmp_path):
    """In a semicolon file nothing else settles, 1,250 is 1.25 (the comma is the decimal mark
    there), and a warning about an amount in a column of thousands gives the amount as stored."""
    header = ["Référence", "Titre", "Pays", "Type de transaction", "Montant (EUR milliers)", "Date de valeur"]
    rows = [header, ["D-01", "Cyber", "Maroc", "engagement", "1,250", "2024-03-15"]]
    path = tmp_path / "comma.csv"
    path.write_bytes(csv_bytes(rows, ";"))
    records, problems, _ = _read(path)
    assert not _errors(problems)
    assert _amounts(records) == [Decimal("1250")]  # 1.25 thousand euros
    [note] = [p for p in problems if p.code == "decimal_mark_assumed"]
    assert "read as 1250 EUR, with the comma as the decimal mark" in note.message
    assert "means 1,250,000 EUR" in note.message

    rows[1][4] = "12.500"
    path.write_bytes(csv_bytes(rows, ";"))
    records, problems, _ = _read(path)
    assert _amounts(records) == [Decimal("12500000")]
    [note] = [p for p in problems if p.code == "decimal_mark_assumed"]
    assert "read as 12,500,000 EUR, with the point as a thousands separator" in note.message

    # In a column of millions, 12.250 beside 1.5 is 12.25 million: no doubt to raise
    rows = [
        ["Reference", "Title", "Country", "Amount (USD millions)", "Date"],
        ["P", "T", "KEN", "1.5", "2024-03-15"],
        ["P", "T", "KEN", "12.250", "2024-03-15"],
    ]
    path.write_bytes(csv_bytes(rows, "\t"))
    records, problems, _ = _read(path)
    assert not _errors(problems) and not [p for p in problems if p.code.startswith("decimal_mark")]
    assert _amounts(records) == [Decimal("1500000"), Decimal("12250000")]


def test_european_thousands_in_a_semicolon_file(app, tmp_path):
    """12.500 EUR in a semicolon file is twelve thousand five hundred, never 12.50 without a word."""
    header = ["Référence", "Titre", "Pays", "Type de transaction", "Montant", "Devise", "Date de valeur"]
    rows = [
        header,
        ["D-01", "Cybersécurité", "Maroc", "engagement", "12.500", "EUR", "15/03/2024"],
        ["D-01", "Cybersécurité", "Maroc", "décaissement", "250.000", "EUR", "16/04/2024"],
    ]
    path = tmp_path / "eur.csv"
    path.write_bytes(csv_bytes(rows, ";"))
    records, problems, _info = _read(path)
    assert not _errors(problems)
    assert _amounts(records) == [Decimal("12500"), Decimal("250000")]
    [note] = [p for p in problems if p.code == "decimal_mark_assumed"]
    assert note.severity == "warning" and (note.location.row, note.location.column, note.value) == (
        2,
        "Montant",
        "12.500",
    )
    assert "and 1 more amount like it" in note.message and "12,500 EUR" in note.message
    assert "means 12.5" in note.message and "--decimal ." in note.message

    # The file's own evidence settles it, anywhere in the file: no warning.
    rows.append(["D-02", "Numérique", "Tunisie", "engagement", "1.250.000", "EUR", "17/05/2024"])
    path.write_bytes(csv_bytes(rows, ";"))
    records, problems, info = _read(path)
    assert not _errors(problems) and not [p for p in problems if p.code.startswith("decimal_mark")]
    assert _amounts(records) == [Decimal("12500"), Decimal("250000"), Decimal("1250000")]
    assert info["decimal"] == ","

    # A declared decimal point wins: 12.500 is 12.5, and 1.250.000 is an error that says what to change.
    records, problems, _ = _read(path, {"decimal": "."})
    assert _amounts(records)[:2] == [Decimal("12.5"), Decimal("250")]
    [error] = _errors(problems)
    assert error.location.row == 4 and "1250000" in error.message and "--decimal ," in error.message


def test_a_comma_file_without_evidence_makes_ambiguous_amounts_errors(app, tmp_path):
    rows = [
        ["Project reference", "Project title", "Recipient country", "Transaction type", "Amount", "Currency", "Date"],
        ["N-12", "D", "Kenya", "commitment", "1,250", "USD", "2024-03-01"],
        ["N-13", "E", "Kenya", "commitment", "2500", "USD", "2024-03-01"],
    ]
    path = tmp_path / "comma.csv"
    path.write_bytes(csv_bytes(rows))
    _, problems, _ = _read(path)
    [error] = _errors(problems)
    assert (error.code, error.location.row, error.location.column, error.value) == (
        "ambiguous_amount",
        2,
        "Amount",
        "1,250",
    )
    assert "1250 USD if the comma separates thousands, or 1.25 USD if it is the decimal mark" in error.message
    records, problems, _ = _read(path, {"decimal": "."})
    assert not _errors(problems) and _amounts(records) == [Decimal("1250"), Decimal("2500")]
    # an amount far down the file (read the fast way) is evidence too
    rows += [["N-14", "F", "Kenya", "commitment", "3000", "USD", "2024-03-01"]] * 600
    rows.append(["N-15", "G", "Kenya", "commitment", "2,500,000", "USD", "2024-03-01"])
    path.write_bytes(csv_bytes(rows))
    records, problems, _ = _read(path)
    assert not _errors(problems) and not [p for p in problems if p.code.startswith("decimal_mark")]
    assert records["N-12"].transactions[0].amount == Decimal("1250")
    assert records["N-15"].transactions[0].amount == Decimal("2500000")
    # evidence both ways settles nothing
    rows.append(["N-16", "H", "Kenya", "commitment", "10,5", "USD", "2024-03-01"])
    path.write_bytes(csv_bytes(rows))
    _, problems, _ = _read(path)
    assert [(p.code, p.location.row) for p in _errors(problems)] == [("ambiguous_amount", 2)]


def test_a_decimal_comma_with_three_decimals_in_a_two_decimal_currency_is_doubted(app, tmp_path):
    rows = [
        ["Project reference", "Project title", "Recipient country", "Transaction type", "Amount", "Currency", "Date"],
        ["N-09", "C", "Kenya", "commitment", "10,5", "USD", "2024-03-01"],
        ["N-12", "D", "Kenya", "commitment", "1,250", "USD", "2024-03-01"],
        ["N-13", "E", "Kenya", "commitment", "2,125", "KWD", "2024-03-01"],
    ]
    path = tmp_path / "comma.csv"
    path.write_bytes(csv_bytes(rows))
    records, problems, _ = _read(path)
    assert not _errors(problems)
    assert _amounts(records) == [Decimal("10.5"), Decimal("1.250"), Decimal("2.125")]  # 10,5: a decimal comma
    [note] = [p for p in problems if p.code == "decimal_mark_doubtful"]  # KWD has three decimals: no doubt
    assert (note.severity, note.location.row, note.value) == ("warning", 3, "1,250")
    assert "read as 1.25 USD" in note.message and "'10,5' (row 2)" in note.message
    assert "1250 USD" in note.message and "--decimal ." in note.message


def test_a_text_amount_in_a_workbook_that_reads_both_ways_is_an_error(app, tmp_path):
    rows = [
        ["Reference", "Title", "Amount", "Currency", "Year", "Total cost"],
        ["P", "T", "1.125", "EUR", 2024, 1.125],  # the number cell is a number, whatever the text beside it
        ["Q", "T", 2.125, "EUR", 2024, "1 250 000"],
    ]
    records, problems, _ = _read(xlsx(rows, tmp_path / "w.xlsx"))
    assert [(p.code, p.location.sheet, p.location.row) for p in _errors(problems)] == [
        ("ambiguous_amount", "Projects", 2)
    ]
    assert records["P"].need_amount == Decimal("1.125") and records["Q"].need_amount == Decimal("1250000")
    assert records["Q"].transactions[0].amount == Decimal("2.125")


def test_headers_with_units_currencies_and_years(app):
    col = parse_header("Disbursements 2022 (EUR millions)")
    assert (col.field, col.year, col.currency, col.unit) == (
        "disbursement",
        2022,
        "EUR",
        Decimal(1_000_000),
    )
    col = parse_header("Amount (USD thousands)")
    assert (col.field, col.currency, col.unit) == ("amount", "USD", Decimal(1000))
    assert parse_header("RÉFÉRENCE DU PROJET").field == "reference"
    assert parse_header("iati-identifier").field == "iati_identifier"
    assert parse_header("USD_Disbursement").unit == Decimal(1_000_000)
    assert parse_header("Colour of the sky").field == "ignore"


@pytest.mark.parametrize(
    "header, field",
    [
        ("Fecha", "value_date"),
        ("Fecha valor", "value_date"),
        ("Fecha de valor", "value_date"),
        ("Fecha de inicio real", "actual_start"),
        ("Fecha de finalización real", "actual_end"),
        ("Identificador IATI", "iati_identifier"),
        ("Beneficiario", "recipient"),
        ("Línea de acción CMSI", "wsis_action_line"),
        ("Tipo de financiación", "finance_type"),
        ("Moneda del presupuesto", "need_currency"),
        ("Identifiant IATI", "iati_identifier"),
        ("Date de début réelle", "actual_start"),
        ("Pays destinataire", "country"),
        ("Date d'opération", "value_date"),
    ],
)
def test_spanish_and_french_headers(app, header, field):
    assert parse_header(header).field == field


def test_every_field_has_spanish_and_french_headers_that_no_other_map_takes():
    import json

    from importers.sheets import FIELDS, norm
    from importers.sheets.fields import column_map_text

    maps = {name: json.loads(column_map_text(name))["columns"] for name in ("canonical.json", "fr.json", "es.json")}
    for name in ("fr.json", "es.json"):
        # every field a column can hold has a header in the language (the description is the
        # same word in French and English: the English map has it)
        missing = set(FIELDS) - {"ignore", "description"} - set(maps[name])
        assert not missing, (name, missing)
    taken: dict[str, tuple[str, str]] = {}
    for name, columns in maps.items():
        for field, headers in columns.items():
            for header in headers:
                first = taken.setdefault(norm(header), (field, name))
                assert first[0] == field, f"{header!r} of {name} means {field}, but {first[1]} maps it to {first[0]}"


def test_explicit_mapping_overrides_detection(app, tmp_path):
    rows = [
        ["Code", "Name", "Where", "Money", "Currency", "Year"],
        ["X1", "T", "KEN", "5", "USD", "2020"],
    ]
    path = tmp_path / "m.csv"
    path.write_bytes(csv_bytes(rows))
    _, problems, _ = _read(path)
    assert any(p.code == "missing_column" for p in problems)
    mapping = {
        "columns": {
            "Code": "reference",
            "Name": "title",
            "Where": "country",
            "Money": "disbursement",
        }
    }
    records, problems, _ = _read(path, {"mapping": mapping})
    assert not _errors(problems), problems
    tx = records["X1"].transactions[0]
    assert (tx.type, tx.amount, tx.value_date) == (
        "disbursement",
        Decimal("5"),
        dt.date(2020, 7, 1),
    )


def test_formula_in_a_title_row_and_other_sheets(app, tmp_path):
    path = xlsx(
        [
            ['="Report for "&TEXT(TODAY(),"yyyy")'],
            ["Reference", "Title", "Country", "Amount", "Currency", "Year"],
            ["F1", "With a formula above", "KEN", 10, "USD", 2020],
        ],
        tmp_path / "formula.xlsx",
        extra_sheets={"Instructions": [["Fill in the Projects sheet"]]},
    )
    records, problems, info = _read(path)
    assert list(records) == ["F1"]
    assert not _errors(problems)
    assert info["sheets"] == ["Projects"]
    assert any(p.code == "no_header" and p.location.sheet == "Instructions" for p in problems)


def test_long_shape_shares_explicit_and_fraction(app, tmp_path):
    rows = [
        ["Reference", "Title", "Country", "Share", "Amount", "Currency", "Year"],
        ["S1", "T", "KEN", 0.6, 100, "USD", 2020],
        ["S1", "T", "UGA", 0.4, 100, "USD", 2020],
    ]
    records, problems, _ = _read(xlsx(rows, tmp_path / "s.xlsx"))
    assert [r.share for r in records["S1"].recipients] == [Decimal("60.0"), Decimal("40.0")]


def test_notes_and_blank_rows_are_skipped(app, tmp_path):
    rows = [
        ["Reference", "Title", "Amount", "Currency", "Year"],
        ["N1", "T", "10", "USD", "2020"],
        ["", "", "", "", ""],
        ["Source: ministry returns", "", "", "", ""],
    ]
    path = tmp_path / "n.csv"
    path.write_bytes(csv_bytes(rows))
    records, problems, info = _read(path)
    assert list(records) == ["N1"] and info["skipped"] == {"note_row": 1}


def test_a_row_with_only_an_amount_is_called_a_possible_subtotal(app, tmp_path):
    rows = [
        ["Project reference", "Project title", "Country", "Transaction type", "Amount", "Currency", "Value date"],
        ["K-01", "Rural telecentres", "Nepal", "disbursement", 10000.1, "USD", dt.date(2024, 2, 1)],
        ["K-01", "Rural telecentres", "Nepal", "disbursement", 20000.2, "USD", dt.date(2024, 5, 1)],
        [None, None, None, None, 30000.3, None, None],
        ["K-02", "Schools", "Bhutan", "commitment", 5000, "USD", dt.date(2024, 3, 1)],
        [None, "Schools", "Bhutan", "commitment", 5000, "USD", dt.date(2024, 3, 1)],
    ]
    records, problems, _ = _read(xlsx(rows, tmp_path / "sub.xlsx"))
    first, second = _errors(problems)
    assert (first.code, first.location.row, first.location.column, first.value) == (
        "missing_reference",
        4,
        "Project reference",
        "30000.3",
    )
    assert first.message.startswith("The row holds an amount but no project reference nor anything else: a subtotal?")
    assert (second.location.row, second.message) == (6, "The project reference is missing")  # a transaction
    # labelled as the message says, the row is skipped as a subtotal
    rows[3][0] = "Subtotal"
    records, problems, info = _read(xlsx(rows, tmp_path / "sub.xlsx"))
    assert [p.location.row for p in _errors(problems)] == [6] and info["skipped"] == {"total_row": 1}


def test_ods_workbook(app, tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "o.ods"
    frame = pd.DataFrame(
        [["O1", "ODS project", "Kenya", "Commitment", "12.5", "EUR", "2020-01-02"]],
        columns=["Reference", "Title", "Country", "Type", "Amount", "Currency", "Date"],
    )
    frame.to_excel(path, engine="odf", index=False)
    records, problems, _ = _read(path)
    assert not _errors(problems), problems
    assert records["O1"].transactions[0].amount == Decimal("12.5")


def test_legacy_xls_workbook_keeps_codes_as_text(app, tmp_path):
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("Commitments 2020")
    sheet.write(0, 0, "Donor return, Excel 97-2003")  # a title row above the header
    header = ["Reference", "Title", "Country", "Type", "Amount", "Currency", "Date"]
    row = ["00123", "Legacy workbook project", "NA", "Commitment", 1250.5, "USD", "2020-01-02"]
    for col, text in enumerate(header):
        sheet.write(2, col, text)
    for col, value in enumerate(row):
        sheet.write(3, col, value)
    path = tmp_path / "legacy.xls"
    book.save(str(path))
    records, problems, _ = _read(path)
    assert not _errors(problems), problems
    record = records["00123"]
    assert record.recipients[0].country == "NAM"
    assert record.transactions[0].amount == Decimal("1250.5")
    assert record.location.sheet == "Commitments 2020" and record.location.row == 4


def test_encoding_and_delimiter_sniffing():
    text, encoding = decode_text("a;b\nÉté;Noël\n".encode("cp1252"))
    assert encoding == "cp1252" and "Été" in text
    text, encoding = decode_text("a\tb\n".encode("utf-16-le"))
    assert encoding == "utf-16-le" and text == "a\tb\n"
    assert sniff_delimiter("a;b;c\n1;2,5;3\n") == ";"
    assert sniff_delimiter("a|b\n1|2\n") == "|"


def _bomb(path):
    """A small ZIP whose central directory declares a 1 GiB member."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", "x" * 100)
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")  # the last member's central directory record
    data[central + 24 : central + 28] = (1 << 30).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def test_one_gib_declared_archive_is_refused_fast(app, tmp_path):
    path = _bomb(tmp_path / "bomb.xlsx")
    started = time.perf_counter()
    with pytest.raises(UploadRefused, match="unpack to 1,073,741,"):
        check_archive(path)
    with pytest.raises(UploadRefused):
        read_sheet_file(path, "bomb.xlsx", {})
    assert time.perf_counter() - started < 2


def test_lying_dimensions_are_read_by_real_content(app, tmp_path):
    import re

    path = xlsx([["Reference", "Title"], ["L1", "a"], ["L2", "b"], ["L3", "c"]], tmp_path / "lie.xlsx")
    src = zipfile.ZipFile(path)
    out = tmp_path / "lying.xlsx"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("sheet1.xml"):
                data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:B2"/>', data)
            dst.writestr(info.filename, data)
    records, _, _ = _read(out)
    assert sorted(records) == ["L1", "L2", "L3"]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("sheet1.xml"):
                data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', data)
            dst.writestr(info.filename, data)
    records, _, _ = _read(out)
    assert sorted(records) == ["L1", "L2", "L3"]


def test_row_limit(app, tmp_path):
    rows = [["Reference", "Title"]] + [[f"P{i}", "t"] for i in range(20)]
    path = tmp_path / "many.csv"
    path.write_bytes(csv_bytes(rows))
    _, problems, _ = _read(path, {"max_rows": 10})
    assert [p.code for p in _errors(problems)] == ["too_many_rows"]


def test_the_blank_template_filled_in_imports_without_naming_the_sheet(app, tmp_path):
    """The Instructions and Lists sheets are skipped with a warning, the Projects sheet read."""
    import openpyxl

    from importers.template import TEMPLATE_COLUMNS, template_workbook

    path = tmp_path / "template.xlsx"
    path.write_bytes(template_workbook(rows=20))
    book = openpyxl.load_workbook(path)
    sheet = book["Projects"]
    headers = [name for name, *_ in TEMPLATE_COLUMNS]
    values = {
        "Project reference": "T-001",
        "Project title": "Template project",
        "Status": "active",
        "Recipient country": "KEN",
        "Priority area": "23b",
        "Transaction type": "commitment",
        "Amount": "1500",
        "Currency": "USD",
        "Value date": "2021-06-01",
    }
    header_row = next(r for r in range(1, 6) if sheet.cell(r, 1).value == headers[0])
    for col, name in enumerate(headers, 1):
        if name in values:
            sheet.cell(header_row + 1, col, values[name])
    book.save(path)

    records, problems, info = _read(path)
    assert not _errors(problems), [p.message for p in _errors(problems)]
    assert list(records) == ["T-001"]
    assert records["T-001"].transactions[0].amount == 1500
    assert info["sheets"] == ["Projects"]
    skipped = {p.location.sheet for p in problems if p.code == "sheet_skipped"}
    assert skipped == {"Instructions", "Lists"}


def test_a_workbook_without_any_project_table_is_an_error(app, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Notes", "About"])
    book.active.append(["x", "y"])
    book.create_sheet("More").append(["Nothing", "here"])
    path = tmp_path / "empty.xlsx"
    book.save(path)
    _records, problems, _ = _read(path)
    assert any(p.code in ("no_data_sheet", "missing_column") for p in _errors(problems))


def test_the_preview_says_what_each_row_was_read_as(app, tmp_path):
    rows = [
        ["Référence", "Titre", "Pays", "Type", "Montant (EUR)", "Date"],
        ["F-1", "Réseau", "Sénégal", "engagement", "125 000,50", "03/02/2024"],
        ["F-1", "Réseau", "Sénégal", "décaissement", "1 000", "15/02/2024"],
        ["TOTAL", "", "", "", "126 000,50", ""],
    ]
    path = tmp_path / "fr.csv"
    path.write_bytes(csv_bytes(rows, delimiter=";"))
    _, problems, info = _read(path)
    assert not _errors(problems)
    [preview] = info["preview"].values()
    read = {r["row"]: r["read"] for r in preview["rows"]}
    assert read[2] == "commitment 125,000.50 EUR on 2024-02-03"
    assert read[3] == "disbursement 1,000.00 EUR on 2024-02-15"
    assert read[4] == ""  # the total row gave nothing


def test_the_preview_reads_each_sheet_of_a_workbook(app, tmp_path):
    """A project met on an earlier sheet still gets its later sheet's rows read in the preview."""
    head = ["Reference", "Title", "Country", "Type", "Amount", "Currency", "Date"]
    path = xlsx(
        [head, ["P", "Portal", "KEN", "commitment", "100", "USD", "2023-05-01"]],
        tmp_path / "years.xlsx",
        title="2023",
        extra_sheets={"2024": [head, ["P", "Portal", "KEN", "disbursement", "200", "USD", "2024-05-01"]]},
    )
    _, problems, info = _read(path)
    assert not _errors(problems)
    assert info["preview"]["2023"]["rows"][0]["read"] == "commitment 100.00 USD on 2023-05-01"
    assert info["preview"]["2024"]["rows"][0]["read"] == "disbursement 200.00 USD on 2024-05-01"


@pytest.mark.parametrize(
    "header, field, unit, currency",
    [
        ("Montant (en milliers d'euros)", "amount", 1000, "EUR"),
        ("Amount (thousands of euros)", "amount", 1000, "EUR"),
        ("Montant (millions d'euros)", "amount", 1_000_000, "EUR"),
        ("Montant (millions FCFA)", "amount", 1_000_000, None),
        ("Montant (Mds EUR)", "amount", 1_000_000_000, "EUR"),
        ("Montant (en KEUR)", "amount", 1000, "EUR"),
        ("Monto (mil millones de euros)", "amount", 1_000_000_000, "EUR"),
        ("Amount ('000 USD)", "amount", 1000, "USD"),
        ("Coût total (EUR milliers)", "need_amount", 1000, "EUR"),
        ("Coût total (EUR)", "need_amount", 1, "EUR"),
        ("Total cost (EUR)", "need_amount", 1, "EUR"),
        ("Total cost (USD thousands)", "need_amount", 1000, "USD"),
    ],
)
def test_header_units_and_currencies_in_words(app, header, field, unit, currency):
    col = parse_header(header)
    assert (col.field, col.unit, col.currency) == (field, Decimal(unit), currency)


def test_a_column_mapped_by_hand_keeps_the_unit_its_header_names(app, tmp_path):
    header = ["Référence", "Titre", "Pays", "Type de transaction", "Financement (en milliers d'euros)", "Date"]
    path = tmp_path / "m.csv"
    path.write_bytes(csv_bytes([header, ["K-06", "T", "Mali", "engagement", "1 250", "15/03/2024"]], ";"))
    mapping = {"columns": {"Financement (en milliers d'euros)": "amount"}}
    records, problems, _ = _read(path, {"mapping": mapping})
    assert not _errors(problems), problems
    t = records["K-06"].transactions[0]
    assert (t.amount, t.currency) == (Decimal("1250000"), "EUR")


def test_fcfa_in_a_header_keeps_the_unit_and_asks_xof_or_xaf(app, tmp_path):
    header = ["Référence", "Titre", "Pays", "Type de transaction", "Montant (millions FCFA)", "Date de valeur"]
    path = tmp_path / "f.csv"
    path.write_bytes(csv_bytes([header, ["K-08", "T", "Burkina Faso", "engagement", "125", "15/03/2024"]], ";"))
    _records, problems, _ = _read(path)
    [error] = _errors(problems)
    assert error.code == "ambiguous_currency" and "XOF" in error.message and "XAF" in error.message
    records, problems, _ = _read(path, {"currency": "XOF"})
    assert not _errors(problems), problems
    t = records["K-08"].transactions[0]
    assert (t.amount, t.currency) == (Decimal("125000000"), "XOF")


def test_the_need_columns_unit_counts_in_its_decimal_mark_warning(app, tmp_path):
    header = ["Référence", "Titre", "Pays", "Type de transaction", "Montant (EUR)", "Date", "Besoin (EUR milliers)"]
    path = tmp_path / "need.csv"
    path.write_bytes(csv_bytes([header, ["K-11", "T", "Togo", "engagement", "250", "15/03/2024", "12.500"]], ";"))
    records, problems, _ = _read(path)
    assert not _errors(problems), problems
    assert records["K-11"].need_amount == Decimal("12500000")
    [note] = [p for p in problems if p.code == "decimal_mark_assumed"]
    assert "read as 12,500,000 EUR" in note.message and "means 12,500 EUR" in note.message


def test_the_ambiguous_amount_error_gives_both_readings_in_the_columns_unit(app, tmp_path):
    header = ["Project reference", "Title", "Country", "Transaction type", "Amount (EUR thousands)", "Date"]
    path = tmp_path / "amb.csv"
    path.write_bytes(csv_bytes([header, ["K-12", "T", "Togo", "commitment", "12.500", "2024-03-15"]]))
    _records, problems, _ = _read(path)
    [error] = _errors(problems)
    assert error.code == "ambiguous_amount"
    assert "12,500,000 EUR if the point separates thousands, or 12,500 EUR if it is the decimal mark" in error.message


def test_a_currency_without_decimals_settles_an_amount_that_reads_both_ways(app, tmp_path):
    header = ["Référence", "Titre", "Pays", "Type de transaction", "Montant", "Devise", "Date de valeur"]
    rows = [header, ["X-01", "T", "Côte d'Ivoire", "engagement", "1,250", "XOF", "15/03/2024"]]
    for delimiter in (";", ","):
        path = tmp_path / "xof.csv"
        path.write_bytes(csv_bytes(rows, delimiter))
        records, problems, _ = _read(path)
        assert not _errors(problems), problems
        assert records["X-01"].transactions[0].amount == Decimal("1250")
        [note] = [p for p in problems if p.code == "decimal_mark_by_currency"]
        assert note.value == "1,250" and "XOF amounts have no decimals" in note.message


def test_an_amount_with_more_decimals_than_its_currency_is_quoted_as_written(app, tmp_path):
    header = ["Référence", "Titre", "Pays", "Type de transaction", "Montant", "Devise", "Date de valeur"]
    rows = [header, ["X-02", "T", "Côte d'Ivoire", "engagement", "1 250,5", "XOF", "15/03/2024"]]
    path = tmp_path / "xof.csv"
    path.write_bytes(csv_bytes(rows, ";"))
    _records, problems, _ = _read(path)
    [error] = _errors(problems)
    assert error.message.startswith("'1 250,5' is read as 1250.5 XOF, but XOF amounts have no decimals")


def test_currency_spellings_euros_fcfa_and_the_old_dobra(app, tmp_path):
    header = ["Référence", "Titre", "Pays", "Type de transaction", "Montant", "Devise", "Date de valeur"]
    rows = [
        header,
        ["E-1", "T", "Mali", "engagement", "100", "EURO", "15/03/2024"],
        ["E-2", "T", "Mali", "engagement", "200", "euros", "15/03/2024"],
        ["C-1", "T", "Niger", "engagement", "50 000 000", "FCFA", "15/03/2024"],
        ["C-2", "T", "Niger", "engagement", "12 500 000 F CFA", "", "15/03/2024"],
        ["S-1", "T", "Sao Tome and Principe", "engagement", "24500", "STD", "15/03/2016"],
    ]
    path = tmp_path / "cur.csv"
    path.write_bytes(csv_bytes(rows, ";"))
    records, problems, _ = _read(path)
    assert [(t.amount, t.currency) for r in ("E-1", "E-2") for t in records[r].transactions] == [
        (Decimal("100"), "EUR"),
        (Decimal("200"), "EUR"),
    ]
    errors = {p.location.row: p for p in _errors(problems)}
    assert sorted(errors) == [4, 5, 6]
    for row in (4, 5):
        assert errors[row].code == "ambiguous_currency" and "XOF (West Africa, BCEAO) or XAF" in errors[row].message
    assert "Write STN" in errors[6].message


def test_zero_padded_formats_with_spaces_locales_and_text_show_as_excel_shows_them(app, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Reference", "Title", "Country", "Amount", "Currency", "Date"])
    formats = ["00000_)", "[$-409]00000", '"NCA-"00000', "00000_);(00000)", "@", "0"]
    for i, fmt in enumerate(formats):
        ws.append([120 + i, f"Format {fmt}", "GHA", 1000, "USD", dt.date(2024, 7, 1)])
        ws.cell(row=ws.max_row, column=1).number_format = fmt
    wb.save(tmp_path / "formats.xlsx")
    records, problems, _ = _read(tmp_path / "formats.xlsx")
    assert not _errors(problems), problems
    assert sorted(records) == ["00120", "00121", "00123", "124", "125", "NCA-00122"]


def test_ods_numbers_shown_with_leading_zeros_keep_them(app, tmp_path):
    """An ODS number cell shown as 00131 (its style's minimum of five integer digits) is 00131:
    the file stores the text it shows next to the number."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
        'xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )

    def cell(text, number=None, style=None, repeat=None):
        attrs = f' office:value-type="float" office:value="{number}"' if number is not None else ""
        attrs += f' table:style-name="{style}"' if style else ""
        attrs += f' table:number-columns-repeated="{repeat}"' if repeat else ""
        kind = "" if number is not None else ' office:value-type="string"'
        return f"<table:table-cell{kind}{attrs}><text:p>{text}</text:p></table:table-cell>"

    def row(*cells, repeat=None):
        attrs = f' table:number-rows-repeated="{repeat}"' if repeat else ""
        return f"<table:table-row{attrs}>{''.join(cells)}</table:table-row>"

    rows = [
        row(*(cell(h) for h in ("Reference", "Title", "Country", "Amount", "Currency", "Date"))),
        row(
            cell("00131", 131, "ce1"), cell("Padded"), cell("GHA"), cell("1000", 1000), cell("USD"), cell("2024-07-01")
        ),
        row(cell("", repeat=6), repeat=2),  # two blank rows
        row(cell("P-9"), cell("GHA", repeat=2), cell("0042", 42, "ce1"), cell("USD"), cell("2024-07-01")),
        row(cell("00132", 132), cell("Plain"), cell("GHA"), cell("1000", 1000), cell("USD"), cell("2024-07-01")),
    ]
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
        '<office:automatic-styles><number:number-style style:name="N5"><number:number '
        'number:decimal-places="0" number:min-integer-digits="5"/></number:number-style>'
        '<style:style style:name="ce1" style:family="table-cell" style:data-style-name="N5"/>'
        "</office:automatic-styles><office:body><office:spreadsheet>"
        f'<table:table table:name="Refs">{"".join(rows)}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    path = tmp_path / "refs.ods"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    assert xlsx_formats.ods_padded_cells(path, ["Refs"]) == {"Refs": {1: [(0, 5)], 4: [(3, 4)]}}
    records, problems, _ = _read(path)
    assert not _errors(problems), problems
    assert sorted(records) == ["00131", "132", "P-9"]
