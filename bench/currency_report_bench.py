"""Benchmark of reports in other currencies than USD on the synthetic registry (SQLite).

Seeds `seed synthetic` into a temporary SQLite file, builds the report facts and the
converted facts of EUR, XOF and NPR, then times the flows report by region x priority area
(commitments) in USD, EUR, XOF and NPR from the facts, and the same report in EUR converting
flow by flow (the path before the converted facts) as the baseline, in the same run. Wall
time and CPU time of this process (the machine is shared: CPU time is the steadier figure).
Writes its own section of bench/RESULTS.md unless --no-write.

    .venv/bin/python bench/currency_report_bench.py [--projects 20000] [--transactions 1000000]
        [--runs 5] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import machine, write_section  # noqa: E402  (the benchmarks run as scripts from bench/)

SECTION = "## Reports in other currencies (EUR, XOF, NPR) from converted facts"
CURRENCIES = ("EUR", "XOF", "NPR")


def _timed(func, runs: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``runs`` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = func()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import text

    from registry.app import create_app
    from registry.extensions import db
    from registry.services.reference import load_reference
    from reports import facts
    from reports.flows import build_spec, run_report
    from reports.synthetic import seed_synthetic

    started = machine()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REPORT_CURRENCIES": ()})
        with app.app_context():
            upgrade()
            load_reference()
            db.session.commit()
            t0 = time.perf_counter()
            seed_synthetic(args.projects, args.transactions, progress=lambda s: None)
            facts.ensure_fresh()
            db.session.commit()
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
            seeded = time.perf_counter() - t0
            print(f"seeded and USD facts built in {seeded:.1f} s", flush=True)
            app.config["REPORT_CURRENCIES"] = CURRENCIES
            builds = {}
            for currency in CURRENCIES:
                app.config["REPORT_CURRENCIES"] = CURRENCIES[: CURRENCIES.index(currency) + 1]
                wall, cpu = time.perf_counter(), time.process_time()
                facts.ensure_fresh()
                db.session.commit()
                builds[currency] = (time.perf_counter() - wall, time.process_time() - cpu)
                print(f"converted facts of {currency} built in {builds[currency][0]:.1f} s", flush=True)
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
            rows = {}
            for currency in ("USD", *CURRENCIES):
                spec = build_spec(by=["region", "priority_area"], measures=["commitment"], currency=currency)
                run_report(spec)  # warm-up
                rows[currency] = _timed(lambda spec=spec: run_report(spec), args.runs)
                print(f"{currency}: {rows[currency][0]:.2f} s wall, {rows[currency][1]:.2f} s CPU", flush=True)
            spec = build_spec(by=["region", "priority_area"], measures=["commitment"], currency="EUR")
            plain = _timed(lambda: run_report(spec, in_database=False), 1)
            print(f"EUR flow by flow: {plain[0]:.2f} s wall, {plain[1]:.2f} s CPU", flush=True)
            same = plain[2].total["commitment"] == rows["EUR"][2].total["commitment"] and [
                r["commitment"] for r in plain[2].rows
            ] == [r["commitment"] for r in rows["EUR"][2].rows]
            totals = {c: f"{rows[c][2].total['commitment']:,} {c}" for c in rows}

    lines = [
        SECTION + f" — {dt.date.today().isoformat()}",
        "",
        f"`bench/currency_report_bench.py`, SQLite, {args.projects:,} projects and {args.transactions:,} "
        f"flows (`seed synthetic`); {started}. Flows report by region x priority area, commitments; "
        f"median of {args.runs} runs after a warm-up (the flow-by-flow baseline: one run).",
        "",
        "| report | wall | CPU | total commitments |",
        "|---|---:|---:|---:|",
    ]
    for currency in rows:
        wall, cpu, _ = rows[currency]
        lines.append(f"| in {currency} from the facts | {wall:.2f} s | {cpu:.2f} s | {totals[currency]} |")
    lines.append(
        f"| in EUR flow by flow (before) | {plain[0]:.2f} s | {plain[1]:.2f} s | {plain[2].total['commitment']:,} EUR |"
    )
    lines += [
        "",
        "The EUR report from the facts and flow by flow: "
        + ("the same rows and total to the cent." if same else "**different figures**."),
        "",
        "Building the converted facts of a currency from scratch (once; then each commit converts "
        "only the changed projects' flows): "
        + ", ".join(f"{c} {w:.1f} s ({cpu:.1f} s CPU)" for c, (w, cpu) in builds.items())
        + ".",
        "",
        "PostgreSQL: not measured by this script.",
    ]
    text_ = "\n".join(lines)
    print(text_)
    if not args.no_write:
        write_section(SECTION, text_)


if __name__ == "__main__":
    main()
