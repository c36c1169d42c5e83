"""The shared project filters (registry.services.search)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from registry.errors import ValidationError
from registry.extensions import db
from registry.services.search import ProjectFilters, project_count_query, project_query


def _ids(**filters) -> list[int]:
    query = project_query(ProjectFilters(**filters))
    return [p.id for p in db.session.scalars(query)]


def _count(**filters) -> int:
    return db.session.scalar(project_count_query(ProjectFilters(**filters)))


@pytest.fixture
def world(make_org, make_project, make_source, make_transaction):
    donor, other = make_org(ref="D1"), make_org(ref="D2")
    fund = make_source(managing_org_id=donor.id, kind="trust_fund")
    kenya = make_project(
        org=donor,
        title="Kenya broadband",
        recipients=[
            {"country": "KEN", "share": Decimal(60)},
            {"country": "UGA", "share": Decimal(40)},
        ],
        areas=[{"code": "23b", "share": Decimal(100)}],
        planned_start=dt.date(2018, 1, 1),
        planned_end=dt.date(2019, 12, 31),
        need={"amount": "5000000", "currency": "USD"},
    )
    make_transaction(kenya, value_date=dt.date(2018, 3, 1), funding_source_id=fund.id)
    regional = make_project(
        org=other,
        title="East Africa e-learning",
        description="Schools IN the region",
        recipients=[{"region": "014"}],
        areas=[{"code": "23d"}],
        planned_start=dt.date(2022, 1, 1),
    )
    make_transaction(regional, value_date=dt.date(2022, 5, 1), provider_org_id=donor.id)
    bhutan = make_project(
        org=other,
        title="Bhutan e-government",
        status="pipeline",
        recipients=[{"country": "BTN"}],
        areas=[{"code": "23e", "share": Decimal(50)}, {"code": "23b", "share": Decimal(50)}],
        planned_start=None,
        reference="REF_100%",
    )
    return {
        "kenya": kenya.id,
        "regional": regional.id,
        "bhutan": bhutan.id,
        "donor": donor,
        "fund": fund,
    }


def test_country_region_and_regional_recipients(world):
    assert _ids(country="ken") == [world["kenya"]]
    # Eastern Africa: Kenya's project by its countries, the regional one by its region.
    assert set(_ids(region="14")) == {world["kenya"], world["regional"]}
    # Africa (002) includes Eastern Africa below it.
    assert set(_ids(region="002")) == {world["kenya"], world["regional"]}
    assert _ids(region="142") == [world["bhutan"]]  # Asia


def test_category_membership_is_dated(world):
    # Bhutan left the LDC list on 2023-12-13; Uganda (with Kenya in one project) is an LDC.
    assert _ids(category="ldc") == [world["kenya"]]


def test_category_year_range_uses_membership_in_that_period(make_org, make_project):
    org = make_org()
    p = make_project(org=org, recipients=[{"country": "BTN"}], planned_start=dt.date(2010, 1, 1))
    assert p.id in _ids(category="LDC", year_from=2010, year_to=2012)
    assert p.id not in _ids(category="LDC")
    assert p.id not in _ids(category="LDC", year_from=2024)


def test_area_status_source_kind_and_donor(world):
    assert set(_ids(area="23B")) == {world["kenya"], world["bhutan"]}
    assert _ids(status="pipeline") == [world["bhutan"]]
    assert _ids(funding_source_id=world["fund"].id) == [world["kenya"]]
    assert _ids(source_kind="trust_fund") == [world["kenya"]]
    assert _ids(source_kind="private") == []
    # The donor reports Kenya's project and provides money to the regional one.
    assert set(_ids(donor_org_id=world["donor"].id)) == {world["kenya"], world["regional"]}
    assert _ids(org_id=world["donor"].id) == [world["kenya"]]


def test_year_range_by_value_dates_or_planned_period(world):
    assert _ids(year_from=2018, year_to=2018) == [world["kenya"]]
    assert _ids(year_from=2019, year_to=2019) == [world["kenya"]]  # planned period overlaps
    assert _ids(year_from=2021) == [world["regional"]]
    assert _ids(year_to=2017) == []


def test_free_text_is_case_insensitive_and_literal(world):
    assert _ids(q="BROADBAND") == [world["kenya"]]
    assert _ids(q="schools in") == [world["regional"]]
    assert _ids(q="_100%") == [world["bhutan"]]
    assert _ids(q="%") == [world["bhutan"]]  # a literal percent sign, not a wildcard


def test_sort_and_count(world):
    assert _ids(sort="title") == [world["bhutan"], world["regional"], world["kenya"]]
    assert _ids(sort="-title") == [world["kenya"], world["regional"], world["bhutan"]]
    # No start date sorts last in both directions.
    assert _ids(sort="start") == [world["kenya"], world["regional"], world["bhutan"]]
    assert _ids(sort="-start") == [world["regional"], world["kenya"], world["bhutan"]]
    assert _ids(sort="-need")[0] == world["kenya"]
    assert _count() == 3
    assert _count(area="23b") == 2
    with pytest.raises(ValidationError):
        _ids(sort="colour")


def test_from_mapping_drops_blanks_and_unknown_keys():
    filters = ProjectFilters.from_mapping({"country": "KEN", "q": "", "page": 2, "year_from": 2020})
    assert filters == ProjectFilters(country="KEN", year_from=2020)
