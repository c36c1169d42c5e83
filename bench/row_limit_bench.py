"""How fast, and in how much memory, a file over the row limit is refused (issue 14).

Writes a 700,000-row XLSX and CSV (IMPORT_MAX_ROWS is 500,000) into a temporary folder and reads
each through the spreadsheet reader, in a fresh process per file so that the peak memory is the
refusal's own: the figure is the peak resident memory of the process minus what it held before
the read (the app, the reference data, the libraries). Targets: under 2 s and 100 MB. The CPU
time is given beside the wall time: on a shared machine the wall time mostly measures the others.

    .venv/bin/python bench/row_limit_bench.py [--rows 700000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, fresh_app, machine, peak_rss_mb

sys.path.insert(0, str(ROOT))


def measure(path: Path, db_path: Path) -> dict:
    """Read one file in this process: seconds to the refusal and the memory it took."""
    from importers.sheets import read_sheet_file

    app = fresh_app(db_path)
    with app.app_context():
        before = peak_rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        result = read_sheet_file(path, path.name, {})
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = peak_rss_mb()
    errors = [p.code for p in result.problems if p.severity == "error"]
    return {
        "file": path.name,
        "megabytes": round(path.stat().st_size / 1e6, 1),
        "refused": errors == ["too_many_rows"],
        "rows_read": result.info.get("rows_read"),
        "rows_counted": result.info.get("rows_counted"),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "memory_mb": round(peak - before, 1),
        "peak_rss_mb": round(peak, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=700_000)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process: measure this file
    args = parser.parse_args()
    if args.one:
        path = Path(args.one)
        print(json.dumps(measure(path, path.with_suffix(".sqlite3"))))
        return
    from tests.importers.test_upload_row_limit import long_csv, long_xlsx

    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = [long_xlsx(folder / "long.xlsx", args.rows), long_csv(folder / "long.csv", args.rows)]
        for path in files:
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(path)], check=True, capture_output=True, text=True
            ).stdout
            figures = json.loads(out.strip().splitlines()[-1])
            print(
                f"{figures['file']:<10} {args.rows:,} rows, {figures['megabytes']} MB: "
                f"refused={figures['refused']} in {figures['seconds']} s ({figures['cpu_seconds']} s CPU), "
                f"+{figures['memory_mb']} MB "
                f"(peak RSS {figures['peak_rss_mb']} MB), rows read {figures['rows_read']}, "
                f"counted {figures['rows_counted']:,}"
            )


if __name__ == "__main__":
    main()
