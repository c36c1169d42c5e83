"""Report facts: per-project USD sums of the flows, kept up to date on write.

A report by region and area over a million flows cannot afford to read a million
flows. The facts table holds, per project, value-date year, category-membership
period, funding source, donor, finance type and flow type, the sums of the flows'
stored USD values by type (see reports/models.py), and apart the flows that name their
own recipient country or region (which go wholly to it): a few rows per project. Every
report in USD reads them instead of the transactions, and weights them by the shares
as before, so the figures are the same to the cent.

Each row of the finer table also keeps its flows' direction (registry.services.direction),
derived once per row: the periods are cut at the DAC membership dates as well as at the
category ones, so every flow of a row shares the facts the rule reads. A report by direction
reads the facts too.

Staleness: triggers on ``transactions`` mark the changed projects in ``report_dirty``
inside the writer's transaction (on SQLite, where a row trigger costs more than the
insert itself, new flows are found instead by their id above a watermark, and only
updates and deletes fire triggers). What the direction follows outside the flows is marked
too (migration 0033): a project's override, collaboration type, funding partners and
recipients mark the project; an organisation or a funding source is noted in
``report_dirty_inputs`` and turned into marks by the refresh. :func:`ensure_fresh` recomputes exactly those
projects, or everything when the membership periods changed (the reference data was
reloaded) or the facts were never built, in the current transaction; it never commits.

When: the WRITER's commit brings them up to date. :func:`install` (called by
``reports.init_app``; the registry never imports reports) adds a ``before_commit``
listener to the application's sessions: before the outermost commit it flushes, asks
the database in one statement whether anything is stale (:func:`stale`: a mark, a flow
above the watermark, facts never built; it sees bulk inserts through the DB-API cursor
as well as ORM writes, since the triggers and the watermark do) or whether the unit of
work changed category memberships, and if so refreshes inside the same transaction, so
the flows and their facts are committed together. A report command never commits:
if the facts are stale anyway (raw SQL from outside the application), the report's own
:func:`ensure_fresh` recomputes them inside the read transaction and the end rolls that work
back; the figures are right either way. A GET on PostgreSQL that finds marks left by a commit
which could not take the refresh lock commits the refresh instead (:func:`ensure_fresh_for_read`),
so that the reads after it do not each redo it behind the lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Sequence

from flask import has_app_context
from flask_sqlalchemy.session import Session as AppSession
from sqlalchemy import (
    Integer,
    bindparam,
    case,
    cast,
    delete,
    event,
    exists,
    extract,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from registry.extensions import db
from registry.models import CategoryMembership, Project, Transaction
from registry.services import direction
from registry.sqlite import is_plain_read
from reports import fx_facts
from reports.models import (
    ReportCategoryMember,
    ReportDirty,
    ReportDirtyInput,
    ReportFlowFact,
    ReportProjectFact,
    ReportState,
)

STATE_KEY = "flow_facts"
MEMBERS_KEY = "category_members"
WATERMARK_KEY = "flow_watermark"  # SQLite only: see the migration 0008_report_facts
FORMAT = "4"  # bump when the facts' content changes: a different signature rebuilds them
MEMBERS_CHANGED = "report_members_changed"  # session.info flag: this unit of work wrote memberships
WROTE = "report_unit_wrote"  # session.info flag: this unit of work flushed or executed a change
LOCK_ID = 7_231_001  # PostgreSQL advisory lock serialising refreshes
CHUNK = 500
_STATEMENTS: dict[tuple, tuple] = {}  # see _insert_statements
_LAYOUTS: dict[str, list[dt.date]] = {}  # signature -> membership periods (see _layout)
_STALE: dict = {}  # dialect -> the statement of stale()
_DELETES: dict = {}  # see _delete_facts
log = logging.getLogger(__name__)
MEASURE_COLUMNS = ("pledge", "commitment", "disbursement", "expenditure")
# The flows' own attributes the facts keep, so that reports by donor or source read them too.
ATTRIBUTES = ("funding_source_id", "provider_org_id", "finance_type", "flow_type")
# The recipient a flow names itself (fact column, transaction column): it wins over the shares.
RECIPIENT = (("tx_country", "recipient_country_iso3"), ("tx_region", "recipient_region_code"))


def memberships() -> list[tuple[str, str, dt.date, dt.date | None]]:
    """(country, category, from, to) of every category membership, sorted."""
    stmt = select(
        CategoryMembership.country_iso3,
        CategoryMembership.category_code,
        CategoryMembership.valid_from,
        CategoryMembership.valid_to,
    )
    return sorted(tuple(row) for row in db.session.execute(stmt))  # type: ignore[misc]


def breakpoints(members: Sequence[tuple] | None = None) -> list[dt.date]:
    """Every date on which some country joins or leaves a category or the DAC, sorted (periods'
    limits): within a period a country's categories and its DAC membership are the same, so the
    facts keep each flow's category periods and its direction (which follows the DAC
    membership on its date, registry.services.direction) without keeping its date."""
    days: set[dt.date] = set(direction.breakpoints())
    for _iso3, _category, start, end in memberships() if members is None else members:
        days.add(start)
        if end is not None:
            days.add(end)
    return sorted(days)


def period_members(members: Sequence[tuple], points: Sequence[dt.date]) -> list[dict]:
    """Rows of report_category_members: each country's categories in each period.

    Period ``p`` runs from breakpoint ``p - 1`` (inclusive; the beginning of time for 0)
    to breakpoint ``p`` (exclusive), and membership is constant within it."""
    rows = []
    for period in range(len(points) + 1):
        day = dt.date.min if period == 0 else points[period - 1]
        for iso3, category, start, end in members:
            if start <= day and (end is None or day < end):
                rows.append({"country_iso3": iso3, "period": period, "category_code": category})
    return rows


def signature(points: Sequence[dt.date]) -> str:
    """Identifies the facts' layout: the format and the membership periods."""
    text_ = FORMAT + "|" + direction.data_signature() + "|" + ",".join(d.isoformat() for d in points)
    return hashlib.sha256(text_.encode()).hexdigest()[:40]


