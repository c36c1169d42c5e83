"""The funding finder: which funding sources fit a need, which pipeline projects fit a source.

Every funding source is assessed criterion by criterion (met / not met / unknown, each
with a reason a person can check). Eligibility, the application window and the
instrument are *hard* criteria: a source failing one cannot fund the need as asked, so
it is listed apart with the reason instead of being ranked. The ranking rule and its
tie-breaking are documented in docs/funding-finder.md; keep the two in step.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import and_, case, func, literal, or_, select, union
from sqlalchemy.orm import selectinload

from registry import money
from registry.errors import ConversionError, MoneyError, NotFoundError, ValidationError
from registry.extensions import db
from registry.models import (
    Country,
    FundingSource,
    PriorityArea,
    Project,
    ProjectArea,
    ProjectRecipient,
    Region,
    Transaction,
)
from registry.models.project import SHARE_WHOLE
from registry.models.types import Instrument, ProjectStatus, TransactionType, label
from registry.services import reference

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"

# Points a met criterion adds to the score; unknown and not met add nothing.
WEIGHTS = {"eligibility": 30, "area": 30, "instrument": 20, "amount": 20, "window": 10}
HARD = ("eligibility", "window", "instrument")
# Evidence bonus: the source (or its managing organisation) already commits there.
BONUS_COUNTRY = 10
BONUS_REGION = 5
BONUS_AREA = 5
EVIDENCE_YEARS = 10
SIMILAR_LIMIT = 3
LABELS = {
    "eligibility": "Eligibility",
    "area": "Priority area",
    "instrument": "Instrument",
    "amount": "Amount",
    "window": "Application window",
}


@dataclass
class Criterion:
    """One rule of a funding source checked against a need."""

    key: str
    status: str
    reason: str

    @property
    def label(self) -> str:
        return LABELS[self.key]

    @property
    def hard(self) -> bool:
        return self.key in HARD


@dataclass
class Need:
    """What is to be funded: where, what, how, how much, and the date it is judged on."""

    countries: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)
    instrument: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    day: dt.date = field(default_factory=dt.date.today)


@dataclass
class Figures:
    """Share-weighted commitments (USD, exact) and the number of projects behind them."""

    usd: Decimal = Decimal("0.00")
    projects: int = 0


@dataclass
class Evidence:
    """What a source and its managing organisation committed near the need in the last ten years."""

    since: dt.date
    until: dt.date
    region_code: str | None
    region_name: str | None
    source: dict[str, Figures]
    org: dict[str, Figures]


@dataclass
class Similar:
    """A past project like the need: same area, same country or region, similar size."""

    project_id: int
    title: str
    countries: list[str]
    areas: list[str]
    committed_usd: Decimal
    same_country: bool


@dataclass
class SourceMatch:
    """A funding source assessed against a need."""

    source: FundingSource
    criteria: list[Criterion]
    score: int = 0
    evidence: Evidence | None = None
    similar: list[Similar] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> list[Criterion]:
        return [c for c in self.criteria if c.hard and c.status == NOT_MET]

    @property
    def committed_in_country(self) -> Decimal:
        return self.evidence.source["country"].usd if self.evidence else Decimal(0)


@dataclass
class FinderResult:
    """Ranked eligible sources, and the sources that fail a hard criterion."""

    need: Need
    amount_usd: Decimal | None
    matches: list[SourceMatch]
    failing: list[SourceMatch]


# -- input ------------------------------------------------------------------------------


def looks_like_code(text: str) -> bool:
    """Letters and digits only: anything else is no code (and never reaches the database,
    which may refuse characters such as NUL outright)."""
    return bool(re.fullmatch(r"[A-Za-z0-9]{1,8}", text or ""))


def build_need(
    country: str | None,
    areas: Iterable[str] | str | None,
    instrument: str | None = None,
    amount: str | Decimal | None = None,
    currency: str | None = None,
    day: dt.date | None = None,
) -> Need:
    """Check finder input and return a Need; raises ValidationError naming each bad field."""
    errors: dict[str, list[str]] = {}
    iso3 = (country or "").strip().upper()
    if not iso3:
        errors["country"] = ["Required: an ISO 3166 alpha-3 code, e.g. NPL"]
    elif not looks_like_code(iso3) or db.session.get(Country, iso3) is None:
        errors["country"] = [f"Unknown country {iso3!r} (expected an ISO 3166 alpha-3 code, e.g. NPL)"]
    if isinstance(areas, str):
        areas = [a for a in areas.replace(";", ",").split(",")]
    codes = []
    for code in areas or []:
        code = str(code).strip().lower()
        if not code:
            continue
        if not looks_like_code(code) or db.session.get(PriorityArea, code) is None:
            errors.setdefault("priority_area", []).append(f"Unknown priority area {code!r} (expected 23a-23l)")
        elif code not in codes:
            codes.append(code)
    if instrument:
        try:
            instrument = Instrument(instrument.strip().lower()).value
        except ValueError:
            choices = ", ".join(i.value for i in Instrument)
            errors["instrument"] = [f"Unknown instrument {instrument!r} (one of {choices})"]
    parsed = None
    cur = (currency or "").strip().upper() or None
    if amount not in (None, ""):
        if cur is None:
            errors["currency"] = ["Give the currency of the amount (ISO 4217, e.g. USD)"]
        elif not money.is_currency(cur):
            errors["currency"] = [f"Unknown currency {cur!r} (expected ISO 4217, e.g. USD)"]
        else:
            try:
                parsed = money.parse_amount(amount, cur)
            except MoneyError as exc:
                errors["amount"] = [exc.message]
            else:
                if parsed <= 0:
                    errors["amount"] = ["The amount must be above zero"]
    elif cur and not money.is_currency(cur):
        errors["currency"] = [f"Unknown currency {cur!r} (expected ISO 4217, e.g. USD)"]
    if errors:
        raise ValidationError("The search is not valid; see errors for each field", errors)
    return Need(
        countries=[iso3],
        areas=codes,
        instrument=instrument or None,
        amount=parsed,
        currency=cur if parsed is not None else None,
        day=day or dt.date.today(),
    )


# -- criteria ---------------------------------------------------------------------------


def _region_chain(country: Country) -> list[str]:
    """The M49 codes a country sits in, smallest first (intermediate, sub-region, region)."""
    return [c for c in (country.intermediate_code, country.subregion_code, country.region_code) if c]


class _Reference:
    """Reference lookups cached for one finder run (regions, categories on the date)."""

    def __init__(self, day: dt.date):
        self.day = day
        self.regions = {r.code: r for r in db.session.scalars(select(Region))}
        self._descendants: dict[str, set[str]] = {}
        self._categories: dict[str, list[str]] = {}
        self._countries: dict[str, Country | None] = {}

    def country(self, iso3: str) -> Country | None:
        if iso3 not in self._countries:
            self._countries[iso3] = db.session.get(Country, iso3)
        return self._countries[iso3]

    def descendants(self, code: str) -> set[str]:
        if code not in self._descendants:
            self._descendants[code] = reference.region_and_descendants(code)
        return self._descendants[code]

    def categories(self, iso3: str) -> list[str]:
        if iso3 not in self._categories:
            self._categories[iso3] = reference.categories_on(iso3, self.day)
        return self._categories[iso3]

    def region_name(self, code: str) -> str:
        region = self.regions.get(code)
        return f"{region.name} ({code})" if region else code


def _country_eligibility(source: FundingSource, iso3: str, ref: _Reference) -> tuple[bool, str]:
    """Whether one country is eligible, and why (country list, M49 region, dated category)."""
    country = ref.country(iso3)
    name = country.name if country else iso3
    if iso3 in {c.iso3 for c in source.countries}:
        return True, f"{name} is on the source's list of eligible countries"
    chain = _region_chain(country) if country else []
    for region in source.regions:
        inside = ref.descendants(region.code)
        hit = next((c for c in chain if c in inside), None)
        if hit:
            via = "" if hit == region.code else f" through {ref.region_name(hit)}"
            return True, f"{name} is in eligible region {ref.region_name(region.code)}{via}"
    held = ref.categories(iso3)
    wanted = [c.code for c in source.categories]
    shared = [c for c in wanted if c in held]
    if shared:
        return True, f"{name} belongs to {', '.join(shared)} on {ref.day.isoformat()}"
    parts = []
    if source.countries:
        codes = [c.iso3 for c in source.countries]
        listed = ", ".join(codes) if len(codes) <= 6 else f"{len(codes)} listed countries"
        parts.append(f"countr{'y' if len(codes) == 1 else 'ies'} {listed}")
    if source.regions:
        parts.append("regions " + ", ".join(ref.region_name(r.code) for r in source.regions))
    if wanted:
        held_text = ", ".join(held) if held else "no recipient category"
        parts.append(f"categories {', '.join(wanted)} ({name} has {held_text} on {ref.day.isoformat()})")
    return False, f"{name} is not eligible: the source funds " + "; ".join(parts)


def _eligibility(source: FundingSource, need: Need, ref: _Reference) -> Criterion:
    if not (source.countries or source.regions or source.categories):
        return Criterion("eligibility", MET, "Open to every recipient country and region")
    if not need.countries and not need.regions:
        return Criterion("eligibility", UNKNOWN, "The need names no recipient country or region")
    reasons, ok = [], []
    for iso3 in need.countries:
        good, why = _country_eligibility(source, iso3, ref)
        ok.append(good)
        reasons.append(why)
    for code in need.regions:
        listed = [r.code for r in source.regions if code in ref.descendants(r.code)]
        ok.append(bool(listed))
        reasons.append(
            f"Region {ref.region_name(code)} is within eligible {ref.region_name(listed[0])}"
            if listed
            else f"Region {ref.region_name(code)} is not among the source's eligible regions"
        )
    # Every recipient has to be eligible: a source cannot pay for the part it may not fund.
    return Criterion("eligibility", MET if all(ok) else NOT_MET, "; ".join(reasons))


def _area(source: FundingSource, need: Need) -> Criterion:
    funded = [a.code for a in source.areas]
    if not need.areas:
        return Criterion("area", UNKNOWN, "No priority area was given")
    if not funded:
        return Criterion("area", MET, "The source funds every priority area")
    shared = [a for a in need.areas if a in funded]
    if shared:
        return Criterion("area", MET, f"The source funds {', '.join(shared)}")
    return Criterion("area", NOT_MET, f"The source funds {', '.join(funded)}, not {', '.join(need.areas)}")


def _instrument(source: FundingSource, need: Need) -> Criterion:
    offered = source.instruments
    if not need.instrument:
        return Criterion("instrument", UNKNOWN, "No instrument was asked for")
    if not offered:
        return Criterion("instrument", UNKNOWN, "The source publishes no instruments")
    if need.instrument in offered:
        return Criterion("instrument", MET, f"The source offers {label(need.instrument).lower()}")
    return Criterion(
        "instrument",
        NOT_MET,
        f"The source offers {', '.join(label(i).lower() for i in offered)}, not {label(need.instrument).lower()}",
    )


def _range_text(source: FundingSource) -> str:
    cur = source.amount_currency
    low = money.from_minor(source.min_amount_minor, cur) if source.min_amount_minor is not None else None
    high = money.from_minor(source.max_amount_minor, cur) if source.max_amount_minor is not None else None
    if low is not None and high is not None:
        return f"{money.format_amount(low)}–{money.format_amount(high, cur)}"
    if low is not None:
        return f"at least {money.format_amount(low, cur)}"
    return f"at most {money.format_amount(high, cur)}"


def _amount(source: FundingSource, amount: Decimal | None, currency: str | None, day: dt.date) -> Criterion:
    if amount is None or currency is None:
        return Criterion("amount", UNKNOWN, "No amount was given")
    if source.min_amount_minor is None and source.max_amount_minor is None:
        return Criterion("amount", UNKNOWN, "The source publishes no amount range")
    cur = source.amount_currency
    try:
        conversion = money.convert(amount, currency, cur, day)
    except ConversionError as exc:
        return Criterion("amount", UNKNOWN, f"Cannot compare amounts: {exc.message}")
    value = conversion.amount
    shown = money.format_amount(amount, currency)
    if currency != cur:
        shown += (
            f" = {money.format_amount(value, cur)} at the ECB rate of "
            f"{conversion.rate_date.isoformat()} ({conversion.rate})"
        )
    low = money.from_minor(source.min_amount_minor, cur) if source.min_amount_minor is not None else None
    high = money.from_minor(source.max_amount_minor, cur) if source.max_amount_minor is not None else None
    if low is not None and value < low:
        return Criterion("amount", NOT_MET, f"{shown} is below the source's range ({_range_text(source)})")
    if high is not None and value > high:
        return Criterion("amount", NOT_MET, f"{shown} is above the source's range ({_range_text(source)})")
    return Criterion("amount", MET, f"{shown} is within the source's range ({_range_text(source)})")


def _window(source: FundingSource, day: dt.date) -> Criterion:
    opens, closes = source.window_from, source.window_until
    when = day.isoformat()
    if opens is None and closes is None:
        return Criterion("window", MET, "No application window: applications are taken all year")
    if opens is not None and day < opens:
        return Criterion("window", NOT_MET, f"Not open yet: the window opens on {opens.isoformat()} (judged on {when})")
    if closes is not None and day > closes:
        return Criterion("window", NOT_MET, f"Closed: the window closed on {closes.isoformat()} (judged on {when})")
    span = f"{opens.isoformat() if opens else '…'} to {closes.isoformat() if closes else '…'}"
    return Criterion("window", MET, f"Open on {when} (window {span})")


def assess(source: FundingSource, need: Need, ref: _Reference | None = None) -> list[Criterion]:
    """Every criterion of the source checked against the need, in a fixed order."""
    ref = ref or _Reference(need.day)
    return [
        _eligibility(source, need, ref),
        _area(source, need),
        _instrument(source, need),
        _amount(source, need.amount, need.currency, need.day),
        _window(source, need.day),
    ]


def base_score(criteria: list[Criterion]) -> int:
    """Sum of the weights of the met criteria."""
    return sum(WEIGHTS[c.key] for c in criteria if c.status == MET)


# -- evidence ---------------------------------------------------------------------------


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _provider_key():
    """The organisation that provides a commitment: its provider organisation, else (when no
    funding source is named either) the project's own organisation."""
    return func.coalesce(Transaction.provider_org_id, case((Transaction.funding_source_id.is_(None), Project.org_id)))


