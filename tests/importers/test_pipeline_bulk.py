"""The pipeline's fast paths store and validate exactly what the ORM and the services would."""

from __future__ import annotations

import datetime as dt
import gc
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from importers import pipeline
from importers.bulk import BulkInsert
from importers.models import ImportChange
from importers.records import AreaRecord, Location, ProjectRecord, RecipientRecord, TransactionRecord
from registry.errors import RegistryError
from registry.extensions import db
from registry.models import AuditEvent, Project, Transaction
from registry.models.project import ProjectArea, ProjectRecipient
from registry.models.types import Instrument, ProjectStatus, Role, TransactionType, utcnow
from registry.services import projects as project_service
from registry.services.actor import Actor


def _stored(table, where: str, **params) -> list[tuple]:
    """Rows as the database holds them (no type processing), without their ids."""
    cols = [c.name for c in table.columns if c.name != "id"]
    sql = f"SELECT {', '.join(cols)} FROM {table.name} WHERE {where} ORDER BY id"
    return [tuple(row) for row in db.session.execute(text(sql), params)]


def _loaded(obj) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key != "id"}


def _orm_and_bulk(model, values: dict, where: str, differ: str | None = None, other=None, **params) -> tuple:
    """Insert values once through the ORM and once by BulkInsert (with column ``differ`` set
    to ``other``, for unique keys); returns both rows as stored and as loaded, without ``differ``."""
    db.session.add(model(**values))
    db.session.flush()
    bulk_values = {**values, differ: other} if differ else values
    BulkInsert(db.session.connection(), model.__table__, list(bulk_values)).execute([tuple(bulk_values.values())])
    db.session.expire_all()
    names = [c.name for c in model.__table__.columns if c.name != "id"]
    stored = [
        tuple(v for name, v in zip(names, row, strict=True) if name != differ)
        for row in _stored(model.__table__, where, **params)
    ]
    loaded = []
    for obj in db.session.scalars(select(model).where(text(where)).params(**params).order_by(model.id)):
        row = _loaded(obj)
        row.pop(differ, None)
        loaded.append(row)
    return stored, loaded


def test_bulk_transaction_rows_equal_orm_rows(app, make_project, make_source, make_org):
    project, source, provider = make_project(), make_source(), make_org()
    values = {
        "project_id": project.id,
        "funding_source_id": source.id,
        "provider_org_id": provider.id,
        "type": TransactionType.DISBURSEMENT,
        "amount_minor": 123_456_789,
        "currency": "EUR",
        "value_date": dt.date(2021, 3, 1),
        "flow_type": "10",
        "finance_type": "110",
        "aid_type": "C01",
        "description": "Tranche 2 – école",
        "usd_minor": 150_000_000,
        "usd_rate": "1.2121",
        "usd_rate_date": dt.date(2021, 2, 26),
        "import_batch_id": None,
        "created_at": dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
    }
    stored, loaded = _orm_and_bulk(Transaction, values, "project_id = :p", p=project.id)
    assert len(stored) == 2 and stored[0] == stored[1]
    assert loaded[0] == loaded[1]
    assert loaded[1]["type"] is TransactionType.DISBURSEMENT and loaded[1]["value_date"] == dt.date(2021, 3, 1)
    assert loaded[1]["created_at"] == values["created_at"]


