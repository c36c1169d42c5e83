"""A source's track record near a need: what it (and its managing organisation) committed in
the country, its region and the priority areas over the last ten years, and the bonus it earns.

Sums are exact: ``usd_minor * share_ppm`` as integers, divided once and rounded half-even
to the cent at the end (docs/funding-finder.md, "Evidence").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select

from registry import money
from registry.extensions import db
from registry.models import Country, FundingSource, Project, ProjectArea, ProjectRecipient, Transaction
from registry.models.project import SHARE_WHOLE
from registry.models.types import TransactionType
from registry.services import reference
from registry.services.matching.criteria import WEIGHTS, ReferenceCache
from registry.services.matching.wording import all_of

# Evidence bonus: the source (or its managing organisation) already commits there.
BONUS_COUNTRY = 10
BONUS_REGION = 5
BONUS_AREA = 5
EVIDENCE_YEARS = 10
MAX_BONUS = max(BONUS_COUNTRY, BONUS_REGION) + BONUS_AREA  # the country's or the region's, and the area's
# The highest score a source can reach: every criterion met and the largest track-record bonus.
MAX_SCORE = sum(WEIGHTS.values()) + MAX_BONUS
SCOPES = ("country", "region", "area")


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
    region_codes: list[str] = field(default_factory=list)  # every region counted (several countries)


def evidence_bonus(evidence: Evidence) -> int:
    """Points for a track record: commitments in the country, else the region; and in the area."""

    def has(scope: str) -> bool:
        return evidence.source[scope].usd > 0 or evidence.org[scope].usd > 0

    bonus = BONUS_COUNTRY if has("country") else (BONUS_REGION if has("region") else 0)
    return bonus + (BONUS_AREA if has("area") else 0)


# -- shared pieces of the commitment queries ------------------------------------------------


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def provider_key() -> ColumnElement[int]:
    """The organisation that provides a commitment: its provider organisation, else (when no
    funding source is named either) the project's own organisation."""
    return func.coalesce(Transaction.provider_org_id, case((Transaction.funding_source_id.is_(None), Project.org_id)))


def org_keys(provider: int | None, source_org: int | None) -> set[int]:
    """A commitment counts for its provider and for the manager of its funding source."""
    return {k for k in (provider, source_org) if k is not None}


def commitments_between(stmt: Select, since: dt.date, until: dt.date) -> Select:
    """``stmt`` over the commitments valued from ``since`` to ``until`` (both inclusive), joined
    to their project and, when they name one, their funding source."""
    return (
        stmt.join(Project, Project.id == Transaction.project_id)
        .outerjoin(FundingSource, FundingSource.id == Transaction.funding_source_id)
        .where(
            Transaction.type == TransactionType.COMMITMENT,
            Transaction.value_date >= since,
            Transaction.value_date <= until,
        )
    )


def recipients_in(members: list[str], inside: set[str]) -> ColumnElement[bool]:
    """A project recipient in the place: one of its countries, or the region or a sub-region."""
    return or_(ProjectRecipient.country_iso3.in_(members), ProjectRecipient.region_code.in_(inside))


def flows_in(members: list[str], inside: set[str]) -> ColumnElement[bool]:
    """A flow that names its own recipient, and that recipient is in the place."""
    return or_(
        and_(Transaction.recipient_country_iso3.is_not(None), Transaction.recipient_country_iso3.in_(members)),
        and_(Transaction.recipient_region_code.is_not(None), Transaction.recipient_region_code.in_(inside)),
    )


def evidence_region(iso3: str) -> str | None:
    """The region used for evidence: the country's M49 sub-region (else its region)."""
    country = db.session.get(Country, iso3)
    if country is None:
        return None
    return country.subregion_code or country.region_code


# -- share-weighted totals --------------------------------------------------------------------


class WeightedRow(NamedTuple):
    """One project's commitments through one source and provider, weighted by the place's share."""

    source_id: int | None
    provider: int | None
    source_org: int | None
    project_id: int
    total: int | None  # sum of usd_minor * share_ppm


