"""The reference and project data a report reads beside the flows: needs, shares, names, codes.

Stage one (the flows summed per project) is in ``reports.flow_sums``, stage two in SQL in
``reports.cells_sql``; their public names are re-exported here, where other code imports them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import and_, literal, or_, select

from registry.extensions import db
from registry.models import (
    CategoryMembership,
    Country,
    Organisation,
    PriorityArea,
    Project,
    ProjectArea,
    ProjectRecipient,
    RecipientCategory,
    Region,
)
from registry.services.scope import effective_scope_rows
from reports import dimensions
from reports.cells_sql import (  # noqa: F401  (re-exported: the workbook, the facts and the tests import them here)
    GLOBAL_KEY,
    MISSING_KEY,
    SPLIT,
    UNALLOCATED_KEY,
    flows_name_recipients,
    project_sums,
    staged_sums,
    weighted_cells,
)
from reports.dimensions import FLOW_LEVEL as TX_DIMENSIONS  # noqa: F401
from reports.dimensions import FLOW_TYPES  # noqa: F401
from reports.flow_sums import (  # noqa: F401
    EXCLUDED_TYPES,
    MEASURE_TYPES,
    TxFilter,
    bucket_expression,
    fact_select,
    facts_apply,
    filtered_flows,
    measure_types,
    measure_types_note,
    project_conditions,
    project_flow_sums,
)

_filtered_flows = filtered_flows  # the name reports.conversion_notes imports


class Need(NamedTuple):
    """A project's need, as recorded and in USD."""

    project_id: int
    minor: int
    currency: str
    usd_minor: int | None
    date: dt.date | None


class CountryInfo(NamedTuple):
    name: str
    region: str | None
    subregion: str | None
    income_group: str | None


class RegionInfo(NamedTuple):
    name: str
    level: str
    parent: str | None


class Membership(NamedTuple):
    country_iso3: str
    category: str
    valid_from: dt.date
    valid_to: dt.date | None


class ProjectInfo(NamedTuple):
    reference: str
    title: str
    status: str
    organisation: str


def project_needs(
    statuses: Sequence[str],
    action_lines: Sequence[str] = (),
    scopes: Sequence[str] = (),
    infrastructures: Sequence[str] = (),
) -> list[Need]:
    """The need of every project that has one (of the statuses, action lines, scopes and
    infrastructure kinds given, if any)."""
    stmt = select(
        Project.id,
        Project.need_minor,
        Project.need_currency,
        Project.need_usd_minor,
        Project.need_date,
    ).where(Project.need_minor.is_not(None), Project.deleted_at.is_(None))
    if statuses:
        stmt = stmt.where(Project.status.in_(statuses))
    if action_lines:
        stmt = stmt.where(Project.has_action_line(action_lines))
    stmt = stmt.where(*project_conditions(scopes, infrastructures))
    return [Need(*row) for row in db.session.execute(stmt)]


def project_scopes() -> dict[int, str | None]:
    """project id -> its scope: as stated, else derived from its recipients (registry.services.scope)."""
    return dict(db.session.execute(effective_scope_rows()).all())


def project_action_lines() -> dict[int, list[str]]:
    """project id -> its WSIS action lines, of every project tagged with any."""
    stmt = select(Project.id, Project.wsis_action_lines).where(Project.wsis_action_lines != "")
    return {pid: [c for c in lines.split(",") if c] for pid, lines in db.session.execute(stmt)}


def recipient_shares() -> list[tuple[int, str | None, str | None, int]]:
    """(project_id, country_iso3, region_code, share_ppm) of every project recipient."""
    stmt = select(
        ProjectRecipient.project_id,
        ProjectRecipient.country_iso3,
        ProjectRecipient.region_code,
        ProjectRecipient.share_ppm,
    )
    return db.session.execute(stmt).all()


def area_shares() -> list[tuple[int, str, int]]:
    """(project_id, area_code, share_ppm) of every project area."""
    stmt = select(ProjectArea.project_id, ProjectArea.area_code, ProjectArea.share_ppm)
    return db.session.execute(stmt).all()


