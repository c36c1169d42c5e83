"""Stage one of every report, in SQL: the flows summed per project (and per flow-level dimension).

The database groups the transactions by project and by the flow-level dimensions asked for
(``reports.dimensions``), so at most a few rows per project leave the database, whatever the
number of transactions. A report in USD reads the report facts (``reports.facts``) instead
of the transactions when they keep every dimension asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, Date, String, case, cast, func, literal, or_, select, type_coerce
from sqlalchemy.sql import ColumnElement

from registry.extensions import db
from registry.models import FundingSource, Project, Transaction
from registry.models.types import TransactionType
from registry.services import direction
from registry.services.scope import projects_with_scope
from reports import dimensions, facts
from reports.dimensions import FLOW_TYPES
from reports.facts import for_reports
from reports.models import ReportFlowFact, ReportProjectFact

# Which IATI transaction types each amount measure counts: FLOW_TYPES and nothing else.
# Incoming funds, commitments and pledges (1, 11, 13) are what an implementer receives;
# interest, loan repayments, reimbursements, equity and guarantees (5-10) are not
# ICT4D funding given: no measure counts them.
MEASURE_TYPES: dict[str, TransactionType] = {t.value: t for t in FLOW_TYPES}
EXCLUDED_TYPES: tuple[TransactionType, ...] = tuple(t for t in TransactionType if t not in FLOW_TYPES)


def measure_types() -> dict:
    """What each amount measure counts, for a report's metadata: IATI codes and type names."""
    return {
        "measures": {
            name: {"iati_types": [kind.iati_code], "transaction_types": [kind.value]}
            for name, kind in MEASURE_TYPES.items()
        },
        "not_counted": {
            "iati_types": sorted((t.iati_code for t in EXCLUDED_TYPES), key=int),
            "transaction_types": [t.value for t in sorted(EXCLUDED_TYPES, key=lambda t: int(t.iati_code))],
        },
    }


def measure_types_note() -> str:
    """The same in words, for the notes of a report (CSV, workbook, terminal)."""
    from reports.notes import Note

    return Note("transaction_types")


@dataclass
class TxFilter:
    """Filters that apply to transactions (and to projects) in stage one."""

    year_from: int | None = None
    year_to: int | None = None
    statuses: list[str] = field(default_factory=list)
    source_kinds: list[str] = field(default_factory=list)
    donor_ids: list[int] = field(default_factory=list)
    funding_source_ids: list[int] = field(default_factory=list)
    action_lines: list[str] = field(default_factory=list)  # projects tagged with any of these
    scopes: list[str] = field(default_factory=list)  # projects of these scopes (stated, else derived)
    infrastructures: list[str] = field(default_factory=list)  # projects building these kinds
    # Only flows confirmed by the organisation managing their funding source (report
    # parameter confirmed=only); the facts do not keep confirmation, so the flows are read.
    confirmed_only: bool = False
    # Only flows of these tied statuses (IATI TiedStatus codes; "" for unknown): the share
    # of each in reports.tied. The facts do not keep the status, so the flows are read.
    tied_statuses: list[str] = field(default_factory=list)
    # Only flows of these directions (registry.services.direction.VALUES); the finer facts
    # keep each row's direction.
    directions: list[str] = field(default_factory=list)


def project_conditions(scopes: Sequence[str] = (), infrastructures: Sequence[str] = ()) -> list:
    """Conditions on ``projects`` of the scope and infrastructure filters (none when not given)."""
    out = []
    if scopes:
        out.append(Project.id.in_(projects_with_scope(list(scopes))))
    if infrastructures:
        out.append(Project.infrastructure.in_(list(infrastructures)))
    return out


def tied_status_expression() -> ColumnElement:
    """A flow's tied status: its own, else its project's default (NULL: unknown)."""
    default = select(Project.default_tied_status).where(Project.id == Transaction.project_id).scalar_subquery()
    return func.coalesce(Transaction.tied_status, default)


def bucket_expression(column, breakpoints: Sequence[dt.date]) -> ColumnElement:
    """Index of the membership period a date falls in (0 before the first breakpoint).

    A balanced tree of CASEs: about log2(n) comparisons per flow instead of n.
    """

    def node(low: int, high: int) -> ColumnElement:
        # the answer lies in [low, high]: number of breakpoints <= the date
        if low == high:
            return literal(low)
        mid = (low + high + 1) // 2
        return case((column < literal(breakpoints[mid - 1], type_=Date()), node(low, mid - 1)), else_=node(mid, high))

    return node(0, len(breakpoints))