def _org_keys(provider: int | None, source_org: int | None) -> set[int]:
    """A commitment counts for its provider and for the manager of its funding source."""
    return {k for k in (provider, source_org) if k is not None}


def _weighted_rows(join_model, condition, since: dt.date, until: dt.date, flow_condition=None):
    """(source id, provider org, source's org, project id, sum of usd_minor * share_ppm).

    ``flow_condition`` (a place: country or region scope): a flow that names its own
    recipient goes wholly to it (weight SHARE_WHOLE when its recipient is in the place) and
    is not spread over the project's recipient shares."""
    provider = _provider_key().label("provider")
    keys = (Transaction.funding_source_id, provider, FundingSource.managing_org_id, Transaction.project_id)

    def flows(weight, *where, extra=()):
        return (
            select(*keys, func.sum(Transaction.usd_minor * weight), *extra)
            .join(Project, Project.id == Transaction.project_id)
            .outerjoin(FundingSource, FundingSource.id == Transaction.funding_source_id)
            .where(
                Transaction.type == TransactionType.COMMITMENT,
                Transaction.value_date >= since,
                Transaction.value_date <= until,
                *where,
            )
            .group_by(*keys)
        )

    # A project's shares are divided by their sum: 100 %, or an imported file's percentages as
    # given when they do not add up to 100 (see importers' relative shares).
    whole = (
        select(join_model.project_id, func.sum(join_model.share_ppm).label("whole"))
        .group_by(join_model.project_id)
        .subquery()
    )
    shared = (
        flows(join_model.share_ppm, condition, extra=(whole.c.whole,))
        .join(join_model, join_model.project_id == Transaction.project_id)
        .join(whole, whole.c.project_id == Transaction.project_id)
        .group_by(whole.c.whole)
    )
    if flow_condition is not None:
        shared = shared.where(Transaction.recipient_country_iso3.is_(None), Transaction.recipient_region_code.is_(None))
    rows = [(*row[:4], _per_whole(row[4], row[5])) for row in db.session.execute(shared)]
    if flow_condition is None:
        return rows
    own = flows(literal(SHARE_WHOLE), flow_condition)
    return rows + db.session.execute(own).all()


