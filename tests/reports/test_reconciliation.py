"""Reports by country, region and area reconcile to the same total, to the cent."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from reports.flows import GLOBAL, UNALLOCATED_AREA, allocate, flows_report

TOTAL_COMMITMENT = Decimal("1000.01") + Decimal("0.07") + Decimal("250.00") + Decimal("99.99") + Decimal("12345.67")


def _check_rows(report, measure: str) -> None:
    """Rows add up to the displayed total and each row is within a cent of its exact value."""
    shown = sum((row[measure] for row in report.rows), Decimal(0))
    assert shown == report.total[measure]
    for row in report.rows:
        exact_cents = row["_exact"][measure]  # exact value in minor units
        assert abs(Fraction(row[measure]) * 100 - exact_cents) <= 1, row


@pytest.mark.parametrize(
    "by", [["country"], ["region"], ["subregion"], ["priority_area"], ["income_group"], ["region", "priority_area"]]
)
def test_every_breakdown_reconciles_to_the_grand_total(registry_data, by):
    report = flows_report(by=by)
    assert report.total["commitment"] == TOTAL_COMMITMENT
    for measure in ("commitment", "disbursement", "need", "gap", "undisbursed"):
        _check_rows(report, measure)


def test_three_way_split_allocates_the_cents(registry_data):
    report = flows_report(by="country", country=["KEN", "UGA", "BGD"])
    values = {row["country"]: row["commitment"] for row in report.rows}
    # 1000.08 x 1/3 each: 333.36 exactly to the cent for the two 33.3333 % shares, the rest to BGD
    assert sum(values.values()) == report.total["commitment"] == Decimal("1000.08")
    assert set(values) == {"KEN", "UGA", "BGD"}
    assert max(values.values()) - min(values.values()) <= Decimal("0.01")


def test_regional_and_global_rows_are_never_dropped(registry_data):
    by_country = {row["country"]: row for row in flows_report(by="country").rows}
    assert by_country["Regional: Africa"]["commitment"] == Decimal("250.00")
    assert by_country[GLOBAL]["commitment"] == Decimal("99.99")
    by_region = {row["region"]: row for row in flows_report(by="region").rows}
    assert by_region["Regional: Africa"]["commitment"] == Decimal("250.00")
    assert by_region[GLOBAL]["need"] == Decimal("0.00")
    by_area = {row["priority_area"]: row for row in flows_report(by="priority_area").rows}
    assert by_area[UNALLOCATED_AREA]["commitment"] == Decimal("99.99")
    assert by_area["23c"]["commitment"] == Decimal("250.00")


def test_shares_below_one_hundred_percent_are_normalised(registry_data):
    report = flows_report(by="country", country=["NPL", "HTI"])
    values = {row["country"]: row["commitment"] for row in report.rows}
    assert values["NPL"] + values["HTI"] == Decimal("12345.67")
    # 50 / 99.9999 of the amount
    exact = Fraction(1234567, 100) * Fraction(500000, 999999)
    assert abs(Fraction(values["NPL"]) - exact) <= Fraction(1, 100)


def test_filters_restrict_to_the_share_in_the_filter(registry_data):
    africa = flows_report(by="country", region="002")
    countries = {row["country"] for row in africa.rows}
    assert countries == {"KEN", "UGA", "Regional: Africa"}
    area = flows_report(by="region", priority_area="23a")
    assert area.total["commitment"] == Decimal("333.36")  # a third of 1000.08 (share 33.3333 %)


def test_gap_and_coverage(registry_data):
    report = flows_report(by="region", measures=["need", "commitment", "gap", "coverage"])
    total = report.total
    assert total["need"] == Decimal("1000500.00")
    assert total["gap"] == total["need"] - total["commitment"]
    africa = next(r for r in report.rows if r["region"] == "Regional: Africa")
    assert africa["coverage"] == "0.5000"
    assert africa["gap"] == Decimal("250.00")


def test_need_is_not_attributed_to_donors(registry_data):
    report = flows_report(by="donor")
    assert all(row["need"] is None and row["gap"] is None for row in report.rows)
    assert any("per project" in note for note in report.notes)
    labels = {row["donor_label"] for row in report.rows}
    assert "Donor A (DONOR-A)" in labels


def test_year_dimension_and_filter(registry_data):
    report = flows_report(by="year")
    years = {row["year"]: row for row in report.rows}
    assert years[2022]["commitment"] == Decimal("0.07")
    assert years[2021]["disbursement"] == Decimal("333.33")
    assert years[2020]["need"] == Decimal("1000500.00")
    only = flows_report(by="region", year_from=2022, year_to=2022)
    assert only.total["commitment"] == Decimal("0.07")
    assert only.total["need"] == Decimal("0.00")


def test_projects_are_counted_per_row(registry_data):
    report = flows_report(by="country")
    by_country = {row["country"]: row["projects"] for row in report.rows}
    assert by_country["KEN"] == 1
    assert report.total["projects"] == 4


@pytest.mark.parametrize(
    ("values", "total", "expected"),
    [
        ([Fraction(1, 3)] * 3, Fraction(1), [1, 0, 0]),
        ([Fraction(1, 2), Fraction(1, 2)], Fraction(1), [1, 0]),
        ([Fraction(-5, 3), Fraction(8, 3)], Fraction(1), [-2, 3]),
        ([Fraction(100)], Fraction(100), [100]),
    ],
)
def test_largest_remainder_allocation(values, total, expected):
    shown, target = allocate(values, total)
    assert sum(shown) == target == round(total)
    assert shown == expected
    assert all(abs(s - v) < 1 for s, v in zip(shown, values, strict=True))


@pytest.mark.parametrize(
    "by",
    [
        ["region"],
        ["country", "priority_area"],
        ["income_group"],
        ["year", "subregion"],
        ["donor"],
        ["source_kind"],
        ["category"],
        ["category", "priority_area"],
        ["year", "category"],
        ["donor", "category"],
    ],
)
def test_database_and_python_stages_agree(registry_data, make_transaction, by):
    """The SQL fast path and the two-stage path give the same exact values, negative flows included."""
    from reports.flows import build_spec, run_report

    make_transaction(registry_data["three"], type="disbursement", amount=Decimal("-1234567.89"))
    make_transaction(registry_data["uneven"], amount=Decimal("98765432109.87"))
    spec = build_spec(by=by)
    fast = run_report(spec, in_database=True)
    slow = run_report(spec, in_database=False)
    assert [r["_exact"] for r in fast.rows] == [r["_exact"] for r in slow.rows]
    assert fast.total["_exact"] == slow.total["_exact"]
    assert [r["projects"] for r in fast.rows] == [r["projects"] for r in slow.rows]
    assert fast.total["projects"] == slow.total["projects"]
    assert fast.as_json() | {"generated_at": ""} == slow.as_json() | {"generated_at": ""}


@pytest.mark.parametrize(
    "params",
    [
        {"by": ["region"], "category": "LDC"},
        {"by": ["category"], "category": "LDC,SIDS", "priority_area": "23a"},
        {"by": ["priority_area"], "category": "LLDC", "year_from": 2021},
        {"by": ["country"], "category": "LDC", "donor": "DONOR-A"},
    ],
)
def test_category_filters_agree_between_paths(registry_data, params):
    """A category filter keeps the recipients that belonged to one of the categories on the flow's date."""
    from reports.flows import build_spec, run_report

    spec = build_spec(**params)
    fast = run_report(spec, in_database=True)
    slow = run_report(spec, in_database=False)
    assert fast.rows, "the filter keeps some flows"
    assert fast.as_json() | {"generated_at": ""} == slow.as_json() | {"generated_at": ""}
    assert [r["_exact"] for r in fast.rows] == [r["_exact"] for r in slow.rows]