def project_flow_sums(
    tx_dims: Sequence[str],
    filters: TxFilter,
    *,
    usd: bool,
    breakpoints: Sequence[dt.date] | None = None,
) -> list[tuple]:
    """Per project (and flow-level dimension) sums of pledges, commitments, disbursements, expenditure.

    With ``usd`` the sums are of the stored USD minor units; otherwise they are of
    the original minor units of each flow (with its currency and value date) so that the
    caller converts each flow at the rate of its value date, rounded on its own. With ``breakpoints``
    each row also carries the index of the category-membership period of its date.
    Every row also carries the recipient country and region the flows name themselves
    (both empty for flows that follow the project's shares).
    Row: (project_id, *dimension values, [period], flow country, flow region, [currency,
    value_date], pledge, commitment, disbursement, expenditure), the driver's own rows read by
    position (a million of them: an object per row would cost more than the query). The value
    date comes as the driver gives it (ISO text on SQLite: parsing a million dates the caller
    looks up by text would cost a second).
    """
    if usd and facts_apply(tx_dims, filters):
        return _fact_sums(tx_dims, filters, with_period=breakpoints is not None)
    # a flow without a USD value (no rate source could convert it) adds nothing in USD
    amount = func.coalesce(Transaction.usd_minor, 0) if usd else Transaction.amount_minor
    sums = [func.sum(case((Transaction.type == kind, amount), else_=0)) for kind in FLOW_TYPES]
    keys: list[ColumnElement] = [Transaction.project_id]
    keys += [dimensions.get(d).sql() for d in tx_dims]
    if breakpoints is not None:
        keys.append(bucket_expression(Transaction.value_date, breakpoints))
    keys += [Transaction.recipient_country_iso3, Transaction.recipient_region_code]
    group = list(keys)
    if not usd:
        keys += [Transaction.currency, type_coerce(Transaction.value_date, String)]
        # each flow converted and rounded on its own, as its stored USD value is: one row per flow
        group = [*keys, Transaction.id]
    stmt = filtered_flows(select(*keys, *sums), tx_dims, filters)
    stmt = stmt.group_by(*group)
    for_reports()
    # Core rows straight from the connection: up to a row per flow in another currency.
    return db.session.connection().execute(stmt).all()


def facts_apply(tx_dims: Sequence[str], filters: TxFilter) -> bool:
    """Whether the report facts can answer: they keep every flow attribute asked for (a
    dimension declared without a fact column is read from the transactions) but not whether
    a flow is confirmed."""
    return (
        not filters.confirmed_only
        and not filters.tied_statuses
        and all(dimensions.get(d).fact or dimensions.get(d).joins_source for d in tx_dims)
    )


def coarse_facts_answer(tx_dims: Sequence[str], filters: TxFilter) -> bool:
    """Whether the coarse facts (by project, year, period and flow recipient) answer: no flow
    attribute but the year is asked for or filtered on."""
    return all(dimensions.get(d).in_project_facts for d in tx_dims) and not (
        filters.source_kinds or filters.donor_ids or filters.funding_source_ids or filters.directions
    )


def _joins_source(tx_dims: Sequence[str], filters: TxFilter) -> bool:
    return bool(filters.source_kinds) or any(dimensions.get(d).joins_source for d in tx_dims)


def fact_select(
    tx_dims: Sequence[str],
    filters: TxFilter,
    *,
    with_period: bool = False,
    with_recipient: bool = True,
    grouped: bool = True,
):
    """SELECT pid, d_<dim>..., [period], [tx_country, tx_region], m0..m3 from the report facts
    (refreshed first). ``with_recipient``: keep apart the flows that name their own recipient.
    ``grouped`` False: the fact rows as they are, for a caller that groups them itself (a union
    with the needs grouped once, not twice)."""
    facts.ensure_fresh_for_read()
    dims = [dimensions.get(d) for d in tx_dims]
    f = ReportProjectFact if coarse_facts_answer(tx_dims, filters) else ReportFlowFact
    keys: list[ColumnElement] = [f.project_id.label("pid")]
    keys += [d.fact_column(f).label(f"d_{d.key}") for d in dims]
    if with_period:
        keys.append(f.period.label("period"))
    if with_recipient:
        keys += [f.tx_country.label("tx_country"), f.tx_region.label("tx_region")]
    # bigint, not the NUMERIC PostgreSQL gives a sum of bigints: a project's sums fit, and the
    # outer aggregates over bigint need a fraction of the memory (no spill to disk)
    if not grouped:
        sums = [getattr(f, name).label(f"m{i}") for i, name in enumerate(facts.MEASURE_COLUMNS)]
    else:
        sums = [
            cast(func.sum(getattr(f, name)), BigInteger).label(f"m{i}") for i, name in enumerate(facts.MEASURE_COLUMNS)
        ]
    stmt = select(*keys, *sums)
    years = (lambda year: f.year >= year, lambda year: f.year <= year)
    stmt = _narrowed(stmt, tx_dims, filters, f, years)
    return stmt.group_by(*keys) if grouped else stmt


