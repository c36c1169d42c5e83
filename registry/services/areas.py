"""Inferring paragraph 23 areas, with shares, from DAC purpose codes and keywords.

One rule for every path (an IATI or CRS import, a spreadsheet with a purpose-code column, a
project created through the API or the form with sectors but no areas), documented in
docs/area-mapping.md:

1. Sectors: each DAC purpose code (5-digit; or a 3-digit category) with its percentage
   (an equal split when none is given) spreads that percentage over the areas the
   mapping gives for the code. Codes the mapping does not know contribute nothing.
2. Keywords: each rule whose words all occur in the title or description adds its weight
   to its area; the weights are then scaled to 100.
3. When both say something: 70 % sectors, 30 % keywords (sectors say what the money is
   for; words refine). When only one says something, it decides alone.
4. Areas under 5 % are dropped, and the rest rounded to whole percentages that add up to
   exactly 100 (largest remainders). Every inferred area is flagged inferred.

The mapping (which code and which words point at which area) is data the importers keep
and an admin edits (``importers/data``); the registry does not read it itself: the
importers register a provider of it on the app (``RULES_KEY``), and callers may pass one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from flask import current_app, has_app_context

SECTOR_WEIGHT = Decimal("0.7")
KEYWORD_WEIGHT = Decimal("0.3")
MIN_SHARE = Decimal(5)
HUNDRED = Decimal(100)
RULES_KEY = "area_rules"  # app.extensions[RULES_KEY]: a callable returning the current AreaRules


class KeywordMatch(Protocol):
    area: str
    weight: Decimal


class AreaRules(Protocol):
    """What the inference reads: areas by purpose code, codes left unmapped on purpose, keywords."""

    purpose_areas: dict[str, list[tuple[str, Decimal]]]
    unmapped_purposes: set[str]

    def matching_rules(self, text: str) -> Sequence[KeywordMatch]: ...


@dataclass(frozen=True)
class Sector:
    """A sector as reported: code, vocabulary ("1" DAC 5-digit, "2" DAC 3-digit) and percent."""

    code: str
    vocabulary: str = "1"
    percentage: Decimal | None = None


def area_rules() -> AreaRules | None:
    """The mapping the app was given (None outside an app, or when no importer provides one)."""
    if not has_app_context():
        return None
    provider: Callable[[], AreaRules] | None = current_app.extensions.get(RULES_KEY)
    if provider is None:
        return None
    try:
        return provider()
    except ValueError as exc:  # a mapping file an admin broke: no inference, said in the log
        current_app.logger.warning("Paragraph 23 areas are not inferred: %s", exc)
        return None


def _sector_weights(sectors: list[Sector], rules: AreaRules) -> dict[str, Decimal]:
    dac = [s for s in sectors if s.vocabulary in ("1", "2", "")]
    if not dac:
        return {}
    given = [s.percentage for s in dac]
    if all(p is not None for p in given) and sum(given) > 0:  # type: ignore[arg-type]
        weights = given
    else:
        weights = [HUNDRED / len(dac)] * len(dac)
    result: dict[str, Decimal] = {}
    for sector, weight in zip(dac, weights, strict=True):
        parts = rules.purpose_areas.get(sector.code)
        if parts is None and sector.vocabulary == "1":
            # A 5-digit code the file does not list falls back to its 3-digit category.
            if sector.code not in rules.unmapped_purposes:
                parts = rules.purpose_areas.get(sector.code[:3])
        for area, share in parts or ():
            result[area] = result.get(area, Decimal(0)) + weight * share / HUNDRED  # type: ignore[operator]
    return result


def _keyword_weights(text: str, rules: AreaRules) -> dict[str, Decimal]:
    result: dict[str, Decimal] = {}
    for rule in rules.matching_rules(text):
        result[rule.area] = result.get(rule.area, Decimal(0)) + rule.weight
    return result


def _scaled(weights: dict[str, Decimal]) -> dict[str, Decimal]:
    total = sum(weights.values())
    return {a: w * HUNDRED / total for a, w in weights.items()} if total > 0 else {}


def whole_percentages(weights: dict[str, Decimal]) -> dict[str, int]:
    """Weights -> whole percentages adding up to exactly 100 (largest remainder)."""
    scaled = _scaled(weights)
    if not scaled:
        return {}
    floors = {a: int(v) for a, v in scaled.items()}
    left = 100 - sum(floors.values())
    # Ties broken by area code so that the same input always gives the same shares.
    order = sorted(scaled, key=lambda a: (-(scaled[a] - floors[a]), a))
    for area in order[:left]:
        floors[area] += 1
    return {a: v for a, v in floors.items() if v > 0}


def infer_areas(sectors: Iterable[Sector], texts: Iterable[str | None], rules: AreaRules) -> list[tuple[str, Decimal]]:
    """(area code, whole-percent share) inferred from sectors and words, sorted by code."""
    by_sector = _scaled(_sector_weights(list(sectors), rules))
    by_keyword = _scaled(_keyword_weights(" \n ".join(t for t in texts if t), rules))
    if by_sector and by_keyword:
        combined = {
            area: by_sector.get(area, Decimal(0)) * SECTOR_WEIGHT + by_keyword.get(area, Decimal(0)) * KEYWORD_WEIGHT
            for area in set(by_sector) | set(by_keyword)
        }
    else:
        combined = by_sector or by_keyword
    kept = {a: w for a, w in _scaled(combined).items() if w >= MIN_SHARE}
    return [(a, Decimal(s)) for a, s in sorted(whole_percentages(kept).items())]


def areas_from_sectors(
    sector_codes: Iterable[str], title: str | None, description: str | None, rules: AreaRules | None = None
) -> list[tuple[str, Decimal]]:
    """The areas a project with these DAC purpose codes (equal split) and these words gets.

    Nothing without a purpose code: the words only refine what the codes say here (an import
    that reads a whole activity, IATI or CRS, calls ``infer_areas`` with its words alone too)."""
    codes = [c for c in sector_codes if c]
    rules = rules if rules is not None else area_rules()
    if not codes or rules is None:
        return []
    return infer_areas([Sector(c, "1" if len(c) == 5 else "2") for c in codes], [title, description], rules)
