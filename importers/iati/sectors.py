"""An activity's sectors: the DAC codes kept on the project, the ICT filter, and the paragraph 23
areas (stated in our own vocabulary, else inferred from the sectors and the words)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple

from importers.allocate import shares_from_weights
from importers.areas import Sector, infer_areas
from importers.iati.context import IatiProjectRecord, ReadingContext
from importers.iati.values import narrative, parse_decimal
from importers.records import AreaRecord
from registry.models.types import N_

# Our own vocabulary for the paragraph 23 areas, used on export (sector vocabulary 99).
AREA_VOCABULARY = "99"
AREA_VOCABULARY_URI = "https://ict4d-registry.invalid/docs/area-mapping#paragraph-23-areas"
INFERRED_MARK = " [inferred]"
AREA_CODE = re.compile(r"^23[a-l]$")
# The WSIS action lines C1-C11 as an activity ``tag`` of vocabulary 99 (reporting organisation):
# IATI has no vocabulary of its own for them, so the tag names where they are defined.
ACTION_LINE_VOCABULARY = "99"
ACTION_LINE_VOCABULARY_URI = "https://www.itu.int/net/wsis/stocktaking/"
ACTION_LINE_CODE = re.compile(r"^C(?:[1-9]|1[01])$")


def read_action_lines(act) -> list[str]:
    """The WSIS action lines an activity is tagged with: ``tag`` elements of vocabulary 98 or 99
    whose vocabulary URI names WSIS (other publishers' own tags are not ours to read) and whose
    code is C1-C11; in the order of the action lines."""
    found = set()
    for elem in act.findall("tag"):
        vocabulary = (elem.get("vocabulary") or "").strip()
        uri = (elem.get("vocabulary-uri") or "").strip().lower()
        code = (elem.get("code") or "").strip().upper()
        if vocabulary in ("98", "99") and "wsis" in uri and ACTION_LINE_CODE.match(code):
            found.add(code)
    return sorted(found, key=lambda c: int(c[1:]))


class SectorElement(NamedTuple):
    """A sector as read, with the element it was read from (its narrative marks an inferred area)."""

    sector: Sector
    elem: object


def read_sectors(act) -> list[SectorElement]:
    """The activity's sectors; those of its transactions when the activity names none."""
    found = act.findall("sector")
    if not found:  # IATI allows sectors on each transaction instead of the activity
        found = act.findall("transaction/sector")
    result = []
    for elem in found:
        code = (elem.get("code") or "").strip()
        vocabulary = (elem.get("vocabulary") or "1").strip()
        result.append(SectorElement(Sector(code, vocabulary, parse_decimal(elem.get("percentage"))), elem))
    return result


def is_ict(sectors: list[SectorElement]) -> bool:
    """True when a DAC sector is in the 220 category (22010-22040, or the 3-digit category 220)."""
    for sector, _ in sectors:
        if sector.vocabulary == "1" and sector.code.startswith("220") and len(sector.code) == 5:
            return True
        if sector.vocabulary == "2" and sector.code == "220":
            return True
    return False


def sectors_to_record(ctx: ReadingContext, act, sectors: list[SectorElement], record: IatiProjectRecord) -> None:
    """The DAC sectors (with their percentages) and the areas into ``record``."""
    dac = [s for s, _ in sectors if s.vocabulary == "1" and len(s.code) == 5 and s.code.isdigit()]
    # Transaction-level sectors repeat per transaction: merge by code.
    for sector in dac:
        if sector.code not in record.sectors:
            record.sectors.append(sector.code)
            if sector.percentage is not None:
                record.sector_shares[sector.code] = sector.percentage
    stated = []
    for sector, elem in sectors:
        if sector.vocabulary in ("98", "99") and AREA_CODE.match(sector.code.lower()):
            stated.append(
                AreaRecord(
                    sector.code.lower(),
                    sector.percentage,
                    inferred=narrative(elem, "en").endswith(INFERRED_MARK),
                )
            )
    if stated:
        if any(a.share is None for a in stated):
            shares = shares_from_weights([Decimal(1)] * len(stated))
            for area, share in zip(stated, shares, strict=True):
                area.share = share
        record.areas = stated
        return
    texts = [record.title, record.description]
    record.areas = infer_areas([s for s, _ in sectors], texts, ctx.mapping)
    if not record.areas:
        ctx.warn(
            "no_area",
            N_("No paragraph 23 area could be inferred from the sectors or the words: set one by hand"),
            act,
            "sector",
        )
