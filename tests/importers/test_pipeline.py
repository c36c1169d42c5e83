"""The shared pipeline, fed with records directly (no reader)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from importers import pipeline
from importers.records import (
    AreaRecord,
    Location,
    ProjectRecord,
    RecipientRecord,
    TransactionRecord,
)
from registry.extensions import db
from registry.models import AuditEvent, ImportBatch, Project, Transaction


def _record(ref="P1", amount="1000", countries=(("KEN", None),), title="Schools online", **kw):
    return ProjectRecord(
        reference=ref,
        title=title,
        recipients=[RecipientRecord(country=c, weight=Decimal(w) if w else None) for c, w in countries],
        areas=[AreaRecord(code="23b")],
        transactions=[
            TransactionRecord(
                type="commitment",
                amount=Decimal(amount),
                currency="EUR",
                value_date=dt.date(2021, 3, 1),
                location=Location(file="f.csv", row=2, column="Amount"),
            )
        ],
        location=Location(file="f.csv", row=2),
        **kw,
    )


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_commit_creates_projects_transactions_and_audit(app, actor, make_org):
    org = make_org(ref="DON")
    batch = pipeline.run_import("test", "f.csv", b"one", org, actor, records=[_record(), _record("P2")])
    assert batch.status == "committed", batch.problems
    assert batch.counts["projects_created"] == 2 and batch.counts["transactions"] == 2
    projects = db.session.scalars(select(Project).where(Project.org_id == org.id)).all()
    assert {p.import_batch_id for p in projects} == {batch.id}
    tx = db.session.scalars(select(Transaction).where(Transaction.import_batch_id == batch.id)).all()
    assert len(tx) == 2 and tx[0].usd_minor > 0 and tx[0].usd_rate_date <= dt.date(2021, 3, 1)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.import_batch_id == batch.id)).all()
    assert len(events) == 2 and all(e.channel == "import" for e in events)
    assert events[0].after["transactions"] == 1


def test_dry_run_writes_nothing(app, actor, make_org):
    org = make_org(ref="DON")
    before = (_count(Project), _count(Transaction), _count(AuditEvent))
    batch = pipeline.run_import("test", "f.csv", b"one", org, actor, records=[_record()], dry_run=True)
    assert batch.status == "previewed" and batch.counts["projects_created"] == 1
    assert (_count(Project), _count(Transaction), _count(AuditEvent)) == before


def test_one_bad_record_rejects_everything(app, actor, make_org):
    org = make_org(ref="DON")
    before = (_count(Project), _count(Transaction))
    bad = _record("P2", countries=(("XXX", None),))
    batch = pipeline.run_import("test", "f.csv", b"one", org, actor, records=[_record(), bad])
    assert batch.status == "failed"
    assert (_count(Project), _count(Transaction)) == before
    assert any("XXX" in p["message"] and p["row"] == 2 for p in batch.problems)


def test_every_problem_of_every_record_is_reported(app, actor, make_org):
    """A reader's error does not hide the rules the records break, nor one rule another."""
    org = make_org(ref="DON")
    read_error = pipeline._problem("error", "unknown_country", "Unknown country 'Wakanda'", Location(row=2))
    shares = _record("P1", title="")  # no title and shares that break two rules ...
    shares.recipients = [RecipientRecord(country="KEN", share=Decimal(-20)), RecipientRecord("UGA", share=Decimal(120))]
    shares.transactions[0].currency = "EUX"  # ... and a transaction with an unknown currency (a typo of EUR)
    incomplete = _record("P2", countries=(("KEN", None),))
    incomplete.recipients[0].share = Decimal(60)  # 40 % went to a country the reader did not know
    incomplete.incomplete.add("recipients")
    batch = pipeline.run_import(
        "test", "f.csv", b"many", org, actor, records=[shares, incomplete], problems=[read_error]
    )
    assert batch.status == "failed"
    assert [p["message"] for p in batch.problems] == [
        "Unknown country 'Wakanda'",
        "A project title is required",
        "Share -20 must be above 0 and at most 100",
        "Share 120 must be above 0 and at most 100",
        "Unknown currency 'EUX'",
    ]  # and not that P2's remaining 60 % fall short of 100
    assert batch.counts["errors"] == 5


