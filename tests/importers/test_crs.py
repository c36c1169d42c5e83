"""OECD CRS microdata: column spellings, units, encodings, filters, grouping, import."""

# ruff: noqa: E501  (inline XML and CSV fixtures read best on one line each)

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from importers.crs import CrsFileError, parse_purposes, parse_years, read_crs
from importers.interop import import_crs
from registry.extensions import db
from registry.models import Organisation, Project, Transaction
from registry.models.types import Role
from registry.services.actor import Actor

ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
HEADER = [
    "Year",
    "DonorCode",
    "DonorName",
    "CrsID",
    "ProjectNumber",
    "RecipientCode",
    "PurposeCode",
    "FlowCode",
    "Finance_t",
    "Aid_t",
    "ProjectTitle",
    "LongDescription",
    "USD_Commitment",
    "USD_Disbursement",
]
ROWS = [
    # year, donor, name, crsid, projnum, recipient, purpose, flow, finance, aid, title, desc, usd_c, usd_d
    ["2020", "12", "United Kingdom", "2020000001", "UK-1", "248", "22020", "11", "110", "C01", "Rural connectivity", "Last mile access", "1.5", "0.25"],
    ["2020", "12", "United Kingdom", "2020000001", "UK-1", "285", "22020", "11", "110", "C01", "Rural connectivity", "Last mile access", "0.5", ""],
    ["2021", "12", "United Kingdom", "2020000001", "UK-1", "248", "22020", "11", "110", "C01", "Rural connectivity", "Last mile access", "", "0.000001"],
    ["2021", "5", "Germany", "2021000009", "DE-9", "289", "22011", "13", "421", "C01", "Telecom regulator support", "", "2", "1"],
    ["2022", "5", "Germany", "", "DE-10", "998", "11330", "11", "110", "C01", "ICT vocational training", "", "0.1", "0.1"],
    ["2018", "5", "Germany", "2018000001", "DE-1", "248", "12191", "11", "110", "C01", "Old health project", "", "3", "3"],
]  # fmt: skip


def pipe_text(header=HEADER, rows=ROWS) -> str:
    return "\n".join("|".join(r) for r in [header, *rows]) + "\n"


def records_of(data: bytes, name: str = "crs.txt", **options):
    reader = read_crs(io.BytesIO(data), filename=name, **options)
    return list(reader), reader


def by_ref(records):
    return {r.reference: r for r in records}


def test_rows_group_into_projects_by_donor_and_crs_id_with_amounts_in_millions():
    records, reader = records_of(pipe_text().encode())
    assert reader.counts["rows"] == 6
    projects = by_ref(records)
    assert set(projects) == {"2020000001", "2021000009", "PN-DE-10", "2018000001"}
    uk = projects["2020000001"]
    assert uk.org == "CRS-DONOR-12" and uk.org_name == "United Kingdom"
    got = sorted((t.type, t.amount, t.currency, t.value_date) for t in uk.transactions)
    assert got == [
        ("commitment", Decimal("500000.00"), "USD", dt.date(2020, 12, 31)),
        ("commitment", Decimal("1500000.00"), "USD", dt.date(2020, 12, 31)),
        ("disbursement", Decimal("1.00"), "USD", dt.date(2021, 12, 31)),
        ("disbursement", Decimal("250000.00"), "USD", dt.date(2020, 12, 31)),
    ]
    # Recipients weighted by commitments: Kenya 1.5 of 2.0, Uganda 0.5.
    assert [(r.country, r.share) for r in uk.recipients] == [("KEN", 75), ("UGA", 25)]
    assert uk.sectors == ["22020"] and all(a.inferred for a in uk.areas)
    assert {t.flow_type for t in uk.transactions} == {"10"}
    de = projects["2021000009"]
    assert [(r.region, r.share) for r in de.recipients] == [("202", 100)]
    assert {t.finance_type for t in de.transactions} == {"421"}
    # Each row's flows keep the row's recipient (248 Kenya, 285 Uganda), whatever the project's others.
    assert sorted((t.recipient_country, t.type, t.amount) for t in uk.transactions) == [
        ("KEN", "commitment", Decimal("1500000.00")),
        ("KEN", "disbursement", Decimal("1.00")),
        ("KEN", "disbursement", Decimal("250000.00")),
        ("UGA", "commitment", Decimal("500000.00")),
    ]
    # An unspecified recipient: the project's money stays unallocated.
    assert [(r.country, r.region, r.share) for r in projects["PN-DE-10"].recipients] == [(None, None, 100)]
    assert all(t.recipient_country is None and t.recipient_region is None for t in projects["PN-DE-10"].transactions)
    assert "unspecified_recipient" in {p.code for p in reader.problems}


@pytest.mark.parametrize(
    "renames",
    [
        {"CrsID": "CRSid", "Finance_t": "Finance_T", "USD_Commitment": "usd_commitment"},
        {"CrsID": "crs_id", "DonorCode": "donor_code", "USD_Disbursement": "USD_DISBURSEMENT"},
    ],
)
def test_column_spellings_of_other_years(renames):
    header = [renames.get(h, h) for h in HEADER]
    records, _ = records_of(pipe_text(header).encode())
    expected, _ = records_of(pipe_text().encode())
    assert [(r.reference, len(r.transactions)) for r in records] == [
        (r.reference, len(r.transactions)) for r in expected
    ]
    assert {t.finance_type for r in records for t in r.transactions} == {"110", "421"}


