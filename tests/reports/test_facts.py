"""The report facts: per-project sums kept fresh by triggers, equal to the flows themselves."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import delete, event, func, select, text, tuple_, update

from registry.extensions import db
from registry.models import CategoryMembership, Transaction
from registry.services.projects import delete_project, delete_transaction, update_transaction
from reports import facts, flow_sums
from reports.flows import build_spec, run_report
from reports.models import ReportDirty, ReportFlowFact, ReportProjectFact, ReportState


def _key(value) -> str:
    return "" if value is None else str(value)


KEYS = 9  # project, year, period, four attributes, the flow's own recipient country and region


def _facts() -> list[tuple]:
    """The facts as sorted tuples (project, year, period, attributes..., recipient, four sums)."""
    f = ReportFlowFact
    columns = [f.project_id, f.year, f.period, *[getattr(f, a) for a in facts.ATTRIBUTES], f.tx_country, f.tx_region]
    columns += [getattr(f, m) for m in facts.MEASURE_COLUMNS]
    rows = db.session.execute(select(*columns))
    return sorted(tuple(_key(v) for v in r[:KEYS]) + tuple(int(v) for v in r[KEYS:]) for r in rows)


def _from_transactions() -> list[tuple]:
    """The same sums computed straight from the transactions (what the facts must equal)."""
    stmt, keys = facts._sums_select(facts.breakpoints())
    rows = db.session.execute(stmt.group_by(*keys))
    return sorted(tuple(_key(v) for v in r[:KEYS]) + tuple(int(v) for v in r[KEYS:]) for r in rows)


def _coarse() -> list[tuple]:
    """The per-project table and the same sums grouped from the detailed facts."""
    p, f = ReportProjectFact, ReportFlowFact
    sums = [func.sum(getattr(f, m)) for m in facts.MEASURE_COLUMNS]
    keys = (f.project_id, f.year, f.period, f.tx_country, f.tx_region)
    grouped = select(*keys, *sums).group_by(*keys)
    stored = select(
        p.project_id, p.year, p.period, p.tx_country, p.tx_region, *[getattr(p, m) for m in facts.MEASURE_COLUMNS]
    )
    return [
        sorted(tuple(_key(v) for v in r[:5]) + tuple(int(v) for v in r[5:]) for r in db.session.execute(q))
        for q in (stored, grouped)
    ]


def _check() -> dict[str, int]:
    done = facts.ensure_fresh()
    assert _facts() == _from_transactions()
    stored, grouped = _coarse()
    assert stored == grouped
    assert db.session.scalar(select(func.count()).select_from(ReportDirty)) == 0
    return done


def test_facts_follow_every_kind_of_write(registry_data, actor, make_transaction):
    """Service writes, raw SQL inserts, updates and deletes, cascading deletes: all seen."""
    assert db.session.get(ReportState, facts.STATE_KEY) is not None  # built by the setup's commit
    facts.forget()
    first = _check()
    assert first["rebuilt"] == 1  # forgotten: built from scratch
    assert _facts(), "the registry's flows are in the facts"
    assert _check() == {"rebuilt": 0, "projects": 0}  # nothing changed: nothing to do

    three, uneven = registry_data["three"], registry_data["uneven"]
    tx = make_transaction(three, amount=Decimal("5.55"), value_date=dt.date(2019, 2, 3))
    if db.session.get_bind().dialect.name == "postgresql":
        assert db.session.scalar(select(ReportDirty.project_id)) == three.id  # marked by the trigger
    assert _check() == {"rebuilt": 0, "projects": 1}  # on SQLite: found above the watermark

    update_transaction(actor, tx, {"amount": Decimal("7.77"), "type": "pledge"})
    db.session.flush()
    _check()
    delete_transaction(actor, tx)
    db.session.flush()
    _check()

    # A flow that names its own recipient is kept apart; one no rate source could convert
    # (no USD value) adds nothing in USD and breaks nothing.
    flows = sorted(db.session.scalars(select(Transaction.id).where(Transaction.project_id == three.id)))
    db.session.execute(update(Transaction).where(Transaction.id == flows[0]).values(recipient_country_iso3="NGA"))
    db.session.execute(
        update(Transaction)
        .where(Transaction.id == flows[1])
        .values(usd_minor=None, usd_rate=None, usd_rate_date=None, usd_rate_source=None)
    )
    _check()
    assert [k for k in _facts() if k[0] == str(three.id) and k[7] == "NGA"]

    # Writers that bypass the services: raw SQL through the same connection.
    db.session.execute(
        update(Transaction).where(Transaction.project_id == uneven.id).values(usd_minor=Transaction.usd_minor + 1)
    )
    _check()
    db.session.execute(delete(Transaction).where(Transaction.project_id == uneven.id))
    done = _check()
    assert done["projects"] == 1
    assert not [k for k in _facts() if k[0] == str(uneven.id)]

    # Deleting a project removes its flows by cascade: its facts go too.
    delete_project(actor, registry_data["regional"])
    db.session.flush()
    _check()
    assert not [k for k in _facts() if k[0] == str(registry_data["regional"].id)]


def test_each_change_raises_the_generation_of_the_mark(registry_data, make_transaction, actor):
    facts.ensure_fresh()
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite: inserts are found above the watermark; updates are marked by the trigger.
        tx = make_transaction(registry_data["three"], amount=Decimal("1.00"))
        facts.ensure_fresh()
        update_transaction(actor, tx, {"amount": Decimal("2.00")})
        db.session.flush()
        update_transaction(actor, tx, {"amount": Decimal("3.00")})
        db.session.flush()
    three = registry_data["three"]
    if db.session.get_bind().dialect.name == "postgresql":
        make_transaction(three, amount=Decimal("1.00"))
        make_transaction(three, amount=Decimal("2.00"))
    generation = db.session.scalar(select(ReportDirty.generation).where(ReportDirty.project_id == three.id))
    assert generation >= 2
    # A refresh removes only the marks it saw: a mark whose generation moved on stays.
    marks = [(three.id, generation - 1)]
    db.session.execute(
        delete(ReportDirty.__table__).where(tuple_(ReportDirty.project_id, ReportDirty.generation).in_(marks))
    )
    assert db.session.scalar(select(ReportDirty.project_id)) == three.id
    _check()


def test_sqlite_watermark_survives_deleting_the_newest_flows(registry_data, make_transaction, actor):
    """New flows that take the ids of deleted ones (SQLite reuses max(id) + 1) are still found."""
    three, uneven = registry_data["three"], registry_data["uneven"]
    first = make_transaction(three, amount=Decimal("1.00"))
    second = make_transaction(uneven, amount=Decimal("2.00"))
    _check()
    delete_transaction(actor, second)
    delete_transaction(actor, first)
    db.session.flush()
    make_transaction(uneven, amount=Decimal("7.00"))  # may reuse an id the facts had seen
    make_transaction(three, amount=Decimal("8.00"))
    _check()
    for pid in (three.id, uneven.id):
        db.session.execute(delete(Transaction).where(Transaction.project_id == pid))
    make_transaction(three, amount=Decimal("9.00"))
    _check()


def test_reloaded_memberships_rebuild_the_facts(registry_data):
    facts.ensure_fresh()
    before = db.session.get(ReportState, facts.STATE_KEY).value
    membership = db.session.scalars(select(CategoryMembership).limit(1)).one()
    membership.valid_from = dt.date(2020, 6, 15)  # a new period boundary
    db.session.flush()
    done = _check()
    assert done["rebuilt"] == 1
    assert db.session.get(ReportState, facts.STATE_KEY).value != before


def test_reports_from_facts_equal_reports_from_the_flows(registry_data, monkeypatch):
    """Every USD report answered from the facts equals the same report read from the flows."""
    specs = [
        {"by": ["region", "priority_area"]},
        {"by": ["country"], "year_from": 2021},
        {"by": ["year"]},
        {"by": ["category"]},
        {"by": ["income_group"], "status": "active", "year_to": 2020},
        {"by": ["donor", "priority_area"]},
        {"by": ["source_kind", "region"]},
        {"by": ["funding_source"], "year_from": 2020},
        {"by": ["finance_type", "flow_type"]},
        {"by": ["country"], "donor": "DONOR-A"},
        {"by": ["priority_area"], "source_kind": "multilateral"},
        {"by": ["category", "year"], "source_kind": "multilateral"},
    ]
    from_facts = [run_report(build_spec(**s)).as_json() for s in specs]
    asked = []

    def never(tx_dims, filters):
        asked.append(tx_dims)
        return False

    monkeypatch.setattr(flow_sums, "facts_apply", never)
    from_flows = [run_report(build_spec(**s)).as_json() for s in specs]
    assert len(asked) >= len(specs)  # every report asked, and read the flows
    for a, b in zip(from_facts, from_flows, strict=True):
        a.pop("generated_at"), b.pop("generated_at")
        assert a == b


def test_report_requests_refresh_without_committing(client, registry_data, make_transaction):
    """A report request on stale facts brings them up to date for itself and commits nothing
    (a real request's end rolls that work back); the writer's commit is what keeps them."""
    make_transaction(registry_data["three"], amount=Decimal("3.00"))
    session = db.session()
    commits = []
    count = commits.append
    event.listen(session, "before_commit", count)
    assert client.get("/api/v1/reports/flows?by=region&measure=commitment").status_code == 200
    event.remove(session, "before_commit", count)
    assert commits == []
    make_transaction(registry_data["three"], amount=Decimal("4.00"))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ReportDirty)) == 0
    assert facts.ensure_fresh() == {"rebuilt": 0, "projects": 0}


def test_refresh_command(runner, registry_data, make_transaction):
    facts.ensure_fresh()
    make_transaction(registry_data["three"], amount=Decimal("4.00"))
    result = runner.invoke(args=["report", "refresh"])
    assert result.exit_code == 0, result.output
    assert "recomputed for 1 changed projects" in result.output
    result = runner.invoke(args=["report", "refresh", "--rebuild"])
    assert "rebuilt for every project" in result.output
    assert _facts() == _from_transactions()


def test_triggers_exist_in_the_migrated_schema(app):
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        names = set(
            db.session.scalars(
                text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'transactions'::regclass AND NOT tgisinternal")
            )
        )
    else:
        names = set(db.session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    # SQLite finds inserted flows above a watermark (a row trigger would cost more than the insert)
    expected = {"report_mark_update", "report_mark_delete"}
    if dialect == "postgresql":
        expected.add("report_mark_insert")
    assert expected <= names
