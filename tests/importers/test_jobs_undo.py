"""Undo in bulk: the undo of a batch of a few hundred projects, queued as a job, removes exactly
what the batch created (projects, flows, recipient and area shares, report facts) and restores
what it changed, and leaves every other row as it was."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from importers import pipeline
from registry.extensions import db
from registry.models import AuditEvent, ImportBatch, Project, ProjectArea, ProjectRecipient, Transaction
from registry.services import accounts
from registry.unit_of_work import commit
from reports.models import ReportFlowFact, ReportProjectFact
from tests.importers.helpers import csv_bytes
from tests.sessions import log_in

HEADER = ["Project reference", "Project title", "Country", "Priority area", "Transaction type", "Amount", "Currency",
          "Value date"]  # fmt: skip
# Columns that change on any write without changing what a row says.
NOISE = {"id", "created_at", "updated_at", "version"}


# Undo a batch whatever its state (the If-Match rule has its own tests), as a queued job.
UNDO_ASYNC = {"Prefer": "respond-async", "If-Match": "*"}


def _rows(prefix: str, n: int, title: str = "Project") -> list[list]:
    return [
        [
            f"{prefix}-{i:04d}",
            f"{title} {i}",
            "Kenya" if i % 2 else "Uganda",
            "23b",
            "commitment",
            f"{100 + i}.50",
            "USD",
            "2021-03-01",
        ]  # fmt: skip
        for i in range(n)
    ]


def _state() -> dict[str, list[tuple]]:
    """Every row of the tables an import writes, as comparable tuples (projects keep their id)."""
    tables = {
        "projects": Project,
        "transactions": Transaction,
        "project_recipients": ProjectRecipient,
        "project_areas": ProjectArea,
        "report_flow_facts": ReportFlowFact,
        "report_project_facts": ReportProjectFact,
    }
    state = {}
    for name, model in tables.items():
        keep = [c for c in model.__table__.columns if c.name not in NOISE or (name == "projects" and c.name == "id")]
        state[name] = sorted(tuple(map(repr, row)) for row in db.session.execute(select(*keep)).all())
    return state


@pytest.fixture
def donor(app, actor, make_org, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_STORAGE", str(tmp_path / "imports"))
    org = make_org(ref="UNDO-DON", name="Undo donor")
    user = accounts.create_user(actor, "undo-donor@example.org", "donor", org=org)
    token = accounts.issue_token(actor, user)
    db.session.commit()
    return org, {"Authorization": f"Bearer {token}"}


def _import(org, actor, rows: list[list], name: str) -> ImportBatch:
    batch = pipeline.run_import("sheet", name, csv_bytes([HEADER, *rows]), org, actor)
    assert batch.status == "committed", batch.problems[:3]
    commit()  # as the API, the page or the worker would: the facts are refreshed with it
    return batch


def test_undo_of_a_few_hundred_projects_removes_exactly_them(client, actor, donor, make_project, make_transaction):
    org, headers = donor
    # Others' data, and an earlier import of the same donor: none of it may move.
    for n in range(3):
        make_transaction(make_project(reference=f"KEEP-{n}"), amount=Decimal("5.00"))
    commit()
    earlier = _import(org, actor, _rows("A", 20), "earlier.csv")
    before = _state()
    audit_before = db.session.scalar(select(db.func.max(AuditEvent.id)))
    # The batch to undo creates 300 projects and changes two of the earlier batch's.
    changed = _rows("A", 2, title="Renamed")
    batch = _import(org, actor, _rows("B", 300) + changed, "later.csv")
    assert batch.counts["projects_created"] == 300 and batch.counts["projects_updated"] == 2
    after_import = _state()
    assert len(after_import["projects"]) == len(before["projects"]) + 300
    assert len(after_import["report_project_facts"]) > len(before["report_project_facts"])

    response = client.delete(
        f"/api/v1/imports/{batch.id}", headers={**headers, "Prefer": "respond-async", "If-Match": "*"}
    )
    assert response.status_code == 202, response.get_json()
    job = client.get(response.headers["Location"], headers=headers).get_json()
    assert job["status"] == "done", job
    assert job["result"]["undone"] == {"projects_removed": 300, "projects_restored": 2, "transactions_removed": 300}

    db.session.expire_all()
    assert _state() == before  # flows, shares, facts: exactly as before the batch
    assert db.session.get(ImportBatch, batch.id).status == "undone"
    assert db.session.get(ImportBatch, earlier.id).status == "committed"
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.id > audit_before, AuditEvent.import_batch_id == batch.id)
    ).all()
    deletes = [e for e in events if e.action == "delete" and e.summary.startswith(f"Undo of import {batch.id}")]
    assert len(deletes) == 300
    sample = next(e for e in deletes if e.before["reference"] == "B-0007")
    assert sample.before == {"reference": "B-0007", "title": "Project 7", "org_id": org.id,
                             "import_batch_id": batch.id, "transactions": 1}  # fmt: skip
    assert sample.channel == "import" and sample.after is None and sample.entity_type == "project"
    # its full state stays in its history: the import's create event
    created = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.entity_type == "project", AuditEvent.entity_id == sample.entity_id, AuditEvent.action == "create"
        )
    )
    assert created.after["recipients"] == [{"country": "KEN", "region": None, "share": "100"}]
    restores = [e for e in events if e.action == "update" and e.summary.startswith(f"Undo of import {batch.id}")]
    assert sorted(e.after["title"] for e in restores) == ["Project 0", "Project 1"]


def test_an_undo_the_rules_refuse_is_a_failed_job_with_the_reason_and_changes_nothing(client, actor, donor):
    org, headers = donor
    first = _import(org, actor, _rows("C", 5), "first.csv")
    _import(org, actor, _rows("C", 5, title="Second"), "second.csv")
    before = _state()
    response = client.delete(
        f"/api/v1/imports/{first.id}", headers={**headers, "Prefer": "respond-async", "If-Match": "*"}
    )
    assert response.status_code == 409  # checked before queueing: nothing to wait for
    assert "changed the same projects later" in response.get_json()["message"]
    db.session.expire_all()
    assert _state() == before


def test_the_undo_page_queues_a_job_and_lands_on_the_undone_batch(app, client, actor, donor):
    org, _headers = donor
    user = accounts.create_user(actor, "undo-page@example.org", "donor", org=org)
    db.session.commit()
    log_in(client, user)
    batch = _import(org, actor, _rows("D", 4), "page.csv")
    page = client.post(f"/imports/{batch.id}/undo")
    assert page.status_code == 302 and "/imports/jobs/" in page.headers["Location"]
    status = client.get(page.headers["Location"] + ".json").get_json()
    assert status["state"] == "done" and status["url"].endswith(f"/imports/{batch.id}?undone=1")
    html = client.get(status["url"]).get_data(as_text=True)
    assert "The import was undone" in html
    # The page says what the undo removed, not what a preview would create.
    assert "This import was undone on" in html and "to create" not in html
    removed = re.search(r'id="count-removed">(\d+)<', html)
    assert removed and removed.group(1) == "4", html[html.find('id="undone"') :][:600]
    assert "projects removed" in html and "transactions removed" in html
    assert db.session.scalar(select(db.func.count()).select_from(Project).where(Project.org_id == org.id)) == 0
