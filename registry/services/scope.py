"""A project's effective scope in SQL: the stated one, else the one its recipients imply.

The rule is registry.models.scope.derive_scope (one country national; several countries, or a
country and a region, multi-country; regions only regional, the world alone global; none:
unknown); this is the same rule as a query, for the reports and the list filters, which group
and filter many projects at once.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.sql import ColumnElement

from registry.models import Project, ProjectRecipient
from registry.models.scope import GLOBAL, MULTI_COUNTRY, NATIONAL, REGIONAL, WORLD


def effective_scope_rows() -> Select:
    """(project_id, scope) of every project: its stated scope, else the derived one (None when
    it has no recipient). Join it as a subquery."""
    counts = (
        select(
            ProjectRecipient.project_id.label("project_id"),
            func.count(func.distinct(ProjectRecipient.country_iso3)).label("countries"),
            func.count(func.distinct(ProjectRecipient.region_code)).label("regions"),
            func.sum(case((ProjectRecipient.region_code == WORLD, 0), else_=1)).label("not_world"),
        )
        .where(or_recipient())
        .group_by(ProjectRecipient.project_id)
        .subquery("scope_counts")
    )
    return select(Project.id.label("project_id"), effective_scope(counts).label("scope")).outerjoin(
        counts, counts.c.project_id == Project.id
    )


def or_recipient() -> ColumnElement[bool]:
    """A recipient row that names a country or a region (not an unallocated share)."""
    return ProjectRecipient.country_iso3.is_not(None) | ProjectRecipient.region_code.is_not(None)


def effective_scope(counts) -> ColumnElement[str]:
    """The scope expression over ``projects`` joined to the recipient counts."""
    countries = func.coalesce(counts.c.countries, 0)
    regions = func.coalesce(counts.c.regions, 0)
    return case(
        (Project.scope.is_not(None), Project.scope),
        (countries > 1, literal(MULTI_COUNTRY)),
        (and_(countries == 1, regions > 0), literal(MULTI_COUNTRY)),
        (countries == 1, literal(NATIONAL)),
        (and_(regions > 0, counts.c.not_world == 0), literal(GLOBAL)),
        (regions > 0, literal(REGIONAL)),
        else_=None,
    )


def projects_with_scope(scopes: list[str]) -> Select:
    """The ids of the projects whose effective scope is one of ``scopes``."""
    rows = effective_scope_rows().subquery("scoped")
    return select(rows.c.project_id).where(rows.c.scope.in_(list(scopes)))
