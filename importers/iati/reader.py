"""The IATI reader: one file's activities, each read in stages, as a stream of project records.

The stages of one activity, in order: its identity (an iati-identifier met twice is left
out), its sectors (and the ICT filter), its description and dates (``activity``), its areas
(``sectors``), its flows (``transactions``), its recipients (``recipients``), its need
(``budgets``), its forward plans (``plans``). Mapping rules are in docs/iati-crs.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from importers.iati.activity import read_dates, read_description
from importers.iati.budgets import read_budgets
from importers.iati.context import IatiProjectRecord, ReadingContext
from importers.iati.plans import read_plans
from importers.iati.recipients import read_recipients
from importers.iati.sectors import is_ict, read_action_lines, read_sectors, sectors_to_record
from importers.iati.transactions import FlowDefaults, read_transactions
from importers.iati.xml import XML_LANG, check_version, stream_activities
from importers.mapping import Mapping, load_mapping
from importers.messages import Text
from importers.records import ProjectRecord
from registry.models.types import N_


class FirstSeen(NamedTuple):
    """Where an iati-identifier was first met: its publisher and line."""

    publisher: str
    line: int | None


class IatiReader(ReadingContext):
    """Iterate over the ``ProjectRecord`` objects of one IATI file; problems go to ``problems``.

    ``sector_filter="ict"`` keeps only activities with a DAC sector in the 220 category
    (22010-22040, or the 3-digit category 220), at activity or transaction level.
    """

    def __init__(
        self,
        source: str | Path | BinaryIO,
        *,
        filename: str | None = None,
        sector_filter: str = "all",
        mapping: Mapping | None = None,
    ) -> None:
        if sector_filter not in ("all", "ict"):
            raise ValueError("sector_filter must be 'ict' or 'all'")
        super().__init__(
            filename or (Path(source).name if isinstance(source, str | Path) else "upload.xml"),
            mapping or load_mapping(),
        )
        self.source = source
        self.sector_filter = sector_filter
        self.version: str | None = None
        self.root_lang: str | None = None
        self._identifiers: dict[str, FirstSeen] = {}

    def __iter__(self) -> Iterator[ProjectRecord]:
        if isinstance(self.source, str | Path):
            # Opened here so that the file is closed even when parsing is refused half-way.
            with open(self.source, "rb") as handle:
                yield from self._iterate(handle)
        else:
            yield from self._iterate(self.source)

    def _iterate(self, source: BinaryIO) -> Iterator[ProjectRecord]:
        for act in stream_activities(source, self.filename, self._root):
            self.counts["activities"] += 1
            record = self._activity(act)
            if record is not None:
                self.counts["kept"] += 1
                yield record

    def _root(self, root) -> None:
        version = (root.get("version") or "").strip()
        self.version = version or None
        self.root_lang = root.get(XML_LANG)
        if not version:
            self.warn("no_version", N_("iati-activities has no @version; read as IATI 2.03"), root, "@version")
        check_version(version, self.filename)

    def _activity(self, act) -> IatiProjectRecord | None:
        lang = act.get(XML_LANG) or self.root_lang or "en"
        identifier = " ".join((act.findtext("iati-identifier") or "").split())
        if not identifier:
            self.error("no_identifier", N_("An activity has no iati-identifier; it cannot be imported"), act)
            return None
        if self._seen_twice(act, identifier):
            return None
        sectors = read_sectors(act)
        if self.sector_filter == "ict" and not is_ict(sectors):
            self.counts["filtered_out"] += 1
            return None
        record = read_description(self, act, identifier, lang)
        read_dates(self, act, record)
        sectors_to_record(self, act, sectors, record)
        record.wsis_action_lines = read_action_lines(act)
        currency = (act.get("default-currency") or "").strip().upper() or None
        flows = read_transactions(self, act, record, currency, FlowDefaults.of(act), lang)
        read_recipients(self, act, record, flows.named_recipient, flows.unplaced)
        read_budgets(self, act, record, currency)
        read_plans(self, act, record, currency, lang)
        return record

    def _seen_twice(self, act, identifier: str) -> bool:
        """True (with an error) when the identifier was met before in the file: an
        iati-identifier names one activity, so the later one is left out and said so."""
        reporting = act.find("reporting-org")
        publisher = ((reporting.get("ref") or "").strip() if reporting is not None else "") or "(no reporting-org)"
        first = self._identifiers.get(identifier)
        if first is None:
            self._identifiers[identifier] = FirstSeen(publisher, act.sourceline)
            return False
        if first.publisher == publisher:
            message = Text(
                N_(
                    "iati-identifier %(identifier)s appears twice for publisher %(publisher)s (first at line "
                    "%(line)s): an identifier names one activity, so this one is left out"
                ),
                identifier=identifier,
                publisher=publisher,
                line=str(first.line),
            )
        else:
            message = Text(
                N_(
                    "iati-identifier %(identifier)s is used by two publishers in this file: %(first)s "
                    "(line %(line)s) and %(publisher)s: an identifier names one activity, so this one is "
                    "left out"
                ),
                identifier=identifier,
                first=first.publisher,
                line=str(first.line),
                publisher=publisher,
            )
        # No record comes of the repeat: its error is an item of the file (pipeline.STANDALONE_ERRORS),
        # never the error of the activity whose lines precede it.
        self.error("repeated_activity", message, act, "iati-identifier", identifier)
        return True


def read_iati(source: str | Path | BinaryIO, *, sector_filter: str = "all", filename: str | None = None) -> IatiReader:
    """A reader over one IATI activity file: iterate it for records, then read ``problems``."""
    return IatiReader(source, filename=filename, sector_filter=sector_filter)