class Scope(NamedTuple):
    """Where evidence is counted: the share rows a project is weighted by and which of them count.

    ``flow_condition`` (a place: country or region scope): a flow that names its own
    recipient goes wholly to it (weight SHARE_WHOLE when its recipient is in the place) and
    is not spread over the project's recipient shares."""

    join_model: type[ProjectRecipient] | type[ProjectArea]
    condition: ColumnElement[bool]
    flow_condition: ColumnElement[bool] | None = None


def _weighted_rows(scope: Scope, since: dt.date, until: dt.date) -> list[WeightedRow]:
    """The commitments of every project in the scope, weighted by the project's share for it."""
    join_model, condition, flow_condition = scope
    keys = (
        Transaction.funding_source_id,
        provider_key().label("provider"),
        FundingSource.managing_org_id,
        Transaction.project_id,
    )

    def flows(weight: ColumnElement[int], *where: ColumnElement[bool], extra: tuple = ()) -> Select:
        stmt = select(*keys, func.sum(Transaction.usd_minor * weight).label("total"), *extra)
        return commitments_between(stmt, since, until).where(*where).group_by(*keys)

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
    rows = [
        WeightedRow(*row[: len(keys)], total=_per_whole(row.total, row.whole)) for row in db.session.execute(shared)
    ]
    if flow_condition is None:
        return rows
    own = flows(literal(SHARE_WHOLE), flow_condition)
    return rows + [WeightedRow._make(row) for row in db.session.execute(own)]


def _per_whole(total: int | None, whole: int | None) -> int | None:
    """usd_minor * share_ppm summed over a project whose shares add up to ``whole``, as if they
    added up to 100 % (rounded to a millionth of a cent: the figures are rounded to the cent later)."""
    if total is None or not whole or whole == SHARE_WHOLE:
        return total
    return round(Fraction(int(total) * SHARE_WHOLE, int(whole)))


@dataclass
class Tally:
    """Weighted commitments (sum of usd_minor * share_ppm) and the distinct projects behind them."""

    total: int = 0
    projects: set[int] = field(default_factory=set)

    def figures(self) -> Figures:
        """USD rounded half-even to the cent once, at the end."""
        return Figures(money.quantize(Decimal(self.total) / SHARE_WHOLE / 100, "USD"), len(self.projects))


def _fold(rows: list[WeightedRow], keys: Callable[[WeightedRow], set[int]]) -> dict[int, Tally]:
    """Totals and distinct projects per key; ``keys(row)`` gives the keys a row counts for."""
    out: dict[int, Tally] = {}
    for row in rows:
        for key in keys(row):
            tally = out.setdefault(key, Tally())
            tally.total += int(row.total or 0)
            tally.projects.add(row.project_id)
    return out


@dataclass
class EvidenceTables:
    """Each scope's tallies by funding source and by organisation, for one need."""

    since: dt.date
    until: dt.date
    region_code: str | None
    by_source: dict[str, dict[int, Tally]]
    by_org: dict[str, dict[int, Tally]]
    region_codes: list[str] = field(default_factory=list)

    def for_source(self, source: FundingSource, ref: ReferenceCache) -> Evidence:
        """The figures of one source and of its managing organisation."""

        def figures(table: dict[str, dict[int, Tally]], key: int) -> dict[str, Figures]:
            return {scope: table[scope].get(key, Tally()).figures() for scope in SCOPES}

        return Evidence(
            since=self.since,
            until=self.until,
            region_code=self.region_code,
            region_name=all_of(ref.region_name(c) for c in self.region_codes) if self.region_codes else None,
            source=figures(self.by_source, source.id),
            org=figures(self.by_org, source.managing_org_id),
            region_codes=list(self.region_codes),
        )


def evidence_regions(countries: list[str], regions: list[str] = ()) -> list[str]:
    """The regions used for evidence: each country's M49 sub-region (else region), then the
    regions asked for themselves, without repeats."""
    out: list[str] = []
    for code in [*(evidence_region(iso3) for iso3 in countries), *regions]:
        if code and code not in out:
            out.append(code)
    return out


