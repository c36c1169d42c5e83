"""Reports at the scale of the whole IATI corpus: one-dimension reports and cross-tabs, their
time and the memory they add, on a registry that is already there.

Issue 17's targets on 5,000,000 flows over 100,000 projects (PostgreSQL): under 1 s for any
one-dimension report, under 2 s for a cross-tab, a report's process under 500 MB. Seed the
registry first, for instance with `bench/currency_report_bench.py --url URL --projects 100000
--transactions 5000000` (which also keeps the EUR, XOF and NPR converted facts), then:

    .venv/bin/python bench/scale_bench.py --url postgresql+psycopg://.../scale5m [--runs 3]
        [--currencies USD EUR] [--no-write]

Each report runs once to warm up, then ``--runs`` times: the median wall and CPU time of this
process (on PostgreSQL the server's work is in the wall time only). Memory: the process's
resident set before the reports (the app and its reference data) and its peak during them
(VmHWM, reset before each report).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import machine, write_section  # noqa: E402  (the benchmarks run as scripts from bench/)

SECTION = "## Reports at 5,000,000 flows"
ONE = ("region", "country", "category", "priority_area", "year", "donor", "source_kind", "direction")
CROSS = (("region", "priority_area"), ("category", "priority_area"), ("region", "year"))


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith(key + ":"))
    return int(line.split()[1]) / 1024


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def _timed(func, runs: int) -> tuple[float, float, float]:
    """Median wall and CPU seconds of ``runs`` calls and the peak resident set (MB) during them."""
    walls, cpus = [], []
    _reset_peak()
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        func()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus), _status_mb("VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the registry's database (only read)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--currencies", nargs="+", default=["USD", "EUR"])
    parser.add_argument("--by", nargs="+", help="only these reports, e.g. direction region,priority_area")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from sqlalchemy import func, select

    from registry.app import create_app
    from registry.extensions import db
    from registry.models import Project, Transaction
    from reports import facts
    from reports.flows import run_report
    from reports.schemas import build_spec

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "REPORT_CURRENCIES": ("EUR", "XOF", "NPR")})
    rows = []
    with app.app_context():
        flows = db.session.scalar(select(func.count()).select_from(Transaction))
        projects = db.session.scalar(select(func.count()).select_from(Project))
        backend = db.engine.dialect.name
        started = time.perf_counter()
        facts.ensure_fresh()  # nothing to do on a registry whose facts are fresh
        db.session.commit()
        refresh = time.perf_counter() - started
        before = _status_mb("VmRSS")
        for currency in args.currencies:
            wanted = [tuple(b.split(",")) for b in args.by] if args.by else [(d,) for d in ONE] + list(CROSS)
            for by in wanted:
                spec = build_spec(by=list(by), measures=["commitment", "disbursement"], currency=currency)
                run_report(spec)  # warm-up
                db.session.rollback()
                wall, cpu, peak = _timed(lambda spec=spec: (run_report(spec), db.session.rollback()), args.runs)
                name = " x ".join(by)
                rows.append((name, currency, wall, cpu, peak))
                print(f"{name:28} {currency}: {wall:.2f} s wall, {cpu:.2f} s CPU, peak {peak:.0f} MB", flush=True)
    one = [r for r in rows if " x " not in r[0]]
    cross = [r for r in rows if " x " in r[0]]
    lines = [
        f"{SECTION} — {time.strftime('%Y-%m-%d')}, {backend}",
        "",
        f"`bench/scale_bench.py` on {flows:,} flows over {projects:,} projects (`seed synthetic`), "
        f"{machine()}. Commitments and disbursements; median of {args.runs} runs after a warm-up; "
        "CPU time of this process (on PostgreSQL the server's work is in the wall time only). "
        f"The process held {before:.0f} MB (the app and its reference data) before the first report; "
        "peak: its largest resident set while the report ran.",
        "",
        "| report | currency | wall | CPU | peak memory |",
        "|---|---|---:|---:|---:|",
        *[f"| {by} | {cur} | {wall:.2f} s | {cpu:.2f} s | {peak:.0f} MB |" for by, cur, wall, cpu, peak in rows],
        "",
        f"Bringing the facts up to date before the first report took {refresh:.1f} s (when it had work to do, "
        "the process keeps what it read, and the peaks include it)."
        + (f" Slowest one-dimension report: {max(r[2] for r in one):.2f} s (target < 1 s)." if one else "")
        + (f" Slowest cross-tab: {max(r[2] for r in cross):.2f} s (target < 2 s)." if cross else "")
        + f" Largest peak: {max(r[4] for r in rows):.0f} MB (target < 500 MB).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