def _per_whole(total: int | None, whole: int | None) -> int | None:
    """usd_minor * share_ppm summed over a project whose shares add up to ``whole``, as if they
    added up to 100 % (rounded to a millionth of a cent: the figures are rounded to the cent later)."""
    if total is None or not whole or whole == SHARE_WHOLE:
        return total
    return round(Fraction(int(total) * SHARE_WHOLE, int(whole)))


def _usd(total_minor_ppm: int) -> Decimal:
    """Sum of usd_minor * share_ppm -> USD, rounded half-even to the cent once, at the end."""
    return money.quantize(Decimal(total_minor_ppm) / SHARE_WHOLE / 100, "USD")


def _fold(rows, keys) -> dict[int, tuple[int, set[int]]]:
    """Totals and distinct projects per key; ``keys(row)`` gives the keys a row counts for."""
    out: dict[int, tuple[int, set[int]]] = {}
    for row in rows:
        for key in keys(row):
            total, projects = out.get(key, (0, set()))
            out[key] = (total + int(row[4] or 0), projects | {row[3]})
    return out


@dataclass
class _EvidenceTables:
    since: dt.date
    until: dt.date
    region_code: str | None
    by_source: dict[str, dict[int, tuple[int, set[int]]]]
    by_org: dict[str, dict[int, tuple[int, set[int]]]]

    def for_source(self, source: FundingSource, ref: _Reference) -> Evidence:
        def figures(table, key) -> dict[str, Figures]:
            out = {}
            for scope in ("country", "region", "area"):
                total, projects = table[scope].get(key, (0, set()))
                out[scope] = Figures(_usd(total), len(projects))
            return out

        return Evidence(
            since=self.since,
            until=self.until,
            region_code=self.region_code,
            region_name=ref.region_name(self.region_code) if self.region_code else None,
            source=figures(self.by_source, source.id),
            org=figures(self.by_org, source.managing_org_id),
        )


