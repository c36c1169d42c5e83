"""Real processes for the queue tests: a migrated database of their own (a SQLite file, or a
PostgreSQL database beside the test one when DATABASE_URL is set), a queue worker
(``flask jobs worker``) and, for the load-balanced case, gunicorn with several workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "queue tests password 1"
HEADER = ["Project reference", "Project title", "Country", "Transaction type", "Amount", "Currency", "Value date"]


def donor_rows(n: int, prefix: str = "Q") -> list[list]:
    """A donor sheet of ``n`` projects of one commitment each (1,000.00 USD, 1,001.00 USD ...)."""
    return [HEADER] + [
        [f"{prefix}-{i:06d}", f"Project {i}", "Kenya", "commitment", f"{1000 + i}.00", "USD", "2021-01-04"]
        for i in range(n)
    ]


def database_for(tmp_path: Path) -> str:
    """A fresh, empty database for processes of their own: a SQLite file, or (DATABASE_URL set)
    a new PostgreSQL database on the same server."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    base = make_url(url)
    name = f"{base.database}_q{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a PostgreSQL database made by ``database_for`` (a SQLite file goes with tmp_path)."""
    if not url.startswith("postgresql"):
        return
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def environment(tmp_path: Path, database: str, **extra: str) -> dict[str, str]:
    """The environment every process of one test shares: database, instance folder (uploads),
    queue file."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": database,
        "INSTANCE_PATH": str(tmp_path),
        "QUEUE_FILE": str(tmp_path / "queue.sqlite3"),
        "SECRET_KEY": "queue-tests-" + "x" * 32,
        "SESSION_COOKIE_SECURE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    if os.environ.get("QUEUE_URL"):
        env["QUEUE_URL"] = os.environ["QUEUE_URL"]
    env.update(extra)
    return env


def flask(env: dict[str, str], *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def prepare(env: dict[str, str]) -> str:
    """Migrate the database, load the reference data, make a donor with an API token; returns
    the token."""
    for args in (("db", "upgrade"), ("reference", "load")):
        done = flask(env, *args)
        assert done.returncode == 0, done.stderr[-3000:]
    script = (
        "from registry.app import create_app\n"
        "from registry.extensions import db\n"
        "from registry.services import accounts, organisations\n"
        "from registry.services.actor import SYSTEM\n"
        "from registry.unit_of_work import commit\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    org = organisations.create_organisation(SYSTEM, {'ref': 'Q-DON', 'name': 'Queue donor',"
        " 'kind': 'donor_agency'})\n"
        "    user = accounts.create_user(SYSTEM, 'queue-donor@example.org', 'donor', org=org,"
        f" password={PASSWORD!r})\n"
        "    token = accounts.issue_token(SYSTEM, user, 'queue tests')\n"
        "    commit()\n"
        "    print(token)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A long-running process (worker, server), stopped with SIGINT then SIGKILL at the end;
    its output goes to ``log``."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=15)


def worker(env: dict[str, str], log: Path, workers: int = 1):
    """``flask jobs worker`` in its own process."""
    args = [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--workers", str(workers)]
    return process(args, env, log)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, every: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns a true value (returned), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with one file (for a plain HTTP client)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
