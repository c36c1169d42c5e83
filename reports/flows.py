"""The report engine: share-weighted funding flows and gaps, reconciled to the cent.

Two stages (see docs/reports.md):

1. the database sums the transactions per project (and per transaction-level
   dimension such as year or donor) - the only step that touches every flow;
2. each project sum is spread over the project's recipients and priority areas
   by their shares, with exact integer arithmetic, and summed into the report's
   cells.

Displayed amounts are rounded so that the rows add up exactly to the displayed
total (largest remainder) and each row is within one minor unit of its exact value.
A cross-tab (two dimensions) is rounded under control (``reports.rounding``): its rows
and its columns add up to the reports by each dimension alone, to the minor unit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from sqlalchemy import func, select

from registry import money
from registry.errors import ConversionError, ValidationError
from registry.extensions import db
from registry.models import FundingSource, Organisation, Transaction
from registry.models.types import ProjectStatus, SourceKind, label
from registry.services import reference
from registry.services.shares import UNALLOCATED_AREA, allocate
from reports import conversion_notes, queries
from reports.queries import TX_DIMENSIONS, TxFilter
from reports.rounding import controlled_round

DIMENSIONS: dict[str, str] = {
    "region": "Region",
    "subregion": "Sub-region",
    "country": "Country",
    "category": "Recipient category",
    "income_group": "DAC income group",
    "priority_area": "Priority area",
    "funding_source": "Funding source",
    "source_kind": "Funding source kind",
    "donor": "Donor organisation",
    "finance_type": "Finance type",
    "flow_type": "Flow type",
    "year": "Year",
}
MEASURES: dict[str, str] = {
    "pledge": "Pledges",
    "commitment": "Commitments",
    "disbursement": "Disbursements",
    "expenditure": "Expenditure",
    "need": "Need",
    "gap": "Funding gap",
    "coverage": "Coverage",
    "undisbursed": "Undisbursed balance",
    "projects": "Projects",
}
DEFINITIONS: dict[str, str] = {
    "pledge": "Promises not yet committed (IATI transaction type 12, outgoing pledge), share-weighted.",
    "commitment": "Firm obligations to provide an amount (IATI type 2, outgoing commitment), share-weighted.",
    "disbursement": "Money actually paid out (IATI type 3), share-weighted.",
    "expenditure": "Money spent by the implementer (IATI type 4), share-weighted.",
    "need": "The project's total cost or stated requirement, converted at the rate of its need date, share-weighted.",
    "gap": "Funding gap: need minus commitments.",
    "coverage": "Commitments divided by need (1 = fully covered); empty where there is no need.",
    "undisbursed": "Undisbursed balance: commitments minus disbursements.",
    "projects": "Number of distinct projects with a flow or a need in the row (a project can be in several rows).",
}
AMOUNT_MEASURES = (
    "pledge",
    "commitment",
    "disbursement",
    "expenditure",
    "need",
    "gap",
    "undisbursed",
)
NEED_MEASURES = ("need", "gap", "coverage")
FLOW_MEASURES = ("pledge", "commitment", "disbursement", "expenditure")
# Report parameter ``confirmed``: "all" (the default: no money leaves a report unsaid; the
# meta and a note say how much of it is unconfirmed) or "only" (confirmed flows alone).
CONFIRMED = ("all", "only")
# The sums (0 pledge, 1 commitment, 2 disbursement, 3 expenditure, 4 need) each measure needs.
RAW_AMOUNTS: dict[str, tuple[int, ...]] = {
    "pledge": (0,),
    "commitment": (1,),
    "disbursement": (2,),
    "expenditure": (3,),
    "need": (4,),
    "gap": (1, 4),
    "coverage": (1, 4),
    "undisbursed": (1, 2),
    "projects": (),
}
GAP_MEASURES = ("need", "commitment", "gap", "coverage", "disbursement", "undisbursed", "projects")
GEO_DIMENSIONS = ("region", "subregion", "country", "category", "income_group")
INCOME_GROUPS = reference.income_groups()  # code -> label, from registry/data/income_groups.csv
NEED_NOT_ATTRIBUTED = (
    "Need, funding gap and coverage are recorded per project, so they are not shown by donor, "
    "funding source, source kind, finance type or flow type."
)
GLOBAL = "Global (no recipient country/region given)"
UNALLOCATED_RECIPIENT = "Unallocated (recipient not stated or unknown)"
NO_RECIPIENT = ""  # the region of the stand-in recipient of a project with none (global)
NEGATIVE_GAP = (
    "A negative funding gap means more was committed than the need stated: projects funded beyond "
    "their need, or with no need recorded (their commitments still count against the total need). "
    "Gaps are not floored at zero, so that rows add up to the total."
)
NO_CATEGORY = "Not in any category"
NOT_RECORDED = "Not recorded"
_UNSET = object()
STALE_RATE_DAYS = 36_600  # fall back to the last earlier rate, however old (noted in the report)
TOTAL_KEY = ("__total__",)  # the grand-total accumulator inside a project's share profile


@dataclass
class ReportSpec:
    """What to report: dimensions, measures, filters and currency (validated)."""

    dimensions: list[str] = field(default_factory=lambda: ["region"])
    measures: list[str] = field(default_factory=lambda: list(MEASURES))
    currency: str = "USD"
    year_from: int | None = None
    year_to: int | None = None
    regions: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)
    source_kinds: list[str] = field(default_factory=list)
    donors: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    # "all": every flow, unconfirmed ones included (the meta says how much); "only": only flows
    # confirmed by the organisation that manages their funding source (see CONFIRMED).
    confirmed: str = "all"

    def filters(self) -> dict:
        """The filters in force, as plain values (for the response and the workbook)."""
        out: dict = {}
        for name in ("year_from", "year_to"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        for name in (
            "regions",
            "countries",
            "categories",
            "areas",
            "source_kinds",
            "donors",
            "statuses",
        ):
            if getattr(self, name):
                out[name] = list(getattr(self, name))
        if self.confirmed != "all":
            out["confirmed"] = self.confirmed
        return out


def _split(values: Iterable[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        out += [v.strip() for v in str(value).split(",") if v.strip()]
    return out


def build_spec(
    by: Iterable[str] | str | None = None,
    measures: Iterable[str] | str | None = None,
    *,
    currency: str | None = None,
    year_from: int | str | None = None,
    year_to: int | str | None = None,
    region: Iterable[str] | str | None = None,
    country: Iterable[str] | str | None = None,
    category: Iterable[str] | str | None = None,
    priority_area: Iterable[str] | str | None = None,
    source_kind: Iterable[str] | str | None = None,
    donor: Iterable[str] | str | None = None,
    status: Iterable[str] | str | None = None,
    confirmed: str | None = None,
    default_measures: Sequence[str] = tuple(MEASURES),
) -> ReportSpec:
    """Validate raw parameters (API, CLI, page) into a spec; a ValidationError names each bad one."""
    errors: dict[str, list[str]] = {}
    dims = _split(by) or ["region"]
    bad = [d for d in dims if d not in DIMENSIONS]
    if bad:
        errors["by"] = [f"Unknown dimension {d!r}; expected one of {', '.join(DIMENSIONS)}" for d in bad]
    if len(dims) > 2:
        errors.setdefault("by", []).append("At most two dimensions (a cross-tab)")
    if len(set(dims)) != len(dims):
        errors.setdefault("by", []).append("A dimension is given twice")
    wanted = _split(measures) or list(default_measures)
    bad = [m for m in wanted if m not in MEASURES]
    if bad:
        errors["measure"] = [f"Unknown measure {m!r}; expected one of {', '.join(MEASURES)}" for m in bad]
    cur = (currency or "USD").strip().upper()
    if not money.is_currency(cur):
        errors["currency"] = [f"Unknown currency {cur!r} (expected an ISO 4217 code such as USD or EUR)"]
    elif not money.is_convertible(cur):
        errors["currency"] = [
            f"No exchange rates are available for {cur} (neither the ECB nor the IMF publishes it); "
            "choose USD, EUR or another currency with ECB or IMF rates"
        ]
    years: dict[str, int | None] = {}
    for name, value in (("year_from", year_from), ("year_to", year_to)):
        if value in (None, ""):
            years[name] = None
            continue
        try:
            years[name] = int(str(value))
        except ValueError:
            errors[name] = [f"{value!r} is not a year"]
            continue
        if not 1900 <= years[name] <= 2200:
            errors[name] = [f"{value} is outside 1900-2200"]
    if years.get("year_from") and years.get("year_to") and years["year_from"] > years["year_to"]:
        errors["year_to"] = ["The end year is before the start year"]
    ref = queries.load_reference()
    regions = _split(region)
    for code in regions:
        if code not in ref.regions:
            errors.setdefault("region", []).append(f"Unknown M49 region code {code!r} (e.g. 002 for Africa)")
    countries = [c.upper() for c in _split(country)]
    for code in countries:
        if code not in ref.countries:
            errors.setdefault("country", []).append(f"Unknown country {code!r} (ISO 3166 alpha-3, e.g. KEN)")
    categories = [c.upper() for c in _split(category)]
    for code in categories:
        if code not in ref.categories:
            errors.setdefault("category", []).append(f"Unknown recipient category {code!r}")
    areas = [c.lower() for c in _split(priority_area)]
    for code in areas:
        if code not in ref.areas:
            errors.setdefault("priority_area", []).append(f"Unknown priority area {code!r} (23a-23l)")
    kinds = [k.lower() for k in _split(source_kind)]
    for kind in kinds:
        if kind not in {k.value for k in SourceKind}:
            errors.setdefault("source_kind", []).append(f"Unknown funding source kind {kind!r}")
    statuses = [s.lower() for s in _split(status)]
    for value in statuses:
        if value not in {s.value for s in ProjectStatus}:
            errors.setdefault("status", []).append(f"Unknown project status {value!r}")
    donors = _split(donor)
    if donors:
        _ids, missing = queries.resolve_refs(Organisation, donors)
        if missing:
            errors["donor"] = [f"No organisation with reference {m!r}" for m in missing]
    confirmation = (confirmed or "all").strip().lower()
    if confirmation not in CONFIRMED:
        errors["confirmed"] = [f"Unknown choice {confirmed!r}; expected one of {', '.join(CONFIRMED)}"]
    if errors:
        raise ValidationError("The report parameters are not valid", errors)
    return ReportSpec(
        confirmed=confirmation,
        dimensions=dims,
        measures=wanted,
        currency=cur,
        year_from=years.get("year_from"),
        year_to=years.get("year_to"),
        regions=regions,
        countries=countries,
        categories=categories,
        areas=areas,
        source_kinds=kinds,
        donors=donors,
        statuses=statuses,
    )


# -- rounding ----------------------------------------------------------------


# -- the engine ----------------------------------------------------------------


@dataclass
class Report:
    """A computed report: rows with exact and displayed values, totals and notes."""

    spec: ReportSpec
    rows: list[dict]
    total: dict
    notes: list[str]
    generated_at: dt.datetime
    rate_note: str
    rate_dates: tuple[dt.date, dt.date] | None
    # A cross-tab's row and column totals: dimension -> one row per value (the same figures as
    # the report by that dimension alone), in display order. Empty for one dimension.
    margins: dict[str, list[dict]] = field(default_factory=dict)
    # Which flows the figures include and how much unconfirmed money (see _unconfirmed).
    confirmation: dict = field(default_factory=dict)
    # what was converted at annual rates and what could not be converted (conversion_notes)
    conversion: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        """The API shape: amounts as decimal strings."""
        out = {
            "dimensions": list(self.spec.dimensions),
            "measures": list(self.spec.measures),
            "currency": self.spec.currency,
            "filters": self.spec.filters(),
            "rows": [_json_row(r, self.spec) for r in self.rows],
            "total": _json_row(self.total, self.spec),
            "notes": list(self.notes),
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "exchange_rates": self.rate_note,
            "confirmation": self.confirmation,
            "conversion": self.conversion,
            "transaction_types": queries.measure_types(),
        }
        if self.margins:
            amounts = [m for m in self.spec.measures if m in (*AMOUNT_MEASURES, "coverage")]
            out["margins"] = {
                dim: [
                    {dim: row[dim], f"{dim}_label": row[f"{dim}_label"]}
                    | {m: None if row.get(m) is None else str(row[m]) for m in amounts}
                    for row in rows
                ]
                for dim, rows in self.margins.items()
            }
        return out


def _json_row(row: dict, spec: ReportSpec) -> dict:
    out: dict = {}
    for dim in spec.dimensions:
        if dim in row:
            out[dim] = row[dim]
            out[f"{dim}_label"] = row[f"{dim}_label"]
    for m in spec.measures:
        value = row.get(m)
        out[m] = value if value is None or m == "projects" else str(value)
    return out


class _Keys:
    """Turns a project's recipient/area and a flow's attributes into a row key per dimension."""

    def __init__(self, ref: queries.Reference, spec: ReportSpec):
        self.ref = ref
        self.spec = spec
        self.breakpoints = ref.breakpoints()
        self._members: dict[tuple[str, int], list[str]] = {}
        by_country: dict[str, list[tuple[str, dt.date, dt.date | None]]] = defaultdict(list)
        for iso3, cat, start, end in ref.memberships:
            by_country[iso3].append((cat, start, end))
        self._by_country = by_country
        self._share_memo: dict[tuple, list[tuple]] = {}
        self.region_filter: set[str] | None = None
        if spec.regions:
            from registry.services.reference import region_and_descendants

            self.region_filter = set()
            for code in spec.regions:
                self.region_filter |= region_and_descendants(code)

    def bucket_day(self, bucket: int) -> dt.date:
        """A date inside membership period ``bucket`` (its first day)."""
        return dt.date.min if bucket == 0 else self.breakpoints[bucket - 1]

    def bucket_of(self, day: dt.date) -> int:
        import bisect

        return bisect.bisect_right(self.breakpoints, day)

    def categories(self, iso3: str | None, bucket: int) -> list[str]:
        """Categories of a country in a membership period (memberships are constant within one)."""
        if iso3 is None:
            return []
        key = (iso3, bucket)
        found = self._members.get(key)
        if found is None:
            day = self.bucket_day(bucket)
            found = sorted(
                {c for c, start, end in self._by_country.get(iso3, []) if start <= day and (end is None or day < end)}
            )
            self._members[key] = found
        return found

    def share_keys(self, dims, iso3, region, area, cats) -> list[tuple]:
        """The row keys of one recipient x area (memoised: few distinct combinations)."""
        memo_key = (iso3, region, area, tuple(cats))
        found = self._share_memo.get(memo_key)
        if found is None:
            found = _share_keys(dims, self, iso3, region, area, cats)
            self._share_memo[memo_key] = found
        return found

    def geo_allowed(self, iso3: str | None, region: str | None) -> bool:
        if self.spec.countries and iso3 not in self.spec.countries:
            return False
        if self.region_filter is not None:
            if iso3 is not None:
                if not set(self.ref.country_regions[iso3]) & self.region_filter:
                    return False
            elif region is None or region not in self.region_filter:
                return False
        return True

    def geo_key(self, dim: str, iso3: str | None, region: str | None) -> tuple[str, str]:
        """(value, label) of a recipient in a geographic dimension other than category."""
        if iso3 is None:
            if region == NO_RECIPIENT:
                return GLOBAL, GLOBAL
            if region is None:
                return UNALLOCATED_RECIPIENT, UNALLOCATED_RECIPIENT
            name = f"Regional: {self.ref.regions.get(region, (region,))[0]}"
            return name, name
        name, reg, sub, income = self.ref.countries[iso3]
        if dim == "country":
            return iso3, name
        if dim == "region":
            text = self.ref.regions[reg][0] if reg in self.ref.regions else NOT_RECORDED
            return text, text
        if dim == "subregion":
            text = self.ref.regions[sub][0] if sub in self.ref.regions else NOT_RECORDED
            return text, text
        if dim == "income_group":
            return (income, INCOME_GROUPS.get(income, income)) if income else (NOT_RECORDED, NOT_RECORDED)
        raise KeyError(dim)


@dataclass
class StageOne:
    """Per project sums in the report currency: (project, tx-dimension values, period, flow's own
    recipient or None) -> 5 amounts."""

    tx_dims: list[str]
    with_buckets: bool
    partial: dict[tuple, list[int]]
    need_applies: bool
    notes: list[str]
    rate_days: list[dt.date]
    # (project, period, flow's own recipient or None) -> the 4 flow amounts converted at an IMF
    # annual rate; and the
    # (currency, day) groups no source converts (see reports/conversion_notes.py)
    annual: dict[tuple, list[int]] = field(default_factory=dict)
    unconverted: set[tuple[str, dt.date | str]] = field(default_factory=set)


def stage_one(spec: ReportSpec, keys: _Keys, *, with_buckets: bool | None = None) -> StageOne:
    """Sum the flows per project in the database; convert to the report currency; add the needs."""
    tx_dims = [d for d in spec.dimensions if d in TX_DIMENSIONS]
    if with_buckets is None:
        with_buckets = "category" in spec.dimensions or bool(spec.categories)
    breakpoints = keys.breakpoints if with_buckets else None
    usd = spec.currency == "USD"
    donor_ids = queries.resolve_refs(Organisation, spec.donors)[0] if spec.donors else []
    filters = TxFilter(
        year_from=spec.year_from,
        year_to=spec.year_to,
        statuses=spec.statuses,
        source_kinds=spec.source_kinds,
        donor_ids=donor_ids,
        confirmed_only=spec.confirmed == "only",
    )
    notes: list[str] = []
    # amounts: [pledge, commitment, disbursement, expenditure, need]
    partial: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
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
        dim_values = tuple(_tx_value(d, v) for d, v in zip(tx_dims, row[1 : 1 + n_tx_dims], strict=True))
        pos = 1 + n_tx_dims
        bucket = 0
        if breakpoints is not None:
            bucket = row[pos]
            pos += 1
        # a flow that names its own recipient goes wholly to it, not over the project's shares
        place = (row[pos], row[pos + 1]) if row[pos] is not None or row[pos + 1] is not None else None
        pos += 2
        acc = partial[(pid, dim_values, bucket, place)]
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
    need_applies = not (set(tx_dims) - {"year"}) and not spec.source_kinds and not spec.donors
    if need_applies:
        for pid, need_minor, need_cur, need_usd, need_date in queries.project_needs(spec.statuses):
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
            partial[(pid, dim_values, bucket, None)][4] += value
    else:
        notes.append(NEED_NOT_ATTRIBUTED)
    if stale:
        notes.append(
            f"{len(stale)} currency/date pairs fall after the last published rate or in a gap of the "
            f"rate history; the last earlier rate was used for them."
        )
    pegs = money.euro_pegs()
    pegged = sorted(({cur for cur, _day in conversions} | {spec.currency}) & pegs.keys())
    if pegged and conversions:
        parities = ", ".join(f"{code} {pegs[code].per_euro} per EUR" for code in pegged)
        notes.append(f"Currencies fixed to the euro are converted through their legal parity ({parities}).")
    return StageOne(tx_dims, with_buckets, partial, need_applies, notes, rate_days, dict(annual), unconverted)


def run_report(
    spec: ReportSpec,
    *,
    first: StageOne | None = None,
    context: tuple[queries.Reference, dict, dict] | None = None,
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


def _unconfirmed(report: Report, context: tuple[queries.Reference, dict, dict] | None) -> None:
    """Say which flows the figures count and how much unconfirmed money they include: the
    difference, in the report's currency and with its shares and filters, between the report
    of every flow and the report of confirmed flows only (computed only when unconfirmed
    flows pass the filters at all)."""
    spec = report.spec
    filters = replace(tx_filter(spec), confirmed_only=False)
    stmt = select(func.count(), func.coalesce(func.sum(Transaction.usd_minor), 0)).where(
        Transaction.confirmed.is_(False)
    )
    flows, usd = db.session.execute(queries._filtered_flows(stmt, [], filters)).one()
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
        shown = "; ".join(f"{MEASURES[m].lower()} {spec.currency} {a}" for m, a in amounts.items() if a != zero)
        how = "include" if included else "leave out"
        other_way = "confirmed=only leaves them out" if included else "confirmed=all includes them"
        report.notes.append(
            f"These figures {how} {flows} unconfirmed flows ({shown or 'nothing in the rows shown'}): flows a "
            f"donor recorded against another organisation's funding source, not yet confirmed by that "
            f"organisation; {other_way}."
        )


def _compute(
    spec: ReportSpec,
    *,
    first: StageOne | None = None,
    context: tuple[queries.Reference, dict, dict] | None = None,
    in_database: bool | None = None,
    stage=None,
    totals: dict | None = None,
) -> Report:
    dims = spec.dimensions
    uses_category = "category" in dims or bool(spec.categories)
    if in_database is None:
        in_database = spec.currency == "USD"
    if in_database:
        ref = context[0] if context else queries.load_reference()
        report = _run_in_database(spec, ref, stage, totals)
        return conversion_notes.annotate(report, tx_filter(spec), lambda: _Keys(ref, spec))
    ref, recipients, areas = context or load_context()
    keys = _Keys(ref, spec)
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
                for key in keys.share_keys(dims, iso3, region, code, cats):
                    merged[key] += weight
                # a flow counts once in the total even when it sits in several category rows
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
                key = _compose(dims, share_key, dim_values, pid) if with_project or dim_values else share_key
                target = cells[key].setdefault(denominator, [0, 0, 0, 0, 0])
                cell_projects[key].add(pid)
            for i in range(5):
                if amounts[i]:
                    target[i] += amounts[i] * weight

    report = _finish(
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


def tx_filter(spec: ReportSpec) -> TxFilter:
    """The transaction filters of a spec (donor references resolved to ids)."""
    donor_ids = queries.resolve_refs(Organisation, spec.donors)[0] if spec.donors else []
    return TxFilter(
        year_from=spec.year_from,
        year_to=spec.year_to,
        statuses=spec.statuses,
        source_kinds=spec.source_kinds,
        donor_ids=donor_ids,
        confirmed_only=spec.confirmed == "only",
    )


def need_applies(spec: ReportSpec) -> bool:
    """Whether need, gap and coverage can be shown (not by donor, source or finance type)."""
    tx_dims = [d for d in spec.dimensions if d in TX_DIMENSIONS]
    return not (set(tx_dims) - {"year"}) and not spec.source_kinds and not spec.donors


def _run_in_database(spec: ReportSpec, ref: queries.Reference, stage=None, totals: dict | None = None) -> Report:
    """The fast path (USD, no recipient category): stage one and the share weighting in one SQL query."""
    keys = _Keys(ref, spec)
    dims = spec.dimensions
    with_need = need_applies(spec)
    filters = tx_filter(spec)
    options = {
        "stage": stage,
        "with_need": with_need,
        "countries": spec.countries,
        "region_codes": keys.region_filter,
        "areas": spec.areas,
        "categories": spec.categories,
        "breakpoints": keys.breakpoints if ("category" in dims or spec.categories) else None,
    }
    count = "projects" in spec.measures
    overlapping = "category" in dims  # a flow sits in every category of its country: rows overlap
    amounts = sorted({i for m in spec.measures for i in RAW_AMOUNTS[m]})
    options["amounts"] = amounts
    rows, layout = queries.weighted_cells(dims, filters, count_projects=count, **options)
    cells: dict[tuple, dict[int, list[int]]] = defaultdict(dict)
    cell_projects: dict[tuple, int] = defaultdict(int)
    grand: dict[int, list[int]] = {}
    for key, den, nums, projects in _cells(dims, rows, layout, ref):
        for target in (cells[key].setdefault(den, [0] * 5), None if overlapping else grand.setdefault(den, [0] * 5)):
            if target is not None:
                for i in range(5):
                    target[i] += nums[i]
        cell_projects[key] += projects
    grand_projects = 0
    if overlapping or count:
        # the same for every report reading one staged table (same filters): compute once
        memo = stage.info if stage is not None else (totals if totals is not None else {})
        memo_key = (
            "total",
            tuple(spec.countries),
            tuple(sorted(keys.region_filter or ())),
            tuple(spec.areas),
            tuple(spec.categories),
            count,
            tuple(amounts),
        )
        if memo_key not in memo:
            total_rows, total_layout = queries.weighted_cells([], filters, count_projects=count, **options)
            memo[memo_key] = list(_cells([], total_rows, total_layout, ref))
        if overlapping:
            for _key, den, nums, _projects in memo[memo_key]:
                target = grand.setdefault(den, [0] * 5)
                for i in range(5):
                    target[i] += nums[i]
        grand_projects = sum(projects for *_rest, projects in memo[memo_key])
    notes: list[str] = []
    if not with_need:
        notes.append(NEED_NOT_ATTRIBUTED)
    report = _finish(spec, ref, cells, cell_projects, grand, grand_projects, notes, [], with_need)
    # Measures that were not asked for were not summed: never show them as zeros.
    skipped = [m for m in (*AMOUNT_MEASURES, "coverage") if not set(RAW_AMOUNTS[m]) <= set(amounts)]
    for row in [*report.rows, report.total, *(r for line in report.margins.values() for r in line)]:
        for m in skipped:
            row[m] = None
            row["_exact"].pop(m, None)
    return report


def _cells(dims: Sequence[str], rows: Sequence[tuple], layout: str, ref: queries.Reference):
    """(key, denominator, five numerators, projects) of each row of queries.weighted_cells."""
    n = len(dims)
    for row in rows:
        key = tuple(_decode(d, v, ref) for d, v in zip(dims, row[:n], strict=True))
        values = row[n + 1 : -1]
        if layout == "one":
            nums = [int(v or 0) for v in values]
        else:
            nums = [
                int(values[3 * i] or 0) * SPLIT_HIGH
                + int(values[3 * i + 1] or 0) * SPLIT_MID
                + int(values[3 * i + 2] or 0)
                for i in range(5)
            ]
        yield key, int(row[n]), nums, int(row[-1])


SPLIT_MID = queries.SPLIT
SPLIT_HIGH = queries.SPLIT * queries.SPLIT


def _decode(dim: str, value, ref: queries.Reference):
    """A dimension key from the database query as the report shows it."""
    if dim in TX_DIMENSIONS:
        return _tx_value(dim, value)
    if dim == "project":
        return int(value)
    if dim == "priority_area":
        return UNALLOCATED_AREA if value == queries.GLOBAL_KEY else value
    if dim == "category":
        return NO_CATEGORY if value == queries.MISSING_KEY else value
    if value == queries.MISSING_KEY:
        return NOT_RECORDED
    if value == queries.UNALLOCATED_KEY:
        return UNALLOCATED_RECIPIENT
    if value.startswith(queries.GLOBAL_KEY):
        code = value[len(queries.GLOBAL_KEY) :]
        if not code:
            return GLOBAL
        return f"Regional: {ref.regions.get(code, (code,))[0]}"
    if dim in ("region", "subregion"):
        return ref.regions[value][0] if value in ref.regions else NOT_RECORDED
    return value


def load_context() -> tuple[queries.Reference, dict, dict]:
    """Reference data and every project's recipient and area shares (one read each)."""
    recipients: dict[int, list[tuple[str | None, str | None, int]]] = defaultdict(list)
    for pid, iso3, region, share in queries.recipient_shares():
        recipients[pid].append((iso3, region, share))
    areas: dict[int, list[tuple[str | None, int]]] = defaultdict(list)
    for pid, code, share in queries.area_shares():
        areas[pid].append((code, share))
    return queries.load_reference(), recipients, areas


