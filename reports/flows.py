"""The report engine: share-weighted funding flows and gaps, reconciled to the cent.

Two stages (see docs/reports.md):

1. the database sums the transactions per project (and per flow-level dimension such as
   year or donor) - the only step that touches every flow (``reports.flow_sums``; in
   another currency than USD, converted flow by flow in ``reports.stage_one``, or read from
   the converted facts of the currencies the registry reports in, ``reports.fx_facts``);
2. each project sum is spread over the project's recipients and priority areas by their
   shares, with exact integer arithmetic, and summed into the report's cells: here
   (:func:`_compute`) or, in USD, in the database (``reports.in_database``).

Displayed amounts are rounded so that the rows add up exactly to the displayed total
(largest remainder) and each row is within one minor unit of its exact value
(``reports.shaping``). A cross-tab (two dimensions) is rounded under control
(``reports.rounding``): its rows and its columns add up to the reports by each dimension
alone, to the minor unit.

This module is also the engine's front door: the names other code imports from
``reports.flows`` (the spec, the report, the constants) are re-exported here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import NamedTuple

from sqlalchemy import func, select

from registry import money
from registry.extensions import db
from registry.models import FundingSource, Transaction
from registry.services.shares import UNALLOCATED_AREA, allocate  # noqa: F401  (re-exported)
from reports import conversion_notes, fx_facts, queries
from reports.dimensions import (  # noqa: F401  (re-exported)
    AMOUNT_MEASURES,
    DEFINITIONS,
    FLOW_MEASURES,
    GAP_MEASURES,
    INCOME_GROUPS,
    MEASURE_LABELS,
    NEED_MEASURES,
    RAW_AMOUNTS,
)
from reports.dimensions import DIMENSION_LABELS as DIMENSIONS  # noqa: F401  (key -> label, live)
from reports.dimensions import FLOW_LEVEL as TX_DIMENSIONS  # noqa: F401
from reports.dimensions import MEASURE_LABELS as MEASURES  # noqa: F401  (key -> label, live)
from reports.flow_sums import TxFilter, filtered_flows  # noqa: F401
from reports.in_database import run_in_database
from reports.keys import (  # noqa: F401  (re-exported)
    GEO_DIMENSIONS,
    GLOBAL,
    NO_CATEGORY,
    NO_RECIPIENT,
    NOT_RECORDED,
    UNALLOCATED_RECIPIENT,
    RowKeys,
    compose,
)
from reports.notes import Note
from reports.schemas import build_spec
from reports.shaping import NEGATIVE_GAP, Report, finish  # noqa: F401
from reports.spec import CONFIRMED, NEED_NOT_ATTRIBUTED, ReportSpec, need_applies, tx_filter  # noqa: F401
from reports.stage_one import STALE_RATE_DAYS, StageOne, stage_one  # noqa: F401

_Keys = RowKeys  # the names the workbook and the pages imported
_finish = finish
TOTAL_KEY = ("__total__",)  # the grand-total accumulator inside a project's share profile


class Context(NamedTuple):
    """What stage two in Python reads besides the flows: the reference data and every
    project's recipient shares (iso3, region, share) and area shares (code, share)."""

    reference: queries.Reference
    recipients: dict[int, list[tuple[str | None, str | None, int]]]
    areas: dict[int, list[tuple[str | None, int]]]


def run_report(
    spec: ReportSpec,
    *,
    first: StageOne | None = None,
    context: Context | None = None,
    in_database: bool | None = None,
    stage=None,
    totals: dict | None = None,
) -> Report:
    """Compute a report (see the module docstring); ``first`` and ``context`` let a workbook
    reuse one stage-one result and the share lists for several reports with the same filters,
    and ``totals`` (a dict the caller keeps while the data cannot change) their grand totals.

    The report's ``confirmation`` says which flows it counts (``spec.confirmed``) and how much
    unconfirmed money its figures include (or leave out)."""
    report = _compute(spec, first=first, context=context, in_database=in_database, stage=stage, totals=totals)
    _unconfirmed(report, context)
    return report


def _unconfirmed(report: Report, context: Context | None) -> None:
    """Say which flows the figures count and how much unconfirmed money they include: the
    difference, in the report's currency and with its shares and filters, between the report
    of every flow and the report of confirmed flows only (computed only when unconfirmed
    flows pass the filters at all)."""
    spec = report.spec
    filters = replace(tx_filter(spec), confirmed_only=False)
    stmt = select(func.count(), func.coalesce(func.sum(Transaction.usd_minor), 0)).where(
        Transaction.confirmed.is_(False)
    )
    flows, _usd = db.session.execute(filtered_flows(stmt, [], filters)).one()
    zero = str(money.from_minor(0, spec.currency))
    amounts = {m: zero for m in FLOW_MEASURES if m in spec.measures}
    if flows:
        other = _compute(replace(spec, confirmed="only" if spec.confirmed == "all" else "all"), context=context)
        every, confirmed = (report, other) if spec.confirmed == "all" else (other, report)
        for m in amounts:
            diff = every.total["_exact"][m] - confirmed.total["_exact"][m]
            amounts[m] = str(money.from_minor(round(diff), spec.currency))
    included = spec.confirmed == "all"
    report.confirmation = {
        "confirmed": spec.confirmed,
        "unconfirmed_flows": flows,
        "unconfirmed_included": included,
        "unconfirmed_amounts": amounts,
    }
    if flows:
        shown = [(m, a) for m, a in amounts.items() if a != zero]
        report.notes.append(Note("unconfirmed", count=flows, included=included, amounts=shown, currency=spec.currency))