def evidence_region(iso3: str) -> str | None:
    """The region used for evidence: the country's M49 sub-region (else its region)."""
    country = db.session.get(Country, iso3)
    if country is None:
        return None
    return country.subregion_code or country.region_code


def _evidence_tables(iso3: str, areas: list[str], day: dt.date) -> _EvidenceTables:
    since = _years_before(day, EVIDENCE_YEARS)
    region = evidence_region(iso3)
    scopes = {
        "country": (
            ProjectRecipient,
            ProjectRecipient.country_iso3 == iso3,
            Transaction.recipient_country_iso3 == iso3,
        ),
        "area": (ProjectArea, ProjectArea.area_code.in_(areas or ["-"])),
    }
    if region:
        inside = reference.region_and_descendants(region)
        members = reference.countries_in_region(region)
        scopes["region"] = (
            ProjectRecipient,
            or_(ProjectRecipient.country_iso3.in_(members), ProjectRecipient.region_code.in_(inside)),
            or_(
                and_(Transaction.recipient_country_iso3.is_not(None), Transaction.recipient_country_iso3.in_(members)),
                and_(Transaction.recipient_region_code.is_not(None), Transaction.recipient_region_code.in_(inside)),
            ),
        )
    by_source, by_org = {}, {}
    for scope in ("country", "region", "area"):
        if scope not in scopes:
            by_source[scope], by_org[scope] = {}, {}
            continue
        join_model, condition, *flow_condition = scopes[scope]
        rows = _weighted_rows(join_model, condition, since, day, *flow_condition)
        by_source[scope] = _fold(rows, lambda row: {row[0]} - {None})
        by_org[scope] = _fold(rows, lambda row: _org_keys(row[1], row[2]))
    return _EvidenceTables(since, day, region, by_source, by_org)