def _fact_sums(tx_dims: Sequence[str], filters: TxFilter, *, with_period: bool) -> list[tuple]:
    """The rows of fact_select (project_flow_sums in USD)."""
    for_reports()
    return db.session.execute(fact_select(tx_dims, filters, with_period=with_period)).all()


def transaction_sums(
    tx_dims: Sequence[str],
    filters: TxFilter,
    breakpoints: Sequence[dt.date] | None = None,
    *,
    with_recipient: bool = True,
):
    """SELECT pid, d_<dim>..., [period], [tx_country, tx_region], m0..m4 (m4 = 0) straight from the
    transactions (any dimension)."""
    usd = func.coalesce(Transaction.usd_minor, 0)  # an unconverted flow adds nothing in USD
    sums = [
        func.sum(case((Transaction.type == kind, usd), else_=0)).label(f"m{i}") for i, kind in enumerate(FLOW_TYPES)
    ]
    tx_keys = [dimensions.get(d).sql().label(f"d_{d}") for d in tx_dims]
    if breakpoints is not None:
        tx_keys.append(bucket_expression(Transaction.value_date, breakpoints).label("period"))
    if with_recipient:
        tx_keys += [
            Transaction.recipient_country_iso3.label("tx_country"),
            Transaction.recipient_region_code.label("tx_region"),
        ]
    flows = select(Transaction.project_id.label("pid"), *tx_keys, *sums, literal(0).label("m4"))
    return filtered_flows(flows, tx_dims, filters).group_by(Transaction.project_id, *tx_keys)


def filtered_flows(stmt, tx_dims: Sequence[str], filters: TxFilter):
    """A SELECT over the transactions limited to the summed types and the filters (joins as needed)."""
    # Constant-price flows (price_basis set) are a separate measure, never summed with current prices.
    # Deleted flows are in no report; said here because some of these SELECTs run on the
    # connection or inside an INSERT, where the ORM's filter of deleted rows does not reach.
    stmt = stmt.where(
        Transaction.type.in_(FLOW_TYPES), Transaction.price_basis.is_(None), Transaction.deleted_at.is_(None)
    )
    years = (
        lambda year: Transaction.value_date >= dt.date(year, 1, 1),
        lambda year: Transaction.value_date < dt.date(year + 1, 1, 1),
    )
    stmt = _narrowed(stmt, tx_dims, filters, Transaction, years)
    if filters.confirmed_only:
        stmt = stmt.where(Transaction.confirmed.is_(True))
    if filters.tied_statuses:
        status = tied_status_expression()
        known = [code for code in filters.tied_statuses if code]
        wanted = [status.in_(known)] if known else []
        if "" in filters.tied_statuses:
            wanted.append(status.is_(None))
        stmt = stmt.where(or_(*wanted))
    return stmt


def _narrowed(stmt, tx_dims: Sequence[str], filters: TxFilter, flows, years: tuple[Callable, Callable]):
    """``stmt`` over ``flows`` (the transactions or a facts table: both name the project, the
    donor and the funding source alike) narrowed by the filters; ``years``: the conditions
    "from year" and "to year" on its dates."""
    if _joins_source(tx_dims, filters):
        stmt = stmt.outerjoin(FundingSource, FundingSource.id == flows.funding_source_id)
    if filters.statuses or filters.action_lines or filters.scopes or filters.infrastructures:
        stmt = stmt.join(Project, Project.id == flows.project_id)
    if filters.statuses:
        stmt = stmt.where(Project.status.in_(filters.statuses))
    if filters.action_lines:
        stmt = stmt.where(Project.has_action_line(filters.action_lines))
    stmt = stmt.where(*project_conditions(filters.scopes, filters.infrastructures))
    if filters.year_from is not None:
        stmt = stmt.where(years[0](filters.year_from))
    if filters.year_to is not None:
        stmt = stmt.where(years[1](filters.year_to))
    if filters.source_kinds:
        stmt = stmt.where(FundingSource.kind.in_(filters.source_kinds))
    if filters.donor_ids:
        stmt = stmt.where(flows.provider_org_id.in_(filters.donor_ids))
    if filters.funding_source_ids:
        stmt = stmt.where(flows.funding_source_id.in_(filters.funding_source_ids))
    if filters.directions:
        # the finer facts keep each row's direction; the transactions derive it flow by flow
        column = direction.direction_expression() if flows is Transaction else flows.direction
        stmt = stmt.where(column.in_(filters.directions))
    return stmt
