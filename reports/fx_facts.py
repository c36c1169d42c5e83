"""Reports in another currency than USD, as fast as in USD: converted report facts.

A report in euros (or CFA francs, rupees...) converts every flow at the rate of its value
date into the report's currency, rounded half-even to that currency's minor unit, flow by
flow (as each flow's stored USD value is rounded on its own), and sums the converted flows.
Converting a million flows at each report takes many seconds; the sum of rounded values
cannot be had from a sum of unrounded ones. So, for the currencies the registry reports in
(``REPORT_CURRENCIES``), the converted flows are summed once into ``report_fx_facts`` (per
project, year, membership period and the flows' own attributes, as the USD facts are) and
kept up to date with the USD facts: the projects marked as changed are converted again in
the writer's commit (``reports.facts.ensure_fresh``), and a currency's facts are rebuilt
when the rate files, the rate age rule or the membership periods change (its signature in
``report_state``). A report in such a currency then runs the USD fast path on these sums
(``reports.in_database``): the same figures as converting flow by flow, to the minor unit,
since the facts hold exactly the sums of the flows' rounded values.

The facts also keep what the report's notes need: the flows' own currencies, which were
converted at an IMF annual rate, which at the last rate before a date beyond the published
ones (and on which day), which could not be converted at all (and on which day), and the
dates of the rates used. A report in another currency reads them with the same filters as
its figures, so its notes and warnings are those of the flow-by-flow conversion.

As in USD, most reports read coarser rows, ``report_fx_project_facts`` (by project, year,
period and flow recipient), which also carry the notes' data in columns a single aggregate
reads (the annual-rate part of each sum, the span of rate dates, whether a rate was needed and
which currencies fixed to the euro were converted); and ``report_fx_needs`` keeps each
project's need converted, used while the need is still the one it was converted from.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import itertools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import NamedTuple

from flask import current_app
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    MetaData,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy import String as SqlString
from sqlalchemy.sql import ColumnElement, FromClause

from registry import money
from registry.collector import collector_paused
from registry.errors import ConversionError
from registry.extensions import db
from registry.models import Project, Transaction
from reports.models import ReportFxFact, ReportFxNeed, ReportFxProjectFact, ReportState

SAME, DAILY, ANNUAL, NONE = "same", "daily", "annual", "none"
FORMAT = "3"  # bump when the content of the converted facts changes
STATE_PREFIX = "fx_"
STALE_RATE_DAYS = 36_600  # a flow beyond the published rates takes the last one, however old
MEASURE_COLUMNS = ("pledge", "commitment", "disbursement", "expenditure")
ANNUAL_COLUMNS = tuple(f"annual_{m}" for m in MEASURE_COLUMNS)
ATTRIBUTES = ("funding_source_id", "provider_org_id", "finance_type", "flow_type")
CHUNK = 500
REBUILD_CHUNK = 5_000  # projects converted at a time by a rebuild
INSERT_BATCH = 10_000


class Rated(NamedTuple):
    """How (currency, day) converts into the report's currency."""

    ratio: money.MinorRatio
    kind: str  # DAILY or ANNUAL
    rate_date: dt.date
    stale: bool  # an older rate than RATE_MAX_AGE_DAYS allows (the note says so)


class Quotes:
    """The conversions of (currency, day) into one report currency, each looked up once, by the
    rule of a report: the rate of the value date (at most RATE_MAX_AGE_DAYS old), else the last
    earlier one however old (said in a note), else none."""

    def __init__(self, target: str, found: dict | None = None) -> None:
        self.target = target
        self.max_age = current_app.config.get("RATE_MAX_AGE_DAYS", 7)
        self.found: dict[tuple[str, dt.date], Rated | None] = {} if found is None else found

    def of(self, currency: str, day: dt.date) -> Rated | None:
        key = (currency, day)
        try:
            return self.found[key]
        except KeyError:
            pass
        stale = False
        try:
            quote = money.quote(currency, self.target, day, self.max_age)
        except ConversionError:
            try:
                quote = money.quote(currency, self.target, day, STALE_RATE_DAYS)
                stale = True
            except ConversionError:
                self.found[key] = None
                return None
        kind = ANNUAL if quote.source in money.ANNUAL_SOURCES else DAILY
        rated = Rated(money.minor_ratio(quote.rate, currency, self.target), kind, quote.rate_date, stale)
        self.found[key] = rated
        return rated


# (signature, currency, the rate tables' identities) -> (those tables, Quotes.found): the quotes a
# process looked up, kept across commits. The tables are held with them, so that no other table
# can take their identity while the quotes are kept (a trial of a rate file puts its own in force).
_KNOWN_QUOTES: dict[tuple, tuple[tuple, dict]] = {}
KNOWN_QUOTES_MAX = 200_000  # about 80 MB; 5 currencies over 20 years take ~35,000 per report currency


