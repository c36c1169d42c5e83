"""WSIS action lines (C1-C11) in the reports: a dimension whose rows overlap, and a filter."""

from __future__ import annotations

from decimal import Decimal

import pytest

from registry import errors
from reports.flows import NOT_RECORDED, flows_report


@pytest.fixture
def tagged(make_project, make_transaction):
    both = make_project(wsis_action_lines=["C2", "C5"], need={"amount": Decimal("400.00"), "currency": "USD"})
    make_transaction(both, amount=Decimal("100.00"))
    one = make_project(wsis_action_lines=["C10"])
    make_transaction(one, amount=Decimal("30.00"))
    none = make_project()
    make_transaction(none, amount=Decimal("7.00"))
    return both, one, none


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_a_project_counts_in_full_under_each_of_its_action_lines(tagged, currency):
    report = flows_report(by="action_line", currency=currency)
    rows = {row["action_line"]: row for row in report.rows}
    assert list(rows) == ["C2", "C5", "C10", NOT_RECORDED]  # C2 before C10, the untagged last
    assert rows["C2"]["commitment"] == rows["C5"]["commitment"]
    assert rows["C2"]["projects"] == rows["C5"]["projects"] == 1
    assert report.total["projects"] == 3
    # the rows overlap: the total counts each project once and the notes say so
    assert sum(row["commitment"] for row in report.rows) > report.total["commitment"]
    assert sum(row["commitment"] for row in report.rows) - rows["C5"]["commitment"] == report.total["commitment"]
    assert any("action lines carry no shares" in note for note in report.notes)


def test_rows_are_labelled_with_the_action_line(tagged):
    rows = {row["action_line"]: row["action_line_label"] for row in flows_report(by="action_line").rows}
    assert rows["C5"] == "C5 Building confidence and security in the use of ICTs"


def test_the_filter_keeps_the_projects_tagged_with_any_of_the_lines(tagged):
    only = flows_report(by="region", action_line="c5")
    assert only.total["commitment"] == Decimal("100.00")
    assert only.total["need"] == Decimal("400.00")
    assert only.spec.filters()["action_lines"] == ["C5"]
    assert flows_report(by="region", action_line=["C5", "C10"]).total["commitment"] == Decimal("130.00")
    assert flows_report(by="region", action_line="C10", currency="EUR").total["projects"] == 1


def test_an_unknown_action_line_is_refused(tagged):
    with pytest.raises(errors.ValidationError):
        flows_report(action_line="C12")


@pytest.mark.parametrize("currency", ["USD", "EUR"])
def test_cross_tab_by_action_line_adds_up_within_each_line(tagged, currency):
    report = flows_report(by=["action_line", "region"], currency=currency)
    per_line: dict = {}
    for row in report.rows:
        per_line[row["action_line"]] = per_line.get(row["action_line"], 0) + row["commitment"]
    alone = {row["action_line"]: row["commitment"] for row in flows_report(by="action_line", currency=currency).rows}
    assert per_line == alone


def test_the_api_takes_the_dimension_and_the_filter(client, tagged):
    body = client.get("/api/v1/reports/flows?by=action_line&action_line=C2,C10").get_json()
    assert {row["action_line"] for row in body["rows"]} == {"C2", "C5", "C10"}
    assert client.get("/api/v1/reports/flows?action_line=C99").status_code == 422
