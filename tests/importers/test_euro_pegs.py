"""Amounts in currencies fixed to the euro (CFA francs, ...) through every importer."""

# ruff: noqa: E501  (inline XML fixtures read best on one line each)

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from importers import pipeline
from importers.interop import import_crs, import_iati
from registry import money
from registry.extensions import db
from registry.models import Project, Transaction
from registry.models.types import Role
from registry.services.actor import Actor
from tests.importers.helpers import csv_bytes, xlsx
from tests.importers.iati_xml import activity, document
from tests.importers.test_crs import HEADER as CRS_HEADER
from tests.importers.test_crs import ROWS as CRS_ROWS
from tests.importers.test_crs import pipe_text

ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
HEADER = ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"]


def _usd_of(amount: str, currency: str, day: dt.date) -> Decimal:
    return money.convert(Decimal(amount), currency, "USD", day).amount


def _transactions(batch) -> list[Transaction]:
    return db.session.scalars(select(Transaction).where(Transaction.import_batch_id == batch.id)).all()


def test_a_csv_in_cfa_francs_imports_with_dollar_values(app, actor, make_org):
    org = make_org(ref="DON-XOF")
    rows = [
        HEADER,
        ["SN-1", "Senegal school connectivity", "Senegal", "commitment", "250000000", "XOF", "2023-03-15"],
        ["CM-1", "Cameroon backbone", "Cameroon", "disbursement", "1 000 000", "XAF", "2023-03-18"],  # a Saturday
        ["KM-1", "Comoros e-health", "Comoros", "commitment", "4919677", "KMF", "2022-01-03"],
    ]
    batch = pipeline.run_import("sheet", "senegal.csv", csv_bytes(rows), org, actor)
    assert batch.status == "committed", batch.problems
    got = {(t.currency, t.amount, t.usd_minor, t.usd_rate_date) for t in _transactions(batch)}
    expected = set()
    for _ref, _title, _country, _type, amount, currency, day in rows[1:]:
        on = dt.date.fromisoformat(day)
        usd = money.to_minor(_usd_of(amount.replace(" ", ""), currency, on), "USD")
        # the rate date is the ECB day of the dollar rate: the Friday for a Saturday
        rate_day = on - dt.timedelta(days=1) if on.weekday() == 5 else on
        expected.add((currency, Decimal(amount.replace(" ", "")), usd, rate_day))
    assert got == expected


def test_a_workbook_without_currency_column_takes_the_cfa_franc_option(app, actor, make_org, tmp_path):
    org = make_org(ref="DON-XOF2")
    path = xlsx(
        [
            ["Project reference", "Title", "Country", "Commitment", "Value date"],
            ["ML-1", "Mali radio", "Mali", 65595700, "2021-06-01"],
        ],
        tmp_path / "mali.xlsx",
    )
    batch = pipeline.run_import("sheet", path.name, path, org, actor, options={"currency": "XOF"})
    assert batch.status == "committed", batch.problems
    (tx,) = _transactions(batch)
    assert (tx.currency, tx.amount) == ("XOF", Decimal("65595700"))
    assert tx.usd_minor == money.to_minor(_usd_of("65595700", "XOF", dt.date(2021, 6, 1)), "USD")


def test_decimals_in_a_cfa_franc_amount_are_refused_like_yen(app, actor, make_org):
    org = make_org(ref="DON-XOF3")
    rows = [HEADER, ["SN-2", "Senegal", "Senegal", "commitment", "1000.50", "XOF", "2023-03-15"]]
    batch = pipeline.run_import("sheet", "bad.csv", csv_bytes(rows), org, actor)
    assert batch.status == "failed"
    assert any("XOF allows (0)" in p["message"] for p in batch.problems), batch.problems


def test_iati_activity_in_cfa_francs(app, tmp_path):
    tx = (
        '<transaction><transaction-type code="2"/><transaction-date iso-date="2020-02-03"/>'
        '<value value-date="2020-02-03">131191400</value></transaction>'
    )
    xml = document(
        activity(currency="XOF", recipients='<recipient-country code="SN" percentage="100"/>', transactions=tx)
    )
    path = tmp_path / "sn.xml"
    path.write_bytes(xml)
    result = import_iati(path, ADMIN)
    assert result.ok, [b.problems for b in result.batches]
    project = db.session.scalar(select(Project).where(Project.iati_identifier == "XM-TEST-1-P1"))
    (t,) = project.transactions
    assert (t.currency, t.amount) == ("XOF", Decimal("131191400"))
    assert t.usd_minor == money.to_minor(_usd_of("131191400", "XOF", dt.date(2020, 2, 3)), "USD")


def test_crs_national_amounts_in_cfa_francs(app, tmp_path):
    header = CRS_HEADER + ["CurrencyCode", "Commitment_National", "Disbursement_National"]
    row = list(CRS_ROWS[3])
    row[5] = "269"  # Senegal
    path = tmp_path / "crs.txt"
    path.write_text(pipe_text(header, [row + ["XOF", "1311.914", "655.957"]]), "utf-8")
    result = import_crs(path, ADMIN)
    assert result.ok, [b.problems for b in result.batches]
    got = sorted((t.type.value, t.currency, t.amount) for b in result.batches for t in _transactions(b))
    assert got == [("commitment", "XOF", Decimal("1311914000")), ("disbursement", "XOF", Decimal("655957000"))]
