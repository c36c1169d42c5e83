"""The project detail of the API gives the project's direction, derived by
registry/services/direction.py from its flows (or set by hand); the lists do not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from registry.extensions import db


def test_the_detail_gives_the_derived_direction_and_the_list_does_not(
    app, api, make_user, make_org, make_project, make_transaction
):
    _user, token = make_user("admin")
    korea = make_org(ref="KOICA-T", country_iso3="KOR")  # a DAC member from 1 January 2010
    brazil = make_org(ref="ABC-T", country_iso3="BRA")  # not a DAC member
    project = make_project(reference="DIR-1")
    empty = make_project(reference="DIR-2")
    db.session.commit()

    got = api("get", f"/api/v1/projects/{empty.id}").get_json()
    assert got["direction"] == []  # no flow, no direction

    # Korea in 2008 was not on the DAC, giving to Kenya: South-South; in 2012 it was: North-South
    make_transaction(project, amount=Decimal("100"), value_date=dt.date(2008, 6, 1), provider_org_id=korea.id)
    make_transaction(project, amount=Decimal("100"), value_date=dt.date(2012, 6, 1), provider_org_id=korea.id)
    db.session.commit()
    got = api("get", f"/api/v1/projects/{project.id}").get_json()
    assert got["direction"] == ["north_south", "south_south"]  # both, in the order of the values

    other = make_project(reference="DIR-3")
    make_transaction(other, amount=Decimal("100"), value_date=dt.date(2020, 6, 1), provider_org_id=brazil.id)
    db.session.commit()
    assert api("get", f"/api/v1/projects/{other.id}").get_json()["direction"] == ["south_south"]

    # set by hand: the override is the direction, whatever the flows say
    changed = api(
        "patch",
        f"/api/v1/projects/{project.id}",
        token,
        json={"direction_override": "triangular", "direction_reason": "Korea funds Brazil's agency"},
        headers={"If-Match": "*"},
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["direction"] == ["triangular"]

    listed = api("get", "/api/v1/projects?per_page=100").get_json()["items"]
    assert {p["id"] for p in listed} >= {project.id, other.id} and not any("direction" in p for p in listed)


def test_the_schema_says_why_lists_leave_it_out(app, client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    described = schemas["ProjectDetailOut"]["properties"]["direction"]["description"]
    assert "not in the project lists" in described and "a query per project" in described
    assert "direction" not in schemas["ProjectOut"]["properties"]
