"""A sheet's "Planned <year>" columns (and the French and Spanish "Prévu" / "Previsto"): planned
disbursements for that calendar year in the row's currency, a forward plan of the row's project
(never a flow); a re-import replaces the years it states, never adds to them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from importers import pipeline
from registry.extensions import db
from registry.models import PlannedDisbursement, Project, Transaction
from registry.services import plans as plan_service
from tests.importers.helpers import csv_bytes, xlsx


def _plans(org) -> list[tuple]:
    db.session.expire_all()
    rows = db.session.execute(
        select(
            Project.reference,
            PlannedDisbursement.period_start,
            PlannedDisbursement.period_end,
            PlannedDisbursement.amount_minor,
            PlannedDisbursement.currency,
        )
        .join(Project, Project.id == PlannedDisbursement.project_id)
        .where(Project.org_id == org.id)
        .order_by(Project.reference, PlannedDisbursement.period_start, PlannedDisbursement.currency)
    )
    return [(ref, start, end, Decimal(minor) / 100, cur) for ref, start, end, minor, cur in rows]


HEADER = ["Project reference", "Project title", "Country", "Transaction type", "Amount", "Currency", "Value date"]


def test_planned_year_columns_become_planned_disbursements_in_the_rows_currency(app, actor, make_org):
    org = make_org(ref="SHEET-PLAN")
    rows = [
        [*HEADER, "Planned 2027", "Planned 2028 (thousands)"],
        ["SP-1", "Backbone", "Kenya", "commitment", "5000", "EUR", "2024-02-01", "1200.50", "3"],
        # A second row (another country) of the same project: its cells add to the year's plan.
        ["SP-1", "Backbone", "Uganda", "disbursement", "100", "EUR", "2024-03-01", "800", ""],
        ["SP-2", "Schools", "Kenya", "commitment", "700", "USD", "2024-02-01", "", "0"],
    ]
    batch = pipeline.run_import("sheet", "plans.csv", csv_bytes(rows), org, actor)
    assert batch.status == "committed", batch.problems
    assert _plans(org) == [
        ("SP-1", dt.date(2027, 1, 1), dt.date(2027, 12, 31), Decimal("2000.50"), "EUR"),  # 1,200.50 + 800
        ("SP-1", dt.date(2028, 1, 1), dt.date(2028, 12, 31), Decimal("3000.00"), "EUR"),  # 3 thousand
    ]
    # Plans are not flows: the three rows gave three flows and no more.
    assert db.session.scalar(select(func.count()).select_from(Transaction)) == 3

    # The same file again changes nothing; a corrected amount replaces its year's plan, and a
    # 0 clears a year, while a year the file does not state keeps its plan.
    project = db.session.scalar(select(Project).where(Project.reference == "SP-1"))
    plan_service.set_year_plan(actor, project, {2031: "42"}, "EUR")
    db.session.commit()
    again = pipeline.run_import("sheet", "plans.csv", csv_bytes(rows), org, actor)
    assert again.status == "committed" and again.counts.get("plans_replaced", 0) == 0, again.counts
    changed = [r[:] for r in rows]
    changed[2][7] = "900"  # 2027: 1,200.50 + 900
    changed[1][8] = "0"  # 2028: nothing planned any more
    third = pipeline.run_import("sheet", "plans.csv", csv_bytes(changed), org, actor)
    assert third.status == "committed", third.problems
    assert third.counts.get("plans_replaced") == 1, (third.counts, _plans(org))
    assert _plans(org) == [
        ("SP-1", dt.date(2027, 1, 1), dt.date(2027, 12, 31), Decimal("2100.50"), "EUR"),
        ("SP-1", dt.date(2031, 1, 1), dt.date(2031, 12, 31), Decimal("42.00"), "EUR"),  # not in the file: kept
    ]


def test_french_and_spanish_headers_and_a_currency_in_the_header(app, actor, make_org, tmp_path):
    org = make_org(ref="SHEET-PLAN-FR")
    path = xlsx(
        [
            ["Référence", "Titre", "Pays", "Montant engagé", "Devise", "Date de valeur", "Prévu 2027", "Previsto 2028"],
            ["FR-1", "Réseau", "Sénégal", 1000, "XOF", "2024-02-01", 2500000, 1250000],
        ],
        tmp_path / "prevu.xlsx",
    )
    batch = pipeline.run_import("sheet", path.name, path, org, actor)
    assert batch.status == "committed", batch.problems
    got = [(ref, start.year, amount, cur) for ref, start, _end, amount, cur in _plans(org)]
    # XOF has no minor unit: the amounts are whole francs (the test reads minor units / 100).
    assert [(ref, year, amount * 100, cur) for ref, year, amount, cur in got] == [
        ("FR-1", 2027, Decimal(2500000), "XOF"),
        ("FR-1", 2028, Decimal(1250000), "XOF"),
    ]
    usd = make_org(ref="SHEET-PLAN-USD")
    rows = [
        ["Project reference", "Project title", "Country", "Planned disbursements 2027 (USD)"],
        ["U-1", "X", "Kenya", "10"],
    ]
    batch = pipeline.run_import("sheet", "usd.csv", csv_bytes(rows), usd, actor)
    assert batch.status == "committed", batch.problems
    assert _plans(usd) == [("U-1", dt.date(2027, 1, 1), dt.date(2027, 12, 31), Decimal("10.00"), "USD")]


def test_a_bad_planned_amount_is_reported_with_its_row_and_column(app, actor, make_org):
    org = make_org(ref="SHEET-PLAN-BAD")
    rows = [
        [*HEADER, "Planned 2027"],
        ["B-1", "Backbone", "Kenya", "commitment", "5000", "EUR", "2024-02-01", "-10"],
        ["B-2", "Backbone", "Kenya", "commitment", "5000", "EUR", "2024-02-01", "lots"],
    ]
    batch = pipeline.run_import("sheet", "bad.csv", csv_bytes(rows), org, actor)
    assert batch.status == "failed"
    found = {(p["code"], p.get("row"), p.get("column")) for p in batch.problems}
    assert ("negative_plan", 2, "Planned 2027") in found, batch.problems
    assert any(code == "invalid_amount" and row == 3 for code, row, _col in found), batch.problems
    assert _plans(org) == []
