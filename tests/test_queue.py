"""The job queue in the test app (huey's immediate mode: a job runs inline when queued, in its
own app context and session): the job's row, its limits, its retries, who may read it, and a
queue that cannot be reached. tests/test_queue_worker.py runs a real worker process."""

from __future__ import annotations

import io

import pytest
from huey import RedisHuey
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from registry import queue
from registry.errors import ConflictError
from registry.extensions import db
from registry.models import Job, Project
from registry.services import accounts
from tests.importers.helpers import csv_bytes
from tests.queue_processes import donor_rows


@pytest.fixture
def donor(app, actor, make_org):
    org = make_org(ref="JOB-DON", name="Job donor")
    user = accounts.create_user(actor, "job-donor@example.org", "donor", org=org)
    token = accounts.issue_token(actor, user)
    db.session.commit()
    return user, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def storage(app, tmp_path):
    app.config["IMPORT_STORAGE"] = str(tmp_path / "imports")
    yield
    app.config.pop("IMPORT_STORAGE")


@pytest.fixture
def unreachable(app):
    """The queue's storage swapped for a Redis nobody listens to."""
    q = app.extensions[queue.EXTENSION]
    kept = q.huey
    q.huey = RedisHuey("registry", url="redis://127.0.0.1:1/0")
    yield
    q.huey = kept


def _queue_import(client, headers, rows: int = 3, **form):
    body = {"file": (io.BytesIO(csv_bytes(donor_rows(rows, prefix="JQ"))), "donor.csv"), **form}
    return client.post(
        "/api/v1/imports",
        data=body,
        headers={**headers, "Prefer": "respond-async"},
        content_type="multipart/form-data",
    )


def _projects() -> int:
    return db.session.scalar(select(func.count()).select_from(Project).where(Project.reference.like("JQ-%")))


def test_an_import_queued_through_the_api_is_a_job_whose_row_tells_everything(client, donor, storage):
    user, headers = donor
    queued = _queue_import(client, headers, rows=3)
    assert queued.status_code == 202, queued.get_json()
    job_id = queued.get_json()["id"]
    assert queued.headers["Location"].endswith(f"/api/v1/jobs/{job_id}")
    shown = client.get(queued.headers["Location"], headers=headers).get_json()
    assert shown["status"] == "done" and shown["kind"] == "import.file" and shown["owner_id"] == user.id
    assert shown["result"]["counts"]["projects_created"] == 3 and shown["result"]["status"] == "committed"
    assert shown["percent"] == 100 and shown["attempts"] == 1 and shown["started_at"] and shown["finished_at"]
    assert _projects() == 3
    # the list shows the donor's own jobs
    listed = client.get("/api/v1/jobs", headers=headers).get_json()
    assert [j["id"] for j in listed["items"]] == [job_id]
    # an undo queued the same way removes them
    batch_id = shown["result"]["batch_id"]
    undo = client.delete(f"/api/v1/imports/{batch_id}", headers={**headers, "Prefer": "respond-async", "If-Match": "*"})
    assert undo.status_code == 202, undo.get_json()
    undone = client.get(undo.headers["Location"], headers=headers).get_json()
    assert undone["status"] == "done" and undone["result"]["status"] == "undone", undone
    assert undone["result"]["undone"] == {"projects_removed": 3, "projects_restored": 0, "transactions_removed": 3}
    assert _projects() == 0