def test_national_currency_columns_are_used_where_present():
    header = HEADER + ["CurrencyCode", "Commitment_National", "Disbursement_National"]
    rows = [ROWS[3] + ["918", "1.8", "0.9"], ROWS[4] + ["", "", ""]]
    records, _ = records_of(pipe_text(header, rows).encode())
    projects = by_ref(records)
    assert sorted((t.type, t.amount, t.currency) for t in projects["2021000009"].transactions) == [
        ("commitment", Decimal("1800000.00"), "EUR"),
        ("disbursement", Decimal("900000.00"), "EUR"),
    ]
    assert {t.currency for t in projects["PN-DE-10"].transactions} == {"USD"}


def test_zipped_utf16_and_utf8_bom_and_csv_read_the_same():
    expected = [(r.reference, len(r.transactions)) for r in records_of(pipe_text().encode())[0]]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("CRS 2020 data.txt", pipe_text().encode("utf-16"))
    assert [(r.reference, len(r.transactions)) for r in records_of(buffer.getvalue(), "CRS.zip")[0]] == expected
    bom = b"\xef\xbb\xbf" + pipe_text().encode()
    assert [(r.reference, len(r.transactions)) for r in records_of(bom)[0]] == expected
    csv_text = "\n".join(",".join(f'"{c}"' for c in r) for r in [HEADER, *ROWS])
    assert [(r.reference, len(r.transactions)) for r in records_of(csv_text.encode(), "crs.csv")[0]] == expected


def test_xlsx_with_numbers_as_cells():
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("CRS")
    sheet.write_row(0, 0, HEADER)
    for i, row in enumerate(ROWS, 1):
        # Codes and amounts as numbers, as Excel keeps them.
        sheet.write_row(
            i,
            0,
            [float(c) if c.replace(".", "").isdigit() and j not in (3, 4) else c for j, c in enumerate(row)],
        )
    book.close()
    records, _ = records_of(buffer.getvalue(), "crs.xlsx")
    projects = by_ref(records)
    assert projects["2020000001"].org == "CRS-DONOR-12"
    assert sorted(t.amount for t in projects["2021000009"].transactions) == [
        Decimal("1000000.00"),
        Decimal("2000000.00"),
    ]


def test_year_and_purpose_filters():
    records, reader = records_of(pipe_text().encode(), years=parse_years("2019-2021"), purposes=parse_purposes("220"))
    assert set(by_ref(records)) == {"2020000001", "2021000009"}
    assert reader.counts["rows_kept"] == 4
    records, _ = records_of(pipe_text().encode(), purposes=parse_purposes("22011,11330"))
    assert set(by_ref(records)) == {"2021000009", "PN-DE-10"}


def test_filter_parsing_rejects_nonsense():
    assert parse_years("2021,2019-2020") == {2019, 2020, 2021}
    for bad in ("2023-2019", "twenty"):
        with pytest.raises(ValueError):
            parse_years(bad)
    with pytest.raises(ValueError):
        parse_purposes("2204")


def test_not_crs_is_refused_and_bad_amounts_are_errors():
    with pytest.raises(CrsFileError, match="not CRS microdata"):
        records_of(b"a|b|c\n1|2|3\n")
    rows = [ROWS[0][:12] + ["lots", ""]]
    _, reader = records_of(pipe_text(rows=rows).encode())
    assert [p.code for p in reader.problems if p.severity == "error"] == ["bad_amount"]


def test_unknown_donor_and_recipient_are_reported_once_with_counts():
    rows = [r[:] for r in ROWS[:2]]
    for r in rows:
        r[1], r[5] = "9999", "1234"
    _, reader = records_of(pipe_text(rows=rows).encode())
    messages = {p.code: p.message for p in reader.problems}
    assert "9999" in messages["unknown_donor"] and "(2 rows, first at row 2)" in messages["unknown_donor"]
    assert "1234" in messages["unknown_recipient"]


def test_import_makes_one_batch_per_donor_and_totals_to_the_cent(app, tmp_path):
    path = tmp_path / "crs.txt"
    path.write_text(pipe_text(), "utf-8")
    result = import_crs(path, ADMIN, years={2019, 2020, 2021, 2022})
    assert result.ok and len(result.batches) == 2
    assert {o.ref for o in db.session.scalars(select(Organisation))} >= {
        "CRS-DONOR-12",
        "CRS-DONOR-5",
    }
    total = db.session.scalar(select(func.sum(Transaction.usd_minor)).where(Transaction.type == "commitment"))
    assert total == (150_000_000 + 50_000_000 + 200_000_000 + 10_000_000)
    assert db.session.scalar(select(func.count(Project.id))) == 3
    again = import_crs(path, ADMIN, years={2019, 2020, 2021, 2022})
    assert all(getattr(b, "already_imported", False) for b in again.batches)
    assert db.session.scalar(select(func.count(Transaction.id))) == 8


def test_cli_crs_with_filters_and_dry_run(runner, tmp_path):
    path = tmp_path / "crs.txt"
    path.write_text(pipe_text(), "utf-8")
    result = runner.invoke(args=["import", "crs", str(path), "--years", "2020", "--purpose", "22020", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "previewed" in result.output
    assert db.session.scalar(select(func.count(Project.id))) == 0
    result = runner.invoke(args=["import", "crs", str(path), "--years", "2020-2021", "--purpose", "22020,22011"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(Project.id))) == 2
    result = runner.invoke(args=["import", "crs", str(path), "--years", "1990"])
    assert result.exit_code == 1 and "nothing imported" in result.output
    result = runner.invoke(args=["import", "crs", str(path), "--years", "soon"])
    assert result.exit_code == 2


def test_amount_units_are_exact_for_tiny_and_large_values():
    rows = [ROWS[0][:12] + ["12345.678901", "0.0000049"]]
    records, _ = records_of(pipe_text(rows=rows).encode())
    amounts = sorted(t.amount for t in records[0].transactions)
    assert amounts == [Decimal("4.90"), Decimal("12345678901.00")]


def test_missing_file_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(read_crs(Path(tmp_path / "nope.txt")))
