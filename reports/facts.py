"""Report facts: per-project USD sums of the flows, kept up to date on write.

A report by region and area over a million flows cannot afford to read a million
flows. The facts table holds, per project, value-date year, category-membership
period, funding source, donor, finance type and flow type, the sums of the flows'
stored USD values by type (see reports/models.py), and apart the flows that name their
own recipient country or region (which go wholly to it): a few rows per project. Every
report in USD reads them instead of the transactions, and weights them by the shares
as before, so the figures are the same to the cent.

Freshness: triggers on ``transactions`` mark the changed projects in ``report_dirty``
inside the writer's transaction (on SQLite, where a row trigger costs more than the
insert itself, new flows are found instead by their id above a watermark, and only
updates and deletes fire triggers); :func:`ensure_fresh` (called before the facts are
read) recomputes exactly those projects, or everything when the membership periods
changed (the reference data was reloaded) or the facts were never built. The facts
are therefore never stale when read, whoever wrote the flows and however.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from sqlalchemy import Integer, case, cast, delete, extract, func, insert, select, text, tuple_
from sqlalchemy.sql import ColumnElement

from registry.extensions import db
from registry.models import CategoryMembership, Transaction
from reports.models import ReportCategoryMember, ReportDirty, ReportFlowFact, ReportProjectFact, ReportState

STATE_KEY = "flow_facts"
MEMBERS_KEY = "category_members"
WATERMARK_KEY = "flow_watermark"  # SQLite only: see the migration 0008_report_facts
FORMAT = "3"  # bump when the facts' content changes: a different signature rebuilds them
REFRESHED = "report_facts_refreshed"  # session.info flag: the caller should commit the refresh
LOCK_ID = 7_231_001  # PostgreSQL advisory lock serialising refreshes
CHUNK = 500
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
    """Every date on which some country joins or leaves a category, sorted (periods' limits)."""
    days: set[dt.date] = set()
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
    text_ = FORMAT + "|" + ",".join(d.isoformat() for d in points)
    return hashlib.sha256(text_.encode()).hexdigest()[:40]


def _sums_select(points: Sequence[dt.date]):
    """SELECT (project, year, period, four USD sums) over the transactions, and its group keys."""
    from reports.queries import FLOW_TYPES, bucket_expression  # queries reads the facts too

    year = cast(extract("year", Transaction.value_date), Integer)
    period: ColumnElement = bucket_expression(Transaction.value_date, points) if points else cast(0, Integer)
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
    # Constant-price flows (price_basis set) are a separate measure: never in these sums.
    stmt = select(*keys, *sums).where(Transaction.type.in_(FLOW_TYPES), Transaction.price_basis.is_(None))
    return stmt, keys


def _insert_facts(project_ids: Sequence[int] | None, points: Sequence[dt.date]) -> None:
    stmt, keys = _sums_select(points)
    if project_ids is not None:
        stmt = stmt.where(Transaction.project_id.in_(list(project_ids)))
    stmt = stmt.group_by(*keys)
    recipient = [fact for fact, _column in RECIPIENT]
    columns = ["project_id", "year", "period", *ATTRIBUTES, *recipient, *MEASURE_COLUMNS]
    db.session.execute(insert(ReportFlowFact.__table__).from_select(columns, stmt))
    # The coarser table, from the rows just written (a few per project, not every flow).
    f = ReportFlowFact
    keys = (f.project_id, f.year, f.period, *[getattr(f, name) for name in recipient])
    coarse = select(*keys, *[func.sum(getattr(f, m)) for m in MEASURE_COLUMNS]).group_by(*keys)
    if project_ids is not None:
        coarse = coarse.where(f.project_id.in_(list(project_ids)))
    columns = ["project_id", "year", "period", *recipient, *MEASURE_COLUMNS]
    db.session.execute(insert(ReportProjectFact.__table__).from_select(columns, coarse))


def _delete_facts(project_ids: Sequence[int] | None) -> None:
    for model in (ReportFlowFact, ReportProjectFact):
        stmt = delete(model.__table__)
        if project_ids is not None:
            stmt = stmt.where(model.project_id.in_(list(project_ids)))
        db.session.execute(stmt)


def _lock() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})


def ensure_fresh() -> dict[str, int]:
    """Bring the facts up to date (in the current transaction); returns what was done.

    The caller commits when ``db.session.info[REFRESHED]`` is set (the report pages, API
    and commands do), so the work is done once; left uncommitted it is simply redone."""
    members = memberships()
    points = breakpoints(members)
    sig = signature(points)
    members_sig = hashlib.sha256((FORMAT + repr(members)).encode()).hexdigest()[:40]
    state = db.session.get(ReportState, STATE_KEY)
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
        db.session.info[REFRESHED] = True
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    watermark = _watermark() if sqlite else None
    if state is not None and state.value == sig:
        new_rows = sqlite and watermark is not None and _new_projects(watermark, limit=1)
        if not new_rows and db.session.scalar(select(ReportDirty.project_id).limit(1)) is None:
            return {"rebuilt": 0, "projects": 0}
    _lock()
    # Re-read under the lock: another refresh may have done the work meanwhile.
    state = db.session.get(ReportState, STATE_KEY, populate_existing=True)
    marks = db.session.execute(select(ReportDirty.project_id, ReportDirty.generation)).all()
    if sqlite:
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
        done = {"rebuilt": 1, "projects": len(marks)}
    else:
        ids = [pid for pid, _generation in marks]
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            _delete_facts(chunk)
            _insert_facts(chunk, points)
        done = {"rebuilt": 0, "projects": len(ids)}
    # Remove only the marks seen: a change made meanwhile keeps its mark (higher generation).
    seen_marks = [tuple(m) for m in marks if m[1] is not None]
    for start in range(0, len(seen_marks), CHUNK):
        chunk = seen_marks[start : start + CHUNK]
        db.session.execute(
            delete(ReportDirty.__table__).where(tuple_(ReportDirty.project_id, ReportDirty.generation).in_(chunk))
        )
    db.session.flush()
    db.session.info[REFRESHED] = True
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


def _new_projects(watermark: int, limit: int | None = None) -> list[int]:
    """SQLite: projects with flows inserted since the facts were refreshed (id above the watermark)."""
    stmt = select(Transaction.project_id).where(Transaction.id > watermark).distinct()
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def forget() -> None:
    """Drop the facts' signature, so that the next refresh rebuilds them all."""
    keys = [STATE_KEY, MEMBERS_KEY, WATERMARK_KEY]
    db.session.execute(delete(ReportState.__table__).where(ReportState.key.in_(keys)))
    db.session.expire_all()


def commit_refresh() -> None:
    """Commit a refresh done for a read-only report request (keeps the work for the next one)."""
    if db.session.info.pop(REFRESHED, False):
        db.session.commit()
