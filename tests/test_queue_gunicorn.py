"""Several web processes, one queue worker, one database: gunicorn with two workers and a
``flask jobs worker`` process on the test database (a SQLite file, or PostgreSQL when
DATABASE_URL is set). An import posted to one web worker is followed, to its end, through
the other: no job state lives in a process."""

from __future__ import annotations

import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.importers.helpers import csv_bytes
from tests.queue_processes import (
    PASSWORD,
    database_for,
    donor_rows,
    drop_database,
    environment,
    free_port,
    multipart,
    prepare,
    process,
    wait_for,
    worker,
)

pytest.importorskip("gunicorn", reason="gunicorn is the production server (runtime dependency)")
pytestmark = pytest.mark.slow

ROWS = 5_000


class Browser:
    """A plain HTTP client with cookies (each request on a new connection, so either gunicorn
    worker may take it)."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
        req = urllib.request.Request(self.base + path, data=data, headers={"Connection": "close", **(headers or {})})
        try:
            with self.opener.open(req, timeout=120) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def answers(self, path: str) -> bool:
        """Whether the server is up and answers 200 (a refused connection is not yet)."""
        try:
            return self.request(path)[0] == 200
        except urllib.error.URLError:
            return False

    def login(self, email: str, password: str) -> None:
        _status, _headers, body = self.request("/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
        form = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password}).encode()
        status, _headers, body = self.request("/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200 and b"Log out" in body, body[:2000]


def _served_by(log_path, pattern: str) -> list[int]:
    """The pids of the gunicorn workers that answered requests matching ``pattern`` with 2xx (gunicorn
    writes the pid as <pid>)."""
    pids = []
    for line in log_path.read_text(errors="replace").splitlines():
        found = re.match(r'^<?(\d+)>? "([^"]*)" (\d{3})$', line.strip())
        if found and re.search(pattern, found.group(2)) and found.group(3).startswith("2"):
            pids.append(int(found.group(1)))
    return pids


@pytest.fixture
def database(tmp_path):
    url = database_for(tmp_path)
    yield url
    drop_database(url)


def test_an_import_posted_to_one_web_worker_is_followed_through_the_other(tmp_path, database):
    env = environment(tmp_path, database)
    token = prepare(env)
    port = free_port()
    access = tmp_path / "access.log"
    gunicorn = [
        sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
        "--access-logfile", str(access), "--access-logformat", '%(p)s "%(r)s" %(s)s', "wsgi:app",
    ]  # fmt: skip
    with process(gunicorn, env, tmp_path / "gunicorn.log"), worker(env, tmp_path / "worker.log"):
        web = Browser(f"http://127.0.0.1:{port}")
        wait_for(lambda: web.answers("/healthz"), 90, 0.25, "gunicorn to answer /healthz")
        body, content_type = multipart({"org": "Q-DON"}, "donor.csv", csv_bytes(donor_rows(ROWS)))
        status, headers, answer = web.request(
            "/api/v1/imports",
            body,
            {"Content-Type": content_type, "Authorization": f"Bearer {token}", "Prefer": "respond-async"},
        )
        assert status == 202, answer[:2000]
        job_path = urllib.parse.urlsplit(headers["Location"]).path
        posted_by = wait_for(lambda: _served_by(access, r"^POST /api/v1/imports "), 10, what="the access log")[0]
        # Follow the job through the browser session: reads that write nothing (see test_queue_worker).
        web.login("queue-donor@example.org", PASSWORD)
        seen: list[tuple[str, int]] = []

        def finished():
            status, _headers, answer = web.request(job_path, headers={"Accept": "application/json"})
            assert status == 200, answer[:2000]
            job = json.loads(answer)
            seen.append((job["status"], job["percent"]))
            return job if job["status"] in ("done", "failed") else None

        job = wait_for(finished, 300, 0.05, "the job to end")
        # keep reading until the other web worker has answered too (each request is a new connection)
        others = []
        for _ in range(200):
            others = [pid for pid in _served_by(access, "^GET " + re.escape(job_path) + " ") if pid != posted_by]
            if others:
                break
            finished()
            time.sleep(0.02)
        assert others, f"every read of the job was answered by the worker that took the upload ({posted_by})"
        batch_status, _h, batch = web.request(f"/api/v1/imports/{job['result']['batch_id']}")
        _s, _h, projects = web.request("/api/v1/projects?per_page=1")
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert job["status"] == "done", (job, log[-3000:])
    assert job["result"]["counts"]["projects_created"] == ROWS and job["result"]["status"] == "committed"
    assert seen[-1] == ("done", 100)
    assert batch_status == 200 and json.loads(batch)["counts"]["transactions"] == ROWS
    assert json.loads(projects)["total"] == ROWS
