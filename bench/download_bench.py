"""Benchmark of the flat downloads: time to the first byte, total time, CPU time and peak memory of
/api/v1/transactions.csv|.jsonl|.xlsx over a large synthetic registry (SQLite).

Each download runs in a process of its own, so that its peak resident memory is its own; the
registry is built once per size with `seed synthetic` (50 flows a project) and kept. Run at two
sizes, the figures show whether memory grows with the number of rows. Figures are written to
bench/RESULTS.md (this section is replaced; other sections are kept).

    .venv/bin/python bench/download_bench.py [--sizes 200000 1000000] [--dir DIR] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SECTION = "## Flat downloads: 1,000,000 transactions streamed"
FORMATS = ("csv", "jsonl", "xlsx")


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith(key + ":"))
    return int(line.split()[1]) / 1024


def _reset_peak() -> None:
    """Start the peak resident set (VmHWM) afresh: the download's peak, not the app's start."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def _seed(path: Path, transactions: int) -> None:
    """A registry of ``transactions`` synthetic flows at ``path`` (kept when it is there)."""
    if path.exists():
        return
    from common import fresh_app

    from registry.extensions import db
    from reports.synthetic import seed_synthetic

    app = fresh_app(path)
    with app.app_context():
        seed_synthetic(max(1, transactions // 50), transactions)
        db.session.commit()


def child(path: str, fmt: str) -> dict:
    """One download, in this process: seconds to the first chunk and to the end, CPU seconds,
    bytes, rows, resident memory before and at its peak."""
    from registry.app import create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench", "RATELIMIT_EXPORTS": "1000 per minute"}
    )
    client = app.test_client()
    client.get("/api/v1/transactions.csv?columns=id&year_from=2200")  # warm: imports, connection, first query
    before = _status_mb("VmRSS")
    _reset_peak()
    start, cpu = time.perf_counter(), time.process_time()
    response = client.get(f"/api/v1/transactions.{fmt}", buffered=False)
    chunks = iter(response.response)
    first = next(chunks)
    first_at = time.perf_counter() - start
    size, lines = len(first), first.count(b"\n")
    for chunk in chunks:
        size += len(chunk)
        lines += chunk.count(b"\n")
    response.close()
    total = time.perf_counter() - start
    return {
        "format": fmt,
        "status": response.status_code,
        "first_byte_s": round(first_at, 3),
        "total_s": round(total, 1),
        "cpu_s": round(time.process_time() - cpu, 1),  # the process's own CPU: compare on a loaded machine
        "bytes": size,
        "lines": lines if fmt != "xlsx" else None,
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(_status_mb("VmHWM"), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "download-bench")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("DB", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    from common import machine, write_section

    args.dir.mkdir(parents=True, exist_ok=True)
    results = []
    for size in args.sizes:
        path = args.dir / f"transactions-{size}.db"
        started = time.perf_counter()
        _seed(path, size)
        print(f"registry of {size:,} flows ready in {time.perf_counter() - started:.0f} s", flush=True)
        for fmt in args.formats:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path), fmt], capture_output=True, text=True, check=True
            )
            result = {"size": size, **json.loads(next(x for x in out.stdout.splitlines() if x.startswith("{")))}
            print(result, flush=True)
            results.append(result)
    table = [
        "| flows | format | first byte | whole download | size | rows | memory before | peak memory | growth |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows = f"{r['lines'] - (1 if r['format'] == 'csv' else 0):,}" if r["lines"] is not None else "-"
        table.append(
            f"| {r['size']:,} | {r['format']} | {r['first_byte_s']:.3f} s | {r['total_s']} s | "
            f"{r['bytes'] / 1e6:.0f} MB | {rows} | {r['rss_before_mb']} MB | {r['peak_rss_mb']} MB | "
            f"+{r['peak_rss_mb'] - r['rss_before_mb']:.1f} MB |"
        )
    text = "\n".join(
        [
            SECTION,
            "",
            f"`bench/download_bench.py`, {time.strftime('%Y-%m-%d')}, on {machine()}. SQLite, the synthetic",
            "registry of `seed synthetic` (50 flows a project), every column, no filter; each download in a",
            "process of its own through the app (test client, the response read chunk by chunk). Peak",
            "memory is the process's peak resident set during the download (VmHWM, reset when it starts);",
            "growth is over the app's resident set just before it.",
            "",
            *table,
            "",
        ]
    )
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