def test_another_donor_may_not_read_a_job_an_administrator_may(client, donor, storage, actor, make_org):
    _user, headers = donor
    job_id = _queue_import(client, headers).get_json()["id"]
    other = accounts.create_user(actor, "other-donor@example.org", "donor", org=make_org(ref="JOB-OTHER"))
    admin = accounts.create_user(actor, "job-admin@example.org", "admin")
    other_token, admin_token = accounts.issue_token(actor, other), accounts.issue_token(actor, admin)
    db.session.commit()
    refused = client.get(f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {other_token}"})
    assert refused.status_code == 403 and refused.get_json()["code"] == 403
    assert client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {other_token}"}).get_json()["total"] == 0
    seen = client.get(f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {admin_token}"})
    assert seen.status_code == 200 and seen.get_json()["id"] == job_id
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 401
    assert client.get("/api/v1/jobs/999999", headers=headers).status_code == 404


def test_a_job_over_its_memory_limit_ends_failed_naming_the_limit_and_saves_nothing(app, client, donor, storage):
    _user, headers = donor
    app.config["JOB_MEMORY_LIMIT_MB"] = 1  # the test process holds far more than that already
    try:
        queued = _queue_import(client, headers, rows=3)
    finally:
        app.config["JOB_MEMORY_LIMIT_MB"] = queue.DEFAULT_MEMORY_LIMIT_MB
    job = client.get(queued.headers["Location"], headers=headers).get_json()
    assert job["status"] == "failed" and "the memory limit of 1 MB" in job["message"], job
    assert "nothing was saved" in job["message"]
    assert _projects() == 0


@pytest.fixture
def flaky_kind():
    """A kind of job whose first attempt meets a lost connection, and one the rules refuse."""
    attempts = {"n": 0}

    def flaky(params: dict, progress) -> dict:
        attempts["n"] += 1
        progress(attempts["n"], 2, "working")
        if attempts["n"] == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return {"attempts_seen": attempts["n"]}

    def refused(params: dict, progress) -> dict:
        raise ConflictError("Import batch 7 changed the same projects later; undo it first")

    queue.register_kind("test.flaky", flaky, retries=2, retry_delay=0)
    queue.register_kind("test.refused", refused, retries=2, retry_delay=0)
    yield attempts
    queue.KINDS.pop("test.flaky")
    queue.KINDS.pop("test.refused")


def test_an_unexpected_error_is_retried_a_refusal_is_not(app, flaky_kind):
    job = queue.create_job("test.flaky", {}, "Flaky")
    db.session.commit()
    with app.app_context():  # the worker's own context and session
        with pytest.raises(OperationalError):  # raised again so that huey schedules the retry
            queue.run_job(job.id, retries_left=2)
    db.session.expire_all()
    assert job.status == "queued" and "trying again" in job.message and job.attempts == 1
    with app.app_context():
        queue.run_job(job.id, retries_left=1)
    db.session.expire_all()
    assert job.status == "done" and job.attempts == 2 and job.result == {"attempts_seen": 2}

    refused = queue.create_job("test.refused", {}, "Refused")
    db.session.commit()
    with app.app_context():
        queue.run_job(refused.id, retries_left=2)  # not raised: nothing to retry
    db.session.expire_all()
    assert refused.status == "failed" and refused.attempts == 1
    assert refused.message == "Import batch 7 changed the same projects later; undo it first"


def test_the_last_attempt_fails_the_job_and_a_finished_job_is_never_run_again(app, flaky_kind):
    job = queue.create_job("test.flaky", {}, "Flaky")
    db.session.commit()
    with app.app_context():
        queue.run_job(job.id, retries_left=0)
    db.session.expire_all()
    assert job.status == "failed" and job.message == "The job failed on our side; nothing was saved."
    with app.app_context():
        queue.run_job(job.id, retries_left=0)  # delivered again: skipped
    db.session.expire_all()
    assert job.attempts == 1 and flaky_kind["n"] == 1


def test_healthz_and_readyz_answer_503_when_the_queue_cannot_be_reached(client, unreachable):
    health = client.get("/healthz")
    assert health.status_code == 503
    (problem,) = health.get_json()["problems"]
    assert problem.startswith("the job queue does not answer")
    ready = client.get("/readyz")
    assert ready.status_code == 503 and any("job queue" in p for p in ready.get_json()["problems"])


def test_healthz_reports_a_reachable_queue(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_a_job_that_cannot_be_queued_is_a_503_and_its_row_says_why(client, donor, storage, unreachable):
    _user, headers = donor
    response = _queue_import(client, headers)
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == 503 and "job queue could not be reached" in body["message"]
    job = db.session.scalar(select(Job).order_by(Job.id.desc()).limit(1))
    assert job.status == "failed" and "could not be reached; nothing was done" in job.message
    assert _projects() == 0


def test_the_jobs_commands_list_and_show_the_rows(app, runner, donor, storage, client):
    _user, headers = donor
    job_id = _queue_import(client, headers).get_json()["id"]
    listed = runner.invoke(args=["jobs", "list"])
    assert listed.exit_code == 0 and f"{job_id:>6}" in listed.output and "done" in listed.output
    shown = runner.invoke(args=["jobs", "show", str(job_id)])
    assert shown.exit_code == 0 and '"status": "done"' in shown.output and '"actor"' not in shown.output
    missing = runner.invoke(args=["jobs", "show", "999999"])
    assert missing.exit_code == 1 and "No job 999999" in missing.output
    # a fact rebuild is queued from the command line (and runs inline here)
    submitted = runner.invoke(args=["jobs", "submit", "facts.rebuild"])
    assert submitted.exit_code == 0, submitted.output
    rebuilt = db.session.scalar(select(Job).where(Job.kind == "facts.rebuild"))
    assert rebuilt.status == "done" and rebuilt.result["rebuilt"] is True
    refused = runner.invoke(args=["jobs", "submit", "import.file"])
    assert refused.exit_code == 1 and "not a job to queue from here" in refused.output
    # the worker refuses to start where jobs run inline
    worker = runner.invoke(args=["jobs", "worker"])
    assert worker.exit_code == 1 and "QUEUE_IMMEDIATE" in worker.output


def test_a_large_export_is_a_job_whose_file_is_downloaded_from_it(app, client, donor, tmp_path, make_project,
                                                                  make_transaction):  # fmt: skip
    from openpyxl import load_workbook

    user, headers = donor
    app.config["JOB_FILES"] = str(tmp_path / "job-files")
    try:
        make_transaction(make_project(reference="EXP-1"))
        db.session.commit()
        url = "/api/v1/reports/funding-gap.xlsx?currency=USD"
        direct = client.get(url, headers=headers)
        assert direct.status_code == 200
        queued = client.get(url, headers={**headers, "Prefer": "respond-async", "If-Match": "*"})
        assert queued.status_code == 202, queued.get_json()
        job = client.get(queued.headers["Location"], headers=headers).get_json()
        assert job["status"] == "done" and job["kind"] == "export.funding_gap", job
        assert job["result"]["filename"].startswith("funding-gap-USD") and job["result"]["bytes"] > 0
        download = client.get(queued.headers["Location"] + "/file", headers=headers)
        assert download.status_code == 200 and download.headers["Content-Disposition"].startswith("attachment")
        data = download.data
        download.close()  # a file sent from disk
        queued_book = load_workbook(io.BytesIO(data))
        direct_book = load_workbook(io.BytesIO(direct.data))
        assert queued_book.sheetnames == direct_book.sheetnames

        def cells(book, name):  # every cell but the time the workbook was made
            rows = [[c.value for c in row] for row in book[name].iter_rows()]
            return [row for row in rows if row[:1] != ["Generated (UTC)"]]

        for name in direct_book.sheetnames:  # the same workbook, cell for cell
            assert cells(queued_book, name) == cells(direct_book, name), name
        # a bad parameter is refused at once, as without the header; nobody else downloads the file
        bad = "/api/v1/reports/funding-gap.xlsx?currency=XX"
        assert client.get(bad, headers={**headers, "Prefer": "respond-async", "If-Match": "*"}).status_code == 422
        assert client.get(queued.headers["Location"] + "/file").status_code == 401
        anonymous = client.get(url, headers={"Prefer": "respond-async"})
        assert anonymous.status_code == 401
    finally:
        app.config.pop("JOB_FILES")


def test_a_worker_imports_what_jobs_load_before_its_memory_is_capped(app, monkeypatch):
    """The CRS reader's pandas is declared for preloading: a worker process imports it as it
    starts, before its address space is capped at its size plus the job limit, so that it
    counts in the process and not against a CRS import's memory (the web processes never load
    it: tests/test_dependencies.py)."""
    assert "importers.crs" in queue.PRELOAD
    steps: list[str] = []
    monkeypatch.setattr(queue, "import_module", lambda name: steps.append(f"import {name}"))
    monkeypatch.setattr(queue, "_limit_address_space", lambda config: steps.append("cap"))
    queue._prepare_worker(app.config)
    assert steps == [*(f"import {name}" for name in queue.PRELOAD), "cap"]