def kept_quotes(currency: str, expected: str) -> Quotes:
    """The quotes of ``currency`` this process already looked up under the same rate tables and
    rules (``expected``: the converted facts' signature), so that a commit converts its flows
    without looking the same (currency, day) up again: most of the cost of a refresh."""
    tables = (money.rate_table(), money.annual_table())
    key = (expected, currency, *map(id, tables))
    if key not in _KNOWN_QUOTES and (
        len(_KNOWN_QUOTES) >= 16 or sum(len(found) for _t, found in _KNOWN_QUOTES.values()) > KNOWN_QUOTES_MAX
    ):
        _KNOWN_QUOTES.clear()
    return Quotes(currency, _KNOWN_QUOTES.setdefault(key, (tables, {}))[1])


def kept_currencies() -> tuple[str, ...]:
    """The report currencies whose converted facts are kept (``REPORT_CURRENCIES``, USD aside)."""
    codes = current_app.config.get("REPORT_CURRENCIES", ())
    if isinstance(codes, str):
        codes = codes.split(",")
    return tuple(sorted({c.strip().upper() for c in codes if c.strip() and c.strip().upper() != "USD"}))


def signature(layout: str) -> str:
    """What the converted facts depend on besides the flows: their format, the membership periods
    (``layout``: the USD facts' signature), the rate files in force and the rate age rule."""
    parts = [FORMAT, layout, str(current_app.config.get("RATE_MAX_AGE_DAYS", 7)), str(STALE_RATE_DAYS)]
    for kind in ("ecb", "imf"):
        path = money.rate_file(kind)
        stat = os.stat(path)
        parts.append(f"{path}:{stat.st_mtime_ns}:{stat.st_size}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def _states(currencies: Sequence[str]) -> dict[str, str]:
    keys = [STATE_PREFIX + c for c in currencies]
    rows = db.session.execute(select(ReportState.key, ReportState.value).where(ReportState.key.in_(keys)))
    return {key[len(STATE_PREFIX) :]: value for key, value in rows}


def _set_state(currency: str, value: str) -> None:
    state = db.session.get(ReportState, STATE_PREFIX + currency)
    if state is None:
        db.session.add(ReportState(key=STATE_PREFIX + currency, value=value))
    else:
        state.value = value


def behind(layout: str | None) -> list[str]:
    """The kept currencies whose converted facts were built with other rates or periods (or never)."""
    kept = kept_currencies()
    if not kept or layout is None:
        return []
    expected = signature(layout)
    states = _states(kept)
    return [c for c in kept if states.get(c) != expected]


def is_fresh(currency: str, layout: str | None) -> bool:
    """Whether the converted facts of ``currency`` can answer a report now."""
    if layout is None or currency not in kept_currencies():
        return False
    return _states([currency]).get(currency) == signature(layout)


def rebuild(currencies: Sequence[str], points: Sequence[dt.date], layout: str) -> None:
    """Convert every flow again into each of ``currencies`` (their facts were missing or stale)."""
    from reports import facts  # facts calls this module

    if not currencies:
        return
    money.forget_tables()  # the rate files in force now, not those a process read seconds ago
    expected = signature(layout)
    for currency in currencies:
        quotes = {currency: kept_quotes(currency, expected)}
        for model in (ReportFxFact, ReportFxProjectFact, ReportFxNeed):
            db.session.execute(delete(model.__table__).where(model.currency == currency))
        # One currency at a time, a few thousand projects at a time: what is held is one chunk's
        # flows and groups, whatever the size of the registry (all of them at once: 1.8 GB for
        # 5,000,000 flows). The projects are those of the USD facts, just brought up to date: every
        # flow converted here is in them.
        for chunk in _project_chunks():
            _insert(quotes, chunk, points)
        _insert_needs(quotes[currency], None)
        _set_state(currency, expected)
    facts.analyze(ReportFxFact, ReportFxProjectFact, ReportFxNeed)


def _project_chunks() -> Iterator[list[int]]:
    """The projects of the USD facts, REBUILD_CHUNK at a time, in order."""
    from reports.models import ReportFlowFact

    projects = list(
        db.session.scalars(select(ReportFlowFact.project_id).distinct().order_by(ReportFlowFact.project_id))
    )
    for start in range(0, len(projects), REBUILD_CHUNK):
        yield projects[start : start + REBUILD_CHUNK]


def refresh(project_ids: Sequence[int], points: Sequence[dt.date], layout: str) -> None:
    """Convert again the flows of these (changed) projects into every kept currency that is
    otherwise up to date (a currency behind is rebuilt whole by :func:`rebuild`)."""
    if not project_ids:
        return
    kept = kept_currencies()
    _forget_dropped(kept)
    if not kept:
        return
    expected = signature(layout)
    states = _states(kept)
    current = [c for c in kept if states.get(c) == expected]
    if not current:
        return
    quotes = {c: kept_quotes(c, expected) for c in current}
    for start in range(0, len(project_ids), CHUNK):
        chunk = list(project_ids[start : start + CHUNK])
        for model in (ReportFxFact, ReportFxProjectFact):
            table = model.__table__
            db.session.execute(delete(table).where(table.c.currency.in_(current), table.c.project_id.in_(chunk)))
        _insert(quotes, chunk, points)  # the chunk's flows read once, converted into every currency
    for currency in current:
        # and the needs edited since they were converted (a project's need changes without its flows)
        needs = sorted(set(project_ids) | set(_needs_behind(currency)))
        table = ReportFxNeed.__table__
        for start in range(0, len(needs), CHUNK):
            chunk = needs[start : start + CHUNK]
            db.session.execute(delete(table).where(table.c.currency == currency, table.c.project_id.in_(chunk)))
            _insert_needs(quotes[currency], chunk)


def _forget_dropped(kept: Sequence[str]) -> None:
    """Forget the converted facts of the currencies no longer in ``REPORT_CURRENCIES``: no commit
    keeps them up to date any more, so a currency put back in the list is converted again whole
    instead of answering from facts older than its flows."""
    rows = db.session.execute(select(ReportState.key).where(ReportState.key.like(STATE_PREFIX + "%")))
    dropped = [key[len(STATE_PREFIX) :] for (key,) in rows if key[len(STATE_PREFIX) :] not in kept]
    if not dropped:
        return
    db.session.execute(delete(ReportState.__table__).where(ReportState.key.in_([STATE_PREFIX + c for c in dropped])))
    for model in (ReportFxFact, ReportFxProjectFact, ReportFxNeed):
        db.session.execute(delete(model.__table__).where(model.currency.in_(dropped)))
    for state in [o for o in db.session.identity_map.values() if isinstance(o, ReportState)]:
        if state.key.startswith(STATE_PREFIX) and state.key[len(STATE_PREFIX) :] in dropped:
            db.session.expunge(state)


def _insert(quotes: dict[str, Quotes], project_ids: Sequence[int], points: Sequence[dt.date]) -> None:
    """Write the converted sums of the flows of ``project_ids`` into each currency of
    ``quotes`` (currency -> its quotes), the flows read once for all of them. The cyclic garbage
    collector waits meanwhile: the groups are many small long-lived objects, and its collections
    of the oldest generation walked the whole heap again and again (a third of a commit's time)."""
    with collector_paused():
        _insert_groups(quotes, project_ids, points)


def _insert_groups(quotes: dict[str, Quotes], project_ids: Sequence[int], points: Sequence[dt.date]) -> None:
    from reports.flow_sums import FLOW_TYPES

    index = {kind.value: i for i, kind in enumerate(FLOW_TYPES)}  # the type as stored
    divide = money.divide_half_even
    days: dict[str, tuple[dt.date, int, int]] = {}  # value date as read -> (date, year, period)
    # (currency, quotes, groups, (flow currency, day) -> how it converts: see _conversion)
    targets = [(currency, q, {}, {}) for currency, q in quotes.items()]
    stmt = select(
        Transaction.project_id,
        Transaction.type,
        Transaction.amount_minor,
        Transaction.currency,
        type_coerce(Transaction.value_date, SqlString),
        *[getattr(Transaction, name) for name in ATTRIBUTES],
        Transaction.recipient_country_iso3,
        Transaction.recipient_region_code,
    ).where(
        Transaction.type.in_(FLOW_TYPES),
        Transaction.price_basis.is_(None),
        Transaction.deleted_at.is_(None),
        Transaction.amount_minor != 0,  # converts to nothing and asks for no rate
    )
    stmt = stmt.where(Transaction.project_id.in_(list(project_ids)))
    result = db.session.connection().execute(stmt)
    # The rows as the driver gives them (plain values: the type as stored, the day as text on
    # SQLite), without building a result row for each of up to a million flows.
    for pid, kind, amount, cur, raw_day, source, org, finance, flow, country, region in result.cursor:
        found = days.get(raw_day)
        if found is None:
            on = raw_day if isinstance(raw_day, dt.date) else dt.date.fromisoformat(str(raw_day)[:10])
            found = days[raw_day] = (on, on.year, bisect.bisect_right(points, on))
        on, year, period = found
        measure = index[kind]
        for _currency, currency_quotes, groups, conversions in targets:
            conversion = conversions.get((cur, on))
            if conversion is None:
                conversion = conversions[(cur, on)] = _conversion(currency_quotes, cur, on)
            numerator, denominator, rate_kind, rate_day, stale_day = conversion
            # convert_minor, written out: a call less for each flow and currency
            value = amount if denominator == 1 and numerator == 1 else divide(amount * numerator, denominator)
            key = (pid, year, period, source, org, finance, flow, country, region, cur, rate_kind, stale_day)
            acc = groups.get(key)
            if acc is None:
                acc = groups[key] = [0, 0, 0, 0, rate_day, rate_day]
            acc[measure] += value
            if rate_day is not None:
                if acc[4] is None or rate_day < acc[4]:
                    acc[4] = rate_day
                if acc[5] is None or rate_day > acc[5]:
                    acc[5] = rate_day
    result.close()
    directions = _directions(project_ids)
    for currency, _quotes, groups, _conversions in targets:
        _write(currency, groups, directions)


def _conversion(quotes: Quotes, currency: str, day: dt.date) -> tuple:
    """How an amount of ``currency`` dated ``day`` converts into the currency of ``quotes``:
    (numerator, denominator of the minor-unit ratio, rate kind, rate date, the day when the rate
    is older than the rule allows or there is none). No rate: a ratio of 0, the flow adds 0."""
    if currency == quotes.target:
        return 1, 1, SAME, None, None
    rated = quotes.of(currency, day)
    if rated is None:
        return 0, 1, NONE, None, day
    return rated.ratio.numerator, rated.ratio.denominator, rated.kind, rated.rate_date, day if rated.stale else None


def _directions(project_ids: Sequence[int]) -> dict[tuple, str]:
    """The direction of the flows of each (project, period, source, donor, flow recipient) of
    the USD facts of ``project_ids``, brought up to date just before in the same refresh: the
    converted rows are the same flows grouped finer, so each takes its direction from there."""
    from reports.models import ReportFlowFact as f

    stmt = select(
        f.project_id, f.period, f.funding_source_id, f.provider_org_id, f.tx_country, f.tx_region, f.direction
    ).distinct()
    stmt = stmt.where(f.project_id.in_(list(project_ids)))
    return {tuple(row[:6]): row[6] for row in db.session.connection().execute(stmt)}


FINE_COLUMNS = (
    "currency",
    "project_id",
    "year",
    "period",
    *ATTRIBUTES,
    "tx_country",
    "tx_region",
    "source_currency",
    "rate_kind",
    "day",
    *MEASURE_COLUMNS,
    "rate_from",
    "rate_to",
    "direction",
)
DATE_COLUMNS = ("day", "rate_from", "rate_to", "need_date", "rate_date")
COARSE_COLUMNS = (
    "currency",
    "project_id",
    "year",
    "period",
    "tx_country",
    "tx_region",
    *MEASURE_COLUMNS,
    *ANNUAL_COLUMNS,
    "rate_from",
    "rate_to",
    "rated",
    "pegged_from",
)


def _write(currency: str, groups: dict[tuple, list], directions: dict[tuple, str]) -> None:
    """Write the fine and coarse rows of the groups of :func:`_insert` converted into ``currency``
    (``directions``: see :func:`_directions`)."""
    fine = [
        (currency, *key, *acc, directions[(key[0], key[2], key[3], key[4], key[7], key[8])])
        for key, acc in sorted(groups.items(), key=_in_project_order)
    ]
    _bulk_insert(ReportFxFact.__tablename__, FINE_COLUMNS, fine)
    _bulk_insert(ReportFxProjectFact.__tablename__, COARSE_COLUMNS, _coarse_rows(currency, groups))


def _bulk_insert(table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """INSERT rows (tuples in the order of ``columns``) through the DB-API cursor: building
    SQLAlchemy parameters for each row costs more than the insert itself. On PostgreSQL with
    psycopg, COPY: an INSERT a row, even pipelined, took most of a commit's refresh (53,000 rows
    of three report currencies, 1.8 s)."""
    conn = db.session.connection()
    if not rows:
        return
    if _copy(conn, table, columns, rows):
        return
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    if sqlite:  # dates as ISO text, as SQLAlchemy writes them there
        places = [i for i, name in enumerate(columns) if name in DATE_COLUMNS]
        iso: dict[dt.date, str] = {}
        written = []
        for row in rows:
            row = list(row)
            for i in places:
                day = row[i]
                if day is not None:
                    row[i] = iso.get(day) or iso.setdefault(day, day.isoformat())
            written.append(tuple(row))
        rows = written
    for start in range(0, len(rows), INSERT_BATCH):
        conn.exec_driver_sql(sql, rows[start : start + INSERT_BATCH])


def _copy(conn, table: str, columns: Sequence[str], rows: list[tuple]) -> bool:
    """COPY the rows into the table in the current transaction, when the driver is psycopg 3
    (False otherwise: the caller inserts them)."""
    if conn.dialect.name != "postgresql":
        return False
    with conn.connection.dbapi_connection.cursor() as cursor:
        if not hasattr(cursor, "copy"):  # psycopg2
            return False
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return True


def _in_project_order(item: tuple) -> tuple:
    """Rows are written in the order reports read them (project, then flow recipient): the index
    then finds them side by side in the table, not scattered over it (three times slower).
    ``item``: (key, sums) of a fine group or of a coarse row (both keys start with project, year,
    period; the fine one holds the flow recipient at 7 and 8, the coarse one at 3 and 4)."""
    key = item[0]
    country, region = (key[7], key[8]) if len(key) > 5 else (key[3], key[4])
    return (key[0], country or "", region or "", key[1], key[2])


def _coarse_rows(currency: str, groups: dict[tuple, list]) -> list[tuple]:
    """The rows of report_fx_project_facts (COARSE_COLUMNS) from the fine groups of :func:`_insert`:
    the same sums by (project, year, period, flow recipient), with the part converted at annual
    rates, the span of the rates' dates and the currencies that needed a rate."""
    coarse: dict[tuple, list] = {}
    for (pid, year, period, _s, _o, _f, _t, country, region, cur, kind, _day), acc in groups.items():
        key = (pid, year, period, country, region)
        row = coarse.get(key)
        if row is None:
            row = coarse[key] = [0, 0, 0, 0, 0, 0, 0, 0, None, None, set()]
        for i in range(4):
            row[i] += acc[i]
        if kind == ANNUAL:
            for i in range(4):
                row[4 + i] += acc[i]
        if kind != SAME:
            row[10].add(cur)
        if acc[4] is not None and (row[8] is None or acc[4] < row[8]):
            row[8] = acc[4]
        if acc[5] is not None and (row[9] is None or acc[5] > row[9]):
            row[9] = acc[5]
    pegs = frozenset(money.euro_pegs())
    return [
        (
            currency,
            *key,
            *row[:10],
            1 if row[10] else 0,
            (",".join(sorted(row[10] & pegs)) or None) if row[10] else None,
        )
        for key, row in sorted(coarse.items(), key=_in_project_order)
    ]


NEED_COLUMNS = (
    "currency",
    "project_id",
    "need_minor",
    "need_currency",
    "need_date",
    "minor",
    "rate_kind",
    "rate_date",
    "stale",
)


def _need_rows(currency: str, projects, quotes: Quotes) -> list[tuple]:
    """Rows of report_fx_needs: each (project, need, currency, date) converted into ``currency``
    as a report converts it (a need without a date or of zero converts to nothing: not kept)."""
    rows = []
    for pid, minor, cur, day in projects:
        if day is None or not minor:
            continue
        day = _date(day)
        if cur == currency:
            value, kind, rate_day, stale = int(minor), SAME, None, False
        else:
            rated = quotes.of(cur, day)
            if rated is None:
                value, kind, rate_day, stale = 0, NONE, None, False
            else:
                value = money.convert_minor(int(minor), rated.ratio)
                kind, rate_day, stale = rated.kind, rated.rate_date, rated.stale
        rows.append((currency, pid, int(minor), cur, day, value, kind, rate_day, stale))  # NEED_COLUMNS
    return rows


def _insert_needs(quotes: Quotes, project_ids: Sequence[int] | None) -> None:
    """Convert the needs (of ``project_ids``, or all) into the currency of ``quotes``."""
    currency = quotes.target
    stmt = select(Project.id, Project.need_minor, Project.need_currency, Project.need_date).where(
        Project.need_minor.is_not(None), Project.need_date.is_not(None), Project.deleted_at.is_(None)
    )
    if project_ids is not None:
        stmt = stmt.where(Project.id.in_(list(project_ids)))
    rows = _need_rows(currency, db.session.connection().execute(stmt), quotes)
    _bulk_insert(ReportFxNeed.__tablename__, NEED_COLUMNS, rows)


def _same_need(n, project) -> ColumnElement:
    """The stored conversion ``n`` is of the project's need as it stands."""
    return and_(
        n.c.project_id == project.id,
        n.c.need_minor == project.need_minor,
        n.c.need_currency == project.need_currency,
        n.c.need_date == project.need_date,
    )


def _unstored_needs(currency: str):
    """SELECT (id, need, currency, date) of the projects whose need has no stored conversion into
    ``currency`` that is still its need (edited since, or never converted)."""
    n = ReportFxNeed.__table__
    stored = select(n.c.project_id).where(n.c.currency == currency, _same_need(n, Project)).exists()
    return select(Project.id, Project.need_minor, Project.need_currency, Project.need_date).where(
        Project.need_minor.is_not(None),
        Project.need_minor != 0,
        Project.need_date.is_not(None),
        Project.deleted_at.is_(None),
        ~stored,
    )


def _needs_behind(currency: str) -> list[int]:
    """The projects whose need in ``currency`` is to be converted again."""
    return [row[0] for row in db.session.execute(_unstored_needs(currency))]


# -- reading -----------------------------------------------------------------------


def _coarse(tx_dims: Sequence[str], filters) -> bool:
    """Whether report_fx_project_facts answers (as report_project_facts does in USD): no flow
    attribute but the year is asked for or filtered on."""
    from reports.flow_sums import coarse_facts_answer

    return coarse_facts_answer(tx_dims, filters)


def fx_select(
    tx_dims: Sequence[str], filters, currency: str, *, with_period: bool, with_recipient: bool, grouped: bool = True
):
    """SELECT pid, d_<dim>..., [period], [tx_country, tx_region], m0..m3 from the converted facts of
    ``currency`` (flows no rate converts add nothing: the notes list them), the coarse ones when
    they answer. ``grouped`` False: the rows as they are, for a caller that groups them itself."""
    from reports import dimensions
    from reports.flow_sums import _narrowed

    coarse = _coarse(tx_dims, filters)
    f = ReportFxProjectFact if coarse else ReportFxFact
    dims = [dimensions.get(d) for d in tx_dims]
    keys = [f.project_id.label("pid")]
    keys += [d.fact_column(f).label(f"d_{d.key}") for d in dims]
    if with_period:
        keys.append(f.period.label("period"))
    if with_recipient:
        keys += [f.tx_country.label("tx_country"), f.tx_region.label("tx_region")]
    if grouped:
        sums = [cast(func.sum(getattr(f, name)), BigInteger).label(f"m{i}") for i, name in enumerate(MEASURE_COLUMNS)]
    else:
        sums = [getattr(f, name).label(f"m{i}") for i, name in enumerate(MEASURE_COLUMNS)]
    # (a flow no rate converts adds 0 to the coarse sums; the fine rows keep such flows apart)
    stmt = select(*keys, *sums).where(f.currency == currency)
    if not coarse:
        stmt = stmt.where(f.rate_kind != NONE)
    years = (lambda year: f.year >= year, lambda year: f.year <= year)
    stmt = _narrowed(stmt, tx_dims, filters, f, years)
    return stmt.group_by(*keys) if grouped else stmt


class FxSource(NamedTuple):
    """Where the fast path reads a report in another currency: the converted facts of
    ``currency`` and the projects' needs converted into it (``needs``: pid, minor and the need
    converted; :func:`need_join` keeps the rows of the projects' needs as they stand)."""

    currency: str
    needs: FromClause | None


def need_join(needs: FromClause, project) -> ColumnElement:
    """The rows of ``needs`` (FxSource.needs) that convert the project's need as it stands."""
    return and_(
        needs.c.pid == project.id,
        needs.c.need_minor == project.need_minor,
        needs.c.need_currency == project.need_currency,
        needs.c.need_date == project.need_date,
    )


class Conversions(NamedTuple):
    """What the notes of a report in another currency say, read from the converted facts."""

    notes: list
    rate_days: list[dt.date]
    annual: dict[tuple, list[int]]
    unconverted: set[tuple[str, dt.date]]


def _weighs_projects(spec) -> bool:
    """Whether the annual note weighs each project by the share the report's filters keep
    (``reports.conversion_notes._weigher``): else every project weighs 1."""
    return bool(spec.countries or spec.regions or spec.categories or spec.areas)


def _conversions(spec, filters, tx_dims, with_buckets: bool, needs: list[tuple]) -> Conversions:
    """The notes' data of the flows the report counts (same filters as its figures) and of the
    needs (``needs``: (currency, day, Rated or None) of each distinct conversion): as converting
    flow by flow would find them."""
    from reports.flow_sums import _narrowed
    from reports.notes import Note

    looked: set[str] = set()  # the currencies converted (in the coarse rows: those fixed to the euro)
    some_rated = False  # some flow or need needed a rate
    rate_days: list[dt.date] = []
    stale: set[tuple[str, dt.date]] = set()
    unconverted: set[tuple[str, dt.date]] = set()
    annual: dict[tuple, list[int]] = {}
    f = ReportFxFact
    years = (lambda year: f.year >= year, lambda year: f.year <= year)
    if _coarse([], filters):
        # One pass over the coarse rows, no grouping: whether any flow needed a rate, those of their
        # currencies fixed to the euro, the span of the rates' dates and, when every project weighs
        # 1 in the note, the amounts converted at annual rates.
        c = ReportFxProjectFact
        c_years = (lambda year: c.year >= year, lambda year: c.year <= year)
        stmt = select(
            func.max(c.rated),
            func.min(c.pegged_from),
            func.max(c.pegged_from),
            func.min(c.rate_from),
            func.max(c.rate_to),
            *[func.sum(getattr(c, name)) for name in ANNUAL_COLUMNS],
        ).where(c.currency == spec.currency)
        any_rate, low, high, first, last, *sums = db.session.execute(_narrowed(stmt, [], filters, c, c_years)).one()
        some_rated = bool(any_rate)
        pegged = {low, high} - {None}
        if len(pegged) > 1:  # flows in several currencies fixed to the euro: which ones
            stmt = select(c.pegged_from).where(c.currency == spec.currency, c.pegged_from.is_not(None)).distinct()
            pegged = set(db.session.scalars(_narrowed(stmt, [], filters, c, c_years)))
        for codes in pegged:
            looked.update(codes.split(","))
        if first is not None:
            rate_days += [_date(first), _date(last)]
        totals = [int(value or 0) for value in sums]
        # The flows converted at an older rate or not at all, by the index of their dates: a few rows.
        stmt = select(f.source_currency, f.rate_kind, f.day).where(f.currency == spec.currency, f.day.is_not(None))
        stmt = _narrowed(stmt, [], filters, f, years).group_by(f.source_currency, f.rate_kind, f.day)
        for cur, kind, day in db.session.execute(stmt):
            (unconverted if kind == NONE else stale).add((cur, _date(day)))
        if not _weighs_projects(spec):
            if any(totals):
                annual[(0, 0, None)] = totals  # every project weighs 1: their sum is the note's
        else:
            keys = [c.project_id, c.tx_country, c.tx_region] + ([c.period] if with_buckets else [])
            stmt = select(*keys, *[func.sum(getattr(c, name)) for name in ANNUAL_COLUMNS]).where(
                c.currency == spec.currency, or_(*[getattr(c, name) != 0 for name in ANNUAL_COLUMNS])
            )
            stmt = _narrowed(stmt, [], filters, c, c_years).group_by(*keys)
            _add_annual(annual, db.session.execute(stmt), with_buckets)
    else:
        stmt = select(f.source_currency, f.rate_kind, f.day, func.min(f.rate_from), func.max(f.rate_to)).where(
            f.currency == spec.currency, f.rate_kind != SAME
        )
        stmt = _narrowed(stmt, [], filters, f, years).group_by(f.source_currency, f.rate_kind, f.day)
        for cur, kind, day, first, last in db.session.execute(stmt):
            looked.add(cur)
            if kind == NONE:
                unconverted.add((cur, _date(day)))
                continue
            rate_days += [_date(first), _date(last)]
            if day is not None:
                stale.add((cur, _date(day)))
        keys = [f.project_id, f.tx_country, f.tx_region] + ([f.period] if with_buckets else [])
        stmt = select(*keys, *[func.sum(getattr(f, m)) for m in MEASURE_COLUMNS]).where(
            f.currency == spec.currency, f.rate_kind == ANNUAL
        )
        stmt = _narrowed(stmt, [], filters, f, years).group_by(*keys)
        _add_annual(annual, db.session.execute(stmt), with_buckets)
    for cur, day, rated in needs:  # the needs' conversions
        looked.add(cur)
        if rated is None:
            unconverted.add((cur, day))
        else:
            rate_days.append(rated.rate_date)
            if rated.stale:
                stale.add((cur, day))
    notes: list = []
    if stale:
        notes.append(Note("stale_rates", count=len(stale)))
    pegs = money.euro_pegs()
    pegged = sorted((looked | {spec.currency}) & pegs.keys())
    if pegged and (some_rated or looked):
        notes.append(Note("euro_parities", parities=[(code, str(pegs[code].per_euro)) for code in pegged]))
    return Conversions(notes, rate_days, annual, unconverted)


def _add_annual(annual: dict[tuple, list[int]], rows, with_buckets: bool) -> None:
    """Add rows (project, flow country, flow region, [period], 4 sums) to ``annual`` by (project,
    period, the flows' own recipient or None)."""
    for row in rows:
        pid, country, region = row[0], row[1], row[2]
        bucket = row[3] if with_buckets else 0
        place = (country, region) if country is not None or region is not None else None
        acc = annual.setdefault((pid, bucket, place), [0, 0, 0, 0])
        for i, value in enumerate(row[-4:]):
            acc[i] += int(value or 0)


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


_need_tables = itertools.count(1)


class _Rate(NamedTuple):
    """A stored need's conversion, as the notes read it (see Rated)."""

    rate_date: dt.date
    stale: bool


@contextmanager
def _needs(spec) -> Iterator[tuple[FromClause, list[tuple]]]:
    """The projects' needs converted into the report's currency (FxSource.needs), and each
    distinct (currency, day) conversion the report's needs took, (currency, day, rate or None)
    as :func:`_conversions` reads them.

    Stored conversions answer the needs as they stand; the needs edited since they were
    converted (or never converted) are converted here, into a temporary table."""
    currency = spec.currency
    n = ReportFxNeed.__table__
    table = Table(
        f"report_fx_needs_{next(_need_tables)}",
        MetaData(),
        Column("pid", BigInteger),
        Column("minor", BigInteger),
        Column("need_minor", BigInteger),
        Column("need_currency", SqlString(3)),
        Column("need_date", Date),
        prefixes=["TEMPORARY"],
    )

    def narrowed(stmt, day):
        stmt = stmt.where(Project.deleted_at.is_(None))
        if spec.statuses:
            stmt = stmt.where(Project.status.in_(spec.statuses))
        if spec.action_lines:
            stmt = stmt.where(Project.has_action_line(spec.action_lines))
        if spec.year_from:
            stmt = stmt.where(day >= dt.date(spec.year_from, 1, 1))
        if spec.year_to:
            stmt = stmt.where(day < dt.date(spec.year_to + 1, 1, 1))
        return stmt

    quotes = Quotes(currency)
    fresh = _need_rows(currency, db.session.execute(narrowed(_unstored_needs(currency), Project.need_date)), quotes)
    found: dict[tuple, object] = dict(quotes.found)
    # the stored conversions of the needs as they stand: one row per distinct conversion
    stale_day = case((or_(n.c.stale, n.c.rate_kind == NONE), n.c.need_date), else_=None)
    stmt = (
        select(n.c.need_currency, n.c.rate_kind, n.c.stale, stale_day, func.min(n.c.rate_date), func.max(n.c.rate_date))
        .join(Project, _same_need(n, Project))
        .where(n.c.currency == currency, n.c.rate_kind != SAME, n.c.need_minor != 0)
        .group_by(n.c.need_currency, n.c.rate_kind, n.c.stale, stale_day)
    )
    conversions = [(cur, day, rated) for (cur, day), rated in found.items()]
    for cur, kind, stale, day, first, last in db.session.execute(narrowed(stmt, n.c.need_date)):
        if kind == NONE:
            conversions.append((cur, _date(day), None))
        elif stale:
            conversions.append((cur, _date(day), _Rate(_date(first), True)))
        else:
            conversions += [(cur, None, _Rate(_date(first), False)), (cur, None, _Rate(_date(last), False))]
    conn = db.session.connection()
    table.create(conn)
    try:
        if fresh:
            conn.execute(
                insert(table),
                [
                    {"pid": pid, "minor": minor, "need_minor": need, "need_currency": cur, "need_date": day}
                    for _currency, pid, need, cur, day, minor, *_rate in fresh  # NEED_COLUMNS
                ],
            )
        stored = select(n.c.project_id.label("pid"), n.c.minor, n.c.need_minor, n.c.need_currency, n.c.need_date).where(
            n.c.currency == currency
        )
        yield union_all(stored, select(table)).subquery("fx_needs"), conversions
    finally:
        table.drop(conn)


def answers(spec) -> bool:
    """Whether the converted facts can answer this report (its currency's facts are kept and
    fresh, and they keep every flow attribute it asks for)."""
    from reports import dimensions, facts
    from reports.flow_sums import facts_apply
    from reports.spec import tx_filter

    if spec.currency == "USD" or spec.currency not in kept_currencies():
        return False
    if not facts_apply(dimensions.flow_level(spec.dimensions), tx_filter(spec)):
        return False
    facts.ensure_fresh_for_read()
    return is_fresh(spec.currency, facts.built_layout())


def run(spec, ref, totals: dict | None = None):
    """A report in another currency from the converted facts: (the report, its stage one for the
    conversion notes). The flows' sums are weighted by the shares in SQL as in USD."""
    from reports import dimensions
    from reports.in_database import run_in_database
    from reports.spec import need_applies, tx_filter
    from reports.stage_one import StageOne

    filters = tx_filter(spec)
    tx_dims = dimensions.flow_level(spec.dimensions)
    with_buckets = "category" in spec.dimensions or bool(spec.categories)
    with_need = need_applies(spec)
    with _needs(spec) if with_need else nullcontext((None, [])) as (needs, need_conversions):
        conversions = _conversions(spec, filters, tx_dims, with_buckets, need_conversions)
        report = run_in_database(
            spec,
            ref,
            None,
            totals,
            fx=FxSource(spec.currency, needs),
            notes=conversions.notes,
            rate_days=conversions.rate_days,
        )
    first = StageOne(
        tx_dims, with_buckets, {}, with_need, [], conversions.rate_days, conversions.annual, conversions.unconverted
    )
    return report, first
