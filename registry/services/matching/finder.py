"""The finder: every funding source assessed against one need, ranked, the misfits listed apart.

A source that fails a hard criterion is not hidden: it goes to ``FinderResult.failing``
with its reasons. The ranking rule and its tie-breaking are in docs/funding-finder.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry import money
from registry.errors import ConversionError
from registry.extensions import db
from registry.models import FundingSource
from registry.services.lookup import load
from registry.services.matching.criteria import Assessed, Criterion, ReferenceCache, assess, base_score
from registry.services.matching.evidence import Evidence, evidence_bonus, evidence_tables
from registry.services.matching.need import Need
from registry.services.matching.similar import Similar, similar_candidates, similar_projects


@dataclass
class SourceMatch(Assessed):
    """A funding source assessed against a need."""

    source: FundingSource
    criteria: list[Criterion]
    score: int = 0
    evidence: Evidence | None = None
    similar: list[Similar] = field(default_factory=list)

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


def get_source(source_id: int) -> FundingSource:
    """The funding source with this id, or NotFoundError."""
    return load(FundingSource, source_id, "funding source")


def _sources() -> list[FundingSource]:
    """Every funding source with the rules the criteria read, loaded in a few queries."""
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


def source_sort_key(match: SourceMatch) -> tuple[int, Decimal, str, int]:
    """Score high to low, then USD committed in the country high to low, then name, then id."""
    return (
        -match.score,
        -match.committed_in_country,
        match.source.name.casefold(),
        match.source.id,
    )


def _amount_usd(need: Need) -> Decimal | None:
    """The amount asked for in USD at the ECB rate of the need's date (None without a rate)."""
    if need.amount is None or not need.currency:
        return None
    try:
        return money.convert(need.amount, need.currency, "USD", need.day).amount
    except ConversionError:
        return None


def find_funding(need: Need) -> FinderResult:
    """Assess every funding source against the need; rank the eligible ones, list the rest apart."""
    ref = ReferenceCache(need.day)
    amount_usd = _amount_usd(need)
    tables = evidence_tables(need.countries, need.areas, need.day, need.regions)
    candidates = similar_candidates(need.countries, need.areas, need.day, need.regions)
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
