"""Projects -> IATI 2.03 activity XML: valid against the official schema, and meeting the IATI
Rulesets' standard rules wherever the registry's data has what a rule needs.

Written incrementally (lxml ``xmlfile``), one activity at a time, so memory does not grow
with the number of projects. What each registry field becomes, which rules the file meets and
which ones the data cannot meet are in docs/iati-crs.md ("Export"). The paragraph 23 areas are
a ``sector`` of vocabulary 99 (reporting organisation) with a vocabulary URI pointing at
docs/area-mapping.md, so the file carries them in the standard and our importer reads them
back as stated (not inferred) areas. The WSIS action lines (C1-C11) are ``tag`` elements of
vocabulary 99 with a vocabulary URI where they are defined (the ITU's WSIS Stocktaking by
default): tags carry no percentage, as action lines carry no shares.

Where the data cannot be said exactly as IATI wants it (an unallocated recipient share, a
flow dated after the export day, a date the standard needs and the project lacks), the
activity carries an XML comment saying what was done and why, and ``ExportResult.notes``
lists the same for the command line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import BinaryIO, NamedTuple

from flask import current_app
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from importers.allocate import shares_from_weights
from importers.iati import AREA_VOCABULARY, AREA_VOCABULARY_URI, INFERRED_MARK
from importers.iati.sectors import ACTION_LINE_VOCABULARY, ACTION_LINE_VOCABULARY_URI
from registry.extensions import db
from registry.models import Country, PlannedDisbursement, PriorityArea, Project, ProjectBudget, Transaction
from registry.models.plans import BUDGET_STATUS_CODES, PLAN_KIND_CODES
from registry.models.scope import SCOPE_IATI_CODES
from registry.models.types import WSIS_ACTION_LINES, OrganisationKind, ProjectStatus, TransactionType
from registry.money import from_minor
from registry.services.shares import allocate

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STATUS_CODES = {
    ProjectStatus.PIPELINE: "1",
    ProjectStatus.ACTIVE: "2",
    ProjectStatus.COMPLETED: "4",
    ProjectStatus.CANCELLED: "5",
    ProjectStatus.SUSPENDED: "6",
}
# IATI OrganisationType for our organisation kinds.
ORG_TYPES = {
    OrganisationKind.DONOR_AGENCY: "10",
    OrganisationKind.GOVERNMENT: "10",
    OrganisationKind.MULTILATERAL: "40",
    OrganisationKind.REGIONAL_BANK: "40",
    OrganisationKind.FUND: "90",
    OrganisationKind.IMPLEMENTER: "90",
    OrganisationKind.NGO: "21",
    OrganisationKind.PRIVATE: "70",
}
# Countries whose IATI code is not their ISO 3166 alpha-2 code: Kosovo has none; IATI's
# Country codelist calls it XK, the registry XKX (where three letters are needed).
IATI_COUNTRY_CODES = {"XKX": "XK"}
# IATI OtherIdentifierType codes. An alias of the project written "A3:OLD-ID" keeps its type;
# an alias without one of these codes before a colon is an "other activity identifier" (A9).
OTHER_IDENTIFIER_TYPES = frozenset({"A1", "A2", "A3", "A9", "B1", "B9"})
ALIAS_TYPE = "A9"
# Rule 1.3.13 forbids / & | ? in an identifier. Where the export builds the identifier itself,
# they are percent-encoded, and so is % (the encoding stays reversible: no two references meet).
IDENTIFIER_ESCAPES = {c: f"%{ord(c):02X}" for c in "%/&|?"}
# Money paid out: dated after the export day it is a forecast, not a transaction (rules
# 11.2.1/11.2.2), and IATI's place for it is a planned disbursement.
FORECAST_TYPES = frozenset({TransactionType.DISBURSEMENT, TransactionType.EXPENDITURE})
# The rules allow a budget period of at most a year (7.5.3: at most 365 days from start to end).
MAX_BUDGET_DAYS = 365


@dataclass
class ExportResult:
    """What an export wrote: the number of activities, and what it had to say about the data."""

    activities: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class _Context:
    iso2: dict[str, str]
    area_names: dict[str, str]
    area_uri: str
    today: dt.date
    action_line_uri: str = ACTION_LINE_VOCABULARY_URI


def _percent(percent: Decimal) -> str:
    return format(percent.normalize(), "f")


def _org_ref(org) -> str:
    return (org.iati_ref or org.ref).strip()


def activity_identifier(project: Project) -> str:
    """The project's IATI identifier; else its organisation's identifier + "-" + its reference
    (the reference alone when it already starts so), with the characters the rules forbid
    percent-encoded."""
    if project.iati_identifier and project.iati_identifier.strip():
        return project.iati_identifier.strip()
    prefix = _org_ref(project.org)
    own = "".join(IDENTIFIER_ESCAPES.get(c, c) for c in project.reference.strip())
    return own if own.startswith(prefix + "-") else f"{prefix}-{own}"


class OtherIdentifier(NamedTuple):
    """An other-identifier as written: its @type (A1, B1, ...) and @ref."""

    kind: str
    ref: str


class Period(NamedTuple):
    """A budget period: its first and last day."""

    start: dt.date
    end: dt.date


def other_identifiers(project: Project) -> list[OtherIdentifier]:
    """The project's other identifiers: the reference as A1 (the publisher's own identifier,
    read back as the reference on import), then each alias once."""
    reference = project.reference.strip()
    out = [OtherIdentifier("A1", reference)]
    identifier = activity_identifier(project)
    for line in (project.other_identifiers or "").splitlines():
        line = line.strip()
        if not line:
            continue
        head, sep, rest = line.partition(":")
        if sep and head.strip().upper() in OTHER_IDENTIFIER_TYPES and rest.strip():
            pair = OtherIdentifier(head.strip().upper(), rest.strip())
        else:
            pair = OtherIdentifier(ALIAS_TYPE, line)
        if pair not in out and pair.ref != identifier:
            out.append(pair)
    return out


def budget_periods(start: dt.date, end: dt.date | None) -> list[Period]:
    """The budget periods of a project running from ``start`` to ``end``: calendar years, the
    first and last cut at the project's dates; a single year from ``start`` without an end."""
    if end is None or end < start:
        try:
            next_year = start.replace(year=start.year + 1)
        except ValueError:  # 29 February
            next_year = dt.date(start.year + 1, 3, 1)
        return [Period(start, next_year - dt.timedelta(days=1))]
    return [
        Period(max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31)))
        for year in range(start.year, end.year + 1)
    ]


