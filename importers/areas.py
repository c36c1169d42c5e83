"""Inferring paragraph 23 areas, with shares, from DAC purpose codes and keywords.

The rule (documented in docs/area-mapping.md):

1. Sectors: each DAC purpose code (5-digit; or a 3-digit category) with its percentage
   (an equal split when the file gives none) spreads that percentage over the areas the
   mapping file gives for the code. Codes the mapping does not know contribute nothing.
2. Keywords: each rule whose words all occur in the title or description adds its weight
   to its area; the weights are then scaled to 100.
3. When both say something: 70 % sectors, 30 % keywords (sectors say what the money is
   for; words refine). When only one says something, it decides alone.
4. Areas under 5 % are dropped, and the rest rounded to whole percentages that add up to
   exactly 100 (largest remainders). Every inferred area is flagged ``inferred=True``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from importers.mapping import Mapping, load_mapping
from importers.records import AreaRecord

SECTOR_WEIGHT = Decimal("0.7")
KEYWORD_WEIGHT = Decimal("0.3")
MIN_SHARE = Decimal(5)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Sector:
    """A sector as reported: code, vocabulary ("1" DAC 5-digit, "2" DAC 3-digit) and percent."""

    code: str
    vocabulary: str = "1"
    percentage: Decimal | None = None


def _sector_weights(sectors: list[Sector], mapping: Mapping) -> dict[str, Decimal]:
    dac = [s for s in sectors if s.vocabulary in ("1", "2", "")]
    if not dac:
        return {}
    given = [s.percentage for s in dac]
    if all(p is not None for p in given) and sum(given) > 0:
        weights = given
    else:
        weights = [HUNDRED / len(dac)] * len(dac)
    result: dict[str, Decimal] = {}
    for sector, weight in zip(dac, weights, strict=True):
        parts = mapping.purpose_areas.get(sector.code)
        if parts is None and sector.vocabulary == "1":
            # A 5-digit code the file does not list falls back to its 3-digit category.
            if sector.code not in mapping.unmapped_purposes:
                parts = mapping.purpose_areas.get(sector.code[:3])
        for area, share in parts or ():
            result[area] = result.get(area, Decimal(0)) + weight * share / HUNDRED
    return result


def _keyword_weights(text: str, mapping: Mapping) -> dict[str, Decimal]:
    result: dict[str, Decimal] = {}
    for rule in mapping.matching_rules(text):
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


def infer_areas(sectors: Iterable[Sector], texts: Iterable[str], mapping: Mapping | None = None) -> list[AreaRecord]:
    """Areas with whole-percent shares inferred from sectors and words, flagged inferred."""
    mapping = mapping or load_mapping()
    by_sector = _scaled(_sector_weights(list(sectors), mapping))
    by_keyword = _scaled(_keyword_weights(" \n ".join(t for t in texts if t), mapping))
    if by_sector and by_keyword:
        combined = {
            area: by_sector.get(area, Decimal(0)) * SECTOR_WEIGHT + by_keyword.get(area, Decimal(0)) * KEYWORD_WEIGHT
            for area in set(by_sector) | set(by_keyword)
        }
    else:
        combined = by_sector or by_keyword
    kept = {a: w for a, w in _scaled(combined).items() if w >= MIN_SHARE}
    shares = whole_percentages(kept)
    return [AreaRecord(code=a, share=Decimal(s), inferred=True) for a, s in sorted(shares.items())]
