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
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import itertools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from flask import current_app
from sqlalchemy import BigInteger, Column, MetaData, Table, cast, delete, func, insert, select, type_coerce
from sqlalchemy import String as SqlString

from registry import money
from registry.errors import ConversionError
from registry.extensions import db
from registry.models import Transaction
from reports.models import ReportFxFact, ReportState

SAME, DAILY, ANNUAL, NONE = "same", "daily", "annual", "none"
FORMAT = "1"  # bump when the content of the converted facts changes
STATE_PREFIX = "fx_"
STALE_RATE_DAYS = 36_600  # a flow beyond the published rates takes the last one, however old
MEASURE_COLUMNS = ("pledge", "commitment", "disbursement", "expenditure")
ATTRIBUTES = ("funding_source_id", "provider_org_id", "finance_type", "flow_type")
CHUNK = 500
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

    def __init__(self, target: str) -> None:
        self.target = target
        self.max_age = current_app.config.get("RATE_MAX_AGE_DAYS", 7)
        self.found: dict[tuple[str, dt.date], Rated | None] = {}

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
    if not currencies:
        return
    money.forget_tables()  # the rate files in force now, not those a process read seconds ago
    expected = signature(layout)
    for currency in currencies:
        db.session.execute(delete(ReportFxFact.__table__).where(ReportFxFact.currency == currency))
        _insert(currency, None, points)
        _set_state(currency, expected)
    db.session.flush()


def refresh(project_ids: Sequence[int], points: Sequence[dt.date], layout: str) -> None:
    """Convert again the flows of these (changed) projects into every kept currency that is
    otherwise up to date (a currency behind is rebuilt whole by :func:`rebuild`)."""
    if not project_ids:
        return
    kept = kept_currencies()
    if not kept:
        return
    expected = signature(layout)
    states = _states(kept)
    table = ReportFxFact.__table__
    for currency in kept:
        if states.get(currency) != expected:
            continue
        for start in range(0, len(project_ids), CHUNK):
            chunk = list(project_ids[start : start + CHUNK])
            db.session.execute(delete(table).where(table.c.currency == currency, table.c.project_id.in_(chunk)))
            _insert(currency, chunk, points)


