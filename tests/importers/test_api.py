"""The import API: upload, preview, commit, undo, permissions and upload limits."""

from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import Project, Transaction
from registry.services import accounts
from tests.importers.helpers import csv_bytes
from tests.importers.test_sheets import _bomb

ROWS = [
    [
        "Project reference",
        "Title",
        "Country",
        "Transaction type",
        "Amount",
        "Currency",
        "Value date",
    ],
    ["API-1", "Connected clinics", "Kenya", "commitment", "1000", "USD", "2021-01-04"],
    ["API-2", "Rural backbone", "Uganda", "disbursement", "250.50", "USD", "2021-02-01"],
]


@pytest.fixture
def donor(app, actor, make_org):
    org = make_org(ref="API-DON", name="API donor")
    user = accounts.create_user(actor, "donor-api@example.org", "donor", org=org)
    token = accounts.issue_token(actor, user)
    db.session.commit()
    return org, {"Authorization": f"Bearer {token}"}


def _upload(client, headers, data=None, name="donor.csv", **form):
    body = {"file": (io.BytesIO(data if data is not None else csv_bytes(ROWS)), name)}
    body.update({k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()})
    return client.post("/api/v1/imports", data=body, headers=headers, content_type="multipart/form-data")


def _projects(org) -> int:
    return db.session.scalar(select(func.count()).select_from(Project).where(Project.org_id == org.id))


def test_preview_then_commit_then_undo(client, donor):
    org, headers = donor
    response = _upload(client, headers, dry_run=True)
    assert response.status_code == 201, response.json
    batch = response.json
    assert batch["status"] == "previewed" and batch["counts"]["projects_created"] == 2
    assert batch["mapping"]["columns"]["Project reference"] == "reference"
    assert _projects(org) == 0
    assert client.get(f"/api/v1/imports/{batch['id']}", headers=headers).json["status"] == "previewed"
    committed = client.post(f"/api/v1/imports/{batch['id']}/commit", headers=headers)
    assert committed.status_code == 200, committed.json
    assert committed.json["status"] == "committed" and _projects(org) == 2
    again = _upload(client, headers)
    assert again.status_code == 200 and again.json["already_imported"] is True
    # An undo says which state of the batch it is based on: the preview's ETag is stale now.
    assert client.delete(f"/api/v1/imports/{batch['id']}", headers=headers).status_code == 428
    stale = {**headers, "If-Match": response.headers["ETag"]}
    assert client.delete(f"/api/v1/imports/{batch['id']}", headers=stale).status_code == 412
    assert _projects(org) == 2
    read = {**headers, "If-Match": client.get(f"/api/v1/imports/{batch['id']}", headers=headers).headers["ETag"]}
    assert read["If-Match"] == committed.headers["ETag"]
    undone = client.delete(f"/api/v1/imports/{batch['id']}", headers=read)
    assert undone.status_code == 200 and undone.json["status"] == "undone"
    assert _projects(org) == 0


def test_rejected_file_answers_422_with_every_problem(client, donor):
    org, headers = donor
    rows = [r[:] for r in ROWS]
    rows[2][4] = "lots"
    response = _upload(client, headers, csv_bytes(rows))
    assert response.status_code == 422
    body = response.json
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    assert body["errors"]["file"] == ["row 3, column 'Amount': 'lots' is not an amount"]
    assert body["batch"]["status"] == "failed" and body["batch"]["problems"][0]["value"] == "lots"
    assert db.session.scalar(select(func.count()).select_from(Transaction)) == 0


def test_the_422_lists_the_problems_of_every_row(client, donor):
    """An unknown country on one row does not hide a bad share, currency or title on others."""
    _org, headers = donor
    header = ["Project reference", "Project title", "Recipient country", "Country share (%)"]
    header += ["Transaction type", "Amount", "Currency", "Value date"]
    rows = [
        header,
        ["N-07", "A", "Wakanda", "100", "commitment", "60000", "USD", "2024-03-01"],
        ["N-08", "B", "Kenya", "-5", "commitment", "10", "USD", "2024-03-01"],
        ["N-10", "D", "Kenya", "100", "commitment", "10", "EUX", "2024-03-01"],
        ["N-11", "", "Kenya", "100", "commitment", "10", "USD", "2024-03-01"],
        ["N-12", "E", "Kenya", "60", "commitment", "10", "USD", "2024-03-01"],
        ["N-12", "E", "Wakanda", "40", "commitment", "10", "USD", "2024-03-01"],
    ]
    response = _upload(client, headers, csv_bytes(rows))
    assert response.status_code == 422
    assert response.json["errors"]["file"] == [
        "row 2, column 'Recipient country': Unknown country 'Wakanda'",
        "row 3, column 'Country share (%)': Share -5 must be above 0 and at most 100",
        "row 7, column 'Recipient country': Unknown country 'Wakanda'",
        "row 4, column 'Currency': Unknown currency 'EUX'",
        "row 5, column 'Project title': A project title is required",
    ]  # N-12's 60 % alone is no error of its own: Wakanda's 40 % could not be read