def _similar_candidates(iso3: str, areas: list[str], day: dt.date) -> list[dict]:
    """Past (non-pipeline) projects in the area and in the country or its region, with funders."""
    region = evidence_region(iso3)
    members = reference.countries_in_region(region) if region else [iso3]
    inside = reference.region_and_descendants(region) if region else set()
    since = _years_before(day, EVIDENCE_YEARS)
    place = union(
        select(ProjectRecipient.project_id).where(
            or_(ProjectRecipient.country_iso3.in_(members), ProjectRecipient.region_code.in_(inside))
        ),
        # a project whose flows name the place themselves is there too
        select(Transaction.project_id).where(
            or_(
                and_(Transaction.recipient_country_iso3.is_not(None), Transaction.recipient_country_iso3.in_(members)),
                and_(Transaction.recipient_region_code.is_not(None), Transaction.recipient_region_code.in_(inside)),
            )
        ),
    )
    in_area = select(ProjectArea.project_id).where(ProjectArea.area_code.in_(areas or ["-"]))
    stmt = (
        select(
            Transaction.project_id,
            Transaction.funding_source_id,
            _provider_key(),
            FundingSource.managing_org_id,
            func.sum(Transaction.usd_minor),
        )
        .join(Project, Project.id == Transaction.project_id)
        .outerjoin(FundingSource, FundingSource.id == Transaction.funding_source_id)
        .where(
            Transaction.type == TransactionType.COMMITMENT,
            Transaction.value_date >= since,
            Transaction.value_date <= day,
            Project.status != ProjectStatus.PIPELINE,
            Transaction.project_id.in_(place),
            Transaction.project_id.in_(in_area),
        )
        .group_by(Transaction.project_id, Transaction.funding_source_id, _provider_key(), FundingSource.managing_org_id)
    )
    rows = db.session.execute(stmt).all()
    if not rows:
        return []
    ids = sorted({r[0] for r in rows})
    projects = {
        p.id: p
        for p in db.session.scalars(
            select(Project)
            .where(Project.id.in_(ids))
            .options(selectinload(Project.recipients), selectinload(Project.areas))
        )
    }
    totals: dict[int, int] = defaultdict(int)
    funders: dict[int, tuple[set[int], set[int]]] = {}
    for project_id, source_id, provider, source_org, usd_minor in rows:
        totals[project_id] += int(usd_minor or 0)
        sources, orgs = funders.setdefault(project_id, (set(), set()))
        if source_id is not None:
            sources.add(source_id)
        orgs.update(_org_keys(provider, source_org))
    out = []
    for project_id in ids:
        project = projects[project_id]
        countries = [r.country_iso3 for r in project.recipients if r.country_iso3]
        out.append(
            {
                "project": project,
                "countries": countries or [r.region_code for r in project.recipients if r.region_code],
                "areas": [a.area_code for a in project.areas],
                "committed_usd": money.from_minor(totals[project_id], "USD"),
                "same_country": iso3 in countries,
                "sources": funders[project_id][0],
                "orgs": funders[project_id][1],
            }
        )
    return out