def test_an_amount_too_large_for_the_registry_is_a_cell_error_not_a_crash(app, actor, make_org):
    """Beyond a hundred trillion the minor units would overflow their column: refused by cell."""
    org = make_org(ref="DON")
    before = (_count(Project), _count(Transaction))
    batch = pipeline.run_import("test", "f.csv", b"big", org, actor, records=[_record(amount="99999999999999999999")])
    assert batch.status == "failed"
    assert (_count(Project), _count(Transaction)) == before
    [problem] = batch.problems
    assert "too large" in problem["message"] and problem["row"] == 2 and problem["value"] == "99999999999999999999"


def test_same_file_twice_changes_nothing(app, actor, make_org):
    org = make_org(ref="DON")
    first = pipeline.run_import("test", "f.csv", b"same", org, actor, records=[_record()])
    second = pipeline.run_import("test", "f.csv", b"same", org, actor, records=[_record()])
    assert second.id == first.id and second.already_imported
    assert _count(Transaction) == 1


def test_corrected_file_updates_in_place_and_replaces_transactions(app, actor, make_org, make_transaction):
    org = make_org(ref="DON")
    first = pipeline.run_import("test", "f.csv", b"v1", org, actor, records=[_record(), _record("P2")])
    project = db.session.scalar(select(Project).where(Project.reference == "P1"))
    make_transaction(project, amount=Decimal("5.00"))  # entered by hand: kept
    second = pipeline.run_import(
        "test",
        "f.csv",
        b"v2",
        org,
        actor,
        records=[_record(amount="2000", countries=(("KEN", "3"), ("TZA", "1"))), _record("P2")],
    )
    assert second.status == "committed", second.problems
    assert second.counts["projects_updated"] == 1 and second.counts["projects_unchanged"] == 1
    assert second.counts["transactions_replaced"] == 1
    db.session.expire_all()
    project = db.session.get(Project, project.id)
    amounts = sorted(t.amount_minor for t in project.transactions)
    assert amounts == [500, 200000]
    assert [(r.country_iso3, r.share_ppm) for r in project.recipients] == [
        ("KEN", 750000),
        ("TZA", 250000),
    ]
    assert project.import_batch_id == second.id
    # Undo restores the first version exactly.
    pipeline.undo_batch(second.id, actor)
    db.session.expire_all()
    project = db.session.get(Project, project.id)
    assert sorted(t.amount_minor for t in project.transactions) == [500, 100000]
    assert [r.country_iso3 for r in project.recipients] == ["KEN"]
    assert project.import_batch_id == first.id
    pipeline.undo_batch(first.id, actor)
    assert db.session.scalar(select(func.count()).select_from(Project).where(Project.org_id == org.id)) == 0
    assert db.session.get(ImportBatch, first.id).status == "undone"


def test_unknown_org_is_created_only_with_a_name(app, actor):
    from registry.errors import NotFoundError

    with pytest.raises(NotFoundError):
        pipeline.run_import("test", "f.csv", b"x", "NEW-ORG", actor, records=[_record()])
    batch = pipeline.run_import("test", "f.csv", b"x", "NEW-ORG", actor, records=[_record()], org_name="New donor")
    assert batch.status == "committed"
    pipeline.undo_batch(batch.id, actor)
    from registry.services.organisations import find_organisation

    assert find_organisation("NEW-ORG") is None


