"""Load benchmark: a fresh registry (SQLite or PostgreSQL, the demo data or 50,000 synthetic
projects more) served by gunicorn with 4 workers and a queue worker on loopback, 50 readers and 5 importing
donors from bench/load/locustfile.py for 2 minutes, then p50/p95/p99 and errors by group.

    .venv/bin/python bench/load/run.py --db sqlite --data demo
    .venv/bin/python bench/load/run.py --db postgresql --pg-url postgresql://postgres@127.0.0.1:5432/registry_load \\
        --data synthetic

The PostgreSQL database named by --pg-url is dropped and created again. Everything runs on
127.0.0.1 and stops by itself after --duration seconds (plus the time in-flight imports take
to finish). The summary is printed as a Markdown table; --out keeps the logs and locust's CSV.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from common import machine  # noqa: E402  (bench/common.py)

GROUPS = {
    "page": "pages",
    "api": "API reads",
    "download": "downloads",
    "upload": "uploads (answered 202, queued)",
    "import": "imports, upload to job end (5 donors)",
    "job": "job polls",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def flask(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def fresh_postgres(url: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url).set(drivername="postgresql+psycopg")
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()
    return target.render_as_string(hide_password=False)


def prepare(env: dict, data: str, projects: int, transactions: int) -> str:
    """Migrate, load reference and demo data (and the synthetic set); a donor's API token."""
    started = time.perf_counter()
    flask(env, "db", "upgrade")
    flask(env, "reference", "load")
    flask(env, "seed", "demo")
    if data == "synthetic":
        flask(env, "seed", "synthetic", "--projects", str(projects), "--transactions", str(transactions))
    token = flask(env, "users", "token", "--email", "donor@demo.invalid").strip().splitlines()[-1].strip()
    print(f"data ready in {time.perf_counter() - started:.0f} s", flush=True)
    return token


def wait_ready(base: str, server: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"gunicorn not ready after {seconds:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def empty_redis(base: str) -> None:
    """Start from empty rate-limit counters and an empty queue."""
    import redis

    for number in (14, 15):
        redis.Redis.from_url(f"{base}/{number}").flushdb()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(samples: dict, stats_csv: Path, seconds: int) -> str:
    import csv

    lines = [
        "| group | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in GROUPS.items():
        times = samples["times"].get(key, [])
        errors = samples["failures"].get(key, 0)
        if not times:
            continue
        lines.append(
            f"| {label} | {len(times):,} | {errors:,} | {len(times) / seconds:.1f} | {percentile(times, 50):.0f} "
            f"| {percentile(times, 95):.0f} | {percentile(times, 99):.0f} | {max(times):.0f} |"
        )
    lines += ["", "| request | requests | errors | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|---:|"]
    with stats_csv.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                continue
            lines.append(
                f"| {row['Name']} | {int(row['Request Count']):,} | {int(row['Failure Count']):,} "
                f"| {row['50%']} | {row['95%']} | {row['99%']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("LOAD_PG_URL"), help="a database to drop and recreate")
    parser.add_argument("--data", choices=["demo", "synthetic"], default="demo")
    parser.add_argument("--projects", type=int, default=50_000, help="synthetic projects (with --data synthetic)")
    parser.add_argument("--transactions", type=int, default=500_000, help="synthetic flows (with --data synthetic)")
    parser.add_argument("--duration", type=int, default=120, help="seconds of load")
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--donors", type=int, default=5)
    parser.add_argument("--rows", type=int, default=5000, help="rows of each uploaded file")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--queue-workers", type=int, default=2, help="jobs the queue worker runs at once")
    parser.add_argument(
        "--redis",
        default=os.environ.get("LOAD_REDIS", "redis://127.0.0.1:6379"),
        help="a Redis server; its databases 14 (rate-limit counters) and 15 (the queue) are emptied",
    )
    parser.add_argument("--out", type=Path, help="keep logs and locust's CSV here")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="registry-load-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.db == "postgresql":
        if not args.pg_url:
            raise SystemExit("--db postgresql needs --pg-url (or LOAD_PG_URL): a database it may drop")
        database_url = fresh_postgres(args.pg_url)
    else:
        database = out / "registry.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        database_url = f"sqlite:///{database}"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(out / "instance"),
        "REGISTRY_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(args.workers),
        # Production keeps rate-limit counters and the queue in Redis, shared by every process.
        "RATELIMIT_STORAGE_URI": f"{args.redis}/14",
        "QUEUE_URL": f"{args.redis}/15",
        # Every simulated user comes from 127.0.0.1, so the per-address limits (anonymous exports,
        # refused tokens) would count 50 people as one, and the donors share one token: the
        # limits are raised here so that the run measures the registry, not its rate limiter.
        "RATELIMIT_EXPORTS": "100000 per minute",
        "RATELIMIT_UPLOADS": "100000 per minute",
        "RATELIMIT_API_TOKEN": "100000 per minute",
    }
    empty_redis(args.redis)
    print(f"{args.db}, {args.data} data, {args.workers} workers, out: {out}", flush=True)
    token = prepare(env, args.data, args.projects, args.transactions)

    server_log = out / "gunicorn.log"
    worker_log = out / "queue-worker.log"
    with server_log.open("wb") as log, worker_log.open("wb") as wlog:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--workers", str(args.queue_workers)],
            cwd=ROOT,
            env=env,
            stdout=wlog,
            stderr=subprocess.STDOUT,
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(base, server, server_log)
            samples_path = out / "samples.json"
            load_env = {
                **env,
                "LOAD_DONOR_TOKEN": token,
                "LOAD_IMPORT_ROWS": str(args.rows),
                "LOAD_SAMPLES": str(samples_path),
            }
            users = args.readers + args.donors
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(Path(__file__).with_name("locustfile.py")),
                    "--headless",
                    "--users",
                    str(users),
                    "--spawn-rate",
                    str(users),
                    "--run-time",
                    f"{args.duration}s",
                    "--stop-timeout",
                    "60",
                    "--host",
                    base,
                    "--csv",
                    str(out / "locust"),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=ROOT,
                env=load_env,
                check=False,
                stdout=(out / "locust.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            elapsed = time.perf_counter() - started
        finally:
            for process in (server, worker):
                process.send_signal(signal.SIGTERM)
            for process in (server, worker):
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()

    samples = json.loads(samples_path.read_text())
    print()
    print(f"{machine()}")
    print(
        f"{args.db}, {args.data} data, gunicorn {args.workers} workers, {args.readers} readers + "
        f"{args.donors} donors uploading {args.rows:,}-row files, a queue worker running {args.queue_workers} jobs "
        f"at once, {args.duration} s ({elapsed:.0f} s with the stop)"
    )
    print()
    print(summary(samples, out / "locust_stats.csv", args.duration))


if __name__ == "__main__":
    main()