def test_permissions(client, donor, make_org, actor):
    _org, headers = donor
    other = make_org(ref="OTHER")
    db.session.commit()
    assert _upload(client, {}).status_code == 401
    response = _upload(client, headers, org="OTHER")
    assert response.status_code == 403 and response.json["code"] == 403
    analyst = accounts.create_user(actor, "analyst-api@example.org", "analyst")
    token = accounts.issue_token(actor, analyst)
    db.session.commit()
    assert _upload(client, {"Authorization": f"Bearer {token}"}, org=other.ref).status_code == 403


def test_upload_limits(app, client, donor, tmp_path):
    _org, headers = donor
    started = time.perf_counter()
    response = _upload(client, headers, _bomb(tmp_path / "bomb.xlsx").read_bytes(), name="bomb.xlsx")
    assert response.status_code == 413 and "unpack to" in response.json["message"]
    assert time.perf_counter() - started < 2
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        response = _upload(client, headers, b"x" * 5000)
        assert response.status_code == 413 and response.json["code"] == 413
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    response = _upload(client, headers, b"\x89PNG\r\n\x1a\n....", name="logo.png")
    assert response.status_code == 422 and "not a file we can import" in response.json["message"]
    response = _upload(client, headers, dry_run=True, mapping="{not json")
    assert response.status_code == 422 and "mapping" in response.json["errors"]


def test_the_list_of_imports_is_paged_newest_first_and_filtered(client, donor, make_org, actor):
    org, headers = donor
    ids = []
    for n in range(3):
        rows = [r[:] for r in ROWS]
        rows[1][1] = f"Connected clinics {n}"  # a different file each time
        ids.append(_upload(client, headers, csv_bytes(rows), dry_run=True).json["id"])
    bad = [r[:] for r in ROWS]
    bad[2][4] = "lots"
    ids.append(_upload(client, headers, csv_bytes(bad)).json["batch"]["id"])
    # another organisation's import stays out of this donor's list
    other = make_org(ref="OTHER-LIST")
    admin = accounts.create_user(actor, "admin-list@example.org", "admin")
    admin_headers = {"Authorization": f"Bearer {accounts.issue_token(actor, admin)}"}
    db.session.commit()
    other_id = _upload(client, admin_headers, org=other.ref, dry_run=True).json["id"]

    response = client.get("/api/v1/imports?per_page=2", headers=headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (4, 1, 2, 2)
    assert response.headers["X-Total-Count"] == "4" and 'rel="next"' in response.headers["Link"]
    assert [b["id"] for b in body["items"]] == ids[::-1][:2]
    second = client.get("/api/v1/imports?per_page=2&page=2", headers=headers).json
    assert [b["id"] for b in second["items"]] == ids[::-1][2:]

    failed = client.get("/api/v1/imports?status=failed", headers=headers).json
    assert [b["id"] for b in failed["items"]] == [ids[3]] and failed["items"][0]["problems"]
    assert client.get("/api/v1/imports?status=committed", headers=headers).json["total"] == 0
    everyone = client.get("/api/v1/imports", headers=admin_headers).json
    assert everyone["total"] == 5 and everyone["items"][0]["id"] == other_id
    theirs = client.get(f"/api/v1/imports?org_id={other.id}", headers=admin_headers).json
    assert [b["id"] for b in theirs["items"]] == [other_id]
    assert client.get(f"/api/v1/imports?org_id={other.id}", headers=headers).json["total"] == 0

    assert client.get("/api/v1/imports?status=lost", headers=headers).status_code == 422
    assert client.get("/api/v1/imports?colour=red", headers=headers).status_code == 422
    assert client.get("/api/v1/imports").status_code == 401


def test_a_commit_that_would_differ_from_its_preview_is_a_conflict(client, donor):
    org, headers = donor
    preview = _upload(client, headers, dry_run=True).json
    assert preview["counts"]["projects_created"] == 2
    assert _upload(client, headers, data=csv_bytes(ROWS[:2]), name="one.csv").status_code == 201
    response = client.post(f"/api/v1/imports/{preview['id']}/commit", headers=headers)
    assert response.status_code == 409, response.json
    assert "preview the file again" in response.json["message"]
    assert "preview: 2 projects to create" in response.json["message"]
    assert _projects(org) == 1
    assert client.get(f"/api/v1/imports/{preview['id']}", headers=headers).json["status"] == "previewed"
