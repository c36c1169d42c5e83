"""What keeping the report facts fresh costs a write (not part of the test run).

The writer's commit refreshes the facts of the projects it changed (``reports.facts``:
a ``before_commit`` listener). On a registry built by `seed synthetic` (SQLite file
and, when reachable, PostgreSQL), this times:

- one flow edited through the service and committed: the commit with the listener,
  and the same commit with the listener removed (the difference is the refresh);
- an import of a donor sheet of 10,000 flows (500 projects) through the pipeline:
  the whole import and, apart, the refresh inside its commit;
- a report (region x area, commitments) read on fresh facts, on facts left stale by raw
  SQL touching 1 and 200 projects (the report refreshes inside its read transaction,
  rolled back), and, for comparison, read from the flows without the facts.

    .venv/bin/python bench/facts_write_bench.py [--sqlite PATH] [--postgres URL]
        [--projects 2000] [--transactions 100000] [--rows 10000] [--edits 30]

Prints the figures; writes nothing.
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
sys.path.insert(0, str(ROOT / "bench"))


def _app(url: str, projects: int, transactions: int):
    """The report benchmark's synthetic registry (reused when the database holds it)."""
    from report_bench import _prepare

    app, _seeded, _built = _prepare(url, projects, transactions, fresh=True)
    app.config["IMPORT_STORAGE"] = tempfile.mkdtemp()
    return app


def _edits(app, n: int) -> dict[str, float]:
    """Median ms of committing one edited flow, with and without the facts listener."""
    from flask_sqlalchemy.session import Session as AppSession
    from sqlalchemy import event, select

    from registry.extensions import db
    from registry.models import Transaction
    from registry.models.types import Role
    from registry.services.actor import Actor
    from registry.services.projects import update_transaction
    from reports import facts

    actor = Actor("bench", "cli", role=Role.ADMIN)
    times: dict[str, list[float]] = {"with refresh": [], "without": []}
    with app.app_context():
        ids = list(db.session.scalars(select(Transaction.id).where(Transaction.type == "commitment").limit(2 * n)))
        for i, tx_id in enumerate(ids):
            # alternate, so that both see the same machine load and the same warm caches
            label = "without" if i % 2 else "with refresh"
            if label == "without":
                event.remove(AppSession, "before_commit", facts.refresh_before_commit)
            tx = db.session.get(Transaction, tx_id)
            started = time.perf_counter()
            update_transaction(actor, tx, {"amount": tx.amount + 1})
            db.session.commit()
            times[label].append(time.perf_counter() - started)
            if label == "without":
                event.listen(AppSession, "before_commit", facts.refresh_before_commit)
        facts.ensure_fresh()
        db.session.commit()
    return {label: statistics.median(values) * 1000 for label, values in times.items()}


def _import(app, rows: int, workdir: Path) -> dict[str, float]:
    """Seconds of an import of ``rows`` flows, and of the refresh inside its commit."""
    from import_bench import generate

    from importers import pipeline
    from registry.extensions import db
    from registry.models.types import Role
    from registry.services.actor import Actor
    from registry.services.organisations import create_organisation
    from reports import facts

    _xlsx, csv_path = generate(rows, workdir)
    actor = Actor("bench", "cli", role=Role.ADMIN)
    spent: list[tuple[float, dict]] = []
    original = facts.ensure_fresh

    def timed(**kwargs) -> dict:
        started = time.perf_counter()
        done = original(**kwargs)
        spent.append((time.perf_counter() - started, done))
        return done

    with app.app_context():
        ref = f"BENCH-{dt.datetime.now():%H%M%S}"
        create_organisation(actor, {"ref": ref, "name": "Bench donor", "kind": "donor_agency"})
        db.session.commit()
        facts.ensure_fresh = timed
        try:
            started = time.perf_counter()
            batch = pipeline.run_import("sheet", csv_path.name, csv_path, ref, actor)
            db.session.commit()  # the pipeline never commits: the refresh runs in this commit
            total = time.perf_counter() - started
        finally:
            facts.ensure_fresh = original
        if batch.status != "committed":
            raise SystemExit(f"import failed: {batch.counts} {batch.problems[:3]}")
    refresh = sum(s for s, _done in spent)
    projects = sum(done["projects"] for _s, done in spent)
    return {"import": total, "refresh": refresh, "projects": projects, "flows": batch.counts["transactions"]}


def _stale_reads(app, runs: int = 3) -> dict[str, float]:
    """Median seconds of one report on fresh facts, on facts stale in 1 and 200 projects
    (raw SQL, rolled back after each run), and read from the flows (no facts at all)."""
    from sqlalchemy import bindparam, select, text

    from registry.extensions import db
    from registry.models import Transaction
    from reports import flow_sums
    from reports.flows import build_spec, run_report

    out = {}
    with app.app_context():
        spec = build_spec(by=["region", "priority_area"], measures=["commitment"])
        projects = list(db.session.scalars(select(Transaction.project_id).distinct().limit(200)))
        touch = text("UPDATE transactions SET usd_minor = usd_minor + 1 WHERE project_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )

        def stale_in(n: int) -> float:
            times = []
            for _ in range(runs):
                db.session.execute(touch, {"ids": projects[:n]})
                started = time.perf_counter()
                run_report(spec)
                times.append(time.perf_counter() - started)
                db.session.rollback()
            return statistics.median(times)

        out["fresh"] = statistics.median(_runs(lambda: run_report(spec), runs))
        out["stale 1"] = stale_in(1)
        out["stale 200"] = stale_in(200)
        original = flow_sums.facts_apply  # the name the report engine calls
        flow_sums.facts_apply = lambda tx_dims, filters: False
        try:
            out["flows"] = statistics.median(_runs(lambda: run_report(spec), runs))
        finally:
            flow_sums.facts_apply = original
        db.session.rollback()
    return out


def _runs(func, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=Path)
    parser.add_argument("--postgres", help="postgresql://... (its public schema is emptied)")
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--edits", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = [("SQLite", f"sqlite:///{args.sqlite or Path(tmp) / 'bench.sqlite3'}")]
        if args.postgres:
            urls.append(("PostgreSQL", "postgresql+psycopg://" + args.postgres.split("://", 1)[1]))
        for label, url in urls:
            app = _app(url, args.projects, args.transactions)
            edits = _edits(app, args.edits)
            imported = _import(app, args.rows, Path(tmp))
            reads = _stale_reads(app)
            print(
                f"{label}: one flow edit committed {edits['with refresh']:.1f} ms "
                f"(without the refresh {edits['without']:.1f} ms); import of {imported['flows']:,} flows "
                f"{imported['import']:.2f} s, of which the facts refresh in its commit "
                f"{imported['refresh']:.3f} s ({imported['projects']:,} projects); report region x area: "
                f"fresh facts {reads['fresh']:.3f} s, stale in 1 project {reads['stale 1']:.3f} s, "
                f"in 200 {reads['stale 200']:.3f} s, from the flows {reads['flows']:.3f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