def _size_distance(a: Decimal, b: Decimal) -> Decimal:
    """How unlike two sizes are: the larger over the smaller (1 = the same size)."""
    low, high = sorted((a, b))
    if low <= 0:
        return Decimal("Infinity")
    return high / low


def similar_projects(
    source: FundingSource,
    candidates: list[dict],
    amount_usd: Decimal | None,
    limit: int = SIMILAR_LIMIT,
) -> list[Similar]:
    """The source's (else its managing organisation's) past projects most like the need.

    Order: funded by the source itself first, then same country before same region, then
    closest in size to the amount (ratio of the larger to the smaller), then project id.
    """
    chosen = [c for c in candidates if source.id in c["sources"] or source.managing_org_id in c["orgs"]]

    def key(c: dict):
        size = _size_distance(c["committed_usd"], amount_usd) if amount_usd else Decimal(0)
        return (source.id not in c["sources"], not c["same_country"], size, c["project"].id)

    return [
        Similar(
            project_id=c["project"].id,
            title=c["project"].title,
            countries=c["countries"],
            areas=c["areas"],
            committed_usd=c["committed_usd"],
            same_country=c["same_country"],
        )
        for c in sorted(chosen, key=key)[:limit]
    ]


def evidence_bonus(evidence: Evidence) -> int:
    """Points for a track record: commitments in the country, else the region; and in the area."""

    def has(scope: str) -> bool:
        return evidence.source[scope].usd > 0 or evidence.org[scope].usd > 0

    bonus = BONUS_COUNTRY if has("country") else (BONUS_REGION if has("region") else 0)
    return bonus + (BONUS_AREA if has("area") else 0)


# -- the finder -------------------------------------------------------------------------


def _sources() -> list[FundingSource]:
    return list(
        db.session.scalars(
            select(FundingSource)
            .options(
                selectinload(FundingSource.countries),
                selectinload(FundingSource.regions),
                selectinload(FundingSource.categories),
                selectinload(FundingSource.areas),
                selectinload(FundingSource.instrument_rows),
                selectinload(FundingSource.managing_org),
            )
            .order_by(FundingSource.id)
        )
    )