def _max_age() -> int:
    from flask import current_app

    return current_app.config.get("RATE_MAX_AGE_DAYS", 7)


def _tx_value(dim: str, value):
    if value is None:
        return None
    if dim == "source_kind":
        return str(getattr(value, "value", value))
    if dim == "year":
        return int(value)
    return value


def _share_keys(dims, keys: _Keys, iso3, region, area, cats) -> list[tuple]:
    """Every key combination of the share dimensions for one recipient x area (several for categories)."""
    parts: list[list] = []
    for dim in dims:
        if dim in TX_DIMENSIONS or dim == "project":
            continue
        if dim == "priority_area":
            parts.append([area if area is not None else UNALLOCATED_AREA])
        elif dim == "category":
            parts.append(list(cats) if cats else [NO_CATEGORY])
        else:
            parts.append([keys.geo_key(dim, iso3, region)[0]])
    combos: list[tuple] = [()]
    for options in parts:
        combos = [c + (o,) for c in combos for o in options]
    return combos


def _compose(dims, share_key: tuple, dim_values: tuple, pid: int) -> tuple:
    out, s, t = [], 0, 0
    for dim in dims:
        if dim == "project":
            out.append(pid)
        elif dim in TX_DIMENSIONS:
            out.append(dim_values[t])
            t += 1
        else:
            out.append(share_key[s])
            s += 1
    return tuple(out)