def _sums_select(points: Sequence[dt.date]):
    """SELECT (project, year, period, four USD sums) over the transactions, and its group keys."""
    from reports.queries import FLOW_TYPES, bucket_expression  # queries reads the facts too

    year = cast(extract("year", Transaction.value_date), Integer).label("year")
    period: ColumnElement = (bucket_expression(Transaction.value_date, points) if points else cast(0, Integer)).label(
        "period"
    )
    # usd_minor is empty for a flow no rate source could convert: it counts as 0 here (the
    # facts' columns are NOT NULL, and a group of such flows alone would sum to NULL); the
    # reports list those flows apart in their own currency.
    usd = func.coalesce(Transaction.usd_minor, 0)
    sums = [func.sum(case((Transaction.type == kind, usd), else_=0)) for kind in FLOW_TYPES]
    keys = (
        Transaction.project_id,
        year,
        period,
        *[getattr(Transaction, name) for name in ATTRIBUTES],
        *[getattr(Transaction, column) for _fact, column in RECIPIENT],
    )
    # Constant-price flows (price_basis set) are a separate measure: never in these sums. Deleted
    # flows (a deleted project's flows are deleted with it) are in no report: this INSERT ...
    # SELECT is not an ORM read, so it says so itself (registry.models.soft_delete).
    stmt = select(*keys, *sums).where(
        Transaction.type.in_(FLOW_TYPES), Transaction.price_basis.is_(None), Transaction.deleted_at.is_(None)
    )
    return stmt, keys


