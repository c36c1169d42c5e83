"""The finder's evidence and the flows report count the same money the same way."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from registry import money
from registry.services.matching import build_need, find_funding
from reports.flows import flows_report


@pytest.fixture
def history(make_org, make_source, make_project, make_transaction):
    donor = make_org(ref="EVID", name="Evidence donor")
    source = make_source(managing_org_id=donor.id, instruments=["grant"], name="Evidence fund")
    other = make_source(name="Someone else's fund")
    shared = make_project(
        org=donor,
        recipients=[{"country": "NPL", "share": Decimal(60)}, {"country": "IND", "share": Decimal(40)}],
        areas=[{"code": "23b", "share": Decimal(70)}, {"code": "23a", "share": Decimal(30)}],
    )
    make_transaction(
        shared, amount=Decimal("1000.00"), currency="USD", value_date=dt.date(2020, 3, 2), funding_source_id=source.id
    )
    nepal = make_project(org=donor, recipients=[{"country": "NPL"}], areas=[{"code": "23b"}])
    make_transaction(
        nepal, amount=Decimal("333.33"), currency="EUR", value_date=dt.date(2019, 5, 6), funding_source_id=source.id
    )
    make_transaction(
        nepal,
        amount=Decimal("50.00"),
        currency="USD",
        value_date=dt.date(2019, 5, 6),
        type="disbursement",
        funding_source_id=source.id,
    )
    bangladesh = make_project(recipients=[{"country": "BGD"}], areas=[{"code": "23b"}])
    make_transaction(
        bangladesh, amount=Decimal("777.77"), currency="USD", value_date=dt.date(2021, 1, 4), funding_source_id=other.id
    )
    return source


def _report_value(source_id: int, **filters) -> Decimal:
    report = flows_report(by="funding_source", measures="commitment", year_from=2015, year_to=2025, **filters)
    body = report.as_json()
    rows = [r for r in body["rows"] if r["funding_source"] == source_id]
    assert len(rows) == 1, body["rows"]
    return Decimal(rows[0]["commitment"])


def test_evidence_numbers_agree_with_the_flows_report(app, history):
    need = build_need("NPL", "23b", "grant", "100000", "USD", dt.date(2025, 6, 30))
    result = find_funding(need)
    match = next(m for m in [*result.matches, *result.failing] if m.source.id == history.id)
    evidence = match.evidence
    assert evidence is not None
    in_country = _report_value(history.id, country="NPL")
    in_area = _report_value(history.id, priority_area="23b")
    in_region = _report_value(history.id, region=evidence.region_code)
    assert in_country > 0 and in_area > 0
    assert abs(evidence.source["country"].usd - in_country) <= Decimal("0.01")
    assert abs(evidence.source["area"].usd - in_area) <= Decimal("0.01")
    assert abs(evidence.source["region"].usd - in_region) <= Decimal("0.01")
    assert evidence.source["country"].projects == 2
    # 1000 USD x 60 % + 333.33 EUR at the 2019-05-06 rate; Bangladesh and disbursements not counted.
    euro = money.convert(Decimal("333.33"), "EUR", "USD", dt.date(2019, 5, 6)).amount
    assert in_country == Decimal("600.00") + euro


def test_the_overview_page_shows_the_reports_figures_by_area_to_the_cent(
    client, make_project, make_transaction, make_org
):
    """The home page's commitments by area equal the report by priority area, cent for cent,
    thirds and unallocated projects included, and its rows add up to all commitments."""
    from registry.services.dashboard import headline

    donor = make_org(ref="THIRDS")
    thirds = make_project(
        org=donor,
        areas=[
            {"code": "23a", "share": Decimal("33.3333")},
            {"code": "23b", "share": Decimal("33.3333")},
            {"code": "23c", "share": Decimal("33.3334")},
        ],
    )
    for amount in ("100.00", "0.05", "1234.57"):
        make_transaction(thirds, amount=Decimal(amount), currency="USD")
    make_transaction(thirds, amount=Decimal("999.99"), currency="EUR", value_date=dt.date(2021, 6, 1))
    odd = make_project(org=donor, areas=[{"code": "23b", "share": Decimal("99.99")}])  # normalised
    make_transaction(odd, amount=Decimal("10.01"), currency="USD")
    no_area = make_project(org=donor, areas=[])
    make_transaction(no_area, amount=Decimal("7.77"), currency="USD")

    home = {code or "Unallocated": amount for code, _name, amount in headline().areas}
    report = flows_report(by="priority_area", measures="commitment")
    expected = {
        row["priority_area_label"].split(" ")[0] if row["priority_area"] else "Unallocated": row["commitment"]
        for row in report.rows
    }
    for key, amount in expected.items():
        assert home.get(key, Decimal(0)) == amount, key
    assert sum(home.values()) == report.total["commitment"]
    assert home["Unallocated"] == Decimal("7.77")
    assert "Unallocated" in client.get("/").get_data(as_text=True)