def source_sort_key(match: SourceMatch):
    """Score high to low, then USD committed in the country high to low, then name, then id."""
    return (
        -match.score,
        -match.committed_in_country,
        match.source.name.casefold(),
        match.source.id,
    )


def find_funding(need: Need) -> FinderResult:
    """Assess every funding source against the need; rank the eligible ones, list the rest apart."""
    ref = _Reference(need.day)
    amount_usd = None
    if need.amount is not None and need.currency:
        try:
            amount_usd = money.convert(need.amount, need.currency, "USD", need.day).amount
        except ConversionError:
            amount_usd = None
    iso3 = need.countries[0]
    tables = _evidence_tables(iso3, need.areas, need.day)
    candidates = _similar_candidates(iso3, need.areas, need.day)
    matches, failing = [], []
    for source in _sources():
        criteria = assess(source, need, ref)
        evidence = tables.for_source(source, ref)
        match = SourceMatch(source, criteria, evidence=evidence)
        match.score = base_score(criteria) + evidence_bonus(evidence)
        match.similar = similar_projects(source, candidates, amount_usd)
        (matches if match.eligible else failing).append(match)
    matches.sort(key=source_sort_key)
    failing.sort(key=source_sort_key)
    return FinderResult(need, amount_usd, matches, failing)


# -- the donor side: pipeline projects for a source ----------------------------------------


@dataclass
class Gap:
    """A project's need minus its commitments, in USD and in the need's currency."""

    need_usd: Decimal | None
    committed_usd: Decimal
    gap_usd: Decimal | None
    need: Decimal | None
    currency: str | None
    committed: Decimal | None
    gap: Decimal | None


def funding_gaps(projects: list[Project]) -> dict[int, Gap]:
    """Remaining funding gap of each project; commitments converted at their own value dates."""
    ids = [p.id for p in projects]
    rows = (
        db.session.execute(
            select(
                Transaction.project_id,
                Transaction.amount_minor,
                Transaction.currency,
                Transaction.value_date,
                Transaction.usd_minor,
            ).where(Transaction.project_id.in_(ids), Transaction.type == TransactionType.COMMITMENT)
        ).all()
        if ids
        else []
    )
    by_project: dict[int, list] = defaultdict(list)
    for row in rows:
        by_project[row[0]].append(row)
    out = {}
    for project in projects:
        commits = by_project.get(project.id, [])
        committed_usd = money.from_minor(sum(r[4] or 0 for r in commits), "USD")  # unconverted flows: none
        need_usd = money.from_minor(project.need_usd_minor, "USD") if project.need_usd_minor is not None else None
        need = cur = committed = gap = None
        if project.need_minor is not None and project.need_currency:
            cur = project.need_currency
            need = money.from_minor(project.need_minor, cur)
            try:
                committed = sum(
                    (money.convert(money.from_minor(r[1], r[2]), r[2], cur, r[3]).amount for r in commits),
                    Decimal(0),
                )
                committed = money.quantize(committed, cur)
                gap = need - committed
            except ConversionError:
                committed = gap = None
        out[project.id] = Gap(
            need_usd=need_usd,
            committed_usd=committed_usd,
            gap_usd=need_usd - committed_usd if need_usd is not None else None,
            need=need,
            currency=cur,
            committed=committed,
            gap=gap,
        )
    return out


@dataclass
class ProjectMatch:
    """A pipeline project assessed against a funding source."""

    project: Project
    criteria: list[Criterion]
    gap: Gap
    score: int = 0

    @property
    def eligible(self) -> bool:
        return not [c for c in self.criteria if c.hard and c.status == NOT_MET]

    @property
    def failed(self) -> list[Criterion]:
        return [c for c in self.criteria if c.hard and c.status == NOT_MET]


def project_need(project: Project, day: dt.date) -> Need:
    """A pipeline project seen as a need (its recipients, areas, instrument sought)."""
    return Need(
        countries=[r.country_iso3 for r in project.recipients if r.country_iso3],
        regions=[r.region_code for r in project.recipients if r.region_code],
        areas=[a.area_code for a in project.areas],
        instrument=project.instrument_sought.value if project.instrument_sought else None,
        day=day,
    )


def project_sort_key(match: ProjectMatch):
    """Score high to low, then the larger remaining USD gap first, then title, then id."""
    gap = match.gap.gap_usd if match.gap.gap_usd is not None else Decimal("-Infinity")
    return (-match.score, -gap, match.project.title.casefold(), match.project.id)


