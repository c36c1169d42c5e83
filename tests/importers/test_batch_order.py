"""Batches follow the order of their commits (a preview may be committed after a later
import), and a file is "already imported" only while the registry holds what it brought."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from importers import pipeline
from registry.errors import ConflictError
from registry.extensions import db
from registry.models import Project, Transaction
from tests.importers.helpers import csv_bytes

HEADER = ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"]


def _file(amount: str, title: str = "Schools") -> bytes:
    return csv_bytes([HEADER, ["P-1", title, "KEN", "commitment", amount, "EUR", "2021-03-01"]])


def _amount(org) -> int:
    return db.session.scalar(
        select(func.sum(Transaction.amount_minor))
        .join(Project)
        .where(Project.reference == "P-1", Project.org_id == org.id)
    )


def _late_preview(org, actor):
    """Preview B, import A, then commit B: B's data is in the registry, though its id is lower.
    Each step is committed, as the request or command that runs it commits. P-1 exists before
    the preview, so B updates it (and replaces one flow) whether A came between or not: a
    commit that would do otherwise than its preview is not made (test_web)."""
    assert pipeline.run_import("sheet", "first.csv", _file("900"), org, actor).status == "committed"
    db.session.commit()
    preview_b = pipeline.run_import("sheet", "b.csv", _file("1100"), org, actor, dry_run=True)
    db.session.commit()
    batch_a = pipeline.run_import("sheet", "a.csv", _file("1000"), org, actor)
    db.session.commit()
    assert preview_b.id < batch_a.id and _amount(org) == 100_000
    assert pipeline.commit_batch(preview_b.id, actor).status == "committed"
    db.session.commit()
    assert _amount(org) == 110_000
    return batch_a, preview_b


def test_a_preview_committed_late_counts_as_the_later_import(app, actor, make_org):
    org = make_org(ref="DON-ORDER")
    db.session.commit()
    _late_preview(org, actor)
    again = pipeline.run_import("sheet", "a.csv", _file("1000"), org, actor)
    assert not getattr(again, "already_imported", False)
    assert _amount(org) == 100_000  # A's data again


def test_undo_refuses_a_batch_whose_projects_a_later_commit_changed(app, actor, make_org):
    org = make_org(ref="DON-UNDO")
    db.session.commit()
    batch_a, preview_b = _late_preview(org, actor)
    with pytest.raises(ConflictError) as refused:
        pipeline.undo_batch(batch_a.id, actor)
    assert f"Import batch {preview_b.id} changed the same projects later" in refused.value.message
    db.session.rollback()
    assert _amount(org) == 110_000  # nothing undone: B's data stays
    pipeline.undo_batch(preview_b.id, actor)  # the later commit can be undone, then the earlier
    pipeline.undo_batch(batch_a.id, actor)
    assert _amount(org) == 90_000  # the first import's flow, restored


def test_a_file_whose_project_was_deleted_or_edited_by_hand_is_imported_again(app, actor, make_org):
    from registry.services import projects as project_service

    org = make_org(ref="DON-DEL")
    db.session.commit()
    pipeline.run_import("sheet", "a.csv", _file("1000"), org, actor)
    project = db.session.scalar(select(Project).where(Project.org_id == org.id))
    project_service.update_project(actor, project, {"title": "Renamed by hand"})
    db.session.commit()
    again = pipeline.run_import("sheet", "a.csv", _file("1000"), org, actor)
    assert not getattr(again, "already_imported", False)
    assert db.session.scalar(select(Project.title).where(Project.org_id == org.id)) == "Schools"
    assert getattr(pipeline.run_import("sheet", "a.csv", _file("1000"), org, actor), "already_imported", False)

    deleted = db.session.scalar(select(Project).where(Project.org_id == org.id))
    project_service.delete_project(actor, deleted)
    db.session.commit()
    # A deleted project is neither brought back by the file nor doubled beside it: the file is
    # refused for it, saying how to restore it (a delete no longer removes the row).
    again = pipeline.run_import("sheet", "a.csv", _file("1000"), org, actor)
    db.session.commit()
    assert not getattr(again, "already_imported", False)
    assert again.status == "failed", (again.status, again.problems)
    assert [p["code"] for p in again.problems] == ["deleted_project"]
    assert f"restore project {deleted.id}" in again.problems[0]["message"]
    assert db.session.scalar(select(func.count()).select_from(Project).where(Project.org_id == org.id)) == 0
    from registry.services import deletion

    deletion.restore_project(actor, deletion.load_deleted("project", deleted.id))
    db.session.commit()
    assert _amount(org) == 100_000  # restored with its flows, as they were
    pipeline.run_import("sheet", "a.csv", _file("1000"), org, actor)  # now it meets the restored one
    db.session.commit()
    assert _amount(org) == 100_000
    assert db.session.scalar(select(func.count()).select_from(Project).where(Project.org_id == org.id)) == 1


def test_after_undoing_a_later_batch_the_first_file_is_already_imported(app, actor, make_org):
    org = make_org(ref="DON-BACK")
    db.session.commit()
    pipeline.run_import("sheet", "a.csv", _file("1000"), org, actor)
    later = pipeline.run_import("sheet", "b.csv", _file("1100"), org, actor)
    pipeline.undo_batch(later.id, actor)
    db.session.commit()
    assert _amount(org) == 100_000
    pipeline.run_import("sheet", "a.csv", _file("1000"), org, actor)  # now it meets the restored one
    db.session.commit()
    assert _amount(org) == 100_000
    assert db.session.scalar(select(func.count()).select_from(Project).where(Project.org_id == org.id)) == 1


def test_a_file_whose_flow_was_changed_by_hand_is_imported_again(app, actor, make_org):
    from registry.services import projects as project_service

    org = make_org(ref="DON-TX")
    db.session.commit()
    pipeline.run_import("sheet", "a.csv", _file("1000"), org, actor)
    tx = db.session.scalar(select(Transaction).join(Project).where(Project.org_id == org.id))
    project_service.update_transaction(actor, tx, {"amount": "999"})
    db.session.commit()
    assert _amount(org) == 99_900
    again = pipeline.run_import("sheet", "a.csv", _file("1000"), org, actor)
    assert not getattr(again, "already_imported", False)
    assert _amount(org) == 100_000  # the file's amount again