def _exact(parts: dict[int, list[int]], i: int) -> Fraction | int:
    """The exact value of a cell's measure ``i``: an int when every denominator is 1 (cheap)."""
    if len(parts) == 1:
        den, nums = next(iter(parts.items()))
        return nums[i] if den == 1 else Fraction(nums[i], den)
    return sum((Fraction(nums[i], den) for den, nums in parts.items()), Fraction(0))


def _label(ref: queries.Reference, dim: str, value, names: dict) -> str:
    if value is None:
        return NOT_RECORDED
    if dim == "country":
        return ref.countries[value][0] if value in ref.countries else str(value)
    if dim == "priority_area":
        return f"{value} {ref.areas[value]}" if value in ref.areas else str(value)
    if dim == "category":
        return f"{value} {ref.categories[value]}" if value in ref.categories else str(value)
    if dim == "income_group":
        return INCOME_GROUPS.get(value, str(value))
    if dim in ("funding_source", "donor", "project"):
        found = names.get(value)
        return f"{found[1]} ({found[0]})" if found else str(value)
    if dim == "source_kind":
        return label(value)
    return str(value)


BY_NAME = ("donor", "funding_source")  # rows keyed by an id read best in the order of their names


def _sort_value(dim: str, value, labels: dict | None = None) -> tuple:
    if value is None:
        return (1, "")
    special = value in (None, GLOBAL, UNALLOCATED_RECIPIENT, UNALLOCATED_AREA, NO_CATEGORY, NOT_RECORDED) or (
        isinstance(value, str) and value.startswith("Regional: ")
    )
    if dim in BY_NAME and labels and value in labels:
        label = labels[value]  # (ref, name)
        name = label[-1] if isinstance(label, tuple) else label
        return (1 if special else 0, str(name).casefold(), str(value))
    return (1 if special else 0, str(value) if not isinstance(value, int) else f"{value:08d}")


