"""Benchmark of reports in other currencies than USD on the synthetic registry.

Times the flows report by region x priority area (commitments) in USD, EUR, XOF and NPR from
the facts (median of --runs after a warm-up), checks each converted report against converting
flow by flow (the path before the converted facts: figures, notes and conversion meta the
same; timed once), and times the commit that imports 10,000 flows into 1,000 projects, with
the converted facts of EUR, XOF and NPR kept and without (USD facts only). Wall time and CPU
time of this process (the machine is shared: CPU time is the steadier figure; on PostgreSQL
the server's CPU is not in it, the wall time is).

SQLite: the registry is seeded (`seed synthetic`) into --registry once and kept there; each
run works on a temporary copy. PostgreSQL: --url names a database, seeded when empty; the
imported flows are removed again at the end.

    .venv/bin/python bench/currency_report_bench.py [--registry bench.db | --url postgresql://...]
        [--projects 20000] [--transactions 1000000] [--runs 3] [--no-baseline] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import machine, write_section  # noqa: E402  (the benchmarks run as scripts from bench/)

SECTION = "## Reports in other currencies (EUR, XOF, NPR) from coarse converted facts"
CURRENCIES = ("EUR", "XOF", "NPR")
IMPORTED, PROJECTS = 10_000, 1_000


def _timed(func, runs: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``runs`` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = func()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus), result


def _app(url: str):
    from flask_migrate import upgrade

    from registry.app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REPORT_CURRENCIES": CURRENCIES})
    with app.app_context():
        upgrade()
    return app


def _seed_if_empty(app, projects: int, transactions: int) -> None:
    from sqlalchemy import func, select, text

    from registry.extensions import db
    from registry.models import Transaction
    from registry.services.reference import load_reference
    from reports import facts
    from reports.synthetic import seed_synthetic

    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(Transaction)):
            return
        load_reference()
        db.session.commit()
        app.config["REPORT_CURRENCIES"] = ()
        seed_synthetic(projects, transactions, progress=lambda s: None)
        facts.ensure_fresh()
        db.session.commit()
        for i in range(len(CURRENCIES)):  # one currency at a time: each a commit of its own
            app.config["REPORT_CURRENCIES"] = CURRENCIES[: i + 1]
            facts.ensure_fresh()
            db.session.commit()
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()


def _same(fast, plain) -> bool:
    a, b = fast.as_json(), plain.as_json()
    a.pop("generated_at"), b.pop("generated_at")
    return a == b and [str(n) for n in fast.notes] == [str(n) for n in plain.notes]


def _reports(app, runs: int, baseline: bool) -> tuple[dict, dict]:
    from registry.extensions import db
    from reports import facts
    from reports.flows import build_spec, run_report

    rows, plain = {}, {}
    with app.app_context():
        app.config["REPORT_CURRENCIES"] = CURRENCIES
        facts.ensure_fresh()  # the converted facts of this code's format (a rebuild at most once)
        db.session.commit()
        for currency in ("USD", *CURRENCIES):
            spec = build_spec(by=["region", "priority_area"], measures=["commitment"], currency=currency)
            run_report(spec)  # warm-up
            db.session.rollback()
            rows[currency] = _timed(lambda spec=spec: run_report(spec), runs)
            db.session.rollback()
            print(f"{currency}: {rows[currency][0]:.2f} s wall, {rows[currency][1]:.2f} s CPU", flush=True)
        if baseline:
            for currency in CURRENCIES:
                spec = build_spec(by=["region", "priority_area"], measures=["commitment"], currency=currency)
                wall, cpu, report = _timed(lambda spec=spec: run_report(spec, in_database=False), 1)
                db.session.rollback()
                plain[currency] = (wall, cpu, _same(rows[currency][2], report))
                print(f"{currency} flow by flow: {wall:.2f} s wall, {cpu:.2f} s CPU, same: {plain[currency][2]}")
    return rows, plain


def _import_commit(app, currencies: tuple[str, ...], runs: int) -> tuple[float, float, float]:
    """Median (insert seconds, commit wall, commit CPU) of importing 10,000 flows into 1,000
    projects (copies of some of their flows) and committing, which refreshes the facts."""
    from sqlalchemy import func, insert, select

    from registry.extensions import db
    from registry.models import Transaction
    from reports.synthetic import TX_COLUMNS

    t = Transaction.__table__
    inserts, walls, cpus = [], [], []
    with app.app_context():
        app.config["REPORT_CURRENCIES"] = currencies
        top = db.session.scalar(select(func.max(t.c.id)))
        for attempt in range(runs + 1):  # the first: a warm-up (and the drop of currencies no longer kept)
            projects = list(range(1 + attempt * 7, 20_000, 20_000 // PROJECTS))[:PROJECTS]
            ids = []
            for start in range(0, len(projects), 200):
                chunk = projects[start : start + 200]
                found = db.session.execute(
                    select(t.c.project_id, t.c.id).where(t.c.project_id.in_(chunk), t.c.id <= top)
                ).all()
                per: dict[int, list[int]] = {}
                for pid, tid in found:
                    per.setdefault(pid, []).append(tid)
                for tids in per.values():
                    ids += sorted(tids)[: IMPORTED // PROJECTS]
            ids = ids[:IMPORTED]
            cols = [t.c[name] for name in TX_COLUMNS]
            started = time.perf_counter()
            for start in range(0, len(ids), 2000):
                db.session.execute(
                    insert(t).from_select(TX_COLUMNS, select(*cols).where(t.c.id.in_(ids[start : start + 2000])))
                )
            inserted = time.perf_counter() - started
            wall, cpu = time.perf_counter(), time.process_time()
            db.session.commit()
            if attempt:
                inserts.append(inserted)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
        print(
            f"import commit with {currencies or 'USD only'}: {statistics.median(walls):.2f} s wall, "
            f"{statistics.median(cpus):.2f} s CPU",
            flush=True,
        )
    return statistics.median(inserts), statistics.median(walls), statistics.median(cpus)


def _remove_imported(app, top: int) -> None:
    from sqlalchemy import delete

    from registry.extensions import db
    from registry.models import Transaction

    with app.app_context():
        app.config["REPORT_CURRENCIES"] = ()
        db.session.execute(delete(Transaction.__table__).where(Transaction.__table__.c.id > top))
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registry", type=Path, help="SQLite file of the synthetic registry (seeded when absent)")
    parser.add_argument("--url", help="a PostgreSQL database (seeded when empty)")
    parser.add_argument("--projects", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from sqlalchemy import func, select

    from registry.extensions import db
    from registry.models import Transaction

    started = machine()
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            url, engine = args.url, "PostgreSQL"
        else:
            source = args.registry or Path(tmp) / "seeded.db"
            if not source.exists():
                _seed_if_empty(_app(f"sqlite:///{source}"), args.projects, args.transactions)
            copy = Path(tmp) / "bench.db"
            shutil.copyfile(source, copy)
            url, engine = f"sqlite:///{copy}", "SQLite"
        app = _app(url)
        _seed_if_empty(app, args.projects, args.transactions)
        with app.app_context():
            top = db.session.scalar(select(func.max(Transaction.id)))
            flows = db.session.scalar(select(func.count()).select_from(Transaction))
        rows, plain = _reports(app, args.runs, not args.no_baseline)
        with_fx = _import_commit(app, CURRENCIES, args.runs)
        without = _import_commit(app, (), args.runs)
        if args.url:
            _remove_imported(app, top)

    lines = [
        SECTION + f" — {dt.date.today().isoformat()}, {engine}",
        "",
        f"`bench/currency_report_bench.py`, {engine}, {flows:,} flows (`seed synthetic`, {args.projects:,} "
        f"projects); {started}. Flows report by region x priority area, commitments; median of {args.runs} "
        "runs after a warm-up; CPU time of the benchmark's process (on PostgreSQL the server's work is in "
        "the wall time only).",
        "",
        "| report | wall | CPU | total commitments |",
        "|---|---:|---:|---:|",
    ]
    for currency, (wall, cpu, report) in rows.items():
        lines.append(
            f"| in {currency} from the facts | {wall:.2f} s | {cpu:.2f} s | {report.total['commitment']:,} {currency} |"
        )
    for currency, (wall, cpu, same) in plain.items():
        lines.append(
            f"| in {currency} flow by flow (before the converted facts; once) | {wall:.2f} s | {cpu:.2f} s | "
            + ("same report" if same else "**different report**")
            + " |"
        )
    lines += [
        "",
        "Each report from the converted facts against converting flow by flow: "
        + (
            ", ".join(
                f"{c} {'the same figures, notes and conversion meta' if s else 'DIFFERENT'}"
                for c, (_w, _c, s) in plain.items()
            )
            if plain
            else "not compared (--no-baseline)"
        )
        + ".",
        "",
        f"Commit of an import of {IMPORTED:,} flows into {PROJECTS:,} projects (the facts refreshed in it), "
        f"median of {args.runs} after a warm-up:",
        "",
        "| facts kept | insert | commit wall | commit CPU |",
        "|---|---:|---:|---:|",
        f"| USD and EUR, XOF, NPR converted | {with_fx[0]:.2f} s | {with_fx[1]:.2f} s | {with_fx[2]:.2f} s |",
        f"| USD only | {without[0]:.2f} s | {without[1]:.2f} s | {without[2]:.2f} s |",
    ]
    text_ = "\n".join(lines)
    print(text_)
    if not args.no_write:
        write_section(SECTION + f" — {dt.date.today().isoformat()}, {engine}", text_)


if __name__ == "__main__":
    main()
