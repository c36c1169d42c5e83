"""A real queue worker process (``flask jobs worker``) runs the import jobs queued by another
process through the API; that process follows the job's progress and reads its result in the
database, as any web process would."""

from __future__ import annotations

import io
import json
import time

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from registry.app import create_app
from tests.importers.helpers import csv_bytes
from tests.queue_processes import database_for, donor_rows, drop_database, environment, flask, prepare, worker

pytestmark = pytest.mark.slow

# Long enough (seconds) for the progress to be seen part way, and an upload under the 500 KB
# above which the test client spools the request body to a temporary file it never closes.
ROWS = 7_500


@pytest.fixture
def database(tmp_path):
    url = database_for(tmp_path)
    yield url
    drop_database(url)


@pytest.fixture
def web_apps():
    """Apps of this process made by the test; their connections are closed at the end."""
    made = []
    yield made
    from registry.extensions import db

    for app in made:
        with app.app_context():
            db.engine.dispose()


def _web_app(made: list, tmp_path, database: str, **config):
    """The enqueuing side: an app of this process on the same database, uploads and queue."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database.replace("postgresql://", "postgresql+psycopg://", 1),
            "SECRET_KEY": "queue-tests-" + "x" * 32,
            "SESSION_COOKIE_SECURE": False,
            "QUEUE_FILE": str(tmp_path / "queue.sqlite3"),
            "IMPORT_STORAGE": str(tmp_path / "imports"),
            **config,
        }
    )
    made.append(app)
    return app


def _queue_import(client, token: str, rows: int, name: str = "donor.csv"):
    # The body is encoded here, in memory: given the fields, the test client spools a body over
    # 500 KB to a temporary file that nothing closes.
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(csv_bytes(donor_rows(rows))), filename=name), "org": "Q-DON"}
    )
    return client.post(
        "/api/v1/imports",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Prefer": "respond-async"},
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def _reader(app):
    """A client of the donor's browser session. Reads go through it: on SQLite a token request
    writes the token's last use, and a write waits while the import job holds the one write lock."""
    from registry.extensions import db
    from registry.models import User
    from tests.sessions import log_in

    client = app.test_client()
    with app.app_context():
        log_in(client, db.session.scalar(db.select(User).where(User.email == "queue-donor@example.org")))
    return client


def _follow(client, location: str, timeout: float = 300) -> tuple[dict, list[tuple[str, int]]]:
    """Poll the job until it ends: its last state, and every (status, percent) seen."""
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(location)
        assert response.status_code == 200, (response.get_json(), seen[-5:])
        job = response.get_json()
        seen.append((job["status"], job["percent"]))
        if job["status"] in ("done", "failed"):
            return job, seen
        time.sleep(0.05)
    raise AssertionError(f"the job did not end in {timeout} s: {seen[-5:]}")


def test_a_worker_process_runs_an_import_queued_through_the_api(tmp_path, database, web_apps):
    env = environment(tmp_path, database)
    token = prepare(env)
    app = _web_app(web_apps, tmp_path, database)
    client = app.test_client()
    with worker(env, tmp_path / "worker.log"):
        queued = _queue_import(client, token, ROWS)
        assert queued.status_code == 202, queued.get_json()
        assert queued.headers["Preference-Applied"] == "respond-async"
        location = queued.headers["Location"]
        assert queued.get_json()["status"] == "queued" and location.endswith(f"/api/v1/jobs/{queued.get_json()['id']}")
        job, seen = _follow(_reader(app), location)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert job["status"] == "done", (job, log[-3000:])
    # progress seen from this process while the worker ran: part way, then the end
    assert any(status == "running" and 0 < percent < 100 for status, percent in seen), seen
    percents = [p for status, p in seen if status == "running"]
    assert percents == sorted(percents), "progress never goes back"
    assert job["attempts"] == 1 and job["percent"] == 100 and job["finished_at"]
    result = job["result"]
    assert result["status"] == "committed" and result["counts"]["projects_created"] == ROWS
    batch = client.get(f"/api/v1/imports/{result['batch_id']}", headers={"Authorization": f"Bearer {token}"})
    assert batch.get_json()["status"] == "committed" and batch.get_json()["counts"]["transactions"] == ROWS
    projects = client.get("/api/v1/projects?per_page=1", headers={"Authorization": f"Bearer {token}"})
    assert projects.get_json()["total"] == ROWS
    # the command line reads the same row
    shown = flask(env, "jobs", "show", str(job["id"]))
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "done"
    listed = flask(env, "jobs", "list")
    assert f"{job['id']:>6}" in listed.stdout and "done" in listed.stdout and "import.file" in listed.stdout


def test_a_job_over_its_time_limit_ends_failed_saying_so_and_saves_nothing(tmp_path, database, web_apps):
    env = environment(tmp_path, database, JOB_TIME_LIMIT="1")
    token = prepare(env)
    app = _web_app(web_apps, tmp_path, database, JOB_TIME_LIMIT=1)
    client = app.test_client()
    with worker(env, tmp_path / "worker.log"):
        # Eight times the usual file: the usual one can be read and written in under a second
        # on a quiet machine, and the limit is checked as the work advances.
        queued = _queue_import(client, token, 8 * ROWS)
        assert queued.status_code == 202, queued.get_json()
        job, _seen = _follow(_reader(app), queued.headers["Location"])
    assert job["status"] == "failed", job
    assert "time limit of 1 s" in job["message"] and "nothing was saved" in job["message"]
    assert job["attempts"] == 1  # a limit is never retried
    projects = client.get("/api/v1/projects?per_page=1", headers={"Authorization": f"Bearer {token}"})
    assert projects.get_json()["total"] == 0