def _exact_measures(parts: dict[int, list[int]]) -> dict[str, Fraction | int]:
    """Every amount measure's exact value from a cell's numerators per denominator."""
    out = {m: _exact(parts, i) for i, m in enumerate(("pledge", "commitment", "disbursement", "expenditure", "need"))}
    out["gap"] = out["need"] - out["commitment"]
    out["undisbursed"] = out["commitment"] - out["disbursement"]
    return out


def _shown_differences(row: dict) -> None:
    """The gap shown is the need shown minus the commitments shown, and the undisbursed the
    commitments shown minus the disbursements shown: a reader who subtracts gets the figure,
    and since the rounded needs and commitments add up along every row and column, so do
    these (rounded on their own, a gap could show 195,302.58 beside a need of 195,302.57 and
    no commitment)."""
    for measure, plus, minus in (("gap", "need", "commitment"), ("undisbursed", "commitment", "disbursement")):
        if row.get(measure) is not None and row.get(plus) is not None and row.get(minus) is not None:
            row[measure] = row[plus] - row[minus]


def _round_cross(dims, parts_of, exact_rows, total_exact, names, overlapping, measures):
    """Round a cross-tab's cells (controlled rounding, see reports.rounding).

    ``parts_of``: each cell's numerators per denominator, in display order; ``exact_rows`` their
    exact measures; ``measures``: the amount measures to round (the report's own). Returns, per
    amount measure, the cells in minor units (``key -> int``, a cell that had no
    money only if it had to take a unit), the displayed total, the margins (per dimension
    position, ``[(value, exact measures, {measure: minor units})]`` in display order: the
    figures of the report by that dimension alone) and the cells rounded further than one unit.
    Categories overlap: a category's row adds up to the category's own figure and the other
    dimension has no margin (its values are counted once per category).
    """
    # Exact margins, summed per denominator like the cells (a Fraction sum per cell is slow).
    line_parts: list[dict] = [defaultdict(dict), defaultdict(dict)]
    for key, cell in parts_of.items():
        for p in (0, 1):
            parts = line_parts[p][key[p]]
            for den, nums in cell.items():
                acc = parts.setdefault(den, [0, 0, 0, 0, 0])
                for i in range(5):
                    acc[i] += nums[i]
    values = [sorted(line_parts[p], key=lambda v, d=dims[p]: _sort_value(d, v, names.get(d))) for p in (0, 1)]
    exact_lines = [{v: _exact_measures(line_parts[p][v]) for v in values[p]} for p in (0, 1)]
    controlled = [p for p in (0, 1) if not overlapping or dims[p] == "category"]
    shown: dict[str, dict[tuple, int]] = {}
    shown_total: dict[str, int] = {}
    margins: dict[int, dict[str, list[int]]] = {p: {} for p in controlled}
    off: dict[str, list[tuple]] = {}
    keys = list(parts_of)
    for m in measures:
        exact = {k: r[m] for k, r in zip(keys, exact_rows, strict=True)}
        if overlapping:
            p = controlled[0]
            line_minor = [round(exact_lines[p][v][m]) for v in values[p]]
            by_line: dict = defaultdict(list)
            for k in keys:
                by_line[k[p]].append(k)
            cells_minor: dict[tuple, int] = {}
            for v in values[p]:
                line_keys = by_line[v]
                # allocate's total is round(exact line sum): the category's own figure
                rounded, _target = allocate([exact[k] for k in line_keys], exact_lines[p][v][m])
                cells_minor.update(zip(line_keys, rounded, strict=True))
            margins[p][m] = line_minor
            shown[m], shown_total[m], off[m] = cells_minor, round(total_exact[m]), []
            continue
        row_minor, total_minor = allocate([exact_lines[0][v][m] for v in values[0]], total_exact[m])
        col_minor, _total = allocate([exact_lines[1][v][m] for v in values[1]], total_exact[m])
        cells_minor, off[m] = controlled_round(
            exact, dict(zip(values[0], row_minor, strict=True)), dict(zip(values[1], col_minor, strict=True))
        )
        margins[0][m], margins[1][m] = row_minor, col_minor
        shown[m], shown_total[m] = cells_minor, total_minor
    lines = {
        p: [(v, exact_lines[p][v], {m: margins[p][m][n] for m in margins[p]}) for n, v in enumerate(values[p])]
        for p in controlled
    }
    return shown, shown_total, lines, off


