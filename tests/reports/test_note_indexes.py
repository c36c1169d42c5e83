"""The flows a report's notes count apart (at constant prices; not confirmed) are found through
partial indexes over just those flows, not by reading every flow: on 5,000,000 flows the two
scans were 0.5 s of a 1.4 s report (bench/RESULTS.md)."""

from __future__ import annotations

from decimal import Decimal

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
    """On SQLite the plan must use the index (and not scan the flows). On PostgreSQL, whose
    planner rightly scans a table this small, sequential scans are switched off for the
    question: the plan can then use the index only if its predicate covers the query's."""
    project = make_project()
    make_transaction(project, amount=Decimal("100"))
    db.session.commit()
    statements = _statements_of_a_report()
    sqlite = db.engine.dialect.name == "sqlite"
    wanted = {
        "ix_transactions_constant_prices": "price_basis = ",
        "ix_transactions_unconfirmed": "confirmed IS 0" if sqlite else "confirmed IS false",
    }
    connection = db.session.connection()
    if not sqlite:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    for index, marker in wanted.items():
        found = [(sql, params) for sql, params in statements if marker in sql and "FROM transactions" in sql]
        assert found, f"no statement with {marker!r}"
        for sql, params in found:
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = connection.exec_driver_sql(explain + sql, params if isinstance(params, dict) else tuple(params))
            plan = " | ".join(str(row[-1]) for row in rows)
            assert index in plan, plan
            assert "SCAN transactions" not in plan and "Seq Scan on transactions" not in plan, plan
    db.session.rollback()