def test_bulk_project_rows_equal_orm_rows(app, make_org):
    org = make_org()
    now = utcnow()
    values = {
        "org_id": org.id,
        "reference": "00123",
        "iati_identifier": None,
        "title": "Rural broadband",
        "description": "",
        "status": ProjectStatus.PIPELINE,
        "planned_start": dt.date(2020, 1, 1),
        "planned_end": None,
        "actual_start": None,
        "actual_end": None,
        "need_minor": 500_000,
        "need_currency": "USD",
        "need_usd_minor": 500_000,
        "need_date": dt.date(2020, 1, 1),
        "wsis_action_lines": "C2,C4",
        "instrument_sought": Instrument.GRANT,
        "contact_name": None,
        "contact_email": None,
        "demo": False,
        "import_batch_id": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    stored, loaded = _orm_and_bulk(Project, values, "org_id = :o", "reference", "00124", o=org.id)
    assert len(stored) == 2 and stored[0] == stored[1]
    assert loaded[0] == loaded[1] and loaded[1]["status"] is ProjectStatus.PIPELINE and loaded[1]["demo"] is False
    assert loaded[1]["instrument_sought"] is Instrument.GRANT and loaded[1]["created_at"] == now


def test_bulk_child_audit_and_undo_rows_equal_orm_rows(app, make_project, make_org):
    project, other = make_project(), make_project()
    for p in (project, other):
        p.recipients, p.areas = [], []
    db.session.flush()
    where, ids = "project_id IN (:a, :b)", {"a": project.id, "b": other.id}
    area = {"project_id": project.id, "area_code": "23b", "share_ppm": 1_000_000, "inferred": True}
    stored, loaded = _orm_and_bulk(ProjectArea, area, where, "project_id", other.id, **ids)
    assert len(stored) == 2 and stored[0] == stored[1] and loaded[0] == loaded[1] and loaded[1]["inferred"] is True
    recipient = {"project_id": project.id, "country_iso3": None, "region_code": "002", "share_ppm": 1_000_000}
    stored, loaded = _orm_and_bulk(ProjectRecipient, recipient, where, "project_id", other.id, **ids)
    assert len(stored) == 2 and stored[0] == stored[1] and loaded[0] == loaded[1]
    org = make_org()
    event = {
        "occurred_at": utcnow(),
        "user_id": None,
        "actor": "importer",
        "org_id": org.id,
        "channel": "import",
        "action": "create",
        "entity_type": "project",
        "entity_id": 987654,
        "summary": "Imported",
        "before": None,
        "after": {"title": "Café", "areas": [{"code": "23b", "share": "100", "inferred": True}], "need": None},
        "import_batch_id": None,
    }
    stored, loaded = _orm_and_bulk(AuditEvent, event, "entity_id = :e", e=987654)
    assert len(stored) == 2 and stored[0] == stored[1] and loaded[0] == loaded[1]
    assert loaded[1]["after"]["areas"][0]["inferred"] is True
    change = {"batch_id": None, "entity_type": "project", "entity_id": 987655, "action": "create", "before": None}
    make_batch = pipeline.ImportBatch(kind="test", filename="x", file_hash="0" * 64, status="pending", options={})
    db.session.add(make_batch)
    db.session.flush()
    change["batch_id"] = make_batch.id
    stored, loaded = _orm_and_bulk(ImportChange, change, "entity_id = :e", e=987655)
    assert len(stored) == 2 and stored[0] == stored[1] and loaded[0] == loaded[1]


@pytest.mark.parametrize("n", [0, 1, 82, 83, 84, 250, 1001])
def test_bulk_insert_writes_every_row_in_order_whatever_the_count(app, n):
    """Rows go by multi-row statements within chunks: whole groups, a shorter last statement
    and chunk edges all keep every row, its values and its order."""
    batch = pipeline.ImportBatch(kind="test", filename="x", file_hash="1" * 64, status="pending", options={})
    db.session.add(batch)
    db.session.flush()
    columns = ("batch_id", "entity_type", "entity_id", "action", "before")
    insert = BulkInsert(db.session.connection(), ImportChange.__table__, columns)
    insert.rows_per_statement = 83  # groups of 83 in chunks of 100: 83 + 17, 83 + 17, ...
    rows = [(batch.id, "project", 700_000 + i, "create", {"i": i} if i % 3 else None) for i in range(n)]
    assert insert.execute(rows, chunk_size=100) == n
    stored = db.session.execute(
        text("SELECT entity_id, before FROM import_changes WHERE entity_id >= 700000 ORDER BY id")
    ).all()
    assert [r[0] for r in stored] == [700_000 + i for i in range(n)]
    loaded = db.session.scalars(
        select(ImportChange.before).where(ImportChange.entity_id >= 700_000).order_by(ImportChange.id)
    ).all()
    assert loaded == [row[4] for row in rows]


def _tx(**kw) -> TransactionRecord:
    data = {"type": "commitment", "amount": Decimal("1000.50"), "currency": "EUR", "value_date": dt.date(2021, 3, 1)}
    data.update(kw)
    return TransactionRecord(**data)


def test_fast_transaction_path_equals_the_full_validation(app, make_source, make_org):
    source, provider = make_source(ref="FS-FAST"), make_org(ref="PROV-FAST")
    records = [
        _tx(),
        _tx(amount=Decimal("-20.1")),
        _tx(type=" Disbursement ", currency=" eur ", amount=Decimal("1E+3")),
        _tx(currency="USD", amount=Decimal("99.99"), funding_source="FS-FAST", provider_org="PROV-FAST"),
        _tx(currency="JPY", amount=Decimal("125000"), value_date=dt.date(2019, 7, 4), description="x" * 1200),
        _tx(currency="GBP", amount=Decimal("0.07"), flow_type="10", finance_type="110", aid_type="C01"),
        _tx(amount=Decimal("1000.500")),  # zeros beyond the currency's decimals are fine
        _tx(amount=Decimal("-0.00")),
        _tx(amount=Decimal("99999999999999.99")),  # the largest amount
        _tx(currency="JPY", amount=Decimal("-99999999999999"), value_date=dt.date(2019, 7, 4)),
        _tx(currency="SEK", amount=Decimal("0.05"), value_date=dt.date(2022, 5, 6)),
        _tx(funding_source="FS-FAST"),
        _tx(type="incoming_funds"),
    ]
    owner = make_org(ref="OWNER-FAST")
    admin = Actor(label="admin", channel="import", role=Role.ADMIN)
    donor = Actor(label="donor", channel="import", role=Role.DONOR, org_id=owner.id)
    fast, fast_donor = pipeline._Resolver(owner.id, admin), pipeline._Resolver(owner.id, donor)
    for record in records * 2:  # the second round takes the cached path
        for resolver, actor in ((fast, admin), (fast_donor, donor)):
            expected = pipeline._tx_values(record, pipeline._Resolver(owner.id, actor))
            assert resolver.tx_row(record) == tuple(expected[name] for name in pipeline.TX_FIELDS)
    assert fast.tx_row(records[3])[:2] == (source.id, provider.id)
    # a flow that names no provider: the importing organisation's, or its source manager's
    # once confirmed (an administrator's import is; a donor's on another's source is not)
    assert fast.tx_row(records[0])[:2] == (None, owner.id)
    assert fast.tx_row(records[-2])[:2] == (source.id, source.managing_org_id) != (source.id, owner.id)
    confirmed_at = pipeline.TX_FIELDS.index("confirmed")
    assert fast.tx_row(records[-2])[confirmed_at] is True
    assert fast_donor.tx_row(records[-2])[:2] == (source.id, owner.id)
    assert fast_donor.tx_row(records[-2])[confirmed_at] is False
    assert fast.tx_row(records[-1])[:2] == (None, None)  # incoming funds: provider unknown


@pytest.mark.parametrize(
    "record",
    [
        _tx(amount=Decimal("1.234")),
        _tx(currency="JPY", amount=Decimal("10.5")),
        _tx(currency="ABC"),
        _tx(type="grant"),
        _tx(amount=1.5),
        _tx(amount=Decimal("NaN")),
        _tx(amount=Decimal("sNaN")),
        _tx(amount=Decimal("-Infinity")),
        _tx(amount=Decimal("100000000000000")),
        _tx(amount=Decimal("99999999999999999999")),
        _tx(amount=Decimal("1E+30")),
        _tx(amount=Decimal("1E+999990")),
        _tx(amount=Decimal("1000.5000000000000000000000000001")),  # a 31st digit is still a decimal
        _tx(value_date=None),
        _tx(funding_source="NO-SUCH-SOURCE"),
        _tx(provider_org="NO-SUCH-ORG"),
    ],
)
def test_fast_transaction_path_raises_the_full_paths_errors_on_the_fields_the_service_rejects(
    app, actor, make_project, record
):
    resolver = pipeline._Resolver(1)
    resolver.tx_row(_tx())  # the caches know EUR, commitment and the day
    with pytest.raises(RegistryError) as fast:
        resolver.tx_row(record)
    with pytest.raises(RegistryError) as full:
        pipeline._tx_values(record, pipeline._Resolver(1))
    assert fast.value.message == full.value.message and fast.value.errors == full.value.errors
    if record.funding_source or record.provider_org:
        return  # the service takes ids, not the references a file gives
    # The service refuses the same record on the same fields (it words an unknown type or
    # currency and a missing date differently: the pipeline still keeps its own copy of those rules).
    data = {"type": record.type, "amount": record.amount, "currency": record.currency, "value_date": record.value_date}
    with pytest.raises(RegistryError) as service:
        project_service.add_transaction(actor, make_project(), data)
    assert set(service.value.errors) == set(full.value.errors)


def _project(ref: str, country: str = "KEN", **kw) -> ProjectRecord:
    return ProjectRecord(
        reference=ref,
        title=f"Project {ref}",
        recipients=[
            RecipientRecord(country=country, share=Decimal(60)),
            RecipientRecord(country="UGA", share=Decimal(40)),
        ],
        areas=[AreaRecord(code="23b", share=Decimal(70)), AreaRecord(code="23a", share=Decimal(30), inferred=True)],
        sectors=["22040"],
        wsis_action_lines=["C4", "C2"],
        transactions=[_tx(location=Location(file="f.csv", row=2))],
        location=Location(file="f.csv", row=2),
        **kw,
    )


def test_imported_projects_snapshot_as_the_services_do_and_reimport_is_unchanged(app, actor, make_org):
    org = make_org(ref="SNAP")
    records = [
        _project("A", planned_start=dt.date(2020, 1, 1), planned_end=dt.date(2024, 12, 31)),
        _project("B", status="pipeline", need_amount=Decimal("25000"), need_currency="EUR"),
        _project("C", country="TZA", iati_identifier="XM-SNAP-C", description="Schools"),
    ]
    batch = pipeline.run_import("test", "f.csv", b"snap-1", org, actor, records=records)
    assert batch.status == "committed", batch.problems
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.import_batch_id == batch.id)).all()
    assert len(events) == 3
    for event in events:
        project = db.session.get(Project, event.entity_id)
        after = dict(event.after)
        assert after.pop("transactions") == 1
        assert after == project_service.snapshot(project)
    again = [
        _project("A", planned_start=dt.date(2020, 1, 1), planned_end=dt.date(2024, 12, 31)),
        _project("B", status="pipeline", need_amount=Decimal("25000"), need_currency="EUR"),
        _project("C", country="TZA", iati_identifier="XM-SNAP-C", description="Schools"),
    ]
    second = pipeline.run_import("test", "g.csv", b"snap-2", org, actor, records=again)
    assert second.status == "committed", second.problems
    assert second.counts["projects_unchanged"] == 3 and second.counts["projects_created"] == 0