def place_members(codes: list[str]) -> tuple[list[str], set[str]]:
    """The member countries of the regions ``codes`` and the regions themselves with their parts."""
    members: list[str] = []
    inside: set[str] = set()
    for code in codes:
        inside |= reference.region_and_descendants(code)
        members += [iso3 for iso3 in reference.countries_in_region(code) if iso3 not in members]
    return members, inside


def evidence_tables(
    countries: list[str] | str, areas: list[str], day: dt.date, regions: list[str] = ()
) -> EvidenceTables:
    """Every source's and organisation's commitments in the countries, their regions (and the
    regions asked for) and the areas. A project over several countries: in any of them, each
    commitment weighted by the shares of those countries together."""
    countries = [countries] if isinstance(countries, str) else list(countries)
    since = years_before(day, EVIDENCE_YEARS)
    codes = evidence_regions(countries, list(regions))
    scopes = {
        "country": Scope(
            ProjectRecipient,
            ProjectRecipient.country_iso3.in_(countries or ["-"]),
            Transaction.recipient_country_iso3.in_(countries or ["-"]),
        ),
        "area": Scope(ProjectArea, ProjectArea.area_code.in_(areas or ["-"])),
    }
    if codes:
        members, inside = place_members(codes)
        scopes["region"] = Scope(ProjectRecipient, recipients_in(members, inside), flows_in(members, inside))
    by_source, by_org = {}, {}
    for scope in SCOPES:
        if scope not in scopes:
            by_source[scope], by_org[scope] = {}, {}
            continue
        rows = _weighted_rows(scopes[scope], since, day)
        by_source[scope] = _fold(rows, lambda row: {row.source_id} - {None})
        by_org[scope] = _fold(rows, lambda row: org_keys(row.provider, row.source_org))
    return EvidenceTables(since, day, codes[0] if codes else None, by_source, by_org, codes)


def countries_funded_by(source: FundingSource, day: dt.date) -> set[str]:
    """Countries the source or its organisation committed money to in the ten years up to ``day``.

    The country a commitment went to: the one it names itself, else its project's recipients.
    """
    return countries_funded_by_sources([source], day)[source]


def countries_funded_by_sources(sources: list[FundingSource], day: dt.date) -> dict[FundingSource, set[str]]:
    """``countries_funded_by`` for each of ``sources``, read in one query.

    A commitment counts for a source when it names the source, or when its provider or its own
    source's manager is the source's managing organisation."""
    country = func.coalesce(Transaction.recipient_country_iso3, ProjectRecipient.country_iso3)
    keys = (Transaction.funding_source_id, provider_key(), FundingSource.managing_org_id)
    stmt = commitments_between(
        select(*keys, country).select_from(Transaction), years_before(day, EVIDENCE_YEARS), day
    ).outerjoin(
        ProjectRecipient,
        and_(
            ProjectRecipient.project_id == Transaction.project_id,
            Transaction.recipient_country_iso3.is_(None),
            Transaction.recipient_region_code.is_(None),
        ),
    )
    ids = {s.id for s in sources}
    orgs = {s.managing_org_id for s in sources} - {None}
    stmt = stmt.where(
        country.is_not(None),
        or_(
            Transaction.funding_source_id.in_(ids or [-1]),
            provider_key().in_(orgs or [-1]),
            FundingSource.managing_org_id.in_(orgs or [-1]),
        ),
    ).distinct()
    by_source: dict[int, set[str]] = {}
    by_org: dict[int, set[str]] = {}
    for source_id, provider, source_org, iso3 in db.session.execute(stmt):
        if source_id is not None:
            by_source.setdefault(source_id, set()).add(iso3)
        for org in org_keys(provider, source_org):
            by_org.setdefault(org, set()).add(iso3)
    nothing: set[str] = set()
    return {
        s: by_source.get(s.id, nothing) | (by_org.get(s.managing_org_id, nothing) if s.managing_org_id else nothing)
        for s in sources
    }
