"""The criteria a funding source is judged on, their weights, and the reason given for each.

Every criterion is met, not met or unknown, always with a reason a person can check, worded
as whole sentences in the reader's language when the finder runs for a request (the page, the
API) and in English elsewhere (the command line, the queue's worker).
Eligibility, the application window and the instrument are *hard*: a source failing one
cannot fund the need as asked. The weights and reasons are documented in
docs/funding-finder.md; keep the two in step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from flask_babel import gettext, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from registry import i18n, money
from registry.errors import ConversionError
from registry.extensions import db
from registry.models import Country, FundingSource, Region
from registry.models.types import N_, label
from registry.reference_names import country_name, region_name
from registry.services import reference
from registry.services.matching.need import Need
from registry.services.matching.wording import all_of, clauses, one_of

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"

# Points a met criterion adds to the score; unknown and not met add nothing.
WEIGHTS = {"eligibility": 30, "area": 30, "instrument": 20, "amount": 20, "window": 10}
HARD = ("eligibility", "window", "instrument")
# The criteria's names in English, translated where they are shown (Criterion.label).
LABELS = {
    "eligibility": N_("Eligibility"),
    "area": N_("Priority area"),
    "instrument": N_("Instrument"),
    "amount": N_("Amount"),
    "window": N_("Application window"),
}


@dataclass
class Criterion:
    """One rule of a funding source checked against a need."""

    key: str
    status: str
    reason: str

    @property
    def label(self) -> str:
        """The criterion's name in the reader's language."""
        return gettext(LABELS[self.key])

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
    """Reference lookups cached for one finder run (regions, categories on the date), and the
    verdicts already reached in the run: a source judged against many projects words the same
    eligibility, area, instrument, window and range only once. One run reads one language."""

    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.regions = {r.code: r for r in db.session.scalars(select(Region))}
        self._descendants: dict[str, set[str]] = {}
        self._categories: dict[str, list[str]] = {}
        self._countries: dict[str, Country | None] = {}
        self._verdicts: dict[tuple, Any] = {}

    def verdict(self, key: tuple, reach):
        """``reach()`` once per key in the run (keys name the source object itself, which the
        cache keeps alive, so no other source can take its place)."""
        if key not in self._verdicts:
            self._verdicts[key] = reach()
        return self._verdicts[key]

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
        """A region's name in the reader's language with its M49 code: Southern Asia (034)."""
        region = self.regions.get(code)
        return f"{region_name(code, region.name)} ({code})" if region else code


def assess(source: FundingSource, need: Need, ref: ReferenceCache | None = None) -> list[Criterion]:
    """Every criterion of the source checked against the need, in a fixed order."""
    ref = ref or ReferenceCache(need.day)
    countries, regions, areas = tuple(need.countries), tuple(need.regions), tuple(need.areas)
    cached = [
        ref.verdict(("eligibility", source, countries, regions), lambda: _eligibility(source, need, ref)),
        ref.verdict(("area", source, areas), lambda: _area(source, need)),
        ref.verdict(("instrument", source, need.instrument), lambda: _instrument(source, need)),
        _amount(source, need.amount, need.currency, need.day, ref),
        ref.verdict(("window", source, need.day), lambda: _window(source, need.day)),
    ]
    # each caller gets criteria of its own (callers may replace or change one)
    return [Criterion(c.key, c.status, c.reason) for c in cached]


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
    name = country_name(country) if country else iso3
    day = i18n.date(ref.day)
    if iso3 in {c.iso3 for c in source.countries}:
        return CountryVerdict(True, _("%(country)s is on the source's list of eligible countries", country=name))
    chain = _region_chain(country) if country else []
    for region in source.regions:
        inside = ref.descendants(region.code)
        hit = next((c for c in chain if c in inside), None)
        if hit == region.code:
            return CountryVerdict(
                True, _("%(country)s is in eligible region %(region)s", country=name, region=ref.region_name(hit))
            )
        if hit:
            return CountryVerdict(
                True,
                _(
                    "%(country)s is in eligible region %(region)s through %(part)s",
                    country=name,
                    region=ref.region_name(region.code),
                    part=ref.region_name(hit),
                ),
            )
    held = ref.categories(iso3)
    wanted = [c.code for c in source.categories]
    shared = [c for c in wanted if c in held]
    if shared:
        return CountryVerdict(
            True,
            _("%(country)s belongs to %(categories)s on %(date)s", country=name, categories=all_of(shared), date=day),
        )
    rules = []
    if source.countries:
        codes = [c.iso3 for c in source.countries]
        if len(codes) <= 6:
            rules.append(
                ngettext(
                    "the source funds country %(countries)s",
                    "the source funds countries %(countries)s",
                    len(codes),
                    countries=all_of(codes),
                )
            )
        else:
            rules.append(
                ngettext(
                    "the source funds %(num)d listed country", "the source funds %(num)d listed countries", len(codes)
                )
            )
    if source.regions:
        rules.append(
            ngettext(
                "the source funds region %(regions)s",
                "the source funds regions %(regions)s",
                len(source.regions),
                regions=all_of(ref.region_name(r.code) for r in source.regions),
            )
        )
    if wanted:
        if held:
            rules.append(
                ngettext(
                    "the source funds category %(categories)s (%(country)s has %(held)s on %(date)s)",
                    "the source funds categories %(categories)s (%(country)s has %(held)s on %(date)s)",
                    len(wanted),
                    categories=all_of(wanted),
                    country=name,
                    held=all_of(held),
                    date=day,
                )
            )
        else:
            rules.append(
                ngettext(
                    "the source funds category %(categories)s (%(country)s has no recipient category on %(date)s)",
                    "the source funds categories %(categories)s (%(country)s has no recipient category on %(date)s)",
                    len(wanted),
                    categories=all_of(wanted),
                    country=name,
                    date=day,
                )
            )
    return CountryVerdict(False, _("%(country)s is not eligible: %(rules)s", country=name, rules=clauses(rules)))


def _eligibility(source: FundingSource, need: Need, ref: ReferenceCache) -> Criterion:
    if not (source.countries or source.regions or source.categories):
        return Criterion("eligibility", MET, _("Open to every recipient country and region"))
    if not need.countries and not need.regions:
        return Criterion("eligibility", UNKNOWN, _("The need names no recipient country or region"))
    verdicts = [_country_eligibility(source, iso3, ref) for iso3 in need.countries]
    lead = _qualifying(need.countries, verdicts, ref)
    for code in need.regions:
        listed = [r.code for r in source.regions if code in ref.descendants(r.code)]
        verdicts.append(
            CountryVerdict(
                True,
                _(
                    "Region %(region)s is within eligible %(eligible)s",
                    region=ref.region_name(code),
                    eligible=ref.region_name(listed[0]),
                ),
            )
            if listed
            else CountryVerdict(
                False, _("Region %(region)s is not among the source's eligible regions", region=ref.region_name(code))
            )
        )
    # Every recipient has to be eligible: a source cannot pay for the part it may not fund.
    met = all(v.eligible for v in verdicts)
    return Criterion("eligibility", MET if met else NOT_MET, clauses([*lead, *(v.reason for v in verdicts)]))


def _qualifying(countries: list[str], verdicts: list[CountryVerdict], ref: ReferenceCache) -> list[str]:
    """For a project over several countries, which of them qualify, said first (none for one)."""
    if len(countries) < 2:
        return []

    def name(iso3: str) -> str:
        country = ref.country(iso3)
        return country_name(country) if country else iso3

    yes = [name(c) for c, v in zip(countries, verdicts, strict=False) if v.eligible]
    no = [name(c) for c, v in zip(countries, verdicts, strict=False) if not v.eligible]
    if not no:
        return [_("All %(num)d countries of the project qualify: %(countries)s", num=len(yes), countries=all_of(yes))]
    if not yes:
        return [_("None of the project's %(num)d countries qualifies", num=len(no))]
    return [
        ngettext(
            "Only %(num)d of the project's countries qualifies (%(eligible)s, not %(ineligible)s): the source "
            "cannot fund the whole cross-border project",
            "Only %(num)d of the project's countries qualify (%(eligible)s, not %(ineligible)s): the source "
            "cannot fund the whole cross-border project",
            len(yes),
            eligible=all_of(yes),
            ineligible=all_of(no),
        )
    ]


# -- area, instrument, amount, window -----------------------------------------------------


def _area(source: FundingSource, need: Need) -> Criterion:
    funded = [a.code for a in source.areas]
    if not need.areas:
        return Criterion("area", UNKNOWN, _("No priority area was given"))
    if not funded:
        return Criterion("area", MET, _("The source funds every priority area"))
    shared = [a for a in need.areas if a in funded]
    if shared:
        return Criterion("area", MET, _("The source funds %(areas)s", areas=all_of(shared)))
    return Criterion(
        "area",
        NOT_MET,
        _("The source funds %(funded)s, not %(asked)s", funded=all_of(funded), asked=one_of(need.areas)),
    )


def _instrument(source: FundingSource, need: Need) -> Criterion:
    offered = source.instruments
    if not need.instrument:
        return Criterion("instrument", UNKNOWN, _("No instrument was asked for"))
    if not offered:
        return Criterion("instrument", UNKNOWN, _("The source publishes no instruments"))
    asked = label(need.instrument).lower()
    if need.instrument in offered:
        return Criterion("instrument", MET, _("The source offers %(instrument)s", instrument=asked))
    return Criterion(
        "instrument",
        NOT_MET,
        _(
            "The source offers %(offered)s, not %(asked)s",
            offered=all_of(label(i).lower() for i in offered),
            asked=asked,
        ),
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
        low_text = i18n.number(low, money.minor_units(cur))
        return _("%(low)s–%(high)s", low=low_text, high=i18n.money(high, cur))
    if low is not None:
        return _("at least %(amount)s", amount=i18n.money(low, cur))
    return _("at most %(amount)s", amount=i18n.money(high, cur))


# The amount's verdict, by where it falls and whether it was converted to the source's currency.
AMOUNT_REASONS = {
    ("below", False): N_("%(amount)s is below the source's range (%(range)s)"),
    ("above", False): N_("%(amount)s is above the source's range (%(range)s)"),
    ("within", False): N_("%(amount)s is within the source's range (%(range)s)"),
    ("below", True): N_(
        "%(amount)s = %(converted)s at the ECB rate of %(rate_date)s (%(rate)s) is below the source's range (%(range)s)"
    ),
    ("above", True): N_(
        "%(amount)s = %(converted)s at the ECB rate of %(rate_date)s (%(rate)s) is above the source's range (%(range)s)"
    ),
    ("within", True): N_(
        "%(amount)s = %(converted)s at the ECB rate of %(rate_date)s (%(rate)s) "
        "is within the source's range (%(range)s)"
    ),
}


def _amount(
    source: FundingSource, amount: Decimal | None, currency: str | None, day: dt.date, ref: ReferenceCache
) -> Criterion:
    if amount is None or currency is None:
        return ref.verdict(("no amount",), lambda: Criterion("amount", UNKNOWN, _("No amount was given")))
    if source.min_amount_minor is None and source.max_amount_minor is None:
        return ref.verdict(
            ("no range",), lambda: Criterion("amount", UNKNOWN, _("The source publishes no amount range"))
        )
    cur = source.amount_currency

    def convert():
        try:
            return money.convert(amount, currency, cur, day)
        except ConversionError as exc:
            return exc

    conversion = ref.verdict(("convert", str(amount), currency, cur, day), convert)
    if isinstance(conversion, ConversionError):
        return Criterion("amount", UNKNOWN, _("Cannot compare amounts: %(reason)s", reason=conversion.message))
    value = conversion.amount
    low, high = ref.verdict(("bounds", source), lambda: _bounds(source))
    if low is not None and value < low:
        where, status = "below", NOT_MET
    elif high is not None and value > high:
        where, status = "above", NOT_MET
    else:
        where, status = "within", MET
    reason = gettext(
        AMOUNT_REASONS[where, currency != cur],
        amount=ref.verdict(("money", str(amount), currency), lambda: i18n.money(amount, currency)),
        converted=ref.verdict(("money", str(value), cur), lambda: i18n.money(value, cur)),
        rate_date=ref.verdict(("date", conversion.rate_date), lambda: i18n.date(conversion.rate_date)),
        rate=ref.verdict(("number", str(conversion.rate)), lambda: i18n.number(conversion.rate)),
        range=ref.verdict(("range", source), lambda: _range_text(source)),
    )
    return Criterion("amount", status, reason)


def _window(source: FundingSource, day: dt.date) -> Criterion:
    opens, closes = source.window_from, source.window_until
    when = i18n.date(day)
    if opens is None and closes is None:
        return Criterion("window", MET, _("No application window: applications are taken all year"))
    if opens is not None and day < opens:
        return Criterion(
            "window",
            NOT_MET,
            _("Not open yet: the window opens on %(opens)s (judged on %(day)s)", opens=i18n.date(opens), day=when),
        )
    if closes is not None and day > closes:
        return Criterion(
            "window",
            NOT_MET,
            _("Closed: the window closed on %(closes)s (judged on %(day)s)", closes=i18n.date(closes), day=when),
        )
    if closes is None:
        reason = _("Open on %(day)s (window from %(opens)s)", day=when, opens=i18n.date(opens))
    elif opens is None:
        reason = _("Open on %(day)s (window until %(closes)s)", day=when, closes=i18n.date(closes))
    else:
        reason = _(
            "Open on %(day)s (window %(opens)s to %(closes)s)",
            day=when,
            opens=i18n.date(opens),
            closes=i18n.date(closes),
        )
    return Criterion("window", MET, reason)
