"""The direction of a money flow: North-South, South-South, triangular or multilateral.

Paragraph 27 of the Tunis Agenda and the WSIS+10 vision for action line C11 ask how much
ICT4D finance is South-South and triangular cooperation. A flow's direction is derived,
first rule that applies wins:

1. The project's direction set by hand (``Project.direction_override``, with its reason).
2. Triangular: the activity says it is bilateral triangular co-operation (IATI
   CollaborationType 8).
3. Multilateral: the provider is a multilateral organisation or a regional development bank
   (the organisation's kind; IATI OrganisationType 40), the flow draws on a multilateral
   funding source, or the activity is multilateral (IATI CollaborationType 2 multilateral
   inflows, 4 multilateral outflows).
4. From the provider's country and the DAC membership in force on the flow's value date
   (``registry/data/dac_members.csv``; the EU institutions are a member by their IATI
   identifier):
   - a DAC member drawing on a South-South cooperation source: triangular (a DAC member
     funding South-South cooperation);
   - a DAC member: North-South;
   - no country known: unknown, shown apart and never guessed, unless the flow draws on a
     South-South cooperation source, which says so itself: South-South;
   - a country that is not a DAC member (on the DAC list of ODA recipients or another
     non-DAC country) giving to a recipient that is itself a DAC member on that date (the
     flow's own recipient, else any of the project's): unknown, none of the four applies;
   - a DAC member or a multilateral among the organisations funding the activity
     (``Project.funding_partners``, IATI participating-org role 1): triangular;
   - otherwise South-South.

The rule is written once, as SQL (``direction_expression``) over the transactions, or over
rows that keep flows by DAC membership period instead of by date (the report facts keep each
row's direction, so that a report by direction does not derive it flow by flow); the project
page reads it over the transactions.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, exists, false, func, literal, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from registry.extensions import db
from registry.models import FundingSource, Organisation, Project, Transaction
from registry.models.project import ProjectRecipient
from registry.models.types import N_, OrganisationKind, SourceKind

NORTH_SOUTH, SOUTH_SOUTH, TRIANGULAR, MULTILATERAL = "north_south", "south_south", "triangular", "multilateral"
UNKNOWN = "unknown"
DIRECTIONS = (NORTH_SOUTH, SOUTH_SOUTH, TRIANGULAR, MULTILATERAL)  # what a project can be set to
VALUES = (*DIRECTIONS, UNKNOWN)  # what a flow can be
LABELS = {
    NORTH_SOUTH: N_("North-South"),
    SOUTH_SOUTH: N_("South-South"),
    TRIANGULAR: N_("Triangular"),
    MULTILATERAL: N_("Multilateral"),
    UNKNOWN: N_("Unknown"),
}
# IATI CollaborationType codes that decide the direction by themselves.
TRIANGULAR_COLLABORATION = ("8",)
MULTILATERAL_COLLABORATION = ("2", "4")
MULTILATERAL_ORG_TYPES = ("40",)  # IATI OrganisationType: multilateral
MULTILATERAL_KINDS = (OrganisationKind.MULTILATERAL.value, OrganisationKind.REGIONAL_BANK.value)
COLLABORATION_TYPES = ("1", "2", "3", "4", "6", "7", "8")  # IATI CollaborationType codelist

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "dac_members.csv"


def label(value: str | None) -> str:
    """A direction in the reader's language ("Unknown" for none)."""
    return _(LABELS.get(value or UNKNOWN, value or UNKNOWN))