def _finish(spec, ref, cells, cell_projects, grand, grand_projects, notes, rate_days, need_applies) -> Report:
    dims = spec.dimensions
    currency = spec.currency
    overlapping = "category" in dims
    names = {d: queries.labels_for(d, {k[i] for k in cells}) for i, d in enumerate(dims)}

    def sort_key(k: tuple) -> tuple:
        return tuple(_sort_value(d, v, names.get(d)) for d, v in zip(dims, k, strict=True))

    ordered = sorted(cells, key=sort_key)
    exact_rows = [_exact_measures(cells[k]) for k in ordered]
    total_exact = _exact_measures(grand)

    margins: dict[str, list[dict]] = {}
    off: dict[str, list[tuple]] = {}
    if len(dims) == 2:
        # Only the measures asked for: a cell that takes a cent in one measure is shown as a row,
        # and a measure nobody reads must not add rows.
        # The gap and the undisbursed amount are differences of the figures shown (see
        # _shown_differences): asking for them rounds what they are made of too.
        wanted = set(spec.measures)
        if "gap" in wanted:
            wanted |= {"need", "commitment"}
        if "undisbursed" in wanted:
            wanted |= {"commitment", "disbursement"}
        asked = [m for m in AMOUNT_MEASURES if m in wanted]
        shown, shown_total, lines, off = _round_cross(
            dims, {k: cells[k] for k in ordered}, exact_rows, total_exact, names, overlapping, asked
        )
        for m in AMOUNT_MEASURES:
            if m not in asked:
                shown[m], shown_total[m] = None, round(total_exact[m])
        extra = {k for by_key in shown.values() if by_key is not None for k in by_key} - set(cells)
        if extra:
            # A unit that had to go to a cell without money (see reports.rounding): show the cell.
            zero = _exact_measures({})
            exact_of = dict(zip(ordered, exact_rows, strict=True)) | {k: dict(zero) for k in extra}
            ordered = sorted([*ordered, *extra], key=sort_key)
            exact_rows = [exact_of[k] for k in ordered]
        for p, line in lines.items():
            dim = dims[p]
            margins[dim] = []
            for value, exact, minor in line:
                margin = {m: money.from_minor(minor[m], currency) if m in minor else None for m in AMOUNT_MEASURES}
                margin["coverage"] = _ratio(exact["commitment"], exact["need"])
                margin["_exact"] = exact
                margin[dim] = value
                margin[f"{dim}_label"] = _label(ref, dim, value, names.get(dim, {}))
                margins[dim].append(margin)
    else:
        shown, shown_total = {}, {}
        for m in AMOUNT_MEASURES:
            if overlapping:
                minor = [round(r[m]) for r in exact_rows]
                shown_total[m] = round(total_exact[m])
            else:
                minor, shown_total[m] = allocate([r[m] for r in exact_rows], total_exact[m])
            shown[m] = dict(zip(ordered, minor, strict=True))

    rows: list[dict] = [{} for _ in ordered]
    total: dict = {}
    for m in AMOUNT_MEASURES:
        by_key = shown[m]
        for row, key in zip(rows, ordered, strict=True):
            row[m] = None if by_key is None else money.from_minor(by_key.get(key, 0), currency)
        total[m] = money.from_minor(shown_total[m], currency)
    for row, exact, key in zip(rows, exact_rows, ordered, strict=True):
        row["coverage"] = _ratio(exact["commitment"], exact["need"])
        row["projects"] = _count(cell_projects[key]) if key in cell_projects else 0
        row["_exact"] = exact
        for dim, value in zip(dims, key, strict=True):
            row[dim] = value
            row[f"{dim}_label"] = _label(ref, dim, value, names.get(dim, {}))
    total["coverage"] = _ratio(total_exact["commitment"], total_exact["need"])
    total["projects"] = _count(grand_projects)
    total["_exact"] = total_exact
    for dim in dims:
        total[dim] = "Total"
        total[f"{dim}_label"] = "Total"
    for row in [*rows, total, *(r for line in margins.values() for r in line)]:
        _shown_differences(row)
    if not need_applies:
        for row in [*rows, total, *(r for line in margins.values() for r in line)]:
            for m in NEED_MEASURES:
                row[m] = None
    if overlapping:
        notes.append(
            "Recipient categories overlap (a country can be LDC and SIDS at once), so category rows "
            "do not add up to the total; a flow counts in a category when its country belonged to it "
            "on the flow's value date (need: on the project's need date)."
        )
        if len(dims) == 2:
            notes.append(
                "Each category's cells add up exactly to the category's own figure (the report by "
                "category alone) and each cell is within one cent of its exact value."
            )
    elif len(dims) == 2:
        notes.append(
            "Amounts are multiplied by the country share and the priority-area share of their project; "
            "cells are rounded so that each row and each column adds up exactly to the report by that "
            "dimension alone, and all to the total (controlled rounding); each cell is within one cent "
            "of its exact value unless a note below says otherwise."
        )
    else:
        notes.append(
            "Amounts are multiplied by the country share and the priority-area share of their project; "
            "rows add up exactly to the total and each row is within one cent of its exact value."
        )
    beyond = sorted({k for m in spec.measures for k in off.get(m, [])}, key=sort_key)
    if beyond:
        cells_text = "; ".join(" / ".join(str(v) for v in k) for k in beyond[:10])
        notes.append(
            f"{len(beyond)} cell(s) of this cross-tab differ from their exact value by one cent or more "
            f"(less than two), because the rows' and the columns' own roundings could not both be met "
            f"otherwise: {cells_text}."
        )
    notes.append(
        "A flow that names its own recipient country or region counts wholly for it; other flows are "
        "spread over their project's recipient shares. Flows to a region appear as 'Regional: <region>', "
        f"the share a source gave to no or an unknown recipient as '{UNALLOCATED_RECIPIENT}' (never "
        f"handed to the other recipients), projects without any recipient as '{GLOBAL}', and "
        f"projects without a priority area as '{UNALLOCATED_AREA}'."
    )
    notes.append(queries.measure_types_note())
    notes.append("Projects are counted once per row; a project spread over several rows appears in each.")
    if need_applies and "gap" in spec.measures and any(r["gap"] < 0 for r in [*exact_rows, total_exact]):
        notes.append(NEGATIVE_GAP)
    if need_applies and ("year" in dims or spec.year_from or spec.year_to):
        notes.append("The need of a project is counted in the year of its need date.")
    if currency == "USD":
        rate_note = f"USD values of each flow at the {money.RATE_SOURCE} of its value date, as recorded with the flow."
        rate_dates = None
    else:
        rate_dates = (min(rate_days), max(rate_days)) if rate_days else None
        span = f" (rate dates {rate_dates[0]} to {rate_dates[1]})" if rate_dates else ""
        rate_note = (
            f"Converted from each flow's original currency to {currency} at the {money.RATE_SOURCE} "
            f"of its value date{span}, per project, day and currency, rounded half-even."
        )
    return Report(spec, rows, total, notes, dt.datetime.now(dt.UTC), rate_note, rate_dates, margins)


def _count(projects: set[int] | int) -> int:
    return projects if isinstance(projects, int) else len(projects)


def _ratio(numerator: Fraction, denominator: Fraction) -> str | None:
    if denominator <= 0:
        return None
    value = Decimal(numerator.numerator * denominator.denominator) / Decimal(
        numerator.denominator * denominator.numerator
    )
    return str(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def flows_report(**params) -> Report:
    """Validate parameters and compute a flows report (all measures unless asked)."""
    return run_report(build_spec(**params))


def gap_report(**params) -> Report:
    """Validate parameters and compute a funding-gap report (need, commitments, gap, coverage...)."""
    params.setdefault("default_measures", GAP_MEASURES)
    return run_report(build_spec(**params))


def source_label(source_id: int) -> str:
    """Readable name of a funding source (used by the pages)."""
    from registry.extensions import db

    source = db.session.get(FundingSource, source_id)
    return source.name if source else str(source_id)
