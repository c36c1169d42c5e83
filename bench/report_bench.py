"""Benchmark of the report engine on a large synthetic registry.

Builds 1,000,000 transactions over 20,000 projects with `seed synthetic`, then
times the flows report by region x priority area and the funding-gap workbook,
and compares with loading the same rows into pandas and grouping there, in the
same run. SQLite always; PostgreSQL too when BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:54329/test_6) is reachable. Figures are written
to bench/RESULTS.md (this section is replaced; other sections are kept).

    .venv/bin/python bench/report_bench.py [--projects 20000] [--transactions 1000000]
        [--sqlite PATH] [--no-postgres] [--runs 5] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "## Reports: flows by region x area and the funding-gap workbook"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:54329/test_6")


def _head() -> str:
    """The newest migration (a database migrated to an older one is rebuilt)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(ROOT / "migrations")).get_current_head()


def _timed(func, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _prepare(url: str, projects: int, transactions: int, fresh: bool) -> tuple[object, float | None, float]:
    """An app on ``url`` holding the synthetic registry; seeding time (when built now), facts build time."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from registry.app import create_app
    from registry.extensions import db
    from registry.models import Transaction
    from registry.services.reference import load_reference
    from reports.synthetic import seed_synthetic

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        if fresh and db.engine.dialect.name == "postgresql":
            # keep a database that already holds the synthetic registry (a previous run)
            try:
                with db.engine.connect() as conn:
                    have = conn.execute(text("SELECT count(*) FROM transactions")).scalar()
                    version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                fresh = have < transactions or version != _head()
            except Exception:  # noqa: BLE001 - no tables yet
                fresh = True
        if fresh and db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        load_reference()
        db.session.commit()
        have = db.session.scalar(select(func.count()).select_from(Transaction))
        if have >= transactions:
            if db.engine.dialect.name == "postgresql":
                with db.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
            return app, None, _build_facts(app, rebuild=True)
        start = time.perf_counter()
        seed_synthetic(projects, transactions, progress=lambda s: print("   ", s, flush=True))
        db.session.commit()
        seeded = time.perf_counter() - start
        with db.engine.connect() as conn:
            if db.engine.dialect.name == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
            else:
                conn.execute(text("ANALYZE"))
                conn.commit()
        return app, seeded, _build_facts(app, rebuild=True)


def _build_facts(app, rebuild: bool) -> float:
    """Seconds to bring the report facts up to date (from scratch with ``rebuild``)."""
    from registry.extensions import db
    from reports import facts

    with app.app_context():
        if rebuild:
            facts.forget()
        start = time.perf_counter()
        facts.ensure_fresh()
        db.session.commit()
        elapsed = time.perf_counter() - start
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE report_flow_facts")
        return elapsed


def _incremental(app, n_projects: int = 200, per_project: int = 5) -> float:
    """Seconds to refresh the facts after new flows for ``n_projects`` projects (an import's worth)."""
    from sqlalchemy import insert, select

    from registry.extensions import db
    from registry.models import Transaction
    from registry.models.types import TransactionType
    from reports import facts

    with app.app_context():
        ids = list(db.session.scalars(select(Transaction.project_id).distinct().limit(n_projects)))
        rows = [
            {
                "project_id": pid,
                "type": TransactionType.COMMITMENT,
                "amount_minor": 100 + i,
                "currency": "USD",
                "value_date": __import__("datetime").date(2021, 1 + i, 1),
                "usd_minor": 100 + i,
                "usd_rate": "1",
                "usd_rate_date": __import__("datetime").date(2021, 1 + i, 1),
                "description": "bench",
            }
            for pid in ids
            for i in range(per_project)
        ]
        db.session.execute(insert(Transaction.__table__), rows)
        start = time.perf_counter()
        facts.ensure_fresh()
        elapsed = time.perf_counter() - start
        db.session.rollback()  # leave the data as seeded
        return elapsed


def _pandas_group(app) -> tuple[float, float, Decimal]:
    """Load transactions and shares into pandas and group by region x area there."""
    import pandas as pd

    from registry.extensions import db

    with app.app_context():
        engine = db.engine
        start = time.perf_counter()
        tx = pd.read_sql_query(
            "SELECT project_id, type, usd_minor FROM transactions "
            "WHERE type IN ('pledge','commitment','disbursement','expenditure')",
            engine,
        )
        rec = pd.read_sql_query(
            "SELECT r.project_id, r.share_ppm AS r_ppm, COALESCE(c.region_code, 'X') AS region "
            "FROM project_recipients r LEFT JOIN countries c ON c.iso3 = r.country_iso3",
            engine,
        )
        area = pd.read_sql_query("SELECT project_id, area_code, share_ppm AS a_ppm FROM project_areas", engine)
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        commit = tx[tx["type"] == "commitment"].groupby("project_id", as_index=False)["usd_minor"].sum()
        rec["r_w"] = rec["r_ppm"] / rec.groupby("project_id")["r_ppm"].transform("sum")
        area["a_w"] = area["a_ppm"] / area.groupby("project_id")["a_ppm"].transform("sum")
        joined = commit.merge(rec, on="project_id", how="left").merge(area, on="project_id", how="left")
        joined["r_w"] = joined["r_w"].fillna(1.0)
        joined["a_w"] = joined["a_w"].fillna(1.0)
        # floats, as an analyst would write it: not exact, shown for speed only
        joined["value"] = joined["usd_minor"] * joined["r_w"] * joined["a_w"]
        table = joined.groupby(["region", "area_code"], dropna=False)["value"].sum()
        grouped = time.perf_counter() - start
        return loaded, grouped, Decimal(str(round(table.sum()))) / 100


def _measure(label: str, app, runs: int) -> dict:
    from registry.extensions import db
    from reports.flows import build_spec, run_report
    from reports.workbook import funding_gap_workbook

    with app.app_context():
        spec = build_spec(by=["region", "priority_area"], measures=["commitment"])
        report_s, report = _timed(lambda: run_report(spec), runs)
        full = build_spec(by=["region", "priority_area"])
        full_s, _ = _timed(lambda: run_report(full), runs)
        category = build_spec(by=["category"], measures=["commitment"])
        category_s, _ = _timed(lambda: run_report(category), max(1, runs // 2))
        euro = build_spec(by=["region"], measures=["commitment"], currency="EUR")
        euro_s, _ = _timed(lambda: run_report(euro), 1)
        workbook_s, data = _timed(lambda: funding_gap_workbook(build_spec(by="region")), max(1, runs // 2))
        dialect = db.engine.dialect.name
    load_s, group_s, pandas_total = _pandas_group(app)
    return {
        "label": label,
        "dialect": dialect,
        "incremental": _incremental(app),
        "report": report_s,
        "report_all": full_s,
        "category": category_s,
        "euro": euro_s,
        "workbook": workbook_s,
        "workbook_bytes": len(data),
        "rows": len(report.rows),
        "total": report.total["commitment"],
        "pandas_load": load_s,
        "pandas_group": group_s,
        "pandas_total": pandas_total,
    }


def _write(results: list[dict], seeds: dict[str, float | None], args) -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    lines = [
        SECTION,
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "(other jobs shared the machine).",
        f"Data: `flask seed synthetic --projects {args.projects} --transactions {args.transactions}` "
        "(1-4 recipient countries or a region or none, 1-3 priority areas, 5 currencies).",
        "",
        "| database | seed | facts: full build | facts: refresh after 1,000 new flows in 200 projects "
        "| flows region x area, commitment | same, all 9 measures | by category (dated) | by region in EUR "
        "| funding-gap workbook | pandas: load rows | pandas: group |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        seed = seeds.get(r["label"])
        lines.append(
            f"| {r['label']} | {f'{seed:.0f} s' if seed else 'reused'} | {r['facts']:.2f} s | {r['incremental']:.3f} s "
            f"| {r['report']:.3f} s | {r['report_all']:.3f} s "
            f"| {r['category']:.2f} s | {r['euro']:.2f} s | {r['workbook']:.2f} s ({r['workbook_bytes'] // 1024} KiB) "
            f"| {r['pandas_load']:.2f} s | {r['pandas_group']:.2f} s |"
        )
    lines += [
        "",
        "Medians of several runs. Targets: a report under 1 s, the workbook under 5 s. Reports in USD read the "
        "report facts (per project, year and membership period, and per funding source, donor, finance and "
        "flow type; kept fresh by triggers, or on SQLite an id watermark for new flows, and recomputed for "
        "the changed projects before a report reads them). The EUR report converts every (project, currency, "
        "day) group of the flows at that day's rate, which no USD fact can give, and so reads all the "
        "flows. The engine's total commitments and the pandas float total agree to the dollar: "
        + "; ".join(f"{r['label']} {r['total']:,} vs {r['pandas_total']:,}" for r in results)
        + ".",
        "",
    ]
    text = "\n".join(lines)
    if not args.no_write:
        from common import write_section

        write_section(SECTION, text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--sqlite", type=Path, help="SQLite file to build or reuse (default: a temporary file)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print the figures without writing bench/RESULTS.md")
    args = parser.parse_args()

    results, seeds = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        path = args.sqlite or Path(tmp) / "bench.sqlite3"
        print(f"SQLite at {path}", flush=True)
        app, seeds["SQLite"], built = _prepare(f"sqlite:///{path}", args.projects, args.transactions, fresh=False)
        results.append({**_measure("SQLite", app, args.runs), "facts": built})
        print(results[-1], flush=True)
    if not args.no_postgres:
        try:
            import psycopg

            psycopg.connect(PG_URL, connect_timeout=3).close()
        except Exception as exc:  # noqa: BLE001 - any failure means: skip PostgreSQL
            print(f"PostgreSQL not reachable ({exc}); skipped", flush=True)
        else:
            url = "postgresql+psycopg://" + PG_URL.split("://", 1)[1]
            print(f"PostgreSQL at {PG_URL}", flush=True)
            app, seeds["PostgreSQL"], built = _prepare(url, args.projects, args.transactions, fresh=True)
            results.append({**_measure("PostgreSQL", app, args.runs), "facts": built})
            print(results[-1], flush=True)
    print(_write(results, seeds, args))


if __name__ == "__main__":
    main()
