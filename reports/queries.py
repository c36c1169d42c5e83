"""The SQL of the reports: per-project sums of the money flows, shares, reference lookups.

Stage one of every report runs here: the database groups the transactions by
project (and by the transaction-level dimensions asked for), so at most a few
rows per project leave the database, whatever the number of transactions.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    MetaData,
    Numeric,
    String,
    Table,
    and_,
    case,
    cast,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.sql import ColumnElement, FromClause

from registry.extensions import db
from registry.models import (
    CategoryMembership,
    Country,
    FundingSource,
    Organisation,
    PriorityArea,
    Project,
    ProjectArea,
    ProjectRecipient,
    RecipientCategory,
    Region,
    Transaction,
)
from registry.models.types import TransactionType
from reports import facts
from reports.models import ReportCategoryMember, ReportFlowFact, ReportProjectFact

# The transaction types a report sums, in the order of the measure vectors.
FLOW_TYPES: tuple[TransactionType, ...] = (
    TransactionType.PLEDGE,
    TransactionType.COMMITMENT,
    TransactionType.DISBURSEMENT,
    TransactionType.EXPENDITURE,
)

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
    names = {
        TransactionType.PLEDGE: "pledges: type 12 (outgoing pledge)",
        TransactionType.COMMITMENT: "commitments: 2 (outgoing commitment)",
        TransactionType.DISBURSEMENT: "disbursements: 3",
        TransactionType.EXPENDITURE: "expenditure: 4",
    }
    counted = "; ".join(names[t] for t in FLOW_TYPES)
    left = ", ".join(
        f"{t.iati_code} {t.value.replace('_', ' ')}" for t in sorted(EXCLUDED_TYPES, key=lambda t: int(t.iati_code))
    )
    return f"IATI transaction types counted: {counted}. No measure counts the other types ({left})."


# Dimensions that are attributes of a transaction (grouped in stage one).
TX_DIMENSIONS = ("year", "funding_source", "source_kind", "donor", "finance_type", "flow_type")


@dataclass
class TxFilter:
    """Filters that apply to transactions (and to projects) in stage one."""

    year_from: int | None = None
    year_to: int | None = None
    statuses: list[str] = field(default_factory=list)
    source_kinds: list[str] = field(default_factory=list)
    donor_ids: list[int] = field(default_factory=list)
    funding_source_ids: list[int] = field(default_factory=list)
    # Only flows confirmed by the organisation managing their funding source (report
    # parameter confirmed=only); the facts do not keep confirmation, so the flows are read.
    confirmed_only: bool = False


def _tx_dimension_column(name: str) -> ColumnElement:
    if name == "year":
        return cast(extract("year", Transaction.value_date), db.Integer)
    if name == "funding_source":
        return Transaction.funding_source_id
    if name == "source_kind":
        return FundingSource.kind
    if name == "donor":
        return Transaction.provider_org_id
    if name == "finance_type":
        return Transaction.finance_type
    if name == "flow_type":
        return Transaction.flow_type
    raise KeyError(name)


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
    """Per project (and transaction dimension) sums of pledges, commitments, disbursements, expenditure.

    With ``usd`` the sums are of the stored USD minor units; otherwise they are of
    the original minor units, grouped also by currency and value date so that the
    caller converts each group at the rate of its value date. With ``breakpoints``
    each row also carries the index of the category-membership period of its date.
    Every row also carries the recipient country and region the flows name themselves
    (both empty for flows that follow the project's shares).
    Row: (project_id, *dims, [bucket], flow country, flow region, [currency, value_date],
    pledge, commitment, disbursement, expenditure). The value date comes as the driver
    gives it (ISO text on SQLite: parsing a million dates the caller looks up by text would
    cost a second).
    """
    if usd and facts_apply(tx_dims, filters):
        return _fact_sums(tx_dims, filters, with_period=breakpoints is not None)
    # a flow without a USD value (no rate source could convert it) adds nothing in USD
    amount = func.coalesce(Transaction.usd_minor, 0) if usd else Transaction.amount_minor
    sums = [func.sum(case((Transaction.type == kind, amount), else_=0)) for kind in FLOW_TYPES]
    keys: list[ColumnElement] = [Transaction.project_id]
    keys += [_tx_dimension_column(d) for d in tx_dims]
    if breakpoints is not None:
        keys.append(bucket_expression(Transaction.value_date, breakpoints))
    keys += [Transaction.recipient_country_iso3, Transaction.recipient_region_code]
    if not usd:
        keys += [Transaction.currency, type_coerce(Transaction.value_date, String)]
    stmt = _filtered_flows(select(*keys, *sums), tx_dims, filters)
    stmt = stmt.group_by(*keys)
    _no_jit()
    # Core rows straight from the connection: up to a row per flow in another currency.
    return db.session.connection().execute(stmt).all()


def facts_apply(tx_dims: Sequence[str], filters: TxFilter) -> bool:
    """Whether the report facts can answer (every USD report of all flows: they keep each
    flow attribute but not whether the flow is confirmed)."""
    return not filters.confirmed_only


FACT_DIMENSIONS = {
    "year": "year",
    "funding_source": "funding_source_id",
    "donor": "provider_org_id",
    "finance_type": "finance_type",
    "flow_type": "flow_type",
}


def _fact_select(tx_dims: Sequence[str], filters: TxFilter, *, with_period: bool = False, with_recipient: bool = True):
    """SELECT pid, d_<dim>..., [period], [tx_country, tx_region], m0..m3 from the report facts
    (refreshed first). ``with_recipient``: keep apart the flows that name their own recipient."""
    facts.ensure_fresh()
    coarse = set(tx_dims) <= {"year"} and not (filters.source_kinds or filters.donor_ids or filters.funding_source_ids)
    f = ReportProjectFact if coarse else ReportFlowFact
    keys: list[ColumnElement] = [f.project_id.label("pid")]
    for d in tx_dims:
        column = FundingSource.kind if d == "source_kind" else getattr(f, FACT_DIMENSIONS[d])
        keys.append(column.label(f"d_{d}"))
    if with_period:
        keys.append(f.period.label("period"))
    if with_recipient:
        keys += [f.tx_country.label("tx_country"), f.tx_region.label("tx_region")]
    # bigint, not the NUMERIC PostgreSQL gives a sum of bigints: a project's sums fit, and the
    # outer aggregates over bigint need a fraction of the memory (no spill to disk)
    sums = [cast(func.sum(getattr(f, name)), BigInteger).label(f"m{i}") for i, name in enumerate(facts.MEASURE_COLUMNS)]
    stmt = select(*keys, *sums)
    if "source_kind" in tx_dims or filters.source_kinds:
        stmt = stmt.outerjoin(FundingSource, FundingSource.id == f.funding_source_id)
    if filters.statuses:
        stmt = stmt.join(Project, Project.id == f.project_id).where(Project.status.in_(filters.statuses))
    if filters.year_from is not None:
        stmt = stmt.where(f.year >= filters.year_from)
    if filters.year_to is not None:
        stmt = stmt.where(f.year <= filters.year_to)
    if filters.source_kinds:
        stmt = stmt.where(FundingSource.kind.in_(filters.source_kinds))
    if filters.donor_ids:
        stmt = stmt.where(f.provider_org_id.in_(filters.donor_ids))
    if filters.funding_source_ids:
        stmt = stmt.where(f.funding_source_id.in_(filters.funding_source_ids))
    return stmt.group_by(*keys)


def _fact_sums(tx_dims: Sequence[str], filters: TxFilter, *, with_period: bool) -> list[tuple]:
    """The rows of _fact_select (project_flow_sums in USD)."""
    _no_jit()
    return db.session.execute(_fact_select(tx_dims, filters, with_period=with_period)).all()


def project_needs(statuses: Sequence[str]) -> list[tuple]:
    """(project_id, need_minor, need_currency, need_usd_minor, need_date) of projects with a need."""
    stmt = select(
        Project.id,
        Project.need_minor,
        Project.need_currency,
        Project.need_usd_minor,
        Project.need_date,
    ).where(Project.need_minor.is_not(None))
    if statuses:
        stmt = stmt.where(Project.status.in_(statuses))
    return [tuple(row) for row in db.session.execute(stmt)]


def recipient_shares() -> list[tuple[int, str | None, str | None, int]]:
    """(project_id, country_iso3, region_code, share_ppm) of every project recipient."""
    stmt = select(
        ProjectRecipient.project_id,
        ProjectRecipient.country_iso3,
        ProjectRecipient.region_code,
        ProjectRecipient.share_ppm,
    )
    return db.session.execute(stmt).all()


def area_shares() -> list[tuple[int, str, int]]:
    """(project_id, area_code, share_ppm) of every project area."""
    stmt = select(ProjectArea.project_id, ProjectArea.area_code, ProjectArea.share_ppm)
    return db.session.execute(stmt).all()


def project_facts(project_ids: Sequence[int] | None = None) -> dict[int, tuple[str, str, str, str]]:
    """project_id -> (reference, title, status, organisation name)."""
    stmt = select(Project.id, Project.reference, Project.title, Project.status, Organisation.name).join(
        Organisation, Organisation.id == Project.org_id
    )
    if project_ids is not None:
        stmt = stmt.where(Project.id.in_(list(project_ids)))
    return {row[0]: (row[1], row[2], str(row[3].value), row[4]) for row in db.session.execute(stmt)}


@dataclass
class Reference:
    """The reference data a report needs to label and classify its rows."""

    countries: dict[str, tuple[str, str | None, str | None, str | None]]  # iso3 -> name, region, subregion, income
    regions: dict[str, tuple[str, str, str | None]]  # code -> name, level, parent
    country_regions: dict[str, tuple[str, ...]]  # iso3 -> its region, sub-region, intermediate codes
    areas: dict[str, str]  # code -> short name
    categories: dict[str, str]  # code -> name
    memberships: list[tuple[str, str, dt.date, dt.date | None]]  # iso3, category, from, to

    def breakpoints(self) -> list[dt.date]:
        """Every date on which some country joins or leaves a category, sorted."""
        days = {m[2] for m in self.memberships} | {m[3] for m in self.memberships if m[3] is not None}
        return sorted(days)

    def top_region(self, code: str) -> str | None:
        """The M49 region (continent level) a region code belongs to."""
        seen = set()
        while code and code not in seen:
            seen.add(code)
            name, level, parent = self.regions.get(code, ("", "", None))
            if level == "region":
                return code
            code = parent
        return None


def load_reference() -> Reference:
    """Read countries, regions, areas, categories and memberships (a few hundred rows)."""
    countries = {
        row[0]: (row[1], row[2], row[3], row[4])
        for row in db.session.execute(
            select(
                Country.iso3,
                Country.name,
                Country.region_code,
                Country.subregion_code,
                Country.income_group,
            )
        )
    }
    country_regions = {
        row[0]: tuple(c for c in row[1:] if c)
        for row in db.session.execute(
            select(Country.iso3, Country.region_code, Country.subregion_code, Country.intermediate_code)
        )
    }
    regions = {
        row[0]: (row[1], row[2], row[3])
        for row in db.session.execute(select(Region.code, Region.name, Region.level, Region.parent_code))
    }
    areas = {row[0]: row[1] for row in db.session.execute(select(PriorityArea.code, PriorityArea.short_name))}
    categories = {row[0]: row[1] for row in db.session.execute(select(RecipientCategory.code, RecipientCategory.name))}
    memberships = [
        tuple(row)
        for row in db.session.execute(
            select(
                CategoryMembership.country_iso3,
                CategoryMembership.category_code,
                CategoryMembership.valid_from,
                CategoryMembership.valid_to,
            )
        )
    ]
    return Reference(countries, regions, country_regions, areas, categories, memberships)


def labels_for(dimension: str, keys: Iterable) -> dict:
    """Readable labels of funding source / donor ids."""
    ids = [k for k in keys if isinstance(k, int)]
    if not ids:
        return {}
    if dimension == "funding_source":
        model, stmt = FundingSource, select(FundingSource.id, FundingSource.ref, FundingSource.name)
    elif dimension == "project":
        model, stmt = Project, select(Project.id, Project.reference, Project.title)
    elif dimension == "donor":
        model, stmt = Organisation, select(Organisation.id, Organisation.ref, Organisation.name)
    else:
        return {}
    if len(ids) <= 1000:  # a long IN list costs more to send and parse than reading every row
        stmt = stmt.where(model.id.in_(ids))
    wanted = set(ids)
    return {row[0]: (row[1], row[2]) for row in db.session.execute(stmt) if row[0] in wanted}


def resolve_refs(model, refs: Sequence[str]) -> tuple[list[int], list[str]]:
    """Ids of organisations / funding sources given by ref (or id); and the refs not found."""
    ids, missing = [], []
    for ref in refs:
        cond = or_(
            model.ref == ref,
            and_(literal(ref.isdigit()), model.id == (int(ref) if ref.isdigit() else -1)),
        )
        found = db.session.scalar(select(model.id).where(cond))
        if found is None:
            missing.append(ref)
        else:
            ids.append(found)
    return ids, missing


# -- stage two in SQL (the fast path) -------------------------------------------------

SPLIT = 1_000_000  # products are split at 10^6 so that SQLite's 64-bit sums never overflow
GLOBAL_KEY = "~"  # a recipient region follows it ("~002"); alone it means no recipient at all
MISSING_KEY = "?"
UNALLOCATED_KEY = "!"  # a recipient share with neither country nor region: kept unallocated


def _geo_column(dim: str, iso3: ColumnElement, region: ColumnElement, recipient, country) -> ColumnElement:
    """The key of a geographic dimension: of the flow's own recipient, else of the project's.

    ``iso3`` / ``region``: the recipient of the row (the flow's, or the project's recipient
    row joined); a project recipient row with neither is the unallocated share, and no
    recipient at all (no row joined, none on the flow) is a global project."""
    attribute = {
        "region": country.c.region_code,
        "subregion": country.c.subregion_code,
        "country": iso3,
        "income_group": country.c.income_group,
    }[dim]
    return case(
        (iso3.is_not(None), func.coalesce(attribute, MISSING_KEY)),
        (region.is_not(None), literal(GLOBAL_KEY) + region),
        (recipient.c.project_id.is_(None), literal(GLOBAL_KEY)),
        else_=literal(UNALLOCATED_KEY),
    )


def project_sums(
    tx_dims: Sequence[str],
    filters: TxFilter,
    *,
    with_need: bool,
    breakpoints: Sequence[dt.date] | None = None,
    with_recipient: bool = True,
):
    """SELECT of per-project USD sums (pid, d_<dim>..., [period], [tx_country, tx_region], m0..m4):
    flows, then needs (UNION ALL).

    With ``breakpoints`` each row also carries the membership period of its dates; with
    ``with_recipient`` the recipient its flows name themselves (empty: the project's shares;
    always empty for the need, which follows the project's shares)."""
    with_period = breakpoints is not None
    if facts_apply(tx_dims, filters):
        flows = _fact_select(tx_dims, filters, with_period=with_period, with_recipient=with_recipient).add_columns(
            literal(0).label("m4")
        )
    else:
        flows = _transaction_sums(tx_dims, filters, breakpoints, with_recipient=with_recipient)
    parts = flows
    if with_need:
        need_keys = (
            [cast(extract("year", Project.need_date), db.Integer).label("d_year")] if tx_dims == ["year"] else []
        )
        if with_period:
            day = func.coalesce(Project.need_date, literal(dt.date.min, type_=Date()))
            need_keys.append(bucket_expression(day, breakpoints).label("period"))
        if with_recipient:
            need_keys += [cast(None, String(3)).label("tx_country"), cast(None, String(3)).label("tx_region")]
        needs = select(
            Project.id.label("pid"),
            *need_keys,
            *[literal(0).label(f"m{i}") for i in range(4)],
            Project.need_usd_minor.label("m4"),
        ).where(Project.need_usd_minor.is_not(None), Project.need_usd_minor != 0)
        if filters.statuses:
            needs = needs.where(Project.status.in_(filters.statuses))
        if filters.year_from is not None:
            needs = needs.where(Project.need_date >= dt.date(filters.year_from, 1, 1))
        if filters.year_to is not None:
            needs = needs.where(Project.need_date < dt.date(filters.year_to + 1, 1, 1))
        # One row per project (and dimension values) carrying its flows and its need:
        # the shares are then joined once per project, not once for flows and again for need.
        union = flows.union_all(needs).subquery("u")
        keys = [c for c in union.c if not c.name.startswith("m")]
        parts = select(
            *keys, *[cast(func.sum(union.c[f"m{i}"]), BigInteger).label(f"m{i}") for i in range(5)]
        ).group_by(*keys)
    return parts


def _transaction_sums(
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
    tx_keys = [_tx_dimension_column(d).label(f"d_{d}") for d in tx_dims]
    if breakpoints is not None:
        tx_keys.append(bucket_expression(Transaction.value_date, breakpoints).label("period"))
    if with_recipient:
        tx_keys += [
            Transaction.recipient_country_iso3.label("tx_country"),
            Transaction.recipient_region_code.label("tx_region"),
        ]
    flows = select(Transaction.project_id.label("pid"), *tx_keys, *sums, literal(0).label("m4"))
    return _filtered_flows(flows, tx_dims, filters).group_by(Transaction.project_id, *tx_keys)


def _filtered_flows(stmt, tx_dims: Sequence[str], filters: TxFilter):
    """A SELECT over the transactions limited to the summed types and the filters (joins as needed)."""
    # Constant-price flows (price_basis set) are a separate measure, never summed with current prices.
    stmt = stmt.where(Transaction.type.in_(FLOW_TYPES), Transaction.price_basis.is_(None))
    if "source_kind" in tx_dims or filters.source_kinds:
        stmt = stmt.outerjoin(FundingSource, FundingSource.id == Transaction.funding_source_id)
    if filters.statuses:
        stmt = stmt.join(Project, Project.id == Transaction.project_id).where(Project.status.in_(filters.statuses))
    if filters.year_from is not None:
        stmt = stmt.where(Transaction.value_date >= dt.date(filters.year_from, 1, 1))
    if filters.year_to is not None:
        stmt = stmt.where(Transaction.value_date < dt.date(filters.year_to + 1, 1, 1))
    if filters.source_kinds:
        stmt = stmt.where(FundingSource.kind.in_(filters.source_kinds))
    if filters.donor_ids:
        stmt = stmt.where(Transaction.provider_org_id.in_(filters.donor_ids))
    if filters.funding_source_ids:
        stmt = stmt.where(Transaction.funding_source_id.in_(filters.funding_source_ids))
    if filters.confirmed_only:
        stmt = stmt.where(Transaction.confirmed.is_(True))
    return stmt


@contextmanager
def staged_sums(filters: TxFilter, *, with_need: bool) -> Iterator[Table]:
    """Per-project sums in a temporary table, for several reports with the same filters.

    The only scan of the flows happens here; every report that reads the table
    then joins a few rows per project instead of a million flows.
    """
    table = Table(
        f"report_stage_{next(_stage_ids)}",
        MetaData(),
        Column("pid", BigInteger),
        Column("tx_country", String(3)),
        Column("tx_region", String(3)),
        *[Column(f"m{i}", BigInteger) for i in range(5)],
        prefixes=["TEMPORARY"],
    )
    conn = db.session.connection()
    _no_jit()
    table.create(conn)
    try:
        conn.execute(
            insert(table).from_select(
                ["pid", "tx_country", "tx_region", "m0", "m1", "m2", "m3", "m4"],
                project_sums([], filters, with_need=with_need),
            )
        )
        yield table
    finally:
        table.drop(conn)


_stage_ids = itertools.count(1)


def weighted_cells(
    dims: Sequence[str],
    filters: TxFilter,
    *,
    with_need: bool,
    countries: Sequence[str] = (),
    region_codes: Iterable[str] | None = None,
    areas: Sequence[str] = (),
    count_projects: bool = True,
    stage: FromClause | None = None,
    categories: Sequence[str] = (),
    breakpoints: Sequence[dt.date] | None = None,
    amounts: Iterable[int] = range(5),
) -> tuple[list[tuple], str]:
    """Share-weighted sums per report cell, computed entirely in the database (USD only).

    Each row: (*dimension keys, denominator, *numerators, projects). For every amount
    measure (pledge, commitment, disbursement, expenditure, need) the exact cell value
    is numerator / denominator in minor units; on PostgreSQL one exact NUMERIC
    numerator, on SQLite three integer parts (high * 10^12 + middle * 10^6 + low) so
    that no 64-bit sum can overflow. The second value names the layout ("one"/"split").
    ``stage``: per-project sums already computed by :func:`staged_sums` (same filters).
    A ``category`` dimension or ``categories`` filter takes each flow's recipient
    categories in its membership period (``breakpoints``, the facts' own periods): a
    flow sits in every category row its country belonged to on its value date.
    ``amounts``: the indexes of the sums wanted (the others come back as zeros: each
    weighted sum costs its share of the query's time).
    """
    amounts = set(amounts)
    tx_dims = [d for d in dims if d in TX_DIMENSIONS]
    by_period = "category" in dims or bool(categories)
    if stage is not None and (tx_dims or by_period):
        raise ValueError("staged sums carry no transaction-level dimension and no period")
    if by_period:
        facts.ensure_fresh()  # the category members of each period are kept with the facts
        if breakpoints is None:
            breakpoints = facts.breakpoints()
    share_dims = [d for d in dims if d not in TX_DIMENSIONS and d != "project"]
    # A project's area shares add up to its area denominator: without an area dimension or
    # filter, spreading over the areas and adding the pieces up again changes nothing, so
    # the areas are not joined at all (and likewise the recipients without a geographic one).
    with_areas = "priority_area" in dims or bool(areas)
    with_recipients = (
        any(d != "priority_area" for d in share_dims) or bool(countries) or region_codes is not None or bool(categories)
    )
    # Most registries have no flow that names its own recipient: then the plain share join
    # (no flow recipient in the per-project keys, no join condition) is all there is to do.
    flow_places = with_recipients and flows_name_recipients()
    f = (
        stage
        if stage is not None
        else project_sums(
            tx_dims,
            filters,
            with_need=with_need,
            breakpoints=breakpoints if by_period else None,
            with_recipient=flow_places,
        ).subquery("f")
    )
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if not share_dims and not countries and region_codes is None and not areas and not categories:
        # The shares of a project add up to its denominator, so spreading an amount over
        # them and adding the pieces up again gives the amount itself: no share join.
        return _unweighted_cells(dims, f, count_projects, postgres, amounts)
    rtot = (
        select(ProjectRecipient.project_id, func.sum(ProjectRecipient.share_ppm).label("tot"))
        .group_by(ProjectRecipient.project_id)
        .subquery("rtot")
    )
    atot = (
        select(ProjectArea.project_id, func.sum(ProjectArea.share_ppm).label("tot"))
        .group_by(ProjectArea.project_id)
        .subquery("atot")
    )
    recipient = ProjectRecipient.__table__.alias("r")
    area = ProjectArea.__table__.alias("a")
    country = Country.__table__.alias("c")
    member = ReportCategoryMember.__table__.alias("m")
    geo = [d for d in dims if d in ("region", "subregion", "country", "income_group")]
    iso3, region, own = recipient.c.country_iso3, recipient.c.region_code, literal(True)
    if flow_places:
        # A flow that names its own recipient goes wholly to it (weight R of R, below): the project's
        # recipient rows are joined only to the rows of flows that name none.
        own = and_(f.c.tx_country.is_(None), f.c.tx_region.is_(None))
        iso3 = func.coalesce(recipient.c.country_iso3, f.c.tx_country)
        region = func.coalesce(recipient.c.region_code, f.c.tx_region)
    keys: list[ColumnElement] = []
    for d in dims:
        if d in TX_DIMENSIONS:
            keys.append(f.c[f"d_{d}"])
        elif d == "project":
            keys.append(f.c.pid)
        elif d == "priority_area":
            keys.append(func.coalesce(area.c.area_code, GLOBAL_KEY))
        elif d == "category":
            keys.append(func.coalesce(member.c.category_code, MISSING_KEY))
        else:
            keys.append(_geo_column(d, iso3, region, recipient, country))
    # A flow that names its own recipient weighs the project's whole recipient total R (R / R = 1):
    # every row of a project then has the same denominator, so a cell groups each project once
    # (its distinct-project count is right) however its flows are spread.
    r_share = func.coalesce(recipient.c.share_ppm, rtot.c.tot, 1) if with_recipients else literal(1)
    a_share = func.coalesce(area.c.share_ppm, 1) if with_areas else literal(1)
    r_tot = func.coalesce(rtot.c.tot, 1) if with_recipients else literal(1)
    a_tot = func.coalesce(atot.c.tot, 1) if with_areas else literal(1)
    den = (r_tot * a_tot).label("den")
    weight = r_share * a_share
    weight_pg = cast(r_share, BigInteger) * a_share
    numerators: list[ColumnElement] = []
    for i in range(5):
        amount = f.c[f"m{i}"]
        if i not in amounts:
            numerators += [literal(0)] if postgres else [literal(0)] * 3
        elif postgres:
            # NUMERIC: exact at any size (a share times a share alone overflows INTEGER)
            numerators.append(func.sum(cast(amount, Numeric) * cast(weight_pg, Numeric)))
        else:
            # floor division renders as SQLite integer division; "%" keeps the sign of the amount
            a_hi, a_lo = amount // SPLIT, amount % SPLIT
            w_hi, w_lo = weight // SPLIT, weight % SPLIT
            numerators += [func.sum(a_hi * w_hi), func.sum(a_hi * w_lo + a_lo * w_hi), func.sum(a_lo * w_lo)]
    projects = func.count(func.distinct(f.c.pid)) if count_projects else literal(0)
    stmt = select(*keys, den, *numerators, projects).select_from(f)
    if with_recipients:
        on = and_(recipient.c.project_id == f.c.pid, own) if flow_places else recipient.c.project_id == f.c.pid
        stmt = stmt.outerjoin(recipient, on).outerjoin(rtot, rtot.c.project_id == f.c.pid)
    if with_areas:
        stmt = stmt.outerjoin(area, area.c.project_id == f.c.pid).outerjoin(atot, atot.c.project_id == f.c.pid)
    if geo or region_codes is not None:
        stmt = stmt.outerjoin(country, country.c.iso3 == iso3)
    if "category" in dims:
        stmt = stmt.outerjoin(member, and_(member.c.country_iso3 == iso3, member.c.period == f.c.period))
    if categories:
        chosen = ReportCategoryMember.__table__.alias("mc")
        stmt = stmt.where(
            select(chosen.c.period)
            .where(
                chosen.c.country_iso3 == iso3,
                chosen.c.period == f.c.period,
                chosen.c.category_code.in_(list(categories)),
            )
            .exists()
        )
    if countries:
        stmt = stmt.where(iso3.in_(list(countries)))
    if region_codes is not None:
        codes = list(region_codes)
        stmt = stmt.where(
            or_(
                country.c.region_code.in_(codes),
                country.c.subregion_code.in_(codes),
                country.c.intermediate_code.in_(codes),
                and_(iso3.is_(None), region.in_(codes)),
            )
        )
    if areas:
        stmt = stmt.where(area.c.area_code.in_(list(areas)))
    stmt = stmt.where(or_(*[f.c[f"m{i}"] != 0 for i in range(5)])).group_by(*keys, den)
    _no_jit()
    return db.session.execute(stmt).all(), "one" if postgres else "split"


def flows_name_recipients() -> bool:
    """Whether any flow names its own recipient country or region (two partial-index look-ups)."""
    for column in (Transaction.recipient_country_iso3, Transaction.recipient_region_code):
        if db.session.scalar(select(Transaction.project_id).where(column.is_not(None)).limit(1)) is not None:
            return True
    return False


def _unweighted_cells(
    dims: Sequence[str], f: FromClause, count_projects: bool, postgres: bool, amounts: set[int]
) -> tuple[list[tuple], str]:
    """weighted_cells without share dimensions or filters: plain sums, denominator 1, same layout."""
    keys = [f.c.pid if d == "project" else f.c[f"d_{d}"] for d in dims]
    numerators: list[ColumnElement] = []
    for i in range(5):
        total = func.sum(f.c[f"m{i}"]) if i in amounts else literal(0)
        # minor-unit sums fit in 64 bits (9.2e16 dollars); the split layout takes them as its low part
        numerators += [cast(total, Numeric)] if postgres else [literal(0), literal(0), total]
    projects = func.count(func.distinct(f.c.pid)) if count_projects else literal(0)
    stmt = select(*keys, literal(1).label("den"), *numerators, projects).select_from(f)
    stmt = stmt.where(or_(*[f.c[f"m{i}"] != 0 for i in range(5)]))
    if keys:
        stmt = stmt.group_by(*keys)
    _no_jit()
    # Core rows straight from the connection: up to a row per flow in another currency.
    return db.session.connection().execute(stmt).all(), "one" if postgres else "split"


def _no_jit() -> None:
    """Tune PostgreSQL for this transaction: no JIT (the planner over-estimates the share joins
    at a billion rows and JIT-compiles for seconds a query that runs in a fraction of one), and
    enough memory to group the share rows without spilling the sort to disk."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
