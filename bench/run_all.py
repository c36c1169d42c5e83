"""Both benchmarks, the donor spreadsheet import and the report engine (`make bench`).

By default at a small size that runs in a few minutes on a laptop, on SQLite only, printing
the figures without touching bench/RESULTS.md: a check that the benchmarks still run and
an idea of the speed. ``--full`` runs them at the sizes RESULTS.md reports (100,000
spreadsheet rows; 1,000,000 flows over 20,000 projects, on PostgreSQL too when
BENCH_PG_URL answers) and writes their sections of RESULTS.md.

    .venv/bin/python bench/run_all.py [--full]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SMALL = {
    "import_bench.py": ["--rows", "5000", "--repeat", "1", "--no-write"],
    "report_bench.py": ["--projects", "1000", "--transactions", "20000", "--runs", "1", "--no-postgres", "--no-write"],
}
FULL: dict[str, list[str]] = {"import_bench.py": [], "report_bench.py": []}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the sizes of RESULTS.md, and write it")
    args = parser.parse_args()
    failed = []
    for script, options in (FULL if args.full else SMALL).items():
        command = [sys.executable, str(HERE / script), *options]
        print("==", script, " ".join(options), flush=True)
        if subprocess.run(command, cwd=HERE.parent, check=False).returncode != 0:
            failed.append(script)
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
