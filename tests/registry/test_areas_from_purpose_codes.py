"""DAC purpose codes give paragraph 23 areas on every path, by the one rule of docs/area-mapping.md.

The expected shares are read in the test from the mapping file itself (a single purpose code
with a title that names no keyword: the code's own shares), not from the code under test."""

from __future__ import annotations

import csv
from decimal import Decimal
from importlib import resources

import pytest
from sqlalchemy import select

from importers import pipeline
from registry.extensions import db
from registry.models import Project
from registry.models.types import Role
from registry.services.actor import Actor
from tests.importers.helpers import csv_bytes
from tests.sessions import log_in

ADMIN = Actor(label="tester", channel="cli", role=Role.ADMIN)
TITLE = "Project Zeta"  # no keyword of area_keywords.csv: the purpose code decides alone


def mapped(code: str) -> dict[str, Decimal]:
    text = resources.files("importers").joinpath("data/dac_purpose_areas.csv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
    return {row["area"]: Decimal(row["share"]) for row in rows if row["code"] == code and row["area"]}


def areas_of(project: Project) -> dict[str, Decimal]:
    assert all(a.inferred for a in project.areas)
    return {a.area_code: a.share for a in project.areas}


@pytest.fixture
def donor(make_user):
    return make_user("donor")


def test_the_api_infers_areas_from_purpose_codes(api, donor):
    _user, token = donor
    body = {"reference": "A-1", "title": TITLE, "sectors": ["22040"], "recipients": [{"country": "KEN"}]}
    response = api("post", "/api/v1/projects", token, json=body)
    assert response.status_code == 201, response.get_json()
    assert {a["code"]: Decimal(a["share"]) for a in response.get_json()["areas"]} == mapped("22040")
    assert all(a["inferred"] for a in response.get_json()["areas"])


def test_areas_a_user_gives_are_kept_and_inferred_ones_follow_the_codes(api, donor):
    _user, token = donor
    given = {"reference": "A-2", "title": TITLE, "sectors": ["22040"], "areas": [{"code": "23e"}]}
    created = api("post", "/api/v1/projects", token, json=given).get_json()
    assert [(a["code"], a["inferred"]) for a in created["areas"]] == [("23e", False)]
    inferred = api("post", "/api/v1/projects", token, json={"reference": "A-3", "title": TITLE, "sectors": ["22040"]})
    project_id = inferred.get_json()["id"]
    read = {"If-Match": inferred.headers["ETag"]}
    changed = api("patch", f"/api/v1/projects/{project_id}", token, json={"sectors": ["11330"]}, headers=read)
    assert changed.status_code == 200, changed.get_json()
    assert {a["code"]: Decimal(a["share"]) for a in changed.get_json()["areas"]} == mapped("11330")


def test_the_form_infers_areas_from_purpose_codes(client, donor):
    user, _ = donor
    db.session.commit()
    log_in(client, user)
    form = {"title": TITLE, "reference": "F-1", "status": "active", "sectors": "22040", "recipients-0-place": "KEN"}
    response = client.post("/projects/new", data=form)
    assert response.status_code == 302, response.data.decode()[:2000]
    project = db.session.scalar(select(Project).where(Project.reference == "F-1"))
    assert areas_of(project) == mapped("22040")
    assert [s.code for s in project.sectors] == ["22040"]


def test_a_spreadsheet_with_purpose_codes_and_no_area_gets_the_areas(app, make_org, tmp_path):
    rows = [
        ["Project reference", "Title", "Country", "DAC purpose code", "Commitment", "Currency", "Value date"],
        ["S-1", TITLE, "KEN", "22040", "1000", "USD", "2023-01-01"],
    ]
    path = tmp_path / "donor.csv"
    path.write_bytes(csv_bytes(rows))
    org = make_org(ref="DON")
    batch = pipeline.run_import("sheet", path.name, path, org, ADMIN)
    assert batch.status == "committed", batch.problems
    project = db.session.scalar(select(Project).where(Project.reference == "S-1"))
    assert areas_of(project) == mapped("22040")
    # Imported again with another code: the inferred areas follow it.
    rows[1][3] = "11330"
    path.write_bytes(csv_bytes(rows))
    batch = pipeline.run_import("sheet", path.name, path, org, ADMIN)
    assert batch.status == "committed", batch.problems
    db.session.expire_all()
    project = db.session.scalar(select(Project).where(Project.reference == "S-1"))
    assert areas_of(project) == mapped("11330")


def test_a_file_without_codes_keeps_the_areas_a_user_chose(app, make_org, make_project, tmp_path):
    org = make_org(ref="DON")
    make_project(org=org, reference="S-2", title=TITLE, areas=[{"code": "23e"}])
    rows = [
        ["Project reference", "Title", "DAC purpose code", "Commitment", "Currency", "Value date"],
        ["S-2", TITLE, "22040", "1000", "USD", "2023-01-01"],
    ]
    path = tmp_path / "donor.csv"
    path.write_bytes(csv_bytes(rows))
    batch = pipeline.run_import("sheet", path.name, path, org, ADMIN)
    assert batch.status == "committed", batch.problems
    db.session.expire_all()
    project = db.session.scalar(select(Project).where(Project.reference == "S-2"))
    assert [(a.area_code, a.inferred) for a in project.areas] == [("23e", False)]
    assert [s.code for s in project.sectors] == ["22040"]


def test_purpose_codes_that_point_at_no_area_are_said(app, make_org, tmp_path):
    """99810 (sectors not specified) is deliberately unmapped: the import says no area came of it."""
    assert mapped("99810") == {}
    rows = [
        ["Project reference", "Title", "DAC purpose code", "Commitment", "Currency", "Value date"],
        ["S-3", TITLE, "99810", "1000", "USD", "2023-01-01"],
    ]
    path = tmp_path / "donor.csv"
    path.write_bytes(csv_bytes(rows))
    batch = pipeline.run_import("sheet", path.name, path, make_org(ref="DON"), ADMIN)
    assert batch.status == "committed", batch.problems
    [warning] = [p for p in batch.problems if p["code"] == "no_area"]
    assert warning["severity"] == "warning" and "99810" in warning["message"] and warning["row"] == 2
    assert warning["column"] == "DAC purpose code"