def project_facts(project_ids: Sequence[int] | None = None) -> dict[int, ProjectInfo]:
    """project_id -> reference, title, status, organisation name."""
    stmt = select(Project.id, Project.reference, Project.title, Project.status, Organisation.name).join(
        Organisation, Organisation.id == Project.org_id
    )
    if project_ids is not None:
        stmt = stmt.where(Project.id.in_(list(project_ids)))
    return {row[0]: ProjectInfo(row[1], row[2], str(row[3].value), row[4]) for row in db.session.execute(stmt)}


@dataclass
class Reference:
    """The reference data a report needs to label and classify its rows."""

    countries: dict[str, CountryInfo]  # iso3 -> name, region, subregion, income group
    regions: dict[str, RegionInfo]  # code -> name, level, parent
    country_regions: dict[str, tuple[str, ...]]  # iso3 -> its region, sub-region, intermediate codes
    areas: dict[str, str]  # code -> short name
    categories: dict[str, str]  # code -> name
    memberships: list[Membership]
    iso2: dict[str, str] = field(default_factory=dict)  # iso3 -> ISO 3166 alpha-2 (names from CLDR)

    def breakpoints(self) -> list[dt.date]:
        """The membership periods' limits, as the report facts number them (reports.facts)."""
        from reports import facts

        return facts.breakpoints(self.memberships)

    def top_region(self, code: str) -> str | None:
        """The M49 region (continent level) a region code belongs to."""
        seen = set()
        while code and code not in seen:
            seen.add(code)
            name, level, parent = self.regions.get(code, ("", "", None))
            if level == "region":
                return code
            code = parent
        return None


def load_reference() -> Reference:
    """Read countries, regions, areas, categories and memberships (a few hundred rows)."""
    countries = {
        row[0]: CountryInfo(row[1], row[2], row[3], row[4])
        for row in db.session.execute(
            select(
                Country.iso3,
                Country.name,
                Country.region_code,
                Country.subregion_code,
                Country.income_group,
            )
        )
    }
    country_regions = {
        row[0]: tuple(c for c in row[1:] if c)
        for row in db.session.execute(
            select(Country.iso3, Country.region_code, Country.subregion_code, Country.intermediate_code)
        )
    }
    regions = {
        row[0]: RegionInfo(row[1], row[2], row[3])
        for row in db.session.execute(select(Region.code, Region.name, Region.level, Region.parent_code))
    }
    areas = {row[0]: row[1] for row in db.session.execute(select(PriorityArea.code, PriorityArea.short_name))}
    categories = {row[0]: row[1] for row in db.session.execute(select(RecipientCategory.code, RecipientCategory.name))}
    memberships = [
        Membership(*row)
        for row in db.session.execute(
            select(
                CategoryMembership.country_iso3,
                CategoryMembership.category_code,
                CategoryMembership.valid_from,
                CategoryMembership.valid_to,
            )
        )
    ]
    iso2 = {iso3: code for iso3, code in db.session.execute(select(Country.iso3, Country.iso2))}
    return Reference(countries, regions, country_regions, areas, categories, memberships, iso2)


def labels_for(dimension: str, keys: Iterable) -> dict:
    """(reference, name) of the ids a dimension names its rows by (donor, funding source, project)."""
    ids = [k for k in keys if isinstance(k, int)]
    found = dimensions.find(dimension)
    names = found.names if found is not None else None
    if not ids or names is None:
        return {}
    id_column, ref_column, name_column = names()
    stmt = select(id_column, ref_column, name_column)
    if len(ids) <= 1000:  # a long IN list costs more to send and parse than reading every row
        stmt = stmt.where(id_column.in_(ids))
    wanted = set(ids)
    # A flow stays attributed to the source and donor it was recorded against when that source
    # or organisation is deleted (registry.models.soft_delete): its row keeps their name.
    rows = db.session.execute(stmt, execution_options={"include_deleted": True})
    return {row[0]: (row[1], row[2]) for row in rows if row[0] in wanted}


def resolve_refs(model, refs: Sequence[str]) -> tuple[list[int], list[str]]:
    """Ids of organisations / funding sources given by ref (or id); and the refs not found."""
    ids, missing = [], []
    for ref in refs:
        cond = or_(
            model.ref == ref,
            and_(literal(ref.isdigit()), model.id == (int(ref) if ref.isdigit() else -1)),
        )
        found = db.session.scalar(select(model.id).where(cond))
        if found is None:
            missing.append(ref)
        else:
            ids.append(found)
    return ids, missing
