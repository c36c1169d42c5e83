"""IATI activity XML (versions 2.01-2.03) -> ProjectRecord stream, with problems.

The file is streamed with lxml ``iterparse``: each ``iati-activity`` is read, turned into a
record and cleared together with its earlier siblings, so memory stays bounded whatever
the file size. Any DOCTYPE (and with it any entity declaration: XXE, "billion laughs") is
refused before a single record is produced. Mapping rules are in docs/iati-import.md.
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
from registry.services import rules

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
# IATI TransactionType -> registry type; both pledge codes (11 incoming, 12 outgoing) are pledges.
TRANSACTION_TYPES = {
    "1": "incoming_funds",
    "2": "commitment",
    "3": "disbursement",
    "4": "expenditure",
    "11": "pledge",
    "12": "pledge",
}
DATE_FIELDS = {"1": "planned_start", "2": "actual_start", "3": "planned_end", "4": "actual_end"}
TITLE_MAX, DESCRIPTION_MAX, TX_DESCRIPTION_MAX = 500, 20_000, 1000


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
    country: str | None
    region: str | None
    percentage: Decimal | None
    label: str


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
            if not checked or "entit" in str(exc).lower() and "DOCTYPE" in str(exc):
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
        # The publisher's own identifier (other-identifier type A1) is the registry reference
        # when given: our own export writes the project reference there.
        own = next(
            (o.get("ref").strip() for o in act.findall("other-identifier") if o.get("type") == "A1" and o.get("ref")),
            None,
        )
        record = IatiProjectRecord(
            reference=(own or identifier)[:120],
            title=title,
            org=(reporting.get("ref") or None) if reporting is not None else None,
            org_name=self._narrative(reporting, lang) or None if reporting is not None else None,
            iati_identifier=identifier,
            description=description[:DESCRIPTION_MAX],
            location=Location(file=self.filename, row=act.sourceline, column="iati-activity"),
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
        self._transactions(act, record, currency, defaults, lang)
        self._recipients(act, record)
        self._budgets(act, record, currency)
        return record

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

    def _entries(self, elems_countries, elems_regions) -> list[tuple[_Entry, object]]:
        entries = []
        for elem in elems_countries:
            code = (elem.get("code") or "").strip().upper()
            iso3 = iso2_to_iso3(code)
            if iso3 is None:
                self.warn(
                    "unknown_country",
                    "Unknown recipient-country code: left out",
                    elem,
                    "recipient-country/@code",
                    code,
                )
                continue
            entries.append((_Entry(iso3, None, _decimal(elem.get("percentage")), code), elem))
        for elem in elems_regions:
            code = (elem.get("code") or "").strip()
            vocabulary = (elem.get("vocabulary") or "1").strip()
            region = None
            if vocabulary == "1":
                mapped = self.mapping.recipients.get(code)
                region = mapped.region if mapped else None
                if mapped and mapped.iso3:
                    entries.append((_Entry(mapped.iso3, None, _decimal(elem.get("percentage")), code), elem))
                    continue
            elif vocabulary == "2" and known_region(code.zfill(3)):
                region = code.zfill(3)
            if region is None:
                self.warn(
                    "unmapped_region",
                    f"Recipient region {code} (vocabulary {vocabulary}) has no M49 equivalent: left out",
                    elem,
                    "recipient-region/@code",
                    code,
                )
                continue
            entries.append((_Entry(None, region, _decimal(elem.get("percentage")), code), elem))
        return entries

    def _recipients(self, act, record: IatiProjectRecord) -> None:
        entries = self._entries(act.findall("recipient-country"), act.findall("recipient-region"))
        if entries:
            self._activity_shares(act, record, [e for e, _ in entries])
            return
        tx_entries = []
        has_commitments = any(t.get("code") == "2" for t in act.iterfind("transaction/transaction-type"))
        for tx in act.findall("transaction"):
            found = self._entries(tx.findall("recipient-country"), tx.findall("recipient-region"))
            weight = self._tx_weight(tx, act, has_commitments)
            for entry, _ in found[:1]:  # IATI allows one recipient per transaction
                tx_entries.append((entry, weight))
        if not tx_entries:
            return
        weights: dict[tuple, Decimal] = {}
        for entry, weight in tx_entries:
            key = (entry.country, entry.region)
            weights[key] = weights.get(key, Decimal(0)) + weight
        keys = [k for k in weights if weights[k] > 0] or list(weights)
        shares = shares_from_weights([weights[k] for k in keys])
        record.recipients = [
            RecipientRecord(country=k[0], region=k[1], share=s) for k, s in zip(keys, shares, strict=True)
        ]
        self.warn(
            "shares_from_transactions",
            "Recipients are given on transactions: shares follow each recipient's total "
            "of commitments "
            "(else of all transactions), in USD at each value date",
            act,
            "transaction/recipient-country",
        )

    def _tx_weight(self, tx, act, has_commitments: bool) -> Decimal:
        """Weight of a transaction for recipient shares: its absolute USD value. Commitments
        count; other transactions count only when the activity has no commitment."""
        type_elem = tx.find("transaction-type")
        code = type_elem.get("code") if type_elem is not None else ""
        if has_commitments and code != "2":
            return Decimal(0)
        value = tx.find("value")
        amount = _decimal(value.text if value is not None else None)
        if amount is None:
            return Decimal(0)
        currency = (value.get("currency") or act.get("default-currency") or "USD").strip().upper()
        day = _date(value.get("value-date")) or _date(
            tx.find("transaction-date").get("iso-date") if tx.find("transaction-date") is not None else None
        )
        try:
            return abs(money.convert(amount, currency, "USD", day or dt.date.today(), 31).amount)
        except (ConversionError, MoneyError):
            return abs(amount)

    def _activity_shares(self, act, record: IatiProjectRecord, entries: list[_Entry]) -> None:
        # Merge repeated codes (several IATI region codes can map to the same M49 region).
        merged: dict[tuple, _Entry] = {}
        for entry in entries:
            key = (entry.country, entry.region)
            if key in merged:
                old = merged[key]
                old.percentage = (
                    None if old.percentage is None or entry.percentage is None else old.percentage + entry.percentage
                )
            else:
                merged[key] = entry
        entries = list(merged.values())
        given = [e.percentage for e in entries]
        if all(p is None for p in given):
            weights = [Decimal(1)] * len(entries)
            if len(entries) > 1:
                self.warn(
                    "equal_split",
                    f"No recipient percentages: the {len(entries)} recipients get equal shares",
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
            if abs(total - 100) > Decimal("0.01") and total > 0:
                self.warn(
                    "percentages_rescaled",
                    f"Recipient percentages add up to {total}, not 100: scaled proportionally",
                    act,
                    "recipient-country/@percentage",
                    total,
                )
        keep = [(e, w) for e, w in zip(entries, weights, strict=True) if w > 0] or [(e, Decimal(1)) for e in entries]
        shares = shares_from_weights([w for _, w in keep])
        record.recipients = [
            RecipientRecord(country=e.country, region=e.region, share=s)
            for (e, _), s in zip(keep, shares, strict=True)
            if s > 0
        ]

    # -- money -----------------------------------------------------------------

    def _transactions(self, act, record: IatiProjectRecord, currency: str | None, defaults: dict, lang: str) -> None:
        for index, tx in enumerate(act.findall("transaction"), start=1):
            path = f"transaction[{index}]"
            type_elem = tx.find("transaction-type")
            code = (type_elem.get("code") or "").strip() if type_elem is not None else ""
            kind = TRANSACTION_TYPES.get(code)
            if kind is None:
                self.counts["transactions_skipped"] += 1
                self.warn(
                    "transaction_type",
                    f"Transaction type {code or '(none)'} is not a flow the registry keeps "
                    "(1, 2, 3, 4, 11, 12): left out",
                    tx,
                    f"{path}/transaction-type/@code",
                    code,
                )
                continue
            value = tx.find("value")
            amount = _decimal(value.text if value is not None else None)
            if amount is None:
                self.error(
                    "bad_value",
                    "Transaction value is missing or not a number",
                    tx,
                    f"{path}/value",
                    value.text if value is not None else None,
                )
                continue
            tx_currency = ((value.get("currency") or "").strip().upper()) or currency
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
                    f"{value.text.strip()} is too large: amounts stay below {money.MAX_AMOUNT:,}",
                    tx,
                    f"{path}/value",
                    value.text,
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
            date_elem = tx.find("transaction-date")
            day = _date(value.get("value-date")) or _date(date_elem.get("iso-date") if date_elem is not None else None)
            if day is None:
                self.error(
                    "no_date",
                    "Transaction has neither value/@value-date nor transaction-date",
                    tx,
                    f"{path}/value/@value-date",
                )
                continue
            provider = tx.find("provider-org")
            record.transactions.append(
                TransactionRecord(
                    type=kind,
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
                )
            )
            self.counts["transactions"] += 1

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
        if need_currency and total > 0:
            record.need_amount = money.quantize(total, need_currency)
            record.need_currency = need_currency


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