def test_collector_is_paused_only_during_a_run(app, actor, make_org):
    org = make_org(ref="GCRUN")
    seen = []

    def progress(done: int, total: int, stage: str) -> None:
        seen.append(gc.isenabled())

    assert gc.isenabled()
    pipeline.run_import("test", "f.csv", b"gc-1", org, actor, records=[_project("G")], progress=progress)
    assert seen and not any(seen)
    assert gc.isenabled()
    gc.disable()
    try:
        pipeline.run_import("test", "f.csv", b"gc-2", org, actor, records=[_project("H")])
        assert not gc.isenabled()  # a caller that paused it keeps it paused
    finally:
        gc.enable()


def test_stored_projects_are_read_without_the_orm_and_snapshot_as_the_services_do(app, make_org, make_project):
    org = make_org(ref="STORED")
    project = make_project(
        org=org,
        reference="S-1",
        status="pipeline",
        planned_start=dt.date(2021, 1, 1),
        planned_end=dt.date(2025, 6, 30),
        recipients=[{"region": "002", "share": Decimal("66.6667")}, {"country": "KEN", "share": Decimal("33.3333")}],
        areas=[{"code": "23f", "share": Decimal(50)}, {"code": "23a", "share": Decimal(50), "inferred": True}],
        sectors=["22040", "11330"],
        wsis_action_lines=["C4", "C2"],
        need={"amount": Decimal("1000.50"), "currency": "EUR"},
        instrument_sought="grant",
        contact_name="Ana",
        contact_email="ana@example.org",
    )
    plain = make_project(org=org, reference="S-2", recipients=[], areas=[])
    stored = pipeline._load_existing(org.id, ["S-1", "S-2", "NOT-THERE"])
    assert sorted(stored) == ["S-1", "S-2"]
    assert stored["S-1"].id == project.id and stored["S-2"].id == plain.id
    db.session.expire_all()  # the services' snapshot of the project as loaded (children in the model's order)
    assert stored["S-1"].snapshot() == project_service.snapshot(db.session.get(Project, project.id))
    assert stored["S-2"].snapshot() == project_service.snapshot(db.session.get(Project, plain.id))