def _insert_statements(points: Sequence[dt.date], by_project: bool) -> tuple:
    """The two INSERT ... SELECT that write the facts (of the projects bound to ``ids`` when
    ``by_project``). Built once per layout: the period CASE over every breakpoint costs more
    to build than refreshing one project does to run."""
    key = (tuple(points), by_project)
    cached = _STATEMENTS.get(key)
    if cached is not None:
        return cached
    ids = bindparam("ids", expanding=True)
    stmt, keys = _sums_select(points)
    if by_project:
        stmt = stmt.where(Transaction.project_id.in_(ids))
    recipient = [fact for fact, _column in RECIPIENT]
    columns = ["project_id", "year", "period", *ATTRIBUTES, *recipient, *MEASURE_COLUMNS, "direction"]
    # Each group's direction, derived once per group rather than once per flow: every flow of a
    # group has the same project, provider, source, own recipient and DAC membership period.
    groups = stmt.group_by(*keys).subquery("flow_groups")
    g = groups.c
    joined, attributes = direction.joins(groups, g.project_id, g.provider_org_id, g.funding_source_id)
    directions = direction.period_flows(
        groups,
        g.period,
        points,
        project_id=g.project_id,
        provider_org_id=g.provider_org_id,
        funding_source_id=g.funding_source_id,
        country=g.recipient_country_iso3,
        region=g.recipient_region_code,
        joined=attributes,
    )
    # in the order of columns
    with_direction = select(*groups.c, direction.direction_expression(directions)).select_from(joined)
    flows = insert(ReportFlowFact.__table__).from_select(columns, with_direction)
    # The coarser table, from the rows just written (a few per project, not every flow).
    f = ReportFlowFact
    keys = (f.project_id, f.year, f.period, *[getattr(f, name) for name in recipient])
    coarse = select(*keys, *[func.sum(getattr(f, m)) for m in MEASURE_COLUMNS]).group_by(*keys)
    if by_project:
        coarse = coarse.where(f.project_id.in_(ids))
    columns = ["project_id", "year", "period", *recipient, *MEASURE_COLUMNS]
    cached = (flows, insert(ReportProjectFact.__table__).from_select(columns, coarse))
    if len(_STATEMENTS) > 8:  # layouts of earlier membership periods
        _STATEMENTS.clear()
    _STATEMENTS[key] = cached
    return cached


def _insert_facts(project_ids: Sequence[int] | None, points: Sequence[dt.date]) -> None:
    params = {} if project_ids is None else {"ids": list(project_ids)}
    for stmt in _insert_statements(points, project_ids is not None):
        db.session.execute(stmt, params)


def _delete_facts(project_ids: Sequence[int] | None) -> None:
    if project_ids is None:
        for model in (ReportFlowFact, ReportProjectFact):
            db.session.execute(delete(model.__table__))
        return
    statements = _DELETES.get("by_project")
    if statements is None:  # built once, like the inserts
        ids = bindparam("ids", expanding=True)
        models = (ReportFlowFact, ReportProjectFact)
        statements = tuple(delete(m.__table__).where(m.project_id.in_(ids)) for m in models)
        _DELETES["by_project"] = statements
    for stmt in statements:
        db.session.execute(stmt, {"ids": list(project_ids)})


