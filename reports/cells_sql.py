"""Stage two in SQL (the fast path of reports in USD): per-project sums weighted by the shares.

:func:`project_sums` gives the per-project sums of the flows (from the report facts or the
transactions, see ``reports.flow_sums``) and of the needs; :func:`weighted_cells` joins them
to the project's recipient and area shares and sums each report cell's exact numerators in
the database, so that only the cells leave it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

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
    union_all,
)
from sqlalchemy.sql import ColumnElement, FromClause

from registry.extensions import db
from registry.models import Country, Project, ProjectArea, ProjectRecipient, Transaction
from registry.models.types import WSIS_ACTION_LINES
from registry.services.scope import effective_scope_rows
from reports import dimensions, facts, flow_sums
from reports.flow_sums import TxFilter, bucket_expression, fact_select, for_reports, transaction_sums
from reports.fx_facts import FxSource, fx_select, need_join
from reports.models import ReportCategoryMember

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
    fx: FxSource | None = None,
):
    """SELECT of per-project USD sums (pid, d_<dim>..., [period], [tx_country, tx_region], m0..m4):
    flows, then needs (UNION ALL).

    With ``breakpoints`` each row also carries the membership period of its dates; with
    ``with_recipient`` the recipient its flows name themselves (empty: the project's shares;
    always empty for the need, which follows the project's shares). With ``fx`` the sums are
    in another currency: of its converted facts and of the needs converted for the report."""
    with_period = breakpoints is not None
    # With the needs, the union is grouped by project: the facts go into it as they are (one
    # grouping of their rows, not two: 0.3 s of a 1.3 s report by year at 5,000,000 flows).
    grouped = not with_need
    if fx is not None:
        flows = fx_select(
            tx_dims, filters, fx.currency, with_period=with_period, with_recipient=with_recipient, grouped=grouped
        ).add_columns(literal(0).label("m4"))
    elif flow_sums.facts_apply(tx_dims, filters):
        flows = fact_select(
            tx_dims, filters, with_period=with_period, with_recipient=with_recipient, grouped=grouped
        ).add_columns(literal(0).label("m4"))
    else:
        flows = transaction_sums(tx_dims, filters, breakpoints, with_recipient=with_recipient)
    parts = flows
    if with_need and fx is not None and fx.needs is None:
        raise ValueError("a report in another currency with need needs its converted needs")
    if with_need:
        need = Project.need_usd_minor if fx is None else fx.needs.c.minor
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
            need.label("m4"),
        ).where(need.is_not(None), need != 0, Project.deleted_at.is_(None))
        if fx is not None:
            needs = needs.join(fx.needs, need_join(fx.needs, Project))
        if filters.statuses:
            needs = needs.where(Project.status.in_(filters.statuses))
        if filters.action_lines:
            needs = needs.where(Project.has_action_line(filters.action_lines))
        needs = needs.where(*flow_sums.project_conditions(filters.scopes, filters.infrastructures))
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
    for_reports()
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
    fx: FxSource | None = None,
) -> tuple[list[tuple], str]:
    """Share-weighted sums per report cell, computed entirely in the database.

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
    weighted sum costs its share of the query's time). ``fx``: the sums in another currency
    (``reports.fx_facts``), not in USD.
    """
    amounts = set(amounts)
    tx_dims = dimensions.flow_level(dims)
    by_period = "category" in dims or bool(categories)
    if stage is not None and (tx_dims or by_period):
        raise ValueError("staged sums carry no transaction-level dimension and no period")
    if by_period:
        facts.ensure_fresh_for_read()  # the category members of each period are kept with the facts
        if breakpoints is None:
            breakpoints = facts.breakpoints()
    share_dims = [d for d in dims if not dimensions.is_flow_level(d) and d != "project"]
    # A project's area shares add up to its area denominator: without an area dimension or
    # filter, spreading over the areas and adding the pieces up again changes nothing, so
    # the areas are not joined at all (and likewise the recipients without a geographic one).
    with_areas = "priority_area" in dims or bool(areas)
    with_recipients = (
        any(d not in ("priority_area", "action_line", "scope") for d in share_dims)
        or bool(countries)
        or region_codes is not None
        or bool(categories)
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
            fx=fx,
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
    tagged = Project.__table__.alias("pt")
    lines = union_all(*[select(literal(code).label("code")) for code in WSIS_ACTION_LINES]).subquery("wl")
    scoped = effective_scope_rows().subquery("sc")
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
        if dimensions.is_flow_level(d):
            keys.append(f.c[f"d_{d}"])
        elif d == "project":
            keys.append(f.c.pid)
        elif d == "priority_area":
            keys.append(func.coalesce(area.c.area_code, GLOBAL_KEY))
        elif d == "category":
            keys.append(func.coalesce(member.c.category_code, MISSING_KEY))
        elif d == "action_line":
            keys.append(func.coalesce(lines.c.code, MISSING_KEY))
        elif d == "scope":
            keys.append(func.coalesce(scoped.c.scope, MISSING_KEY))
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
    if "action_line" in dims:
        # no shares: the project's whole amount in the row of each of its action lines (rows overlap)
        listed = literal(",") + tagged.c.wsis_action_lines + literal(",")
        stmt = stmt.outerjoin(tagged, tagged.c.id == f.c.pid).outerjoin(
            lines, listed.like(literal("%,") + lines.c.code + literal(",%"))
        )
    if "scope" in dims:
        # no shares: the project's whole amount in the row of its one scope (rows add up)
        stmt = stmt.outerjoin(scoped, scoped.c.project_id == f.c.pid)
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
    for_reports()
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
    for_reports()
    # Core rows straight from the connection: up to a row per flow in another currency.
    return db.session.connection().execute(stmt).all(), "one" if postgres else "split"
