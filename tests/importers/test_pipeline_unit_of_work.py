"""One commit boundary: the pipeline, interop and the import operations never commit; the
command, the API request or the background job that called them commits once.

Every call of ``Session.commit`` is counted (releasing a savepoint is no commit), and what an
import leaves behind is checked by rolling the session back: work the caller has not committed
must vanish."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from importers import operations, pipeline
from importers.interop import import_iati
from registry.extensions import db
from registry.models import ImportBatch, Job, Organisation, Project, Transaction
from registry.models.types import Role
from registry.services import accounts
from registry.services.actor import Actor
from tests.importers.helpers import csv_bytes
from tests.importers.iati_xml import activity, document
from tests.importers.test_all_or_nothing import _tx
from tests.importers.test_pipeline import _record

ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
ROWS = [
    ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"],
    ["UOW-1", "Connected clinics", "Kenya", "commitment", "1000", "USD", "2021-01-04"],
    ["UOW-2", "Rural backbone", "Uganda", "disbursement", "250.50", "USD", "2021-02-01"],
]


@pytest.fixture
def commits(app, monkeypatch):
    """The sessions committed (``Session.commit`` called), in order, while the test runs."""
    seen: list[Session] = []
    commit = Session.commit

    def counted(session: Session) -> None:
        seen.append(session)
        commit(session)

    monkeypatch.setattr(Session, "commit", counted)
    return seen


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_an_import_stays_uncommitted_until_its_caller_commits(app, make_org, commits):
    org = make_org(ref="UOW-DON")
    db.session.commit()
    commits.clear()
    batch = pipeline.run_import("test", "f.csv", b"uow-1", org, ADMIN, records=[_record("A"), _record("B")])
    assert batch.status == "committed" and batch.counts["projects_created"] == 2
    assert _count(Project, Project.org_id == org.id) == 2  # written, in the caller's transaction
    assert commits == []
    db.session.rollback()  # the caller gives up: nothing of the file stays
    assert _count(Project, Project.org_id == org.id) == 0
    assert _count(ImportBatch, ImportBatch.file_hash == batch.file_hash) == 0

    again = pipeline.run_import("test", "f.csv", b"uow-1", org, ADMIN, records=[_record("A"), _record("B")])
    db.session.commit()  # the caller's one commit
    assert len(commits) == 1
    db.session.rollback()
    assert _count(Project, Project.org_id == org.id) == 2
    assert db.session.get(ImportBatch, again.id).status == "committed"


def test_previews_failures_commits_of_previews_and_undos_never_commit(app, make_org, commits):
    org = make_org(ref="UOW-ALL")
    db.session.commit()
    commits.clear()
    preview = pipeline.run_import("sheet", "donor.csv", csv_bytes(ROWS), org, ADMIN, dry_run=True)
    bad = [ROWS[0], ["UOW-3", "Clinics", "Kenya", "commitment", "1000", "XXX", "2021-01-04"]]
    failed = pipeline.run_import("sheet", "bad.csv", csv_bytes(bad), org, ADMIN)
    assert (preview.status, failed.status) == ("previewed", "failed")
    assert commits == []
    db.session.commit()  # the caller keeps both reports
    commits.clear()

    done = pipeline.commit_batch(preview.id, ADMIN)
    assert done.status == "committed" and _count(Project, Project.org_id == org.id) == 2
    assert commits == []
    db.session.commit()
    commits.clear()

    pipeline.undo_batch(done.id, ADMIN)
    assert _count(Project, Project.org_id == org.id) == 0
    assert commits == []
    db.session.rollback()  # the undo was not committed: the import stands
    assert _count(Project, Project.org_id == org.id) == 2
    assert db.session.get(ImportBatch, done.id).status == "committed"


def test_a_file_of_several_organisations_leaves_its_commit_to_the_caller(app, tmp_path, commits):
    clean = document(
        activity("UOW-A-1", org="UOW-PUB-A", transactions=_tx("2", "1000.00")),
        activity("UOW-B-1", org="UOW-PUB-B", transactions=_tx("2", "2000.00")),
    )
    path = tmp_path / "two.xml"
    path.write_bytes(clean)
    result = import_iati(path, ADMIN)
    assert result.ok and [b.status for b in result.batches] == ["committed", "committed"]
    assert commits == []
    db.session.rollback()
    assert _count(Organisation, Organisation.ref.in_(["UOW-PUB-A", "UOW-PUB-B"])) == 0

    refused = document(
        activity("UOW-A-1", org="UOW-PUB-A", transactions=_tx("2", "1000.00")),
        activity("UOW-B-1", org="UOW-PUB-B", transactions=_tx("2", "2000.00", currency="EUX")),
    )
    path.write_bytes(refused)
    result = import_iati(path, ADMIN)
    assert [b.status for b in result.batches] == ["failed", "failed"]
    assert commits == []
    assert _count(ImportBatch, ImportBatch.status == "failed") == 2  # the reports, for the caller to keep
    assert _count(Transaction, Transaction.import_batch_id.is_not(None)) == 0


def test_operations_remember_a_mapping_without_committing(app, make_org, commits):
    org = make_org(ref="UOW-MAP")
    db.session.commit()
    commits.clear()
    operations.remember_mapping(org.id, "sheet", {"mapping": {"columns": {"Sum": "amount"}}, "dates": "dmy"})
    assert operations.saved_mapping(org.id).mapping == {"columns": {"Sum": "amount"}, "dates": "dmy"}
    assert commits == []
    db.session.rollback()
    assert operations.saved_mapping(org.id) is None


def test_the_command_commits_once(runner, make_org, tmp_path, commits):
    make_org(ref="UOW-CLI")
    db.session.commit()
    path = tmp_path / "donor.csv"
    path.write_bytes(csv_bytes(ROWS))
    commits.clear()
    result = runner.invoke(args=["import", "sheet", str(path), "--org", "UOW-CLI"])
    assert result.exit_code == 0, result.output
    assert len(commits) == 1


def test_an_api_upload_commits_once_and_keeps_a_failed_report(client, app, actor, make_org, commits):
    org = make_org(ref="UOW-API")
    user = accounts.create_user(actor, "uow-api@example.org", "donor", org=org)
    headers = {"Authorization": f"Bearer {accounts.issue_token(actor, user)}"}
    db.session.commit()

    def upload(rows: list[list]) -> object:
        body = {"file": (io.BytesIO(csv_bytes(rows)), "donor.csv")}
        return client.post("/api/v1/imports", data=body, headers=headers, content_type="multipart/form-data")

    commits.clear()
    ok = upload(ROWS)
    assert ok.status_code == 201, ok.json
    assert len(commits) == 1
    commits.clear()
    bad = upload([ROWS[0], ["UOW-3", "Clinics", "Kenya", "commitment", "1000", "XXX", "2021-01-04"]])
    assert bad.status_code == 422
    assert len(commits) == 1  # the failed file's report is the request's one write
    db.session.rollback()
    assert db.session.get(ImportBatch, bad.json["batch"]["id"]).status == "failed"


def test_the_background_job_commits_once(client, app, actor, make_org, commits):
    app.config["IMPORT_BACKGROUND"] = False
    org = make_org(ref="UOW-JOB")
    user = accounts.create_user(actor, "uow-job@example.org", "donor", org=org, password="long enough pw 1")
    db.session.commit()
    client.post("/login", data={"email": user.email, "password": "long enough pw 1"})
    commits.clear()
    page = client.post(
        "/imports/",
        data={"file": (io.BytesIO(csv_bytes(ROWS)), "donor.csv"), "org_id": str(org.id)},
        content_type="multipart/form-data",
    )
    assert page.status_code == 302
    # The request commits the queued job, once. The worker (inline here) commits the job's
    # start, then the preview together with the job's end, in its own session.
    request_commit, *worker = commits
    assert len(worker) == 2 and worker[0] is worker[1] and worker[0] is not request_commit
    preview = db.session.scalar(select(ImportBatch).where(ImportBatch.org_id == org.id))
    assert preview is not None and preview.status == "previewed"
    job = db.session.scalar(select(Job).order_by(Job.id.desc()).limit(1))
    assert job.status == "done" and job.result["batch_id"] == preview.id and job.attempts == 1
