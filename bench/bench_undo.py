"""Undo of a 50,000-project import (issue 14: it took 6 min 25 s; target under 10 s).

Imports a donor CSV of N projects (one commitment each, shares over two countries and an
area) into a fresh SQLite registry (or the PostgreSQL database of --database), commits it,
then times ``undo_batch`` and its commit (which also refreshes the report facts of the
removed projects), and checks that nothing of the batch is left.

    .venv/bin/python bench/bench_undo.py [--projects 50000] [--database postgresql://...] [--write]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, fresh_app, machine, peak_rss_mb, write_section  # noqa: F401  (ROOT: sys.path)

HEADER = ["Project reference", "Project title", "Country", "Priority area", "Transaction type", "Amount", "Currency",
          "Value date"]  # fmt: skip


def donor_csv(n: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for i in range(n):
        country = ("Kenya", "Uganda", "Nepal")[i % 3]
        writer.writerow([f"U-{i:06d}", f"Project {i}", country, "23b", "commitment", f"{1000 + i}.25", "USD",
                         "2021-03-01"])  # fmt: skip
    return out.getvalue().encode()


def app_for(database: str | None, tmp: Path):
    if not database:
        return fresh_app(tmp / "undo.sqlite3")
    from flask_migrate import upgrade
    from sqlalchemy import text

    from registry.app import create_app
    from registry.extensions import db
    from registry.services.reference import load_reference

    url = database.replace("postgresql://", "postgresql+psycopg://", 1)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        load_reference()
        db.session.commit()
    return app


def run(projects: int, database: str | None) -> dict:
    from sqlalchemy import func, select

    from importers import pipeline
    from registry.extensions import db
    from registry.models import Project, Transaction
    from registry.services.actor import SYSTEM
    from registry.services.organisations import create_organisation
    from registry.unit_of_work import commit

    with tempfile.TemporaryDirectory() as tmp:
        app = app_for(database, Path(tmp))
        app.config["IMPORT_STORAGE"] = str(Path(tmp) / "imports")
        with app.app_context():
            org = create_organisation(SYSTEM, {"ref": "UNDO-BENCH", "name": "Undo bench", "kind": "donor_agency"})
            commit()
            started = time.perf_counter()
            batch = pipeline.run_import("sheet", "bench.csv", donor_csv(projects), org, SYSTEM)
            assert batch.status == "committed", batch.problems[:3]
            commit()
            imported = time.perf_counter() - started
            batch_id, org_id = batch.id, org.id
            db.session.remove()
            if db.engine.dialect.name == "postgresql":
                # As autovacuum would have done by the time anyone undoes an import: planner
                # statistics of the tables the import filled (fresh tables look empty to it).
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("ANALYZE")

            started, cpu = time.perf_counter(), time.process_time()
            undone = pipeline.undo_batch(batch_id, SYSTEM)
            undo_only = time.perf_counter() - started
            commit()
            undo_seconds = time.perf_counter() - started
            undo_cpu = time.process_time() - cpu
            left = db.session.scalar(select(func.count()).select_from(Project).where(Project.org_id == org_id))
            flows = db.session.scalar(select(func.count()).select_from(Transaction))
            assert left == 0 and flows == 0, (left, flows)
            counts = db.session.get(type(undone), batch_id).counts["undone"]
            dialect = db.engine.dialect.name
            db.session.remove()
            db.engine.dispose()
    return {
        "projects": projects,
        "database": dialect,
        "import_s": imported,
        "undo_s": undo_seconds,
        "commit_s": undo_seconds - undo_only,
        "cpu_s": undo_cpu,
        "counts": counts,
        "peak_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=50_000)
    parser.add_argument("--database", help="a PostgreSQL URL (emptied!); default a fresh SQLite file")
    parser.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = parser.parse_args()
    result = run(args.projects, args.database)
    line = (
        f"{result['database']}: undo of {result['projects']:,} projects ({result['counts']['transactions_removed']:,}"
        f" flows) in {result['undo_s']:.2f} s ({result['cpu_s']:.2f} s of this process's CPU time), of which the"
        f" commit and its report-fact refresh"
        f" {result['commit_s']:.2f} s (the import itself took"
        f" {result['import_s']:.1f} s); peak memory {result['peak_mb']:.0f} MB"
    )
    print(line)
    if args.write:
        write_section(
            f"## Undo of a large import ({result['database']})",
            f"## Undo of a large import ({result['database']})\n\n"
            f"`bench/bench_undo.py --projects {result['projects']}`, {dt.date.today().isoformat()}, {machine()}.\n\n"
            f"- {line}.\n"
            "- Before (issue 14): 6 min 25 s for 50,000 projects, one ORM delete and one audit event per project.\n"
            "- Now: the created projects go by one DELETE a table (flows, shares, rows, projects), naming them by a\n"
            "  subquery of the batch's undo log, and one audit event each by multi-row INSERTs, 2,000 at a time\n"
            "  (reference, title, organisation, flows removed: the full state stays in the import's create event).\n"
            "  The commit refreshes the removed projects' report facts (their triggers marked them).\n"
            "- On PostgreSQL the script runs ANALYZE after the import, as autovacuum would before anyone undoes\n"
            "  it: without statistics the planner takes the freshly filled tables for empty ones.\n"
            "- The machine is shared: the load average at start says how busy it was, and the import's own time\n"
            "  is a yardstick of that. The CPU time of this process is the figure that load does not inflate (on\n"
            "  SQLite all the work is in the process; on PostgreSQL the server's share is not in it).\n",
        )


if __name__ == "__main__":
    sys.exit(main())