def split_minor(total: int, weights: list[int]) -> list[int]:
    """``total`` minor units split in proportion to ``weights``, adding up to ``total`` exactly
    (largest remainder, ties to the earlier part: the rounding of every report)."""
    whole = sum(weights)
    parts, _ = allocate([Fraction(total * w, whole) for w in weights], total)
    return parts


class _Activity:
    """One project being written as an ``iati-activity``; ``notes`` says what could not be said
    exactly as the data says it."""

    def __init__(self, project: Project, ctx: _Context) -> None:
        self.project = project
        self.ctx = ctx
        self.notes: list[str] = []
        self.identifier = activity_identifier(project)
        txs = sorted(project.transactions, key=lambda t: (t.value_date, t.id or 0))
        self.forecasts = [t for t in txs if TransactionType(t.type) in FORECAST_TYPES and t.value_date > ctx.today]
        self.flows = [t for t in txs if t not in self.forecasts]
        # A flow's own recipient wins; IATI then wants recipients on every transaction and none
        # on the activity (rules 3.6.2, 3.7.2).
        self.recipients_on_flows = any(t.recipient_country_iso3 or t.recipient_region_code for t in self.flows)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def country_code(self, iso3: str) -> str:
        return IATI_COUNTRY_CODES.get(iso3) or self.ctx.iso2.get(iso3) or iso3

    def element(self) -> etree._Element:
        project, org = self.project, self.project.org
        act = etree.Element("iati-activity", {XML_LANG: "en", "hierarchy": "1"})
        updated = project.updated_at or dt.datetime.now(dt.UTC)
        act.set("last-updated-datetime", updated.astimezone(dt.UTC).replace(microsecond=0).isoformat())
        currencies = {t.currency for t in project.transactions} | ({project.need_currency} - {None})
        if len(currencies) == 1:
            act.set("default-currency", next(iter(currencies)))
        etree.SubElement(act, "iati-identifier").text = self.identifier
        reporting = etree.SubElement(act, "reporting-org", ref=_org_ref(org), type=ORG_TYPES.get(org.kind, "90"))
        etree.SubElement(reporting, "narrative").text = org.name
        title = etree.SubElement(act, "title")
        etree.SubElement(title, "narrative").text = project.title
        # The schema wants a description; an empty one is what the registry has (rule 4.4.1 notes it).
        description = etree.SubElement(act, "description", type="1")
        etree.SubElement(description, "narrative").text = (project.description or "").strip()
        funder = etree.SubElement(
            act, "participating-org", ref=_org_ref(org), role="1", type=ORG_TYPES.get(org.kind, "90")
        )
        etree.SubElement(funder, "narrative").text = org.name
        for other in other_identifiers(project):
            etree.SubElement(act, "other-identifier", ref=other.ref, type=other.kind)
        etree.SubElement(act, "activity-status", code=STATUS_CODES.get(project.status, "2"))
        dates = self._dates()
        for code, day in sorted(dates.items()):
            etree.SubElement(act, "activity-date", type=code, **{"iso-date": day.isoformat()})
        if project.scope:
            # the stated scope only (a derived one is the recipients' to say); after the dates,
            # before the recipients (the schema's order)
            etree.SubElement(act, "activity-scope", code=SCOPE_IATI_CODES[project.scope])
        if not self.recipients_on_flows:
            self._activity_recipients(act)
        self._sectors(act)
        self._tags(act)
        if self.project.collaboration_type:
            # after the tags, before the defaults (the schema's order)
            etree.SubElement(act, "collaboration-type", code=self.project.collaboration_type)
        if self.project.default_tied_status:
            # after the sectors, tags and the other defaults, before the budgets (the schema's order)
            etree.SubElement(act, "default-tied-status", code=self.project.default_tied_status)
        self._budgets(act, dates.get("1") or dates["2"], dates.get("3") or dates.get("4"))
        self._planned_disbursements(act)
        self._transactions(act)
        for message in self.notes:
            # "--" may not appear inside an XML comment.
            act.append(etree.Comment(" " + message.replace("--", "- -") + " "))
        return act

    # -- dates -----------------------------------------------------------------

    def _dates(self) -> dict[str, dt.date]:
        """IATI ActivityDateType code -> date. Actual dates after the export day are not actual
        (rules 11.1.4, 11.1.5): they become the planned date where the project has none. A
        project without a start date gets the earliest date known of it (rule 6.11.1)."""
        project, today = self.project, self.ctx.today
        planned_start, planned_end = project.planned_start, project.planned_end
        actual_start, actual_end = project.actual_start, project.actual_end
        if actual_start is not None and actual_start > today:
            if planned_start is None and (planned_end is None or actual_start <= planned_end):
                planned_start = actual_start
                self.note(f"actual start {actual_start} is after the export day: written as the planned start")
            else:
                self.note(f"actual start {actual_start} is after the export day: left out")
            actual_start = None
        if actual_end is not None and actual_end > today:
            start = planned_start or actual_start
            if planned_end is None and (start is None or start <= actual_end):
                planned_end = actual_end
                self.note(f"actual end {actual_end} is after the export day: written as the planned end")
            else:
                self.note(f"actual end {actual_end} is after the export day: left out")
            actual_end = None
        if planned_start is None and actual_start is None:
            created = (project.created_at or dt.datetime.now(dt.UTC)).date()
            known = [planned_end, actual_end, project.need_date, created]
            known += [t.value_date for t in project.transactions]
            planned_start = min(d for d in known if d is not None)
            self.note(
                f"no start date: the earliest date known of the project ({planned_start}) is written as"
                " the planned start, which the standard requires"
            )
        dates = {"1": planned_start, "2": actual_start, "3": planned_end, "4": actual_end}
        return {code: day for code, day in dates.items() if day is not None}

    # -- recipients, sectors, areas ---------------------------------------------

    def _activity_recipients(self, act: etree._Element) -> None:
        rows = list(self.project.recipients)
        if not rows:
            return
        # Shares add up to 100 within 0.01 in the registry; the rules want exactly 100.
        percents = shares_from_weights([Decimal(r.share_ppm) for r in rows])
        unallocated = sum((p for r, p in zip(rows, percents, strict=True) if not (r.country_iso3 or r.region_code)), 0)
        for r, percent in zip(rows, percents, strict=True):
            if r.country_iso3:
                code = self.country_code(r.country_iso3)
                etree.SubElement(act, "recipient-country", code=code, percentage=_percent(percent))
        for r, percent in zip(rows, percents, strict=True):
            if r.region_code:
                etree.SubElement(
                    act, "recipient-region", code=r.region_code, vocabulary="2", percentage=_percent(percent)
                )
        if unallocated:
            self.note(
                f"{_percent(unallocated)} % of the recipient shares is unallocated (the source named no"
                " known country or region): not written as a recipient, so the recipient percentages add"
                f" up to {_percent(100 - unallocated)} %"
            )

    def _sectors(self, act: etree._Element) -> None:
        sectors = list(self.project.sectors)
        if sectors:
            given = [s.share_ppm for s in sectors]
            weights = [Decimal(p) for p in given] if all(given) else [Decimal(1)] * len(sectors)
            for sector, share in zip(sectors, shares_from_weights(weights), strict=True):
                etree.SubElement(act, "sector", vocabulary="1", code=sector.code, percentage=_percent(share))
        areas = sorted(self.project.areas, key=lambda a: a.area_code)
        shares = shares_from_weights([Decimal(a.share_ppm) for a in areas])
        for area, share in zip(areas, shares, strict=True):
            elem = etree.SubElement(
                act,
                "sector",
                vocabulary=AREA_VOCABULARY,
                **{"vocabulary-uri": self.ctx.area_uri},
                code=area.area_code,
                percentage=_percent(share),
            )
            name = self.ctx.area_names.get(area.area_code, area.area_code)
            etree.SubElement(elem, "narrative").text = name + (INFERRED_MARK if area.inferred else "")

    def _tags(self, act: etree._Element) -> None:
        """The WSIS action lines, after the sectors as the schema orders them."""
        for code in sorted(self.project.action_lines, key=lambda c: int(c[1:]) if c[1:].isdigit() else 99):
            elem = etree.SubElement(
                act, "tag", vocabulary=ACTION_LINE_VOCABULARY, **{"vocabulary-uri": self.ctx.action_line_uri}, code=code
            )
            etree.SubElement(elem, "narrative").text = str(WSIS_ACTION_LINES.get(code, code))

    # -- money -------------------------------------------------------------------

    def _budgets(self, act: etree._Element, start: dt.date, end: dt.date | None) -> None:
        """The project's budgets as stored (its forward plan); a project without any gets its need
        as budgets of at most a year each (rule 7.5.3), spread over the periods in proportion to
        their days, to the cent."""
        project = self.project
        if project.budgets:
            for stored in project.budgets:
                budget = etree.SubElement(
                    act, "budget", type=PLAN_KIND_CODES[stored.kind], status=BUDGET_STATUS_CODES[stored.status]
                )
                self._plan_value(budget, stored)
            return
        if project.need_minor is None or not project.need_currency:
            return
        periods = budget_periods(start, end)
        parts = split_minor(project.need_minor, [(p.end - p.start).days + 1 for p in periods])
        for period, part in zip(periods, parts, strict=True):
            budget = etree.SubElement(act, "budget", type="1", status="1")
            etree.SubElement(budget, "period-start", **{"iso-date": period.start.isoformat()})
            etree.SubElement(budget, "period-end", **{"iso-date": period.end.isoformat()})
            value_date = project.need_date or period.start
            value = etree.SubElement(
                budget, "value", currency=project.need_currency, **{"value-date": value_date.isoformat()}
            )
            value.text = str(from_minor(part, project.need_currency))

    def _plan_value(self, elem: etree._Element, plan: ProjectBudget | PlannedDisbursement) -> None:
        """A stored plan's period and value, in its own currency at its value date."""
        etree.SubElement(elem, "period-start", **{"iso-date": plan.period_start.isoformat()})
        if plan.period_end is not None:
            etree.SubElement(elem, "period-end", **{"iso-date": plan.period_end.isoformat()})
        value = etree.SubElement(elem, "value", currency=plan.currency, **{"value-date": plan.value_date.isoformat()})
        value.text = str(plan.amount)

    def _planned_disbursements(self, act: etree._Element) -> None:
        for stored in self.project.planned_disbursements:
            planned = etree.SubElement(act, "planned-disbursement", type=PLAN_KIND_CODES[stored.kind])
            self._plan_value(planned, stored)
            for tag, ref, name in (
                ("provider-org", stored.provider_ref, stored.provider_name),
                ("receiver-org", stored.receiver_ref, stored.receiver_name),
            ):
                if ref or name:
                    org = etree.SubElement(planned, tag, **({"ref": ref} if ref else {}))
                    if name:
                        etree.SubElement(org, "narrative").text = name
        for tx in self.forecasts:
            planned = etree.SubElement(act, "planned-disbursement", type="1")
            day = tx.value_date.isoformat()
            etree.SubElement(planned, "period-start", **{"iso-date": day})
            etree.SubElement(planned, "period-end", **{"iso-date": day})
            value = etree.SubElement(planned, "value", currency=tx.currency, **{"value-date": day})
            value.text = str(tx.amount)
            if tx.provider_org is not None:
                provider = etree.SubElement(planned, "provider-org", ref=_org_ref(tx.provider_org))
                etree.SubElement(provider, "narrative").text = tx.provider_org.name
            recipient = tx.recipient_country_iso3 or tx.recipient_region_code
            self.note(
                f"{TransactionType(tx.type).value} of {tx.amount} {tx.currency} dated {day}, after the export"
                " day: written as a planned disbursement"
                + (f" (a planned disbursement cannot name its recipient {recipient})" if recipient else "")
            )

    def _transactions(self, act: etree._Element) -> None:
        rows = list(self.project.recipients)
        split_flows = 0
        for tx in self.flows:
            if tx.value_date > self.ctx.today:
                self.note(
                    f"{TransactionType(tx.type).value} of {tx.amount} {tx.currency} is dated {tx.value_date},"
                    " after the export day: written as a transaction all the same (rules 11.2.1, 11.2.2)"
                )
            if not self.recipients_on_flows:
                self._transaction(act, tx, tx.amount_minor, None, None)
            elif tx.recipient_country_iso3 or tx.recipient_region_code:
                self._transaction(act, tx, tx.amount_minor, tx.recipient_country_iso3, tx.recipient_region_code)
            elif len(rows) <= 1:
                row = rows[0] if rows else None
                country, region = (row.country_iso3, row.region_code) if row else (None, None)
                self._transaction(act, tx, tx.amount_minor, country, region)
                if not (country or region):
                    self.note(f"{self._flow(tx)} has no recipient, neither its own nor the project's")
            else:
                # One transaction per recipient share: each carries its own recipient.
                parts = split_minor(tx.amount_minor, [r.share_ppm for r in rows])
                split_flows += 1
                for row, part in zip(rows, parts, strict=True):
                    if part == 0 and any(parts):
                        continue
                    self._transaction(act, tx, part, row.country_iso3, row.region_code)
                    if not (row.country_iso3 or row.region_code):
                        amount = from_minor(part, tx.currency)
                        self.note(
                            f"{amount} {tx.currency} of {self._flow(tx)} is the project's unallocated"
                            " recipient share: written without a recipient"
                        )
        if split_flows:
            self.note(
                f"some flows name their own recipient, so recipients are given on every transaction;"
                f" {split_flows} flow(s) without one are written as one transaction per recipient share"
                " of the project, to the cent"
            )

    def _flow(self, tx: Transaction) -> str:
        return f"the {TransactionType(tx.type).value} of {tx.amount} {tx.currency} on {tx.value_date}"

    def _transaction(
        self,
        act: etree._Element,
        tx: Transaction,
        amount_minor: int,
        country: str | None,
        region: str | None,
    ) -> None:
        t = etree.SubElement(act, "transaction")
        etree.SubElement(t, "transaction-type", code=TransactionType(tx.type).iati_code)
        etree.SubElement(t, "transaction-date", **{"iso-date": tx.value_date.isoformat()})
        value = etree.SubElement(t, "value", currency=tx.currency, **{"value-date": tx.value_date.isoformat()})
        value.text = str(from_minor(amount_minor, tx.currency))
        if tx.description and tx.description.strip():
            desc = etree.SubElement(t, "description")
            etree.SubElement(desc, "narrative").text = tx.description
        if tx.provider_org is not None:
            provider = etree.SubElement(t, "provider-org", ref=_org_ref(tx.provider_org))
            etree.SubElement(provider, "narrative").text = tx.provider_org.name
        if country:
            etree.SubElement(t, "recipient-country", code=self.country_code(country))
        elif region:
            etree.SubElement(t, "recipient-region", code=region, vocabulary="2")
        if tx.flow_type:
            etree.SubElement(t, "flow-type", code=tx.flow_type)
        if tx.finance_type:
            etree.SubElement(t, "finance-type", code=tx.finance_type)
        if tx.aid_type:
            etree.SubElement(t, "aid-type", code=tx.aid_type)
        if tx.tied_status:
            # the flow's own; one without follows the activity's default-tied-status
            etree.SubElement(t, "tied-status", code=tx.tied_status)