@dataclass(frozen=True)
class Membership:
    """A period of DAC membership, ``[valid_from, valid_to)``."""

    member: str  # ISO 3166 alpha-3, or EUI (the EU institutions)
    iso3: str | None
    valid_from: dt.date
    valid_to: dt.date | None
    org_prefixes: tuple[str, ...]  # IATI organisation identifiers of a member that is no country

    def in_force(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@cache
def memberships() -> tuple[Membership, ...]:
    """The periods of DAC membership of registry/data/dac_members.csv."""
    with open(DATA_FILE, encoding="utf-8", newline="") as handle:
        return tuple(
            Membership(
                member=row["member"],
                iso3=row["iso3"] or None,
                valid_from=dt.date.fromisoformat(row["valid_from"]),
                valid_to=dt.date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
                org_prefixes=tuple(p for p in row["iati_org_prefixes"].split(";") if p),
            )
            for row in csv.DictReader(handle)
        )


def is_dac_member(iso3: str | None, day: dt.date) -> bool:
    """Whether the country was a DAC member on ``day``."""
    return bool(iso3) and any(m.iso3 == iso3 and m.in_force(day) for m in memberships())


def _periods() -> dict[tuple[dt.date, dt.date | None], list[Membership]]:
    periods: dict[tuple[dt.date, dt.date | None], list[Membership]] = defaultdict(list)
    for m in memberships():
        periods[(m.valid_from, m.valid_to)].append(m)
    return periods


def breakpoints() -> list[dt.date]:
    """Every date on which a DAC membership begins or ends, sorted: between two of them the
    membership of every country is the same (rows dated by period, such as the report facts,
    can hold a flow's direction when their periods are cut at these dates too)."""
    days = {m.valid_from for m in memberships()} | {m.valid_to for m in memberships() if m.valid_to}
    return sorted(days)


def data_signature() -> str:
    """Identifies the DAC membership data the directions were derived with."""
    return hashlib.sha256(DATA_FILE.read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Flows:
    """Where :func:`direction_expression` reads a flow's attributes: the transactions, or rows
    that keep them per flow group (the report facts). ``since(day)`` / ``before(day)``: SQL
    conditions that the flow's value date is on or after / before ``day``, for each date on
    which a DAC membership begins or ends (:func:`breakpoints`)."""

    table: Any  # what the subqueries correlate to
    project_id: ColumnElement
    provider_org_id: ColumnElement
    funding_source_id: ColumnElement
    country: ColumnElement  # the recipient country the flow names itself
    region: ColumnElement  # the recipient region the flow names itself
    since: Callable[[dt.date], ColumnElement]
    before: Callable[[dt.date], ColumnElement]
    joined: Joined | None = None  # the rows' project, provider and source, joined by the caller


@dataclass(frozen=True)
class Joined:
    """The rows' project, provider and funding source (aliased entities the caller joined to
    them, the provider and the source outer-joined on their id and ``deleted_at IS NULL``): read
    once per row, instead of a subquery for each use (the report facts' refresh, where the
    direction is a third of the time)."""

    project: Any
    provider: Any
    source: Any


def joins(flows: Any, project_id, provider_org_id, funding_source_id) -> tuple[Any, Joined]:
    """``flows`` joined to its rows' project, live provider and live source, and the Joined."""
    project, provider, source = aliased(Project), aliased(Organisation), aliased(FundingSource)
    joined = (
        flows.outerjoin(project, project.id == project_id)
        .outerjoin(provider, and_(provider.id == provider_org_id, provider.deleted_at.is_(None)))
        .outerjoin(source, and_(source.id == funding_source_id, source.deleted_at.is_(None)))
    )
    return joined, Joined(project, provider, source)


def transaction_flows() -> Flows:
    """The transactions themselves, dated by their value date."""
    day = Transaction.value_date
    return Flows(
        Transaction,
        Transaction.project_id,
        Transaction.provider_org_id,
        Transaction.funding_source_id,
        Transaction.recipient_country_iso3,
        Transaction.recipient_region_code,
        since=lambda start: day >= start,
        before=lambda end: day < end,
    )


def period_flows(table: Any, period: ColumnElement, points: Sequence[dt.date], **columns: ColumnElement) -> Flows:
    """Rows that keep flows by period instead of by date: period ``p`` runs from ``points[p - 1]``
    (inclusive; the beginning of time for 0) to ``points[p]``, and ``points`` holds every date
    of :func:`breakpoints`, so "on or after a membership's start" is "in a period from the
    start's on": the direction of every flow of the row is the same, read from integers."""
    index = {day: i for i, day in enumerate(points)}

    def number(day: dt.date) -> int:
        if day not in index:
            raise ValueError(f"{day} is not a period limit: the periods must be cut at every DAC date")
        return index[day] + 1

    return Flows(
        table,
        since=lambda start: period >= number(start),
        before=lambda end: period < number(end),
        **columns,
    )


def _in_period(flows: Flows, start: dt.date, end: dt.date | None) -> ColumnElement:
    after = flows.since(start)
    return after if end is None else and_(after, flows.before(end))


def dac_member_condition(country: ColumnElement, iati_ref: ColumnElement | None, flows: Flows) -> ColumnElement:
    """SQL: the country (or the organisation, by its IATI identifier, for a member that is no
    country) was a DAC member on the flow's date: one condition per period of membership."""
    terms = []
    for (start, end), members in sorted(_periods().items(), key=lambda item: (item[0][0], item[0][1] or dt.date.max)):
        countries = sorted(m.iso3 for m in members if m.iso3)
        named = [country.in_(countries)] if countries else []
        if iati_ref is not None:
            named += [iati_ref.startswith(p, autoescape=True) for m in members for p in m.org_prefixes]
        if named:
            terms.append(and_(_in_period(flows, start, end), or_(*named)))
    return or_(*terms) if terms else false()


def direction_expression(flows: Flows | None = None) -> ColumnElement:
    """SQL: each flow's direction (one of VALUES; see the module docstring), over the
    transactions or over ``flows`` (rows that keep the attributes the rule reads)."""
    f = flows if flows is not None else transaction_flows()
    project = aliased(Project)
    provider = aliased(Organisation)
    partner = aliased(Organisation)
    source = aliased(FundingSource)
    recipient = aliased(ProjectRecipient)

    # A deleted organisation or source is not there, said here as well as by the filter of ORM
    # reads (registry.models.soft_delete), which does not reach the report facts' INSERT ... SELECT.
    def live(entity) -> ColumnElement:
        return entity.deleted_at.is_(None)

    outer = (f.table,) if f.joined is None else (f.table, f.joined.project, f.joined.provider, f.joined.source)
    if f.joined is None:

        def of_project(column) -> ColumnElement:
            return select(column).where(project.id == f.project_id).correlate(*outer).scalar_subquery()

        def of_provider(*conditions) -> ColumnElement:
            return exists().where(provider.id == f.provider_org_id, live(provider), *conditions).correlate(*outer)

        source_kind = (
            select(source.kind)
            .where(source.id == f.funding_source_id, live(source))
            .correlate(*outer)
            .scalar_subquery()
        )
    else:  # the same, read from the joined rows: a missing (or deleted) provider is all NULL
        project, provider = f.joined.project, f.joined.provider

        def of_project(column) -> ColumnElement:
            return column

        def of_provider(*conditions) -> ColumnElement:
            return func.coalesce(and_(provider.id.is_not(None), *conditions), false())

        source_kind = f.joined.source.kind

    override = of_project(project.direction_override)
    collaboration = of_project(project.collaboration_type)
    northern = of_provider(dac_member_condition(provider.country_iso3, provider.iati_ref, f))
    located = of_provider(
        or_(provider.country_iso3.is_not(None), dac_member_condition(provider.country_iso3, provider.iati_ref, f))
    )
    multilateral_provider = of_provider(provider.kind.in_(MULTILATERAL_KINDS))
    south_south_source = source_kind == SourceKind.SOUTH_SOUTH.value
    # the recipient: the flow's own country, else any country among the project's recipients
    own = f.country
    northern_recipient = or_(
        and_(own.is_not(None), dac_member_condition(own, None, f)),
        and_(
            own.is_(None),
            f.region.is_(None),
            exists()
            .where(
                recipient.project_id == f.project_id,
                dac_member_condition(recipient.country_iso3, None, f),
            )
            .correlate(*outer),
        ),
    )
    # the activity's funding partners, one "type|ref" a line
    partners = literal("\n") + of_project(project.funding_partners) + literal("\n")
    partner_named = or_(
        partners.contains(literal("|") + partner.iati_ref + literal("\n")),
        partners.contains(literal("|") + partner.ref + literal("\n")),
    )
    funded_by_north = or_(
        *[partners.contains(f"\n{code}|", autoescape=True) for code in MULTILATERAL_ORG_TYPES],
        exists()
        .where(
            partner_named,
            live(partner),
            or_(partner.id != f.provider_org_id, f.provider_org_id.is_(None)),
            or_(
                partner.kind.in_(MULTILATERAL_KINDS),
                dac_member_condition(partner.country_iso3, partner.iati_ref, f),
            ),
        )
        .correlate(*outer),
    )
    return case(
        (override.is_not(None), override),
        (collaboration.in_(TRIANGULAR_COLLABORATION), literal(TRIANGULAR)),
        (
            or_(
                multilateral_provider,
                source_kind == SourceKind.MULTILATERAL.value,
                collaboration.in_(MULTILATERAL_COLLABORATION),
            ),
            literal(MULTILATERAL),
        ),
        (and_(northern, south_south_source), literal(TRIANGULAR)),
        (northern, literal(NORTH_SOUTH)),
        (and_(~located, south_south_source), literal(SOUTH_SOUTH)),
        (~located, literal(UNKNOWN)),
        (northern_recipient, literal(UNKNOWN)),
        (funded_by_north, literal(TRIANGULAR)),
        else_=literal(SOUTH_SOUTH),
    )


def flow_directions(project: Project) -> dict[int, str]:
    """The direction of each of the project's flows (transaction id -> one of VALUES)."""
    if project.id is None:
        return {}
    stmt = select(Transaction.id, direction_expression()).where(Transaction.project_id == project.id)
    return {tx_id: value for tx_id, value in db.session.execute(stmt)}


def project_direction(project: Project, by_flow: dict[int, str] | None = None) -> list[str]:
    """The project's direction: its override, else the directions of its flows (several when
    they differ, in the order of VALUES; empty when it has no flow)."""
    if project.direction_override:
        return [project.direction_override]
    found = set((by_flow if by_flow is not None else flow_directions(project)).values())
    return [value for value in VALUES if value in found]


def override_value(value: object) -> str | None:
    """A direction set by hand: one of DIRECTIONS (any case, hyphens or spaces for the
    underscore: "North-South"); None when empty. ValueError for anything else."""
    text = "_".join(str(value if value is not None else "").strip().lower().replace("-", " ").split())
    if not text:
        return None
    if text not in DIRECTIONS:
        raise ValueError(text)
    return text


def collaboration_type(value: object) -> str | None:
    """An IATI CollaborationType code; None when empty. ValueError for anything else."""
    text = str(value if value is not None else "").strip()
    if text.endswith(".0"):
        text = text[:-2]
    if not text:
        return None
    if text not in COLLABORATION_TYPES:
        raise ValueError(text)
    return text


def partners_text(partners: list[tuple[str | None, str]]) -> str:
    """The funding partners as the project keeps them: "type|ref" a line, in file order."""
    lines: list[str] = []
    for org_type, ref in partners:
        ref = " ".join((ref or "").split())
        if ref:
            line = f"{(org_type or '').strip()}|{ref}"
            if line not in lines:
                lines.append(line)
    return "\n".join(lines)
