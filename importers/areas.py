"""Paragraph 23 areas inferred from DAC purpose codes and keywords, for the readers.

The rule itself is the registry's (``registry.services.areas``, docs/area-mapping.md), the
same on every path; this module hands it the importers' mapping (``importers/data``,
editable, read again when it changes) and returns the readers' ``AreaRecord`` objects.
"""

from __future__ import annotations

from collections.abc import Iterable

from importers.mapping import Mapping, load_mapping
from importers.records import AreaRecord
from registry.services import areas as rule
from registry.services.areas import Sector, whole_percentages

__all__ = ["Sector", "infer_areas", "whole_percentages"]


def infer_areas(sectors: Iterable[Sector], texts: Iterable[str], mapping: Mapping | None = None) -> list[AreaRecord]:
    """Areas with whole-percent shares inferred from sectors and words, flagged inferred."""
    found = rule.infer_areas(sectors, texts, mapping or load_mapping())
    return [AreaRecord(code=code, share=share, inferred=True) for code, share in found]
