"""IATI activity XML (versions 2.01-2.03) -> ProjectRecord stream, with problems.

The file is streamed with lxml ``iterparse``: each ``iati-activity`` is read, turned into a
record and cleared together with its earlier siblings, so memory stays bounded whatever
the file size. Any DOCTYPE (and with it any entity declaration: XXE, "billion laughs") is
refused before a single record is produced. Mapping rules are in docs/iati-crs.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from importers.allocate import shares_from_weights
from importers.areas import Sector, infer_areas
from importers.mapping import Mapping, iso2_to_iso3, known_region, load_mapping
from importers.records import (
    AreaRecord,
    Location,
    Problem,
    ProjectRecord,
    RecipientRecord,
    TransactionRecord,
)
from registry import money
from registry.errors import ConversionError, MoneyError
from registry.models.types import TransactionType
from registry.services import rules
from registry.services.projects import to_usd

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SUPPORTED_VERSIONS = ("2.01", "2.02", "2.03")
# Our own vocabulary for the paragraph 23 areas, used on export (sector vocabulary 99).
AREA_VOCABULARY = "99"
AREA_VOCABULARY_URI = "https://ict4d-registry.invalid/docs/area-mapping#paragraph-23-areas"
INFERRED_MARK = " [inferred]"
AREA_CODE = re.compile(r"^23[a-l]$")

# IATI ActivityStatus -> registry status. 3 "Finalisation" means the physical activity is
# complete (only the accounts remain open), so it counts as completed.
STATUS = {
    "1": "pipeline",
    "2": "active",
    "3": "completed",
    "4": "completed",
    "5": "cancelled",
    "6": "suspended",
}
DATE_FIELDS = {"1": "planned_start", "2": "actual_start", "3": "planned_end", "4": "actual_end"}
# A flow without a readable date of its own is dated on the activity's, in this order.
FALLBACK_DATES = ("actual_start", "planned_start", "actual_end", "planned_end")
# A date outside these years parses but is no real value date (a typo such as 1010-12-09).
PLAUSIBLE_YEARS = (1900, dt.date.today().year + 50)
TITLE_MAX, DESCRIPTION_MAX, TX_DESCRIPTION_MAX = 500, 20_000, 1000


def _relative_shares(weights: list[Decimal]) -> list[Decimal] | None:
    """Percentages that do not add up to 100, kept as they are (to the 4 decimals a share
    holds) when that keeps every recipient's proportion exactly: the registry divides a
    project's shares by their sum, so 100 + 20 stays five sixths and one sixth to the cent,
    where shares scaled to 100 (83.3333 + 16.6667) would not. None when the weights add up to
    100, or when 4 decimals cannot keep their proportions (then they are scaled to 100)."""
    total = sum(weights)
    if total == 100 or total <= 0 or any(w <= 0 or w > 100 for w in weights):
        return None
    if len(set(weights)) == 1:  # equal shares (none given, or all alike): equal to the last decimal
        share = (Decimal(100) / len(weights)).quantize(Decimal("0.0001"))
        return [share] * len(weights) if share > 0 else None
    kept = [w.quantize(Decimal("0.0001")) for w in weights]
    if any(k <= 0 for k in kept):
        return None
    kept_total = sum(kept)
    if any(k * total != w * kept_total for k, w in zip(kept, weights, strict=True)):
        return None
    return kept


class UnsafeXMLError(ValueError):
    """The file declares a DOCTYPE or entities; it is refused unread."""


class IatiFileError(ValueError):
    """The file is not IATI activity XML that can be read (broken XML, wrong version)."""


@dataclass
class IatiProjectRecord(ProjectRecord):
    """A project read from IATI, with what the registry keeps only in the report."""

    participating_orgs: list[dict] = field(default_factory=list)
    sector_shares: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class _Entry:
    """One recipient as the file gives it. Neither country nor region: unallocated, ``why``."""

    country: str | None
    region: str | None
    percentage: Decimal | None
    label: str
    why: str = ""


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _decimal(value: str | None) -> Decimal | None:
    if value is None or not value.strip():
        return None
    try:
        number = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


class IatiReader:
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
        self.source = source
        self.filename = filename or (Path(source).name if isinstance(source, str | Path) else "upload.xml")
        self.sector_filter = sector_filter
        self.mapping = mapping or load_mapping()
        self.problems: list[Problem] = []
        self.counts = {
            "activities": 0,
            "kept": 0,
            "filtered_out": 0,
            "transactions": 0,
            "transactions_skipped": 0,
        }
        self.version: str | None = None
        self.root_lang: str | None = None
        self._identifiers: dict[str, tuple[str, int | None]] = {}  # -> (publisher, line)

    # -- problems ------------------------------------------------------------

    def _problem(
        self,
        severity: str,
        code: str,
        message: str,
        elem=None,
        column: str | None = None,
        value=None,
    ):
        line = elem.sourceline if elem is not None else None
        self.problems.append(
            Problem(
                severity=severity,
                code=code,
                message=message,
                location=Location(file=self.filename, row=line, column=column),
                value=None if value is None else str(value),
            )
        )

    def warn(self, code: str, message: str, elem=None, column: str | None = None, value=None) -> None:
        self._problem("warning", code, message, elem, column, value)

    def error(self, code: str, message: str, elem=None, column: str | None = None, value=None) -> None:
        self._problem("error", code, message, elem, column, value)

    # -- streaming -----------------------------------------------------------

    def __iter__(self) -> Iterator[ProjectRecord]:
        if isinstance(self.source, str | Path):
            # Opened here so that the file is closed even when parsing is refused half-way.
            with open(self.source, "rb") as handle:
                yield from self._iterate(handle)
        else:
            yield from self._iterate(self.source)

    def _iterate(self, source: BinaryIO) -> Iterator[ProjectRecord]:
        # Whether the file declares a DOCTYPE or entities, to tell such a refusal from a file that
        # is simply not XML (an error page or a JSON body saved as .xml) when parsing fails early.
        declares = True
        if source.seekable():
            head = source.read(65536).lower()
            source.seek(0)
            declares = b"<!doctype" in head or b"<!entity" in head
        context = etree.iterparse(
            source,
            events=("start", "end"),
            tag=("iati-activities", "iati-activity"),
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            load_dtd=False,
            dtd_validation=False,
            remove_comments=True,
            remove_pis=True,
        )
        checked = False
        try:
            for event, elem in context:
                if not checked:
                    self._refuse_doctype(elem)
                    checked = True
                if event == "start":
                    if elem.tag == "iati-activities":
                        self._check_version(elem)
                    continue
                if elem.tag != "iati-activity":
                    continue
                self.counts["activities"] += 1
                record = self._activity(elem)
                # Free the activity and everything before it: bounded memory.
                elem.clear(keep_tail=False)
                parent = elem.getparent()
                if parent is not None:
                    while elem.getprevious() is not None:
                        del parent[0]
                if record is not None:
                    self.counts["kept"] += 1
                    yield record
        except etree.XMLSyntaxError as exc:
            if (not checked and declares) or "entit" in str(exc).lower() and "DOCTYPE" in str(exc):
                raise UnsafeXMLError(
                    f"{self.filename}: refused: the file declares a DOCTYPE or entities, "
                    "which IATI "
                    "files never need (protection against XXE and entity expansion)"
                ) from None
            raise IatiFileError(f"{self.filename}: not well-formed XML: {exc}") from None
        if not checked:
            raise IatiFileError(f"{self.filename}: no iati-activities element: not IATI activity XML")

    def _refuse_doctype(self, elem) -> None:
        info = elem.getroottree().docinfo
        if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
            raise UnsafeXMLError(
                f"{self.filename}: refused: the file declares a DOCTYPE"
                f" ({info.doctype or 'internal subset'}); IATI files never need one, and DOCTYPEs"
                " carry entity attacks (XXE, billion laughs). Nothing was imported."
            )
        if elem.tag != "iati-activities":
            raise IatiFileError(f"{self.filename}: the root element is <{elem.tag}>, not <iati-activities>")

    def _check_version(self, root) -> None:
        version = (root.get("version") or "").strip()
        self.version = version or None
        self.root_lang = root.get(XML_LANG)
        if not version:
            self.warn("no_version", "iati-activities has no @version; read as IATI 2.03", root, "@version")
        elif version not in SUPPORTED_VERSIONS:
            raise IatiFileError(f"{self.filename}: IATI version {version} is not supported (versions 2.01 to 2.03 are)")

    # -- one activity --------------------------------------------------------

    def _lang(self, narrative, default: str) -> str:
        return (narrative.get(XML_LANG) or default or "").lower()

    def _narrative(self, parent, default_lang: str) -> str:
        """The English narrative of ``parent``, else the first one; whitespace tidied."""
        if parent is None:
            return ""
        narratives = parent.findall("narrative")
        if not narratives:
            return " ".join((parent.text or "").split())  # IATI 1.x style text, tolerated
        chosen = next((n for n in narratives if self._lang(n, default_lang).startswith("en")), narratives[0])
        return " ".join("".join(chosen.itertext()).split())

    def _activity(self, act) -> IatiProjectRecord | None:
        lang = act.get(XML_LANG) or self.root_lang or "en"
        identifier = " ".join((act.findtext("iati-identifier") or "").split())
        if not identifier:
            self.error("no_identifier", "An activity has no iati-identifier; it cannot be imported", act)
            return None
        if self._seen_twice(act, identifier):
            return None
        sectors = self._sectors(act)
        if self.sector_filter == "ict" and not self._is_ict(sectors, act):
            self.counts["filtered_out"] += 1
            return None

        reporting = act.find("reporting-org")
        title = self._narrative(act.find("title"), lang)
        if not title:
            self.warn("no_title", "No title: the identifier is used as title", act, "title", identifier)
            title = identifier
        if len(title) > TITLE_MAX:
            self.warn("title_truncated", f"Title longer than {TITLE_MAX} characters was cut", act, "title")
            title = title[: TITLE_MAX - 1] + "…"
        descriptions = act.findall("description")
        general = [d for d in descriptions if (d.get("type") or "1") == "1"] or descriptions
        description = self._narrative(general[0], lang) if general else ""
        # The iati-identifier identifies the activity and is the project reference; the other
        # identifiers (the publisher's own A1, a previous one, ...) are aliases only: several
        # activities may share one, which never merges them.
        aliases = []
        for other in act.findall("other-identifier"):
            ref = " ".join((other.get("ref") or "").split())
            if ref:
                # "TYPE:ref", as the export writes them back (a ref alone when the type is missing).
                kind = (other.get("type") or "").strip().upper()
                alias = f"{kind}:{ref}" if kind else ref
                if alias not in aliases:
                    aliases.append(alias)
        record = IatiProjectRecord(
            reference=identifier[:120],
            title=title,
            org=(reporting.get("ref") or None) if reporting is not None else None,
            org_name=self._narrative(reporting, lang) or None if reporting is not None else None,
            iati_identifier=identifier,
            description=description[:DESCRIPTION_MAX],
            location=Location(file=self.filename, row=act.sourceline, column="iati-activity"),
            other_identifiers=aliases,
        )
        if len(identifier) > 120:
            self.warn("reference_truncated", "Identifier longer than 120 characters: reference cut", act)
        for org in act.findall("participating-org"):
            record.participating_orgs.append(
                {"role": org.get("role"), "ref": org.get("ref"), "name": self._narrative(org, lang)}
            )
        status = act.find("activity-status")
        code = status.get("code") if status is not None else None
        record.status = STATUS.get(code or "")
        if record.status is None:
            self.warn(
                "status",
                "No known activity-status: imported as active",
                act if status is None else status,
                "activity-status",
                code,
            )
            record.status = "active"
        self._dates(act, record)
        self._sectors_to_record(act, sectors, record)
        currency = (act.get("default-currency") or "").strip().upper() or None
        defaults = {
            "flow_type": self._code(act, "default-flow-type"),
            "finance_type": self._code(act, "default-finance-type"),
            "aid_type": self._aid_type(act, "default-aid-type"),
        }
        on_transactions, unplaced = self._transactions(act, record, currency, defaults, lang)
        self._recipients(act, record, on_transactions, unplaced)
        self._budgets(act, record, currency)
        return record

    def _seen_twice(self, act, identifier: str) -> bool:
        """True (with an error) when the identifier was met before in the file: an
        iati-identifier names one activity, so the later one is left out and said so."""
        reporting = act.find("reporting-org")
        publisher = ((reporting.get("ref") or "").strip() if reporting is not None else "") or "(no reporting-org)"
        first = self._identifiers.get(identifier)
        if first is None:
            self._identifiers[identifier] = (publisher, act.sourceline)
            return False
        first_publisher, first_line = first
        if first_publisher == publisher:
            message = (
                f"iati-identifier {identifier} appears twice for publisher {publisher} (first at line "
                f"{first_line}): an identifier names one activity, so this one is left out"
            )
        else:
            message = (
                f"iati-identifier {identifier} is used by two publishers in this file: {first_publisher} "
                f"(line {first_line}) and {publisher}: an identifier names one activity, so this one is "
                "left out"
            )
        # No record comes of the repeat: its error is an item of the file (pipeline.STANDALONE_ERRORS),
        # never the error of the activity whose lines precede it.
        self.error("repeated_activity", message, act, "iati-identifier", identifier)
        return True

    def _code(self, act, tag: str) -> str | None:
        elem = act.find(tag)
        return (elem.get("code") or "").strip() or None if elem is not None else None

    def _aid_type(self, parent, tag: str) -> str | None:
        for elem in parent.findall(tag):
            if (elem.get("vocabulary") or "1") == "1" and elem.get("code"):
                return elem.get("code").strip()
        return None

    def _dates(self, act, record: IatiProjectRecord) -> None:
        for elem in act.findall("activity-date"):
            name = DATE_FIELDS.get((elem.get("type") or "").strip())
            if name is None:
                continue
            day = _date(elem.get("iso-date"))
            if day is None:
                self.warn(
                    "bad_date",
                    "Not an ISO date: ignored",
                    elem,
                    "activity-date/@iso-date",
                    elem.get("iso-date"),
                )
                continue
            setattr(record, name, day)
        for start, end in (("planned_start", "planned_end"), ("actual_start", "actual_end")):
            a, b = getattr(record, start), getattr(record, end)
            if a and b and a > b:
                self.warn(
                    "dates_reversed",
                    f"{end.replace('_', ' ')} {b} is before {start.replace('_', ' ')} {a}: the end date was left out",
                    act,
                    "activity-date",
                )
                setattr(record, end, None)

    # -- sectors and areas ---------------------------------------------------

    def _sectors(self, act) -> list[tuple[Sector, object]]:
        found = [(s, "activity") for s in act.findall("sector")]
        if not found:  # IATI allows sectors on each transaction instead of the activity
            found = [(s, "transaction") for s in act.findall("transaction/sector")]
        result = []
        for elem, _level in found:
            code = (elem.get("code") or "").strip()
            vocabulary = (elem.get("vocabulary") or "1").strip()
            result.append((Sector(code, vocabulary, _decimal(elem.get("percentage"))), elem))
        return result

    def _is_ict(self, sectors: list[tuple[Sector, object]], act) -> bool:
        for sector, _ in sectors:
            if sector.vocabulary == "1" and sector.code.startswith("220") and len(sector.code) == 5:
                return True
            if sector.vocabulary == "2" and sector.code == "220":
                return True
        return False

    def _sectors_to_record(self, act, sectors: list[tuple[Sector, object]], record: IatiProjectRecord) -> None:
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
                narrative = self._narrative(elem, "en")
                stated.append(
                    AreaRecord(
                        sector.code.lower(),
                        sector.percentage,
                        inferred=narrative.endswith(INFERRED_MARK),
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
        record.areas = infer_areas([s for s, _ in sectors], texts, self.mapping)
        if not record.areas:
            self.warn(
                "no_area",
                "No paragraph 23 area could be inferred from the sectors or the words: set one by hand",
                act,
                "sector",
            )

    # -- recipients ----------------------------------------------------------

    def _recipient(self, elem, kind: str, path: str) -> _Entry:
        """A recipient-country or recipient-region element as an entry. An empty or unknown
        code gives an unallocated entry (neither country nor region) that says why."""
        code = (elem.get("code") or "").strip()
        raw = elem.get("percentage")
        percentage = _decimal(raw)
        if raw is not None and raw.strip() and (percentage is None or percentage < 0):
            self.warn(
                "bad_percentage",
                f"Percentage {raw.strip()!r} of recipient {code or '(empty)'} is not a number from 0 to 100: "
                "read as not given",
                elem,
                f"{path}/@percentage",
                raw,
            )
            percentage = None
        if kind == "recipient-country":
            code = code.upper()
            if not code:
                return _Entry(None, None, percentage, "(empty)", "recipient-country has no code")
            iso3 = iso2_to_iso3(code)
            if iso3 is None:
                why = f"recipient-country {code} is not a country the registry knows"
                return _Entry(None, None, percentage, code, why)
            return _Entry(iso3, None, percentage, code)
        vocabulary = (elem.get("vocabulary") or "1").strip()
        if not code:
            return _Entry(None, None, percentage, "(empty)", "recipient-region has no code")
        if vocabulary == "1":
            mapped = self.mapping.recipients.get(code)
            if mapped and mapped.iso3:
                return _Entry(mapped.iso3, None, percentage, code)
            if mapped and mapped.region:
                return _Entry(None, mapped.region, percentage, code)
            why = (
                f'DAC region {code} "{mapped.name}" has no UN M49 equivalent'
                if mapped
                else f"recipient-region {code} is not a DAC region code"
            )
            return _Entry(None, None, percentage, code, why)
        if vocabulary == "2" and known_region(code.zfill(3)):
            return _Entry(None, code.zfill(3), percentage, code)
        return _Entry(
            None,
            None,
            percentage,
            code,
            f"recipient-region {code} (vocabulary {vocabulary}) is not a UN M49 region the registry knows",
        )

    def _recipients(self, act, record: IatiProjectRecord, on_transactions: bool, unplaced: list[tuple]) -> None:
        """The project's recipient shares. ``unplaced``: the flows whose own recipient (given on the
        transaction) the registry cannot place, with that entry and its element."""
        elems, seen = [], {}
        for elem in act:
            if elem.tag not in ("recipient-country", "recipient-region"):
                continue
            key = (elem.tag, *(" ".join((elem.get(a) or "").split()) for a in ("code", "vocabulary", "percentage")))
            if key in seen:
                seen[key] += 1
                continue
            seen[key] = 1
            elems.append(elem)
        for (tag, code, _vocabulary, percentage), times in seen.items():
            if times > 1:
                self.warn(
                    "repeated_recipient",
                    f"{tag} {code or '(empty)'}{f' with {percentage} %' if percentage else ''} is listed {times} "
                    "times: read once (a repetition, not more shares)",
                    act,
                    f"{tag}/@code",
                    code,
                )
        entries = [(self._recipient(e, e.tag, e.tag), e) for e in elems]
        own = [t for t in record.transactions if t.recipient_country or t.recipient_region]
        loose = [t for t in record.transactions if not (t.recipient_country or t.recipient_region)]
        if entries:
            self._activity_shares(act, record, entries, loose)
            if on_transactions:
                self.warn(
                    "recipients_on_both",
                    "Recipients are given both on the activity and on transactions (IATI asks for one or "
                    f"the other): the {len(own)} flows with their own recipient keep it; the activity's "
                    "shares apply to the other flows",
                    act,
                    "transaction/recipient-country",
                )
            for tx_record, entry, elem in unplaced:
                self.warn(
                    "unknown_recipient",
                    f"{entry.why}: this flow ({_money_text([tx_record])}) follows the activity's recipient shares",
                    elem,
                    tx_record.location.column,
                    entry.label,
                )
            return
        if not on_transactions:
            return
        for tx_record, entry, elem in unplaced:
            self.warn(
                "unknown_recipient",
                f"{entry.why}: this flow ({_money_text([tx_record])}) stays unallocated",
                elem,
                tx_record.location.column,
                entry.label,
            )
        if loose:
            # Some flows have no recipient the registry can place: their money stays
            # unallocated, so the project's own list is one unallocated share (the flows with
            # their own recipient keep it; the need is not split by guesswork).
            record.recipients = [RecipientRecord(country=None, region=None, share=Decimal(100))]
            self.warn(
                "unallocated",
                f"Recipients are given on transactions, and {len(loose)} of {len(record.transactions)} flows "
                f"have none the registry can place ({_money_text(loose)}): those flows and the need stay "
                "unallocated; each other flow stays with its own recipient",
                act,
                "transaction/recipient-country",
            )
            return
        keys = list(dict.fromkeys((t.recipient_country, t.recipient_region) for t in own))
        weights = self._recipient_weights(own, keys)
        record.recipients = [  # a share too small to store leaves the list, not its flows
            RecipientRecord(country=k[0], region=k[1], share=s)
            for k, s in zip(keys, shares_from_weights(weights), strict=True)
            if s > 0
        ]
        if len(keys) > 1:
            self.warn(
                "shares_from_transactions",
                "Recipients are given on transactions: each flow stays with its own recipient. The project "
                "lists them with shares following each one's commitments (its other flows when it has none) in "
                "USD at each value date, or equal shares when a flow cannot be converted; these shares split "
                "only the need",
                act,
                "transaction/recipient-country",
            )

    def _recipient_weights(self, flows: list[TransactionRecord], keys: list[tuple]) -> list[Decimal]:
        """Each recipient's commitments in USD (its other flows when it has no commitment); all
        equal when a flow cannot be converted."""
        commitments = {
            (t.recipient_country, t.recipient_region) for t in flows if t.type == TransactionType.COMMITMENT.value
        }
        totals = dict.fromkeys(keys, Decimal(0))
        for t in flows:
            key = (t.recipient_country, t.recipient_region)
            if key in commitments and t.type != TransactionType.COMMITMENT.value:
                continue
            try:
                usd = to_usd(t.amount, t.currency, t.value_date).amount
            except (ConversionError, MoneyError):
                return [Decimal(1)] * len(keys)
            totals[key] += abs(usd)
        return [totals[k] for k in keys]

    def _activity_shares(self, act, record: IatiProjectRecord, found: list[tuple], loose: list) -> None:
        """Countries AND regions with their percentages; an empty or unknown code keeps its share
        unallocated. Nobody is scaled up to take someone else's share: percentages that do not
        add up to 100 are all divided by their sum."""
        given = [entry.percentage for entry, _ in found]
        if all(p is None for p in given):
            weights = [Decimal(1)] * len(found)
            if len(found) > 1:
                self.warn(
                    "equal_split",
                    f"No recipient percentages: the {len(found)} recipients get equal shares",
                    act,
                    "recipient-country/@percentage",
                )
        elif any(p is None for p in given):
            rest = Decimal(100) - sum(p for p in given if p is not None)
            missing = sum(1 for p in given if p is None)
            fill = rest / missing if rest > 0 else Decimal(0)
            weights = [p if p is not None else fill for p in given]
            self.warn(
                "partial_percentages",
                f"Some recipients have no percentage: the {missing} without one share the remaining {max(rest, 0)} %",
                act,
                "recipient-country/@percentage",
            )
        else:
            weights = list(given)
            total = sum(weights)
            if total <= 0:
                weights = [Decimal(1)] * len(found)
                self.warn(
                    "equal_split",
                    f"Recipient percentages add up to {total}: the {len(found)} recipients get equal shares",
                    act,
                    "recipient-country/@percentage",
                    total,
                )
            elif abs(total - 100) >= Decimal("0.0001"):  # a difference a stored share (4 decimals) can show
                self.warn(
                    "percentages_rescaled",
                    f"Recipient percentages add up to {total}, not 100: each is divided by {total} "
                    "(every recipient keeps its proportion, the unallocated included)",
                    act,
                    "recipient-country/@percentage",
                    total,
                )
        total = sum(weights)
        for (entry, elem), weight in zip(found, weights, strict=True):
            if entry.why and weight > 0:
                effective = weight * 100 / total
                stated = f"{entry.percentage} %" if entry.percentage is not None else "its share"
                if entry.percentage is None or effective != entry.percentage:
                    stated += f" ({effective.quantize(Decimal('0.0001')).normalize():f} % of the activity)"
                self.warn(
                    "unallocated_recipient",
                    f"{entry.why}: {stated} of the activity's flows ({_money_text(loose, effective)}) "
                    "stays unallocated, not handed to the other recipients",
                    elem,
                    f"{elem.tag}/@code",
                    entry.label,
                )
        # One row per place: several codes may name one M49 region, and every code the
        # registry cannot place is the one unallocated row.
        merged: dict[tuple, Decimal] = {}
        for (entry, _), weight in zip(found, weights, strict=True):
            key = (entry.country, entry.region)
            merged[key] = merged.get(key, Decimal(0)) + weight
        keep = [(k, w) for k, w in merged.items() if w > 0] or [(k, Decimal(1)) for k in merged]
        shares = _relative_shares([w for _, w in keep])
        if shares is None:
            shares = shares_from_weights([w for _, w in keep])
        else:
            # Kept as the file gives them; each recipient's part is its share divided by their sum.
            record.relative.add("recipients")
        record.recipients = [
            RecipientRecord(country=k[0], region=k[1], share=s) for (k, _), s in zip(keep, shares, strict=True) if s > 0
        ]

    # -- money -----------------------------------------------------------------

    def _transactions(self, act, record: IatiProjectRecord, currency: str | None, defaults: dict, lang: str) -> tuple:
        """The activity's flows into ``record.transactions``. Returns whether any transaction names
        a recipient, and the flows whose named recipient cannot be placed (see _recipients)."""
        given, unplaced = False, []
        for index, tx in enumerate(act.findall("transaction"), start=1):
            path = f"transaction[{index}]"
            type_elem = tx.find("transaction-type")
            code = (type_elem.get("code") or "").strip() if type_elem is not None else ""
            kind = TransactionType.from_iati(code)
            value = tx.find("value")
            raw = (value.text or "").strip() if value is not None else ""
            tx_currency = ((value.get("currency") or "").strip().upper() if value is not None else "") or currency
            if kind is None:
                self.counts["transactions_skipped"] += 1
                carried = f"{raw} {tx_currency or '(no currency)'}" if raw else "no value"
                text = (type_elem.text or "").strip() if type_elem is not None else ""
                if code:
                    what = (
                        f"Transaction type {code} is not an IATI 2.03 transaction type (1 to 13, or a 1.x letter code)"
                    )
                elif text:
                    what = f"transaction-type has no @code (its text {text!r} is not where IATI puts the type)"
                else:
                    what = "The transaction has no transaction-type/@code"
                self.warn(
                    "transaction_type",
                    f"{what}: this flow of {carried} is left out",
                    tx,
                    f"{path}/transaction-type/@code",
                    code,
                )
                continue
            amount = _decimal(raw)
            if amount is None:
                self.error(
                    "bad_value",
                    "Transaction value is missing or not a number",
                    tx,
                    f"{path}/value",
                    raw or None,
                )
                continue
            if not tx_currency or not money.is_currency(tx_currency):
                self.error(
                    "currency",
                    f"{rules.unknown_currency(tx_currency)}: neither value/@currency nor the activity's "
                    "default-currency is an ISO 4217 code"
                    if tx_currency
                    else "No valid currency: neither value/@currency nor the activity's default-currency",
                    tx,
                    f"{path}/value/@currency",
                    tx_currency,
                )
                continue
            if abs(amount) >= money.MAX_AMOUNT:
                self.error(
                    "bad_value",
                    f"{raw} is too large: amounts stay below {money.MAX_AMOUNT:,}",
                    tx,
                    f"{path}/value",
                    raw,
                )
                continue
            quantized = money.quantize(amount, tx_currency)
            if quantized != amount:
                self.warn(
                    "rounded",
                    f"{amount} has more decimals than {tx_currency} allows: rounded to {quantized}",
                    tx,
                    f"{path}/value",
                    amount,
                )
                amount = quantized
            day = self._tx_date(tx, value, record, path)
            if day is None:
                continue
            named = [e for e in tx if e.tag in ("recipient-country", "recipient-region")]
            found = [(self._recipient(e, e.tag, f"{path}/{e.tag}"), e) for e in named]
            # IATI allows one recipient per transaction: the first one the registry can place.
            entry, where = next(((e, el) for e, el in found if not e.why), found[0]) if found else (None, None)
            if len(named) > 1:
                self.warn(
                    "several_recipients",
                    f"A transaction has {len(named)} recipients ({', '.join(e.label for e, _ in found)}); IATI "
                    f"allows one: {entry.label} is used",
                    tx,
                    f"{path}/{named[1].tag}",
                )
            provider = tx.find("provider-org")
            flow = TransactionRecord(
                type=kind.value,
                amount=amount,
                currency=tx_currency,
                value_date=day,
                provider_org=(provider.get("ref") or self._narrative(provider, lang) or None)
                if provider is not None
                else None,
                flow_type=self._code(tx, "flow-type") or defaults["flow_type"],
                finance_type=self._code(tx, "finance-type") or defaults["finance_type"],
                aid_type=self._aid_type(tx, "aid-type") or defaults["aid_type"],
                description=self._narrative(tx.find("description"), lang)[:TX_DESCRIPTION_MAX],
                location=Location(file=self.filename, row=tx.sourceline, column=path),
                recipient_country=entry.country if entry else None,
                recipient_region=entry.region if entry else None,
            )
            record.transactions.append(flow)
            self.counts["transactions"] += 1
            if entry is not None:
                given = True
                if entry.why:
                    unplaced.append((flow, entry, where))
        return given, unplaced

    def _tx_date(self, tx, value, record: IatiProjectRecord, path: str) -> dt.date | None:
        """The flow's date: value/@value-date, else transaction-date/@iso-date, else the activity's
        dates. A date that parses but is no plausible value date (1010-12-09) gives way to a
        plausible one, else is kept as written: conversion flags it; the flow is never dropped."""
        date_elem = tx.find("transaction-date")
        written = (
            ("value/@value-date", value.get("value-date") if value is not None else None),
            ("transaction-date/@iso-date", date_elem.get("iso-date") if date_elem is not None else None),
        )
        given = [(where, text.strip()) for where, text in written if text and text.strip()]
        readable = [(where, text, _date(text)) for where, text in given if _date(text) is not None]
        plausible = [r for r in readable if PLAUSIBLE_YEARS[0] <= r[2].year <= PLAUSIBLE_YEARS[1]]
        unreadable = [(where, text) for where, text in given if _date(text) is None]
        for where, text in unreadable:
            self.warn("bad_date", f"{where} {text!r} is not a date: ignored", tx, f"{path}/{where}", text)
        if plausible:
            where, text, day = plausible[0]
            if readable[0] is not plausible[0]:
                first = readable[0]
                self.warn(
                    "implausible_date",
                    f"{first[0]} {first[1]} is not a plausible date: the {where} {text} is used",
                    tx,
                    f"{path}/{first[0]}",
                    first[1],
                )
            return day
        if readable:
            where, text, day = readable[0]
            self.warn(
                "implausible_date",
                f"{where} {text} is not a plausible date (before {PLAUSIBLE_YEARS[0]} or after "
                f"{PLAUSIBLE_YEARS[1]}): the flow is kept with its date as written; no exchange rate "
                "can convert it",
                tx,
                f"{path}/{where}",
                text,
            )
            return day
        for name in FALLBACK_DATES:
            day = getattr(record, name)
            if day is not None:
                self.warn(
                    "no_date",
                    "The transaction has no readable date of its own: it is dated on the activity's "
                    f"{name.replace('_', ' ')} date {day}",
                    tx,
                    f"{path}/value/@value-date",
                )
                return day
        self.error(
            "no_date",
            "The transaction has no readable date (value/@value-date, transaction-date/@iso-date), nor "
            "has the activity: this transaction cannot be imported",
            tx,
            f"{path}/value/@value-date",
        )
        return None

    def _budgets(self, act, record: IatiProjectRecord, currency: str | None) -> None:
        """Need = the sum of the budgets; where a period has a revised budget (type 2) it replaces
        the original (type 1) of the same period start. Budgets in another currency than the
        first one are converted at their value date."""
        by_period: dict[dt.date | None, tuple[str, object]] = {}
        for budget in act.findall("budget"):
            start = _date(
                budget.find("period-start").get("iso-date") if budget.find("period-start") is not None else None
            )
            kind = (budget.get("type") or "1").strip()
            if start in by_period and by_period[start][0] == "2" and kind != "2":
                continue
            by_period[start] = (kind, budget)
        total, need_currency = Decimal(0), None
        for _, budget in by_period.values():
            value = budget.find("value")
            amount = _decimal(value.text if value is not None else None)
            if amount is None:
                self.warn(
                    "budget_value",
                    "Budget without a numeric value: left out",
                    budget,
                    "budget/value",
                )
                continue
            cur = ((value.get("currency") or "").strip().upper()) or currency
            if not cur or not money.is_currency(cur):
                self.warn(
                    "budget_currency",
                    "Budget without a valid currency: left out",
                    budget,
                    "budget/value",
                )
                continue
            need_currency = need_currency or cur
            if cur != need_currency:
                day = _date(value.get("value-date")) or dt.date.today()
                try:
                    amount = money.convert(amount, cur, need_currency, day, 31).amount
                except (ConversionError, MoneyError) as exc:
                    self.warn(
                        "budget_currency",
                        f"Budget not converted ({exc}): left out",
                        budget,
                        "budget/value",
                    )
                    continue
            total += amount
        if not need_currency or total <= 0:
            return
        need = money.quantize(total, need_currency)
        # Nothing in the budgets rejects an activity: a need the registry cannot keep is left out.
        why = None
        if need >= money.MAX_AMOUNT:
            why = f"is too large (amounts stay below {money.MAX_AMOUNT:,})"
        else:
            try:
                to_usd(need, need_currency, record.planned_start or dt.date.today())  # as the need is stored
            except (ConversionError, MoneyError) as exc:
                why = f"cannot be converted to USD ({exc.message})"
        if why:
            self.warn(
                "budget_need",
                f"The need (sum of the budgets, {need:,} {need_currency}) {why}: it is left out, the activity is kept",
                act,
                "budget",
            )
            return
        record.need_amount = need
        record.need_currency = need_currency


def _money_text(flows: list[TransactionRecord], percentage: Decimal | None = None) -> str:
    """The money of ``flows`` (times ``percentage`` %) by type and currency, for a warning."""
    totals: dict[tuple[str, str], Decimal] = {}
    for t in flows:
        totals[(t.type, t.currency)] = totals.get((t.type, t.currency), Decimal(0)) + t.amount
    if percentage is not None:
        totals = {k: v * percentage / 100 for k, v in totals.items()}
    parts = [f"{kind.replace('_', ' ')} {money.quantize(v, cur):,} {cur}" for (kind, cur), v in totals.items()]
    return "; ".join(parts) or "no flows"


def read_iati(source: str | Path | BinaryIO, *, sector_filter: str = "all", filename: str | None = None) -> IatiReader:
    """A reader over one IATI activity file: iterate it for records, then read ``problems``."""
    return IatiReader(source, filename=filename, sector_filter=sector_filter)


def looks_like_iati(head: bytes) -> bool:
    """True when the first bytes of an upload look like IATI activity XML (upload detection)."""
    text = head[:4096]
    for encoding in ("utf-8", "utf-16"):
        try:
            decoded = text.decode(encoding, errors="ignore")
        except LookupError:  # pragma: no cover
            continue
        if "<iati-activities" in decoded:
            return True
    return False