def write_iati(projects: Iterable[Project], out: BinaryIO, *, today: dt.date | None = None) -> ExportResult:
    """Write the projects as one IATI 2.03 ``iati-activities`` document. ``today`` is the export
    day (UTC by default): flows and actual dates after it are forecasts, not facts."""
    iso2 = dict(db.session.execute(select(Country.iso3, Country.iso2)).all())
    area_names = dict(db.session.execute(select(PriorityArea.code, PriorityArea.short_name)).all())
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # Where the registry's documentation is published (docs/area-mapping.md, its
    # "paragraph-23-areas" section); a deployment sets its own address.
    area_uri = current_app.config.get("IATI_AREA_VOCABULARY_URI", AREA_VOCABULARY_URI)
    action_line_uri = current_app.config.get("IATI_ACTION_LINE_VOCABULARY_URI", ACTION_LINE_VOCABULARY_URI)
    ctx = _Context(
        iso2=iso2, area_names=area_names, area_uri=area_uri, today=today or now.date(), action_line_uri=action_line_uri
    )
    result = ExportResult()
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("iati-activities", {"version": "2.03", "generated-datetime": now.isoformat()}):
            for project in projects:
                activity = _Activity(project, ctx)
                xf.write(activity.element(), pretty_print=True)
                result.activities += 1
                result.notes.extend(f"{activity.identifier}: {message}" for message in activity.notes)
    return result


def projects_for_export(stmt) -> Iterable[Project]:
    """The projects of a query with what the export needs, loaded in chunks of 500."""
    ids = list(db.session.scalars(stmt.with_only_columns(Project.id).order_by(None).order_by(Project.id)))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = (
            select(Project)
            .where(Project.id.in_(chunk))
            .options(
                selectinload(Project.org),
                selectinload(Project.recipients),
                selectinload(Project.areas),
                selectinload(Project.sectors),
                selectinload(Project.transactions).selectinload(Transaction.provider_org),
                selectinload(Project.budgets),
                selectinload(Project.planned_disbursements),
            )
            .order_by(Project.id)
        )
        yield from db.session.scalars(query)