def pipeline_projects(filters: dict | None = None) -> list[Project]:
    """Open pipeline projects, optionally by country, priority area, instrument sought."""
    filters = filters or {}
    stmt = (
        select(Project)
        .where(Project.status == ProjectStatus.PIPELINE)
        .options(selectinload(Project.recipients), selectinload(Project.areas), selectinload(Project.org))
        .order_by(Project.created_at.desc(), Project.id.desc())
    )
    if filters.get("country"):
        iso3 = filters["country"].upper()
        stmt = stmt.where(
            or_(
                Project.id.in_(select(ProjectRecipient.project_id).where(ProjectRecipient.country_iso3 == iso3)),
                Project.id.in_(select(Transaction.project_id).where(Transaction.recipient_country_iso3 == iso3)),
            )
        )
    if filters.get("priority_area"):
        stmt = stmt.where(
            Project.id.in_(select(ProjectArea.project_id).where(ProjectArea.area_code == filters["priority_area"]))
        )
    if filters.get("instrument"):
        stmt = stmt.where(Project.instrument_sought == Instrument(filters["instrument"]))
    if filters.get("q"):
        stmt = stmt.where(Project.title.ilike(f"%{filters['q']}%"))
    return list(db.session.scalars(stmt))


def matching_projects(
    source: FundingSource, day: dt.date | None = None, include_failing: bool = False
) -> list[ProjectMatch]:
    """Pipeline projects ranked by fit to the source; only eligible ones unless asked."""
    day = day or dt.date.today()
    ref = _Reference(day)
    projects = pipeline_projects()
    gaps = funding_gaps(projects)
    # A track record in the project's country earns the same bonus as on the finder side.
    since = _years_before(day, EVIDENCE_YEARS)
    # The country a commitment went to: the one it names itself, else its project's recipients.
    known = set(
        db.session.scalars(
            select(func.coalesce(Transaction.recipient_country_iso3, ProjectRecipient.country_iso3))
            .select_from(Transaction)
            .outerjoin(
                ProjectRecipient,
                and_(
                    ProjectRecipient.project_id == Transaction.project_id,
                    Transaction.recipient_country_iso3.is_(None),
                    Transaction.recipient_region_code.is_(None),
                ),
            )
            .join(Project, Project.id == Transaction.project_id)
            .outerjoin(FundingSource, FundingSource.id == Transaction.funding_source_id)
            .where(
                Transaction.type == TransactionType.COMMITMENT,
                Transaction.value_date >= since,
                Transaction.value_date <= day,
                func.coalesce(Transaction.recipient_country_iso3, ProjectRecipient.country_iso3).is_not(None),
                or_(
                    Transaction.funding_source_id == source.id,
                    _provider_key() == source.managing_org_id,
                    FundingSource.managing_org_id == source.managing_org_id,
                ),
            )
            .distinct()
        )
    )
    out = []
    for project in projects:
        need = project_need(project, day)
        gap = gaps[project.id]
        ask = gap.gap if gap.gap is not None and gap.gap > 0 else None
        criteria = [
            _eligibility(source, need, ref),
            _area(source, need),
            _instrument(source, need),
            _amount(source, ask, gap.currency if ask is not None else None, day),
            _window(source, day),
        ]
        if ask is None and gap.need is not None:
            criteria[3] = Criterion("amount", UNKNOWN, "Nothing left to fund: commitments cover the need")
        match = ProjectMatch(project, criteria, gap)
        match.score = base_score(criteria) + (BONUS_COUNTRY if set(need.countries) & known else 0)
        if match.eligible or include_failing:
            out.append(match)
    out.sort(key=project_sort_key)
    return out


def get_source(source_id: int) -> FundingSource:
    """The funding source with this id, or NotFoundError."""
    source = db.session.get(FundingSource, source_id)
    if source is None:
        raise NotFoundError(f"No funding source with id {source_id}")
    return source


__all__ = [
    "HARD",
    "MET",
    "NOT_MET",
    "UNKNOWN",
    "WEIGHTS",
    "Criterion",
    "FinderResult",
    "Need",
    "assess",
    "build_need",
    "find_funding",
    "funding_gaps",
    "matching_projects",
    "pipeline_projects",
]