def no_jit() -> None:
    """Tune PostgreSQL for this transaction: no JIT (the planner over-estimates the share joins
    at a billion rows and JIT-compiles for seconds a query that runs in a fraction of one), and
    enough memory to group the share rows without spilling the sort to disk. The refresh runs
    with it too: the direction's subqueries make the planner's estimate of refreshing a commit's
    projects large enough to JIT-compile it, a second of compiling for a tenth of running."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
        # A report earlier in the same transaction turned nested loops off (for_reports); the
        # refresh reads a few projects by id, through their indexes.
        db.session.execute(text("SET LOCAL enable_nestloop = on"))


def for_reports() -> None:
    """``no_jit``, and no nested loops, for a report's read transaction. A report groups every
    project's facts and then joins their recipients (or areas) to share them out; the planner
    cannot estimate how many projects a grouping over a union gives (it takes 200, there are
    100,000) and probes the recipients' index once per project: 0.24 s of a 1.0 s report at
    5,000,000 flows, against 0.05 s for a hash join. Reports read whole tables or large parts
    of them, where hash joins are the right plan; the commit's refresh, which reads a few
    projects by their ids, keeps its nested loops (``no_jit`` alone)."""
    no_jit()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL enable_nestloop = off"))


def analyze(*models) -> None:
    """PostgreSQL: gather the statistics of tables just rebuilt whole, in this transaction.
    Until autovacuum does (a minute or more later), the planner sees the table as it was before:
    after a rebuild it took the index by date for the refresh's DELETE of a commit's projects and
    read a third of the converted facts (0.43 s instead of 0.02 s a statement)."""
    db.session.flush()
    if db.session.get_bind().dialect.name == "postgresql":
        for model in models:
            db.session.execute(text(f"ANALYZE {model.__tablename__}"))


def _lock() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})


def _try_lock() -> bool:
    """Take the refresh lock if it is free (always, on SQLite: one writer at a time there)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return True
    return bool(db.session.scalar(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": LOCK_ID}))


def _layout(trust_stored: bool) -> tuple[list[dt.date], str]:
    """The membership periods (breakpoints) and their signature, the per-period category
    members brought up to date when the memberships changed (see :func:`ensure_fresh`)."""
    if trust_stored:
        state = db.session.get(ReportState, STATE_KEY)
        known = _LAYOUTS.get(state.value) if state is not None else None
        if known is not None:
            return known, state.value
    members = memberships()
    points = breakpoints(members)
    sig = signature(points)
    members_sig = hashlib.sha256((FORMAT + repr(members)).encode()).hexdigest()[:40]
    members_state = db.session.get(ReportState, MEMBERS_KEY)
    if members_state is None or members_state.value != members_sig:
        _lock()
        db.session.execute(delete(ReportCategoryMember.__table__))
        rows = period_members(members, points)
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(ReportCategoryMember.__table__), rows[start : start + 5000])
        if members_state is None:
            db.session.add(ReportState(key=MEMBERS_KEY, value=members_sig))
        else:
            members_state.value = members_sig
        db.session.flush()
    _LAYOUTS[sig] = points  # a signature names one list of periods (a hash of it)
    return points, sig


def ensure_fresh(trust_layout: bool = False) -> dict[str, int]:
    """Bring the facts up to date in the current transaction (never commits); returns what
    was done. The writer's commit keeps the work (see :func:`install`); a read that had to
    do it (facts made stale by a writer outside the application) leaves it uncommitted.

    ``trust_layout``: the caller knows the memberships did not change (a commit that wrote
    none): the membership periods the facts were built with are taken as they are when this
    process knows them, instead of reading and hashing every membership (most of the cost
    of refreshing one project). A read always checks them."""
    points, sig = _layout(trust_layout)
    state = db.session.get(ReportState, STATE_KEY)
    if state is not None and state.value == sig and not stale():
        behind = fx_facts.behind(sig)
        if behind:  # the rate files or the report currencies changed: convert again
            _lock()
            fx_facts.rebuild(fx_facts.behind(sig), points, sig)
        return {"rebuilt": 0, "projects": 0}
    _lock()
    no_jit()
    # Re-read under the lock: another refresh may have done the work meanwhile.
    state = db.session.get(ReportState, STATE_KEY, populate_existing=True)
    marks = db.session.execute(select(ReportDirty.project_id, ReportDirty.generation)).all()
    inputs = db.session.execute(select(ReportDirtyInput.kind, ReportDirtyInput.key)).all()
    if inputs and state is not None and state.value == sig:
        seen = {pid for pid, _generation in marks}
        marks += [(pid, None) for pid in _direction_changes(inputs) if pid not in seen]
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    if sqlite:
        watermark = _watermark()
        high = db.session.scalar(select(func.max(Transaction.id))) or 0
        if watermark is None:
            state = None  # never built with a watermark: build everything
        else:
            seen = {pid for pid, _generation in marks}
            marks += [(pid, None) for pid in _new_projects(watermark) if pid not in seen]
        _set_watermark(high)
    if state is None or state.value != sig:
        _delete_facts(None)
        _insert_facts(None, points)
        if state is None:
            db.session.add(ReportState(key=STATE_KEY, value=sig))
        else:
            state.value = sig
        analyze(ReportFlowFact, ReportProjectFact)
        fx_facts.rebuild(fx_facts.kept_currencies(), points, sig)
        done = {"rebuilt": 1, "projects": len(marks)}
    else:
        ids = [pid for pid, _generation in marks]
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            _delete_facts(chunk)
            _insert_facts(chunk, points)
        fx_facts.refresh(ids, points, sig)  # the kept currencies up to date (the others just below)
        fx_facts.rebuild(fx_facts.behind(sig), points, sig)
        done = {"rebuilt": 0, "projects": len(ids)}
    _forget_seen_marks(marks)
    _forget_inputs(inputs)
    db.session.flush()
    return done


def _direction_changes(inputs: Sequence[tuple[str, str]]) -> set[int]:
    """The projects whose flows' direction may have changed with these organisations and
    funding sources (report_dirty_inputs, set by triggers): the projects with facts of flows
    the organisations provide or the sources fund, and those naming an identifier among their
    funding partners ("type|ref" a line), found in one pass over the projects that have any."""
    orgs = [int(key) for kind, key in inputs if kind == "org"]
    sources = [int(key) for kind, key in inputs if kind == "source"]
    refs = {key for kind, key in inputs if kind == "ref"}
    found: set[int] = set()
    f = ReportFlowFact
    for column, ids in ((f.provider_org_id, orgs), (f.funding_source_id, sources)):
        for start in range(0, len(ids), CHUNK):
            found.update(
                db.session.scalars(select(f.project_id).where(column.in_(ids[start : start + CHUNK])).distinct())
            )
    if refs:
        with_partners = select(Project.id, Project.funding_partners).where(
            Project.funding_partners != "", Project.id.in_(select(f.project_id))
        )
        for pid, partners in db.session.execute(with_partners):
            if any(line.partition("|")[2] in refs for line in partners.split("\n")):
                found.add(pid)
    return found


def _forget_inputs(inputs: Sequence[tuple[str, str]]) -> None:
    """Remove the inputs this refresh turned into marks (a change made meanwhile adds its own)."""
    by_kind: dict[str, list[str]] = {}
    for kind, key in inputs:
        by_kind.setdefault(kind, []).append(key)
    table = ReportDirtyInput.__table__
    for kind, keys in by_kind.items():
        for start in range(0, len(keys), CHUNK):
            db.session.execute(delete(table).where(table.c.kind == kind, table.c.key.in_(keys[start : start + CHUNK])))


def _forget_seen_marks(marks) -> None:
    """Remove the marks this refresh saw, and only those: a change made meanwhile keeps its mark
    (its generation went up). The marks are grouped by generation (after a bulk write nearly all
    share one), so each DELETE names its projects by the primary key, ``generation = g AND
    project_id IN (...)``; a row-value ``(project_id, generation) IN`` list is not an index
    lookup on PostgreSQL and made the refresh after a large undo quadratic."""
    by_generation: dict[int, list[int]] = {}
    for project_id, generation in marks:
        if generation is not None:
            by_generation.setdefault(generation, []).append(project_id)
    table = ReportDirty.__table__
    for generation, ids in by_generation.items():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            db.session.execute(delete(table).where(table.c.generation == generation, table.c.project_id.in_(chunk)))


def built_layout() -> str | None:
    """The signature the USD facts were built with (None: never built)."""
    state = db.session.get(ReportState, STATE_KEY)
    return state.value if state is not None else None


def ensure_fresh_for_read() -> dict[str, int]:
    """What a report calls before reading the facts: :func:`ensure_fresh`, and on PostgreSQL,
    in a read that wrote nothing, the refresh committed at once when there was one to do.

    Marks outlive their writer's commit when that commit found another refresh running (it
    does not wait for it: see :func:`refresh_before_commit`). A read that refreshed inside its
    own transaction and rolled the work back would leave them to the next read, which waits
    for the refresh lock and does the same work again: under steady imports every report and
    project page queued behind the one before (a minute and more under load). The first read
    to find them commits the refresh, the same work the writer's commit would have done, and
    the reads after it find the facts fresh. A read on SQLite, or one whose unit of work wrote
    something (a test, a command), refreshes for itself without committing, as before."""
    session = db.session()
    if (
        session.get_bind().dialect.name != "postgresql"
        or not is_plain_read()
        or session.info.get(WROTE)
        or session.new
        or session.dirty
        or session.deleted
        or not stale()
    ):
        return ensure_fresh()
    done = ensure_fresh()
    session.commit()  # ends the read's transaction, and with it the refresh lock
    log.info("report facts refreshed and committed by a read: %s", done)
    return done


def _watermark() -> int | None:
    """SQLite: the highest flow id the facts include (new flows are found above it)."""
    state = db.session.get(ReportState, WATERMARK_KEY, populate_existing=True)
    return int(state.value) if state is not None else None


def _set_watermark(value: int) -> None:
    state = db.session.get(ReportState, WATERMARK_KEY)
    if state is None:
        db.session.add(ReportState(key=WATERMARK_KEY, value=str(value)))
    else:
        state.value = str(value)


def _new_projects(watermark: int) -> list[int]:
    """SQLite: the projects of the flows above the watermark. Read by id range and made distinct
    here: a DISTINCT in SQL makes SQLite scan the whole project index instead."""
    return sorted(set(db.session.scalars(select(Transaction.project_id).where(Transaction.id > watermark))))


def forget() -> None:
    """Drop the facts' signature, so that the next refresh rebuilds them all."""
    keys = [STATE_KEY, MEMBERS_KEY, WATERMARK_KEY]
    db.session.execute(delete(ReportState.__table__).where(ReportState.key.in_(keys)))
    db.session.expire_all()


def stale() -> bool:
    """Whether :func:`ensure_fresh` may have flows to catch up on, in one cheap statement:
    the facts were never built, a project is marked, or (SQLite) a flow lies above the
    watermark. A change of the memberships is not seen here (see :func:`install`)."""
    dialect = db.session.get_bind().dialect.name
    stmt = _STALE.get(dialect)
    if stmt is None:  # built once: building it would cost more than running it
        built = select(func.count()).where(ReportState.key.in_([STATE_KEY, MEMBERS_KEY])).scalar_subquery()
        checks = [
            built < 2,
            exists().where(ReportDirty.project_id.is_not(None)),
            exists().where(ReportDirtyInput.kind.is_not(None)),
        ]
        if dialect == "sqlite":
            mark = select(cast(ReportState.value, Integer)).where(ReportState.key == WATERMARK_KEY).scalar_subquery()
            checks.append(exists().where(Transaction.id > func.coalesce(mark, -1)))
        stmt = _STALE[dialect] = select(case((or_(*checks), 1), else_=0))
    return bool(db.session.execute(stmt).scalar())


def _touches_memberships(session: Session) -> bool:
    return any(isinstance(o, CategoryMembership) for o in (*session.new, *session.dirty, *session.deleted))


def _note_flush(session: Session, _context, _instances) -> None:
    if session.new or session.dirty or session.deleted:
        session.info[WROTE] = True
    if _touches_memberships(session):
        session.info[MEMBERS_CHANGED] = True


def _note_statement(state) -> None:
    # ORM or Core DML on the memberships through the session (bulk update, delete, insert)
    table = getattr(state.statement, "table", None)
    if not state.is_select:
        state.session.info[WROTE] = True
    if not state.is_select and getattr(table, "name", None) == CategoryMembership.__tablename__:
        state.session.info[MEMBERS_CHANGED] = True


def _forget_notes(session: Session, *_args) -> None:
    session.info.pop(MEMBERS_CHANGED, None)
    session.info.pop(WROTE, None)


def _forget_on_rollback(session: Session, previous) -> None:
    if previous.parent is None:  # the whole unit of work, not a savepoint inside it
        _forget_notes(session)


def refresh_before_commit(session: Session) -> None:
    """``before_commit`` listener: refresh the facts inside the committing unit of work.

    Savepoint releases are skipped (the outermost commit follows), and so are sessions
    other than the application's current one (the facts are read and written through it)."""
    if session.in_nested_transaction() or not has_app_context():
        return
    if not db.session.registry.has() or db.session() is not session:
        return
    session.flush()  # the ORM changes still pending: their triggers mark the projects now
    members_changed = session.info.pop(MEMBERS_CHANGED, False)
    if members_changed or stale() or fx_facts.behind(built_layout()):
        if not _try_lock():
            # Another commit is refreshing. Waiting for it while this transaction holds its
            # own rows (marks included) could deadlock: the marks stay for the next commit,
            # and a report before then refreshes for itself.
            log.info("report facts: another refresh is running; this commit's changes stay marked")
            if members_changed:
                # No mark says the periods changed: drop the facts' signature instead, so that
                # the next commit sees them stale (never built) and rebuilds them all.
                session.execute(delete(ReportState.__table__).where(ReportState.key == STATE_KEY))
            return
        started = time.perf_counter()
        done = ensure_fresh(trust_layout=not members_changed)
        log.debug("report facts refreshed on commit in %.3f s: %s", time.perf_counter() - started, done)


LISTENERS = (
    ("before_commit", refresh_before_commit),
    ("before_flush", _note_flush),
    ("do_orm_execute", _note_statement),
    ("after_commit", _forget_notes),
    ("after_soft_rollback", _forget_on_rollback),
)


def install() -> None:
    """Listen to every Flask-SQLAlchemy session (once per process, whatever the apps)."""
    for name, listener in LISTENERS:
        if not event.contains(AppSession, name, listener):
            event.listen(AppSession, name, listener)
