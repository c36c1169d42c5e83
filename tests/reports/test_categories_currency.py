"""Recipient categories (overlapping, dated) and the reporting currency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import delete

from registry import money
from registry.extensions import db
from registry.models import CategoryMembership
from reports.flows import NO_CATEGORY, flows_report


def _memberships(iso3: str, *rows: tuple[str, dt.date, dt.date | None]) -> None:
    db.session.execute(delete(CategoryMembership).where(CategoryMembership.country_iso3 == iso3))
    for code, start, end in rows:
        db.session.add(CategoryMembership(country_iso3=iso3, category_code=code, valid_from=start, valid_to=end))
    db.session.flush()


def test_categories_overlap_and_say_so(make_project, make_transaction):
    _memberships("HTI", ("LDC", dt.date(1971, 1, 1), None), ("SIDS", dt.date(1992, 1, 1), None))
    project = make_project(recipients=[{"country": "HTI"}])
    make_transaction(project, amount=Decimal("100.00"))
    report = flows_report(by="category")
    rows = {row["category"]: row["commitment"] for row in report.rows}
    assert rows["LDC"] == rows["SIDS"] == Decimal("100.00")
    assert report.total["commitment"] == Decimal("100.00")  # counted once in the total
    assert any("overlap" in note for note in report.notes)


def test_membership_is_taken_on_the_value_date(make_project, make_transaction):
    # A country that graduates from LDC at the start of 2021
    _memberships("VUT", ("LDC", dt.date(1985, 1, 1), dt.date(2021, 1, 1)), ("SIDS", dt.date(1992, 1, 1), None))
    project = make_project(recipients=[{"country": "VUT"}])
    make_transaction(project, amount=Decimal("10.00"), value_date=dt.date(2020, 12, 31))
    make_transaction(project, amount=Decimal("7.00"), value_date=dt.date(2021, 1, 1))
    rows = {row["category"]: row["commitment"] for row in flows_report(by="category").rows}
    assert rows["LDC"] == Decimal("10.00")
    assert rows["SIDS"] == Decimal("17.00")
    ldc_only = flows_report(by="country", category="LDC")
    assert ldc_only.total["commitment"] == Decimal("10.00")


def test_flows_outside_every_category_have_their_own_row(make_project, make_transaction):
    _memberships("KEN")
    project = make_project(recipients=[{"country": "KEN"}])
    make_transaction(project, amount=Decimal("5.00"))
    rows = {row["category"]: row["commitment"] for row in flows_report(by="category").rows}
    assert rows[NO_CATEGORY] == Decimal("5.00")


def test_report_in_euro_converts_at_each_value_date(make_project, make_transaction):
    project = make_project()
    first, second = dt.date(2015, 3, 2), dt.date(2022, 9, 1)
    make_transaction(project, amount=Decimal("1000.00"), currency="USD", value_date=first)
    make_transaction(project, amount=Decimal("2500.00"), currency="GBP", value_date=second)
    report = flows_report(by="region", currency="EUR")
    expected = (
        money.convert(Decimal("1000.00"), "USD", "EUR", first).amount
        + money.convert(Decimal("2500.00"), "GBP", "EUR", second).amount
    )
    assert report.total["commitment"] == expected
    assert report.spec.currency == "EUR"
    assert "EUR" in report.rate_note
    assert report.rate_dates == (first, second)
    # and the same flows in US dollars use the USD values recorded with each flow
    usd = flows_report(by="region").total["commitment"]
    assert usd != expected


def test_yen_reports_have_no_decimals(make_project, make_transaction):
    project = make_project()
    make_transaction(project, amount=Decimal("1000.00"), currency="USD", value_date=dt.date(2019, 5, 2))
    report = flows_report(by="region", currency="JPY")
    assert report.total["commitment"] == report.total["commitment"].to_integral_value()
    assert report.total["commitment"] > 100_000


def test_euro_report_equals_converting_each_day_with_the_money_module(make_project, make_transaction):
    """Each (project, currency, day) sum is converted as registry.money.convert converts it."""
    from registry import money
    from reports.flows import flows_report

    project = make_project(recipients=[{"country": "KEN", "share": Decimal(100)}], areas=[{"code": "23b"}])
    flows = [
        ("12345.67", "USD", dt.date(2021, 3, 1)),
        ("987654.32", "GBP", dt.date(2019, 7, 4)),
        ("0.01", "SEK", dt.date(2020, 2, 2)),
        ("5000000", "JPY", dt.date(2018, 11, 30)),
    ]
    expected = Decimal(0)
    for amount, currency, day in flows:
        make_transaction(project, amount=Decimal(amount), currency=currency, value_date=day)
        expected += money.convert(Decimal(amount), currency, "EUR", day).amount
    report = flows_report(by=["country"], measures="commitment", currency="EUR")
    assert report.total["commitment"] == expected


def test_flows_in_cfa_francs_and_a_report_in_cfa_francs(make_project, make_transaction):
    """Currencies fixed to the euro convert through their parity and that day's ECB euro rate."""
    project = make_project(recipients=[{"country": "SEN", "share": Decimal(100)}])
    flows = [
        ("250000000", "XOF", dt.date(2023, 3, 15)),
        ("1000000", "XAF", dt.date(2023, 3, 18)),
        ("12345.67", "USD", dt.date(2021, 3, 1)),
    ]
    for amount, currency, day in flows:
        make_transaction(project, amount=Decimal(amount), currency=currency, value_date=day)
    in_euro = flows_report(by="country", measures="commitment", currency="EUR")
    assert in_euro.total["commitment"] == sum(
        money.convert(Decimal(amount), currency, "EUR", day).amount for amount, currency, day in flows
    )
    assert any("XAF 655.957 per EUR" in note and "XOF 655.957 per EUR" in note for note in in_euro.notes)
    in_cfa = flows_report(by="country", measures="commitment", currency="XOF")
    assert in_cfa.spec.currency == "XOF"
    assert (
        in_cfa.total["commitment"]
        == Decimal("251000000") + money.convert(Decimal("12345.67"), "USD", "XOF", dt.date(2021, 3, 1)).amount
    )
    assert in_cfa.total["commitment"] == in_cfa.total["commitment"].to_integral_value()
