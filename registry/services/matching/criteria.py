"""The criteria a funding source is judged on, their weights, and the reason given for each.

Every criterion is met, not met or unknown, always with a reason a person can check.
Eligibility, the application window and the instrument are *hard*: a source failing one
cannot fund the need as asked. The weights and reasons are documented in
docs/funding-finder.md; keep the two in step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select

from registry import money
from registry.errors import ConversionError
from registry.extensions import db
from registry.models import Country, FundingSource, Region
from registry.models.types import label
from registry.services import reference
from registry.services.matching.need import Need

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"

# Points a met criterion adds to the score; unknown and not met add nothing.
WEIGHTS = {"eligibility": 30, "area": 30, "instrument": 20, "amount": 20, "window": 10}
HARD = ("eligibility", "window", "instrument")
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


class Assessed:
    """What a source matched against a need and a project matched against a source share:
    the criteria judged, and eligibility, lost by failing any hard one."""

    criteria: list[Criterion]

    @property
    def eligible(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> list[Criterion]:
        """The hard criteria that are not met."""
        return [c for c in self.criteria if c.hard and c.status == NOT_MET]


def base_score(criteria: list[Criterion]) -> int:
    """Sum of the weights of the met criteria."""
    return sum(WEIGHTS[c.key] for c in criteria if c.status == MET)


class ReferenceCache:
    """Reference lookups cached for one finder run (regions, categories on the date)."""

    def __init__(self, day: dt.date) -> None:
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


def assess(source: FundingSource, need: Need, ref: ReferenceCache | None = None) -> list[Criterion]:
    """Every criterion of the source checked against the need, in a fixed order."""
    ref = ref or ReferenceCache(need.day)
    return [
        _eligibility(source, need, ref),
        _area(source, need),
        _instrument(source, need),
        _amount(source, need.amount, need.currency, need.day),
        _window(source, need.day),
    ]


# -- eligibility --------------------------------------------------------------------------


class CountryVerdict(NamedTuple):
    """Whether one recipient country is eligible for a source, and why."""

    eligible: bool
    reason: str


def _region_chain(country: Country) -> list[str]:
    """The M49 codes a country sits in, smallest first (intermediate, sub-region, region)."""
    return [c for c in (country.intermediate_code, country.subregion_code, country.region_code) if c]


def _country_eligibility(source: FundingSource, iso3: str, ref: ReferenceCache) -> CountryVerdict:
    """Whether one country is eligible, and why (country list, M49 region, dated category)."""
    country = ref.country(iso3)
    name = country.name if country else iso3
    if iso3 in {c.iso3 for c in source.countries}:
        return CountryVerdict(True, f"{name} is on the source's list of eligible countries")
    chain = _region_chain(country) if country else []
    for region in source.regions:
        inside = ref.descendants(region.code)
        hit = next((c for c in chain if c in inside), None)
        if hit:
            via = "" if hit == region.code else f" through {ref.region_name(hit)}"
            return CountryVerdict(True, f"{name} is in eligible region {ref.region_name(region.code)}{via}")
    held = ref.categories(iso3)
    wanted = [c.code for c in source.categories]
    shared = [c for c in wanted if c in held]
    if shared:
        return CountryVerdict(True, f"{name} belongs to {', '.join(shared)} on {ref.day.isoformat()}")
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
    return CountryVerdict(False, f"{name} is not eligible: the source funds " + "; ".join(parts))


def _eligibility(source: FundingSource, need: Need, ref: ReferenceCache) -> Criterion:
    if not (source.countries or source.regions or source.categories):
        return Criterion("eligibility", MET, "Open to every recipient country and region")
    if not need.countries and not need.regions:
        return Criterion("eligibility", UNKNOWN, "The need names no recipient country or region")
    verdicts = [_country_eligibility(source, iso3, ref) for iso3 in need.countries]
    for code in need.regions:
        listed = [r.code for r in source.regions if code in ref.descendants(r.code)]
        verdicts.append(
            CountryVerdict(True, f"Region {ref.region_name(code)} is within eligible {ref.region_name(listed[0])}")
            if listed
            else CountryVerdict(False, f"Region {ref.region_name(code)} is not among the source's eligible regions")
        )
    # Every recipient has to be eligible: a source cannot pay for the part it may not fund.
    met = all(v.eligible for v in verdicts)
    return Criterion("eligibility", MET if met else NOT_MET, "; ".join(v.reason for v in verdicts))


# -- area, instrument, amount, window -----------------------------------------------------


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


class AmountRange(NamedTuple):
    """A source's minimum and maximum amount in its own currency (None where unpublished)."""

    low: Decimal | None
    high: Decimal | None


def _bounds(source: FundingSource) -> AmountRange:
    cur = source.amount_currency
    return AmountRange(
        money.from_minor(source.min_amount_minor, cur) if source.min_amount_minor is not None else None,
        money.from_minor(source.max_amount_minor, cur) if source.max_amount_minor is not None else None,
    )


def _range_text(source: FundingSource) -> str:
    cur = source.amount_currency
    low, high = _bounds(source)
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
    low, high = _bounds(source)
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
