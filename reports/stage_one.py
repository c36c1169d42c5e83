"""Stage one of a report in Python: the flows' per-project sums converted to the report's currency.

A report in another currency than USD cannot read the stored USD values: the database
reads the flows with their currency and value date (``reports.flow_sums.project_flow_sums``)
and each flow is converted here at the rate of its day, exactly (integer ratios, rounded
half-even once per flow, as its stored USD value is), before stage two spreads the
per-project sums over the shares (``reports.flows``). The currencies the registry reports
in keep these sums converted in advance (``reports.fx_facts``): the same figures, fast.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from flask import current_app

from registry import money
from registry.errors import ConversionError
from reports import dimensions, queries
from reports.fx_facts import STALE_RATE_DAYS  # noqa: F401  (the last earlier rate, however old: noted)
from reports.keys import RowKeys, tx_value
from reports.notes import Note
from reports.spec import NEED_NOT_ATTRIBUTED, ReportSpec, need_applies, tx_filter

_UNSET = object()


class PartKey(NamedTuple):
    """What one per-project sum of stage one is the sum of."""

    project_id: int
    dim_values: tuple  # the values of the flow-level dimensions, in the report's order
    period: int  # the category-membership period of the flows' dates (0 without categories)
    place: tuple[str | None, str | None] | None  # the recipient the flows name themselves, if any


@dataclass
class StageOne:
    """Per project sums in the report currency: PartKey -> the 5 sums (pledge, commitment,
    disbursement, expenditure, need) in minor units."""

    tx_dims: list[str]
    with_buckets: bool
    partial: dict[PartKey, list[int]]
    need_applies: bool
    notes: list[str]
    rate_days: list[dt.date]
    # (project, period, flow's own recipient or None) -> the 4 flow amounts converted at an IMF
    # annual rate; and the
    # (currency, day) groups no source converts (see reports/conversion_notes.py)
    annual: dict[tuple, list[int]] = field(default_factory=dict)
    unconverted: set[tuple[str, dt.date | str]] = field(default_factory=set)


def stage_one(spec: ReportSpec, keys: RowKeys, *, with_buckets: bool | None = None) -> StageOne:
    """Sum the flows per project in the database; convert to the report currency; add the needs."""
    tx_dims = dimensions.flow_level(spec.dimensions)
    if with_buckets is None:
        with_buckets = "category" in spec.dimensions or bool(spec.categories)
    breakpoints = keys.breakpoints if with_buckets else None
    usd = spec.currency == "USD"
    filters = tx_filter(spec)
    notes: list[str] = []
    # amounts: [pledge, commitment, disbursement, expenditure, need]
    partial: dict[PartKey, list[int]] = {}
    n_tx_dims = len(tx_dims)
    rate_days: list[dt.date] = []
    stale: set[tuple[str, dt.date]] = set()
    # (currency, day) -> (numerator, denominator): minor units of the flow's currency times
    # numerator / denominator are minor units of the report's currency, exactly.
    conversions: dict[tuple[str, dt.date], tuple[int, int] | None] = {}
    annual_days: set[tuple[str, dt.date | str]] = set()  # converted at an IMF annual rate
    annual: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    unconverted: set[tuple[str, dt.date | str]] = set()

    def ratio_of(cur: str, day: dt.date | str) -> tuple[int, int] | None:
        """The conversion of (currency, day), looked up once (the day may come as ISO text);
        None when no source converts it (the report's note lists those amounts)."""
        ratio = conversions.get((cur, day), _UNSET)
        if ratio is _UNSET:
            on = dt.date.fromisoformat(day) if isinstance(day, str) else day
            try:
                found = money.quote(cur, spec.currency, on, _max_age())
            except ConversionError:
                try:
                    # Planned flows dated beyond the published rates: the last rate, said in the notes.
                    found = money.quote(cur, spec.currency, on, STALE_RATE_DAYS)
                    stale.add((cur, on))
                except ConversionError:
                    conversions[(cur, day)] = None
                    unconverted.add((cur, day))
                    return None
            ratio = conversions[(cur, day)] = money.minor_ratio(found.rate, cur, spec.currency)
            if found.source in money.ANNUAL_SOURCES:
                annual_days.add((cur, day))
            rate_days.append(found.rate_date)
        return ratio

    def converted(minor: int, cur: str, day: dt.date | str) -> int:
        if cur == spec.currency or minor == 0:
            return minor
        # The same value as registry.money.convert (amount times rate, rounded half-even
        # once), in integers: a million groups cannot afford a Decimal context each.
        ratio = ratio_of(cur, day)
        return money.convert_minor(minor, ratio) if ratio is not None else 0

    convert_minor, same = money.convert_minor, spec.currency

    for row in queries.project_flow_sums(tx_dims, filters, usd=usd, breakpoints=breakpoints):
        pid = row[0]
        dim_values = tuple(tx_value(d, v) for d, v in zip(tx_dims, row[1 : 1 + n_tx_dims], strict=True))
        pos = 1 + n_tx_dims
        bucket = 0
        if breakpoints is not None:
            bucket = row[pos]
            pos += 1
        # a flow that names its own recipient goes wholly to it, not over the project's shares
        place = (row[pos], row[pos + 1]) if row[pos] is not None or row[pos + 1] is not None else None
        pos += 2
        part = (pid, dim_values, bucket, place)
        acc = partial.get(part)
        if acc is None:  # a named key once per sum, not once per row (a million rows)
            acc = partial[PartKey(*part)] = [0, 0, 0, 0, 0]
        if usd:
            for i in range(4):
                acc[i] += int(row[pos + i] or 0)
        else:
            cur, day = row[pos], row[pos + 1]
            ratio = _UNSET
            for i in range(4):
                minor = row[pos + 2 + i]
                if not minor:  # most groups hold one flow: one type of four
                    continue
                if cur == same:
                    acc[i] += int(minor)
                else:
                    if ratio is _UNSET:
                        ratio = ratio_of(cur, day)
                    if ratio is None:
                        continue  # not convertible: left out of the figures, listed in the notes
                    value = convert_minor(int(minor), ratio)
                    acc[i] += value
                    if annual_days and (cur, day) in annual_days:
                        annual[(pid, bucket, place)][i] += value
    # Need is a project attribute: no donor, funding source or finance type to attribute it to.
    with_need = need_applies(spec)
    if with_need:
        for pid, need_minor, need_cur, need_usd, need_date in queries.project_needs(
            spec.statuses, spec.action_lines, spec.scopes, spec.infrastructures
        ):
            year = need_date.year if need_date else None
            if (spec.year_from or spec.year_to) and year is None:
                continue
            if spec.year_from and year < spec.year_from or spec.year_to and year > spec.year_to:
                continue
            if usd:
                value = int(need_usd or 0)
            else:
                value = converted(int(need_minor), need_cur, need_date) if need_date else 0
            dim_values = (year,) if tx_dims == ["year"] else ()
            bucket = keys.bucket_of(need_date) if (breakpoints is not None and need_date) else 0
            part = PartKey(pid, dim_values, bucket, None)
            acc = partial.get(part)
            if acc is None:
                acc = partial[part] = [0, 0, 0, 0, 0]
            acc[4] += value
    else:
        notes.append(NEED_NOT_ATTRIBUTED)
    if stale:
        notes.append(Note("stale_rates", count=len(stale)))
    pegs = money.euro_pegs()
    pegged = sorted(({cur for cur, _day in conversions} | {spec.currency}) & pegs.keys())
    if pegged and conversions:
        notes.append(Note("euro_parities", parities=[(code, str(pegs[code].per_euro)) for code in pegged]))
    return StageOne(tx_dims, with_buckets, partial, with_need, notes, rate_days, dict(annual), unconverted)


def _max_age() -> int:
    return current_app.config.get("RATE_MAX_AGE_DAYS", 7)