def test_project_rows_agree_between_paths(registry_data):
    import dataclasses

    from reports.flows import build_spec, run_report

    spec = dataclasses.replace(build_spec(by="region"), dimensions=["project"])
    fast = run_report(spec, in_database=True)
    slow = run_report(spec, in_database=False)
    assert [(r["project"], r["_exact"]) for r in fast.rows] == [(r["project"], r["_exact"]) for r in slow.rows]
    assert {r["project_label"] for r in fast.rows} >= {"Three-way project (P-0001)"}


def test_synthetic_registry_reconciles(runner):
    """On random data (uneven shares, regional and global projects, five currencies) every
    breakdown adds up to the sum of the flows' USD values, and both paths agree."""
    from sqlalchemy import func, select

    from registry.extensions import db
    from registry.models import Transaction
    from reports.flows import build_spec, run_report

    result = runner.invoke(args=["seed", "synthetic", "--projects", "40", "--transactions", "800"])
    assert result.exit_code == 0, result.output
    assert "800 transactions" in result.output
    stored = db.session.scalar(select(func.sum(Transaction.usd_minor)).where(Transaction.type == "commitment"))
    expected = Decimal(stored) / 100
    for by in (["country"], ["region", "priority_area"], ["subregion"], ["year"]):
        report = flows_report(by=by)
        assert report.total["commitment"] == expected, by
        _check_rows(report, "commitment")
    for by in (["region", "priority_area"], ["category"], ["year", "category"]):
        spec = build_spec(by=by)
        fast, slow = run_report(spec, in_database=True), run_report(spec, in_database=False)
        assert [r["_exact"] for r in fast.rows] == [r["_exact"] for r in slow.rows], by
        assert fast.total["_exact"] == slow.total["_exact"], by
        assert [r["projects"] for r in fast.rows] == [r["projects"] for r in slow.rows], by
    again = runner.invoke(args=["seed", "synthetic", "--projects", "5", "--transactions", "5"])
    assert again.exit_code == 1 and "already loaded" in again.output


def test_a_negative_gap_is_explained_and_not_floored(make_project, make_transaction):
    """Commitments beyond a stated need (or without one) make a negative gap, said in the notes."""
    from reports.flows import NEGATIVE_GAP

    funded = make_project(need={"amount": "1000.00", "currency": "USD"}, areas=[{"code": "23b"}])
    make_transaction(funded, amount=Decimal("400.00"))
    report = flows_report(by="priority_area")
    assert report.total["gap"] == Decimal("600.00") and NEGATIVE_GAP not in report.notes

    no_need = make_project(need=None, areas=[])
    make_transaction(no_need, amount=Decimal("250.00"))
    report = flows_report(by="priority_area")
    gaps = {row["priority_area"]: row["gap"] for row in report.rows}
    assert gaps[UNALLOCATED_AREA] == Decimal("-250.00")
    assert sum(gaps.values()) == report.total["gap"] == Decimal("350.00")
    assert NEGATIVE_GAP in report.notes