def _compute(
    spec: ReportSpec,
    *,
    first: StageOne | None = None,
    context: Context | None = None,
    in_database: bool | None = None,
    stage=None,
    totals: dict | None = None,
) -> Report:
    dims = spec.dimensions
    uses_category = "category" in dims or bool(spec.categories)
    if in_database is None:
        in_database = spec.currency == "USD" or fx_facts.answers(spec)
    if in_database and spec.currency == "USD":
        ref = context[0] if context else queries.load_reference()
        report = run_in_database(spec, ref, stage, totals)
        return conversion_notes.annotate(report, tx_filter(spec), lambda: RowKeys(ref, spec))
    if in_database and fx_facts.answers(spec):
        # another currency whose converted facts are kept: the same fast path on them
        ref = context[0] if context else queries.load_reference()
        report, converted = fx_facts.run(spec, ref, totals)
        return conversion_notes.annotate(report, tx_filter(spec), lambda: RowKeys(ref, spec), converted)
    ref, recipients, areas = context or load_context()
    keys = RowKeys(ref, spec)
    if first is None or (uses_category and not first.with_buckets):
        first = stage_one(spec, keys)
    notes = list(first.notes)
    with_project = "project" in dims

    cells: dict[tuple, dict[int, list[int]]] = defaultdict(dict)  # key -> denominator -> 5 numerators
    cell_projects: dict[tuple, set[int]] = defaultdict(set)
    grand: dict[int, list[int]] = {}
    grand_projects: set[int] = set()
    profile_cache: dict[tuple, tuple[int, list[tuple[tuple, int]]]] = {}

    def profile(pid: int, bucket: int, place: tuple | None) -> tuple[int, list[tuple[tuple, int]]]:
        """(denominator, [(share-dimension key parts, numerator)]) of a project in a period
        (of the flows' own recipient ``place`` when they name one)."""
        cache_key = (pid, bucket if uses_category else 0, place)
        found = profile_cache.get(cache_key)
        if found is not None:
            return found
        if place is not None:
            recs = [(place[0], place[1], 1)]
        else:
            recs = recipients.get(pid) or [(None, NO_RECIPIENT, 1)]
        ars = areas.get(pid) or [(None, 1)]
        lines = keys.action_lines(pid) if "action_line" in dims else ()
        scope = keys.scope_of(pid) if "scope" in dims else None
        rec_total = sum(r[2] for r in recs)
        area_total = sum(a[1] for a in ars)
        merged: dict[tuple, int] = defaultdict(int)
        for iso3, region, r_share in recs:
            if not keys.geo_allowed(iso3, region):
                continue
            cats = keys.categories(iso3, bucket) if uses_category else []
            if spec.categories and not set(cats) & set(spec.categories):
                continue
            for code, a_share in ars:
                if spec.areas and code not in spec.areas:
                    continue
                weight = r_share * a_share
                for key in keys.share_keys(dims, iso3, region, code, cats, lines, scope):
                    merged[key] += weight
                # a flow counts once in the total even when it sits in several category or action-line rows
                merged[TOTAL_KEY] += weight
        denominator = rec_total * area_total
        result = (denominator, list(merged.items()))
        profile_cache[cache_key] = result
        return result

    for (pid, dim_values, bucket, place), amounts in first.partial.items():
        if not any(amounts):
            continue
        denominator, parts = profile(pid, bucket, place)
        for share_key, weight in parts:
            if share_key is TOTAL_KEY:
                target = grand.setdefault(denominator, [0, 0, 0, 0, 0])
                grand_projects.add(pid)
            else:
                key = compose(dims, share_key, dim_values, pid) if with_project or dim_values else share_key
                target = cells[key].setdefault(denominator, [0, 0, 0, 0, 0])
                cell_projects[key].add(pid)
            for i in range(5):
                if amounts[i]:
                    target[i] += amounts[i] * weight

    report = finish(
        spec,
        ref,
        cells,
        cell_projects,
        grand,
        grand_projects,
        notes,
        first.rate_days,
        first.need_applies,
    )
    return conversion_notes.annotate(report, tx_filter(spec), lambda: keys, first)


def load_context() -> Context:
    """Reference data and every project's recipient and area shares (one read each)."""
    recipients: dict[int, list[tuple[str | None, str | None, int]]] = defaultdict(list)
    for pid, iso3, region, share in queries.recipient_shares():
        recipients[pid].append((iso3, region, share))
    areas: dict[int, list[tuple[str | None, int]]] = defaultdict(list)
    for pid, code, share in queries.area_shares():
        areas[pid].append((code, share))
    return Context(queries.load_reference(), recipients, areas)


def flows_report(**params) -> Report:
    """Validate parameters and compute a flows report (all measures unless asked)."""
    return run_report(build_spec(**params))


def gap_report(**params) -> Report:
    """Validate parameters and compute a funding-gap report (need, commitments, gap, coverage...)."""
    params.setdefault("default_measures", GAP_MEASURES)
    return run_report(build_spec(**params))


def source_label(source_id: int) -> str:
    """Readable name of a funding source (used by the pages)."""
    source = db.session.get(FundingSource, source_id)
    return source.name if source else str(source_id)
