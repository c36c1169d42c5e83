"""How long the funding finder and the donor-side matching take on the demo data set.

Run: .venv/bin/python bench/finder_bench.py [--db PATH] [--synthetic PROJECTS]
Seeds a SQLite database with the demo data (once; reused when PATH exists), then times
find_funding for a few needs and matching_projects for every funding source (one source at
a time, and all of them in one reading), and appends the figures to bench/RESULTS.md.
With --synthetic N the database is the synthetic registry of N projects (`seed synthetic`,
ten flows a project) instead of the demo data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from registry.app import create_app  # noqa: E402
from registry.extensions import db  # noqa: E402

NEEDS = [
    ("NPL", "23b", "grant", "2500000", "USD"),
    ("KEN", "23f", "concessional_loan", "10000000", "EUR"),
    ("HTI", "23a,23l", None, None, None),
]


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median and worst wall time in milliseconds."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs), max(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--db", default=str(Path(tempfile.gettempdir()) / "finder-bench.sqlite3"), help="SQLite file to use"
    )
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--synthetic", type=int, default=0, help="projects of a synthetic registry instead of the demo")
    parser.add_argument("--sources", type=int, default=0, help="time the first N funding sources only (0: all)")
    args = parser.parse_args()
    path = Path(args.db)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench"})
    with app.app_context():
        if not path.exists() or path.stat().st_size == 0:
            from flask_migrate import upgrade

            from registry.services.demo import seed_demo
            from registry.services.reference import load_reference

            upgrade()
            load_reference()
            db.session.commit()
            if args.synthetic:
                from reports.synthetic import seed_synthetic

                app.config["REPORT_CURRENCIES"] = ()
                seed_synthetic(args.synthetic, args.synthetic * 10, progress=lambda s: None)
            else:
                seed_demo()
            db.session.commit()
        from registry.models import FundingSource, Project, Transaction
        from registry.models.types import ProjectStatus
        from registry.services import matching

        counts = {
            "projects": db.session.scalar(select(func.count(Project.id))),
            "transactions": db.session.scalar(select(func.count(Transaction.id))),
            "funding sources": db.session.scalar(select(func.count(FundingSource.id))),
        }
        lines = []
        for country, areas, instrument, amount, currency in NEEDS:
            need = matching.build_need(country, areas, instrument, amount, currency, dt.date(2025, 6, 30))
            median, worst = timed(lambda need=need: matching.find_funding(need), args.repeat)
            lines.append(f"| find_funding {country} {areas} {instrument or '-'} | {median:.1f} | {worst:.1f} |")
        sources = list(db.session.scalars(select(FundingSource).order_by(FundingSource.id)))
        which = f"all {len(sources)} sources"
        if args.sources and args.sources < len(sources):
            which = f"first {args.sources} of {len(sources)} sources"
            sources = sources[: args.sources]
        counts["pipeline projects"] = db.session.scalar(
            select(func.count(Project.id)).where(Project.status == ProjectStatus.PIPELINE)
        )

        def all_sources() -> None:
            for source in sources:
                matching.matching_projects(source)

        median, worst = timed(lambda: matching.matching_projects(sources[0]), args.repeat)
        lines.append(f"| matching_projects, one source | {median:.1f} | {worst:.1f} |")
        median, worst = timed(all_sources, max(1, args.repeat // 3))
        lines.append(f"| matching_projects, {which} one by one | {median:.1f} | {worst:.1f} |")
        if hasattr(matching, "matching_projects_by_source"):  # absent before the batched reading
            median, worst = timed(lambda: matching.matching_projects_by_source(sources), max(1, args.repeat // 3))
            lines.append(f"| matching_projects_by_source, {which} | {median:.1f} | {worst:.1f} |")
        client = app.test_client()
        median, worst = timed(
            lambda: client.get(
                "/api/v1/funding-sources/match?country=NPL&priority_area=23b&amount=2500000&currency=USD"
            ),
            args.repeat,
        )
        lines.append(f"| GET /api/v1/funding-sources/match (NPL, 23b) | {median:.1f} | {worst:.1f} |")
        median, worst = timed(lambda: client.get("/find-funding?country=NPL&priority_area=23b"), args.repeat)
        lines.append(f"| GET /find-funding page (NPL, 23b) | {median:.1f} | {worst:.1f} |")
    section = [
        "",
        f"## Funding finder ({dt.date.today().isoformat()}, SQLite, Python {platform.python_version()})",
        "",
        ("Synthetic registry: " if args.synthetic else "Demo data: ")
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + f"; {args.repeat} runs each.",
        "",
        "| operation | median ms | worst ms |",
        "|---|---:|---:|",
        *lines,
        "",
    ]
    results = Path(__file__).with_name("RESULTS.md")
    text = results.read_text("utf-8") if results.exists() else "# Benchmark results\n"
    results.write_text(text.rstrip("\n") + "\n" + "\n".join(section), "utf-8")
    print("\n".join(section))


if __name__ == "__main__":
    main()
