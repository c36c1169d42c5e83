"""The flows a report's notes count apart (at constant prices; not confirmed) are found through
partial indexes over just those flows, not by reading every flow: on 5,000,000 flows the two
scans were 0.5 s of a 1.4 s report (bench/RESULTS.md). SQLite's plan is checked here; on
PostgreSQL the planner chooses by the table's size, which a test registry does not have."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event

from registry.extensions import db
from reports.flows import run_report
from reports.schemas import build_spec


def _statements_of_a_report() -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        run_report(build_spec(by=["region"], measures=["commitment"]))
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def test_the_notes_find_their_flows_through_partial_indexes(make_project, make_transaction):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite; PostgreSQL's depends on the table's size")
    project = make_project()
    make_transaction(project, amount=Decimal("100"))
    db.session.commit()
    statements = _statements_of_a_report()
    wanted = {
        "ix_transactions_constant_prices": "price_basis = ",
        "ix_transactions_unconfirmed": "confirmed IS 0",
    }
    for index, marker in wanted.items():
        found = [(sql, params) for sql, params in statements if marker in sql and "FROM transactions" in sql]
        assert found, f"no statement with {marker!r}"
        for sql, params in found:
            rows = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(params))
            plan = " | ".join(row[-1] for row in rows)
            assert index in plan and "SCAN transactions" not in plan, plan