def test_undo_waits_for_a_later_batch_on_the_same_projects(app, actor, make_org):
    from registry.errors import ConflictError

    org = make_org(ref="DON")
    first = pipeline.run_import("test", "f.csv", b"a", org, actor, records=[_record()])
    second = pipeline.run_import("test", "f.csv", b"b", org, actor, records=[_record(amount="7")])
    with pytest.raises(ConflictError, match=f"batch {second.id}"):
        pipeline.undo_batch(first.id, actor)
    pipeline.undo_batch(second.id, actor)
    pipeline.undo_batch(first.id, actor)


def test_readers_plug_in_by_content_detection(app, actor, make_org):
    """How the IATI and CRS readers join: register, and uploads are routed by content."""
    calls = []

    def read(path, filename, options):
        calls.append(filename)
        return pipeline.ReadResult([_record("X-1")], [], {"rows_read": 1})

    pipeline.register_reader("fake-xml", read, lambda head, name: head.startswith(b"<fake"), ("fakexml",))
    try:
        assert pipeline.detect_kind(b"<fake-activities>", "upload.xml") == "fake-xml"
        assert pipeline.detect_kind(b"a,b\n", "upload.csv") == "sheet"
        org = make_org(ref="DON")
        batch = pipeline.run_import("fake-xml", "a.xml", b"<fake/>", org, actor, dry_run=True)
        assert batch.status == "previewed" and calls == ["a.xml"]
        committed = pipeline.commit_batch(batch.id, actor)
        assert committed.status == "committed" and calls == ["a.xml", "a.xml"]
    finally:
        pipeline.READERS.pop("fake-xml")


def test_every_problem_of_a_row_is_reported_not_only_the_first(app, actor, make_org):
    from tests.importers.helpers import csv_bytes

    org = make_org(ref="DON-ROW")
    header = ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"]
    header.append("Funding source")
    rows = [
        header,
        ["Q-03", "Three", "Ghana", "commitment", "1O00", "USD", "2024-13-01", "No such fund"],
        ["Q-05", "Two", "Ghana", "commitment", "1000", "USD", "2024-13-01", "No such fund"],
        ["Q-06", "Two", "Ghana", "commitment", "1000", "XYZ", "2024-03-01", "No such fund"],
        ["Q-07", "Two", "Ghana", "gift", "1O00", "USD", "2024-03-01", "No such fund"],
    ]
    batch = pipeline.run_import("sheet", "rows.csv", csv_bytes(rows), org, actor)
    assert batch.status == "failed"
    got = sorted((p["row"], p["code"]) for p in batch.problems if p["severity"] == "error")
    assert got == [
        (2, "invalid_amount"),
        (2, "invalid_date"),
        (2, "invalid_funding_source"),
        (3, "invalid_date"),
        (3, "invalid_funding_source"),
        (4, "invalid_currency"),
        (4, "invalid_funding_source"),
        (5, "invalid_amount"),
        (5, "invalid_funding_source"),
        (5, "unknown_transaction_type"),
    ], batch.problems


def test_every_bad_value_of_a_transaction_is_reported_by_the_import(app, actor, make_org):
    """A transaction the reader passes on (its cells read well) is validated value by value:
    an unknown currency, funding source and provider are three problems, not the first one."""
    from tests.importers.helpers import csv_bytes

    org = make_org(ref="DON-VALUES")
    header = ["Project reference", "Title", "Country", "Amount", "Currency", "Value date", "Funding source", "Provider"]
    rows = [header, ["V-01", "One", "Ghana", "1000", "XYZ", "2024-03-01", "No such fund", "No such donor"]]
    batch = pipeline.run_import("sheet", "values.csv", csv_bytes(rows), org, actor)
    assert batch.status == "failed"
    got = {(p["code"], p["column"]): p["message"] for p in batch.problems if p["severity"] == "error"}
    assert set(got) == {
        ("invalid_currency", "Currency"),
        ("invalid_funding_source", "Funding source"),
        ("invalid_provider_org", "Provider"),
    }, batch.problems
    assert got[("invalid_provider_org", "Provider")].startswith("Unknown organisation 'No such donor'")
