"""Response times of the registry's lists and pages: median, 95th percentile and maximum.

Run: .venv/bin/python bench/registry_bench.py  (the demo data in a temporary SQLite database)
     .venv/bin/python bench/registry_bench.py --database sqlite:///synthetic.sqlite3 --requests 100
       (an existing registry, for instance one made by `flask seed synthetic --projects 20000`;
       it is only read)
Single user: the Flask test client, one request at a time. Appends a section to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402

from registry.app import create_app  # noqa: E402
from registry.extensions import db  # noqa: E402
from registry.models import Project  # noqa: E402
from registry.services.demo import seed_demo  # noqa: E402
from registry.services.reference import load_reference  # noqa: E402

ROUTES = [
    "/api/v1/projects?per_page=100",
    "/api/v1/projects?region=002&area=23b&year_from=2015&sort=-need",
    "/api/v1/projects?category=LDC&q=broadband",
    "/projects",
    "/projects?region=002&area=23b&sort=-need",
    "/projects/1",
    "/funding-sources",
    "/organisations/1",
]


# The API's list pages (issue 17's target: p95 under 100 ms single-user on 20,000 projects).
API_LISTS = [
    "/api/v1/projects",
    "/api/v1/projects?per_page=100",
    "/api/v1/projects?region=002&area=23b&year_from=2015&sort=-need",
    "/api/v1/projects?category=LDC&q=broadband",
    "/api/v1/projects?status=pipeline&sort=-need",
    "/api/v1/projects?page=50",
    "/api/v1/funding-sources",
    "/api/v1/organisations",
    "/api/v1/pipeline-projects",
]


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``share`` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(client, routes: list[str], requests: int) -> list[str]:
    rows = []
    for route in routes:
        for _ in range(2):
            client.get(route)
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            response = client.get(route)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (route, response.status_code)
        rows.append(
            f"| `{route}` | {statistics.median(times):.1f} | {percentile(times, 0.95):.1f} | {max(times):.1f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="an existing registry's database URL (read only); default: the demo data")
    parser.add_argument("--requests", type=int, default=15, help="timed requests per route (after 2 warm-ups)")
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave the start-up objects in the garbage collector (the gunicorn workers freeze them)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": args.database or f"sqlite:///{tmp}/bench.sqlite3"})
        with app.app_context():
            if not args.database:
                upgrade()
                load_reference()
                seed_demo()
                db.session.commit()
            projects = db.session.query(Project).count()
            pipeline = db.session.query(Project).filter(Project.status == "pipeline").count()
            backend = db.engine.dialect.name
            db.session.remove()
        client = app.test_client()
        if not args.no_freeze:  # as gunicorn.conf.py's post_worker_init does, before any request
            gc.collect()
            gc.freeze()
        data = "demo data" if not args.database else "an existing registry"
        collector = "left in the collector" if args.no_freeze else "frozen out of the collector, as the workers do"
        lines = [
            f"\n## Registry lists and pages ({dt.date.today()}, {backend})\n",
            f"{data.capitalize()}: {projects:,} projects ({pipeline:,} pipeline). Flask test client, one "
            f"request at a time, {args.requests} timed requests per route after 2 warm-ups; start-up objects "
            f"{collector}; ms.\n",
            "| Route | Median | p95 | Max |",
            "|---|---:|---:|---:|",
            *measure(client, API_LISTS, args.requests),
        ]
        if not args.database:
            lines += measure(client, [route for route in ROUTES if not route.startswith("/api/")], args.requests)
    text = "\n".join(lines) + "\n"
    print(text)
    results = Path(__file__).with_name("RESULTS.md")
    if not results.exists():
        results.write_text("# Benchmark results\n", "utf-8")
    with results.open("a", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