def _insert(currency: str, project_ids: Sequence[int] | None, points: Sequence[dt.date]) -> None:
    """Write the converted sums of the flows (of ``project_ids``, or all) into ``currency``."""
    from reports.flow_sums import FLOW_TYPES

    index = {kind: i for i, kind in enumerate(FLOW_TYPES)}
    quotes = Quotes(currency)
    convert_minor = money.convert_minor
    days: dict[str, tuple[dt.date, int, int]] = {}  # value date as read -> (date, year, period)
    groups: dict[tuple, list] = {}
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
    if project_ids is not None:
        stmt = stmt.where(Transaction.project_id.in_(list(project_ids)))
    for pid, kind, amount, cur, raw_day, source, org, finance, flow, country, region in db.session.connection().execute(
        stmt
    ):
        found = days.get(raw_day)
        if found is None:
            on = raw_day if isinstance(raw_day, dt.date) else dt.date.fromisoformat(str(raw_day)[:10])
            found = days[raw_day] = (on, on.year, bisect.bisect_right(points, on))
        on, year, period = found
        if cur == currency:
            value, rate_kind, rate_day, stale_day = amount, SAME, None, None
        else:
            rated = quotes.of(cur, on)
            if rated is None:
                value, rate_kind, rate_day, stale_day = 0, NONE, None, on
            else:
                value = convert_minor(amount, rated.ratio)
                rate_kind, rate_day = rated.kind, rated.rate_date
                stale_day = on if rated.stale else None
        key = (pid, year, period, source, org, finance, flow, country, region, cur, rate_kind, stale_day)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = [0, 0, 0, 0, rate_day, rate_day]
        acc[index[kind]] += value
        if rate_day is not None:
            if acc[4] is None or rate_day < acc[4]:
                acc[4] = rate_day
            if acc[5] is None or rate_day > acc[5]:
                acc[5] = rate_day
    names = (
        "project_id",
        "year",
        "period",
        *ATTRIBUTES,
        "tx_country",
        "tx_region",
        "source_currency",
        "rate_kind",
        "day",
    )
    rows = [
        {
            "currency": currency,
            **dict(zip(names, key, strict=True)),
            **dict(zip(MEASURE_COLUMNS, acc[:4], strict=True)),
            "rate_from": acc[4],
            "rate_to": acc[5],
        }
        for key, acc in groups.items()
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        db.session.execute(insert(ReportFxFact.__table__), rows[start : start + INSERT_BATCH])


# -- reading -----------------------------------------------------------------------


def fx_select(tx_dims: Sequence[str], filters, currency: str, *, with_period: bool, with_recipient: bool):
    """SELECT pid, d_<dim>..., [period], [tx_country, tx_region], m0..m3 from the converted facts of
    ``currency`` (flows no rate converts add nothing: the notes list them)."""
    from reports import dimensions
    from reports.flow_sums import _narrowed

    f = ReportFxFact
    dims = [dimensions.get(d) for d in tx_dims]
    keys = [f.project_id.label("pid")]
    keys += [d.fact_column(f).label(f"d_{d.key}") for d in dims]
    if with_period:
        keys.append(f.period.label("period"))
    if with_recipient:
        keys += [f.tx_country.label("tx_country"), f.tx_region.label("tx_region")]
    sums = [cast(func.sum(getattr(f, name)), BigInteger).label(f"m{i}") for i, name in enumerate(MEASURE_COLUMNS)]
    stmt = select(*keys, *sums).where(f.currency == currency, f.rate_kind != NONE)
    years = (lambda year: f.year >= year, lambda year: f.year <= year)
    return _narrowed(stmt, tx_dims, filters, f, years).group_by(*keys)


class FxSource(NamedTuple):
    """Where the fast path reads a report in another currency: the converted facts of
    ``currency`` and the projects' needs converted for the report (a temporary table)."""

    currency: str
    needs: Table | None


class Conversions(NamedTuple):
    """What the notes of a report in another currency say, read from the converted facts."""

    notes: list
    rate_days: list[dt.date]
    annual: dict[tuple, list[int]]
    unconverted: set[tuple[str, dt.date]]


def _conversions(spec, filters, tx_dims, with_buckets: bool, quotes: Quotes) -> Conversions:
    """The notes' data of the flows the report counts (same filters as its figures) and of the
    needs already converted through ``quotes``: as converting flow by flow would find them."""
    from reports.flow_sums import _narrowed
    from reports.notes import Note

    f = ReportFxFact
    years = (lambda year: f.year >= year, lambda year: f.year <= year)
    stmt = select(f.source_currency, f.rate_kind, f.day, func.min(f.rate_from), func.max(f.rate_to)).where(
        f.currency == spec.currency, f.rate_kind != SAME
    )
    stmt = _narrowed(stmt, [], filters, f, years).group_by(f.source_currency, f.rate_kind, f.day)
    looked: set[str] = set()
    rate_days: list[dt.date] = []
    stale: set[tuple[str, dt.date]] = set()
    unconverted: set[tuple[str, dt.date]] = set()
    for cur, kind, day, first, last in db.session.execute(stmt):
        looked.add(cur)
        if kind == NONE:
            unconverted.add((cur, _date(day)))
            continue
        rate_days += [_date(first), _date(last)]
        if day is not None:
            stale.add((cur, _date(day)))
    for (cur, day), rated in quotes.found.items():  # the needs' conversions
        looked.add(cur)
        if rated is None:
            unconverted.add((cur, day))
        else:
            rate_days.append(rated.rate_date)
            if rated.stale:
                stale.add((cur, day))
    annual: dict[tuple, list[int]] = {}
    keys = [f.project_id, f.tx_country, f.tx_region] + ([f.period] if with_buckets else [])
    stmt = select(*keys, *[func.sum(getattr(f, m)) for m in MEASURE_COLUMNS]).where(
        f.currency == spec.currency, f.rate_kind == ANNUAL
    )
    stmt = _narrowed(stmt, [], filters, f, years).group_by(*keys)
    for row in db.session.execute(stmt):
        pid, country, region = row[0], row[1], row[2]
        bucket = row[3] if with_buckets else 0
        place = (country, region) if country is not None or region is not None else None
        sums = [int(v or 0) for v in row[-4:]]
        acc = annual.setdefault((pid, bucket, place), [0, 0, 0, 0])
        for i in range(4):
            acc[i] += sums[i]
    notes: list = []
    if stale:
        notes.append(Note("stale_rates", count=len(stale)))
    pegs = money.euro_pegs()
    pegged = sorted((looked | {spec.currency}) & pegs.keys())
    if pegged and looked:
        notes.append(Note("euro_parities", parities=[(code, str(pegs[code].per_euro)) for code in pegged]))
    return Conversions(notes, rate_days, annual, unconverted)


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


_need_tables = itertools.count(1)


@contextmanager
def _need_table(rows: list[tuple[int, int]]) -> Iterator[Table]:
    """The projects' needs converted into the report's currency, in a temporary table."""
    table = Table(
        f"report_fx_needs_{next(_need_tables)}",
        MetaData(),
        Column("pid", BigInteger),
        Column("minor", BigInteger),
        prefixes=["TEMPORARY"],
    )
    conn = db.session.connection()
    table.create(conn)
    try:
        if rows:
            conn.execute(insert(table), [{"pid": pid, "minor": minor} for pid, minor in rows])
        yield table
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
    from reports import dimensions, queries
    from reports.in_database import run_in_database
    from reports.spec import need_applies, tx_filter
    from reports.stage_one import StageOne

    filters = tx_filter(spec)
    tx_dims = dimensions.flow_level(spec.dimensions)
    with_buckets = "category" in spec.dimensions or bool(spec.categories)
    quotes = Quotes(spec.currency)
    with_need = need_applies(spec)
    needs: list[tuple[int, int]] = []
    if with_need:
        for need in queries.project_needs(spec.statuses, spec.action_lines):
            if need.date is None or not need.minor:
                continue  # no date, no rate: a need without one converts to nothing (as flow by flow)
            year = need.date.year
            if spec.year_from and year < spec.year_from or spec.year_to and year > spec.year_to:
                continue
            if need.currency == spec.currency:
                needs.append((need.project_id, int(need.minor)))
                continue
            rated = quotes.of(need.currency, need.date)
            if rated is not None:
                value = money.convert_minor(int(need.minor), rated.ratio)
                if value:
                    needs.append((need.project_id, value))
    conversions = _conversions(spec, filters, tx_dims, with_buckets, quotes)
    with _need_table(needs) as table:
        report = run_in_database(
            spec,
            ref,
            None,
            totals,
            fx=FxSource(spec.currency, table if with_need else None),
            notes=conversions.notes,
            rate_days=conversions.rate_days,
        )
    first = StageOne(
        tx_dims, with_buckets, {}, with_need, [], conversions.rate_days, conversions.annual, conversions.unconverted
    )
    return report, first
