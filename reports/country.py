"""A country's own page (/countries/<ISO3>): its name, categories and region, its key figures
from the report service (the same reports as the reports page), the world map with the country
outlined, its flows by paragraph 23 area and by year, its projects, the funding sources the
finder finds it eligible for, and the flat downloads for it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from registry import i18n, money
from registry.errors import ValidationError
from registry.extensions import db
from registry.models import CategoryMembership, Country
from registry.models.types import ProjectStatus
from registry.reference_names import category_name, country_name, region_name
from registry.services import matching
from registry.services.search import ProjectFilters, project_count_query, project_query, with_details
from registry.web.links import project_url, source_url
from reports import downloads, maps, population
from reports.dimensions import measure_name
from reports.flows import Report, ReportSpec, run_report
from reports.notes import shown
from reports.schemas import load_spec
from reports.web import COMMON_CURRENCIES, _map, measure_cell

bp = Blueprint("countries", __name__, url_prefix="/countries", template_folder="templates")

MEASURES = ["commitment", "disbursement", "need", "gap", "coverage", "undisbursed", "projects"]
TABLE_MEASURES = ["commitment", "disbursement", "need", "gap", "coverage"]
MOST_PROJECTS = 50  # listed on the page; the projects page has them all


@dataclasses.dataclass
class PerPerson:
    """A country's amounts per person, and the population they divide by (None: no figure)."""

    people: population.Population | None
    commitment: Decimal | None
    disbursement: Decimal | None


def country_url(iso3: str) -> str:
    """The address of a country's page."""
    return url_for("countries.country", iso3=iso3)


def _spec(by: list[str]) -> ReportSpec:
    """The page's report parameters (currency, years) through the reports' schema."""
    args = request.args
    params: dict = {key: args.get(key) or None for key in ("currency", "year_from", "year_to")}
    params |= {"by": by, "measure": MEASURES}
    return load_spec(params)


def _row(report: Report, iso3: str) -> dict | None:
    return next((r for r in report.rows if r["country"] == iso3), None)


def _categories(country: Country) -> list[tuple[str, str, dt.date, dt.date | None]]:
    """(code, name, from, to) of the country's category memberships, current and past, dated as
    the registry's categories are (to: the first day it is no longer a member; None: still one)."""
    rows = db.session.scalars(
        select(CategoryMembership)
        .where(CategoryMembership.country_iso3 == country.iso3)
        .order_by(CategoryMembership.category_code, CategoryMembership.valid_from)
    ).all()
    return [(m.category_code, category_name(m.category_code, m.category_code), m.valid_from, m.valid_to) for m in rows]


def _projects(iso3: str) -> tuple[list, list, int]:
    """(projects, pipeline projects, how many in all) with a share or a flow in the country."""
    filters = ProjectFilters(country=iso3, sort="title")
    total = db.session.scalar(project_count_query(filters)) or 0
    items = list(db.session.scalars(with_details(project_query(filters)).limit(MOST_PROJECTS)))
    pipeline = [p for p in items if p.status is ProjectStatus.PIPELINE]
    return [p for p in items if p.status is not ProjectStatus.PIPELINE], pipeline, total


@bp.get("/<iso3>")
def country(iso3: str):
    """A country's page; 404 for a code the registry does not know."""
    if iso3 != iso3.upper():
        abort(404)
    place = db.session.scalars(
        select(Country)
        .where(Country.iso3 == iso3)
        .options(selectinload(Country.region), selectinload(Country.subregion), selectinload(Country.intermediate))
    ).first()
    if place is None:
        abort(404)
    name = country_name(place)
    errors: dict = {}
    context: dict = {}
    try:
        spec = _spec(["country"])
    except ValidationError as exc:
        errors, spec = exc.errors, None
    if spec is not None:
        # The country's row of the report by country, as the reports page's table and map show
        # it (rows rounded to add up to the total); the map is drawn from the same report.
        report = run_report(spec)
        row = _row(report, iso3)
        people = population.population(iso3, spec.year_to)
        per_person = PerPerson(
            people,
            population.per_capita(row["commitment"], people) if row else None,
            population.per_capita(row["disbursement"], people) if row else None,
        )
        own = dataclasses.replace(spec, countries=[iso3])
        by_area = run_report(dataclasses.replace(own, dimensions=["priority_area"]))
        by_year = run_report(dataclasses.replace(own, dimensions=["year"]))
        measure = request.args.get("map") if request.args.get("map") in maps.MEASURES else "commitment"
        map_data, map_svg = _map(spec, measure, highlight=iso3, known=report)
        context = {
            "report": report,
            "row": row,
            "per_person": per_person,
            "by_area": by_area,
            "by_year": by_year,
            "map_data": map_data,
            "map_svg": map_svg,
            "map_measure": measure,
            "map_choices": _map_choices(iso3),
            "map_query": urlencode(
                {"measure": measure, "highlight": iso3}
                | {k: request.args[k] for k in ("currency", "year_from", "year_to") if request.args.get(k)}
            ),
            "population_year": min(spec.year_to or population.last_year(), population.last_year()),
        }
    projects, pipeline, project_total = _projects(iso3)
    sources = matching.find_funding(matching.build_need(iso3, [])).matches
    flat = MultiDict(
        [("country", iso3)] + [(k, request.args[k]) for k in ("year_from", "year_to") if request.args.get(k)]
    )
    return (
        render_template(
            "reports/country.html",
            country=place,
            name=name,
            categories=_categories(place),
            regions=[
                region_name(r.code, r.name)
                for r in (place.region, place.subregion, place.intermediate)
                if r is not None
            ],
            errors=errors,
            args=request.args,
            measures=TABLE_MEASURES,
            measure_names={m: measure_name(m) for m in MEASURES} | {m: maps.map_measure_name(m) for m in maps.MEASURES},
            cell=measure_cell,
            money=i18n.money,
            projects=projects,
            pipeline=pipeline,
            project_total=project_total,
            project_url=project_url,
            source_url=source_url,
            sources=sources,
            downloads=downloads.page_links(flat),
            note_text=shown,
            source_note=str(population.SOURCE),
            per_person_note=maps.per_person_note,
            currencies=_currencies(),
            **context,
        ),
        422 if errors else 200,
    )


def _currencies() -> list[str]:
    return [*COMMON_CURRENCIES, *(c for c in money.convertible_currencies() if c not in COMMON_CURRENCIES)]


def _map_choices(iso3: str) -> list[tuple[str, str, str]]:
    """(measure, name, address) of each measure the country page's map can show."""
    keep = {k: request.args[k] for k in ("currency", "year_from", "year_to") if request.args.get(k)}
    return [
        (m, maps.map_measure_name(m), country_url(iso3) + "?" + urlencode(keep | {"map": m}) + "#map")
        for m in maps.MEASURES
    ]
