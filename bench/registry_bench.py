"""Response times of the registry's lists and pages over the demo data set.

Run: .venv/bin/python bench/registry_bench.py  (uses a temporary SQLite database)
Appends a section to bench/RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402

from registry.app import create_app  # noqa: E402
from registry.extensions import db  # noqa: E402
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


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3"})
        with app.app_context():
            upgrade()
            load_reference()
            seed_demo()
            db.session.commit()
        client = app.test_client()
        lines = [
            f"\n## Registry lists and pages ({dt.date.today()})\n",
            "Demo data (400 projects), SQLite, Flask test client, median of 15 requests after 2 warm-ups.\n",
            "| Route | Median ms | Max ms |",
            "|---|---:|---:|",
        ]
        for route in ROUTES:
            for _ in range(2):
                client.get(route)
            times = []
            for _ in range(15):
                start = time.perf_counter()
                response = client.get(route)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, route
            lines.append(f"| `{route}` | {statistics.median(times):.1f} | {max(times):.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    results = Path(__file__).with_name("RESULTS.md")
    if not results.exists():
        results.write_text("# Benchmark results\n", "utf-8")
    with results.open("a", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
