"""The repository's gunicorn settings serve the app: two workers on a free loopback port, in
production mode, against a fresh SQLite database; the probes and a page answer 200, and the
logs (the app's and gunicorn's) are JSON lines carrying the request id."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from flask_migrate import upgrade

from registry.app import create_app
from registry.extensions import db

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _json_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set (production refuses per-process rate limits)"
)
def test_gunicorn_serves_the_app_with_two_workers_and_json_logs(tmp_path):
    database = tmp_path / "registry.sqlite3"
    url = f"sqlite:///{database}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()

    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "LOG_", "FLASK_"))},
        "REGISTRY_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESS_LOG": "-",
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL", ""),  # the two workers count together
    }
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=REPO,
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while True:
                assert server.poll() is None, f"gunicorn exited: {err.read_text()[-3000:]}"
                try:
                    status, headers, body = _get(f"{base}/healthz")
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"gunicorn never answered: {err.read_text()[-3000:]}"
                    time.sleep(0.25)
            assert status == 200 and json.loads(body) == {"status": "ok"}

            status, _, body = _get(f"{base}/readyz")
            assert status == 200, body  # the database is reachable and at the migrations' head

            status, headers, body = _get(f"{base}/", headers={"X-Request-ID": "gunicorn-test-page"})
            assert status == 200 and b"<html" in body.lower()
            assert headers["X-Request-ID"] == "gunicorn-test-page"
            assert "Strict-Transport-Security" in headers  # production settings are in force
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    errors = _json_lines(err)
    access = _json_lines(out)
    booted = [line for line in errors if line["logger"] == "gunicorn.error" and "Booting worker" in line["message"]]
    assert len({line["message"].rsplit(" ", 1)[-1] for line in booted}) == 2, err.read_text()[-3000:]
    # the app's own request line and gunicorn's access line both name the request
    app_line = next(
        line for line in errors if line["logger"] == "registry.request" and line["request_id"] == "gunicorn-test-page"
    )
    assert app_line["path"] == "/" and app_line["status"] == 200 and app_line["method"] == "GET"
    access_line = next(line for line in access if line.get("request_id") == "gunicorn-test-page")
    assert access_line["logger"] == "gunicorn.access" and access_line["status"] == 200 and access_line["path"] == "/"
    assert server.returncode == 0, err.read_text()[-3000:]


def test_a_worker_freezes_what_it_loaded_out_of_the_collector():
    """The workers' start-up objects leave the garbage collector's generations (gc.freeze), in
    the master before forking and in each worker once the app is loaded."""
    import gc
    import runpy

    settings = runpy.run_path(str(REPO / "gunicorn.conf.py"))
    gc.unfreeze()
    try:
        settings["pre_fork"](None, None)
        assert gc.get_freeze_count() > 10_000
        gc.unfreeze()
        settings["post_worker_init"](None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
