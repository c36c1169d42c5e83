"""The project list's filters as one SQL query (shared by the list, exports and reports)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, or_, select

from registry.errors import ValidationError
from registry.models import Organisation, Project, ProjectArea, ProjectRecipient
from registry.models.types import ProjectStatus
from registry.services.reference import countries_in_region, region_and_descendants


@dataclass
class ProjectFilters:
    """What a user can filter projects by; every field is optional."""

    country: list[str] = field(default_factory=list)  # ISO3
    region: list[str] = field(default_factory=list)  # M49, sub-regions and their countries included
    priority_area: list[str] = field(default_factory=list)  # 23a-23l
    status: list[str] = field(default_factory=list)
    org: list[str] = field(default_factory=list)  # organisation reference
    year_from: int | None = None
    year_to: int | None = None
    q: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> ProjectFilters:
        """Build from request args (repeated keys or comma-separated values), checking each."""

        def many(name: str) -> list[str]:
            values = args.getlist(name) if hasattr(args, "getlist") else args.get(name) or []
            if isinstance(values, str):
                values = [values]
            return [v.strip() for value in values for v in str(value).split(",") if v.strip()]

        def year(name: str) -> int | None:
            value = args.get(name)
            if value in (None, ""):
                return None
            try:
                number = int(value)
            except ValueError:
                raise ValidationError(
                    f"{name} must be a year", {name: [f"{value!r} is not a year"]}
                ) from None
            if not 1900 <= number <= 2200:
                raise ValidationError(
                    f"{name} must be a year", {name: [f"{value!r} is not a year"]}
                )
            return number

        filters = cls(
            country=[c.upper() for c in many("country")],
            region=many("region"),
            priority_area=[a.lower() for a in many("priority_area")],
            status=[s.lower() for s in many("status")],
            org=many("org"),
            year_from=year("year_from"),
            year_to=year("year_to"),
            q=(args.get("q") or "").strip() or None,
        )
        bad = [s for s in filters.status if s not in {m.value for m in ProjectStatus}]
        if bad:
            raise ValidationError(
                f"Unknown status {bad[0]!r}", {"status": [f"Unknown status {bad[0]!r}"]}
            )
        if filters.year_from and filters.year_to and filters.year_from > filters.year_to:
            raise ValidationError("year_from is after year_to", {"year_from": ["After year_to"]})
        return filters


def project_query(filters: ProjectFilters) -> Select:
    """SELECT of the projects matching ``filters``, ordered by id.

    A project matches a year range when its dates (actual, else planned) overlap it;
    projects without dates match every range."""
    stmt = select(Project)
    if filters.country:
        stmt = stmt.where(
            Project.id.in_(
                select(ProjectRecipient.project_id).where(
                    ProjectRecipient.country_iso3.in_(filters.country)
                )
            )
        )
    if filters.region:
        regions: set[str] = set()
        countries: set[str] = set()
        for code in filters.region:
            for sub in region_and_descendants(code):
                regions.add(sub)
                countries.update(countries_in_region(sub))
        stmt = stmt.where(
            Project.id.in_(
                select(ProjectRecipient.project_id).where(
                    or_(
                        ProjectRecipient.region_code.in_(regions),
                        ProjectRecipient.country_iso3.in_(countries),
                    )
                )
            )
        )
    if filters.priority_area:
        stmt = stmt.where(
            Project.id.in_(
                select(ProjectArea.project_id).where(
                    ProjectArea.area_code.in_(filters.priority_area)
                )
            )
        )
    if filters.status:
        stmt = stmt.where(Project.status.in_([ProjectStatus(s) for s in filters.status]))
    if filters.org:
        stmt = stmt.where(
            Project.org_id.in_(select(Organisation.id).where(Organisation.ref.in_(filters.org)))
        )
    start = func.coalesce(Project.actual_start, Project.planned_start)
    end = func.coalesce(Project.actual_end, Project.planned_end)
    if filters.year_to:
        stmt = stmt.where(or_(start.is_(None), start <= dt.date(filters.year_to, 12, 31)))
    if filters.year_from:
        stmt = stmt.where(or_(end.is_(None), end >= dt.date(filters.year_from, 1, 1)))
    if filters.q:
        like = f"%{filters.q.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Project.title).like(like),
                func.lower(Project.description).like(like),
                func.lower(Project.reference).like(like),
                func.lower(func.coalesce(Project.iati_identifier, "")).like(like),
            )
        )
    return stmt.order_by(Project.id)
