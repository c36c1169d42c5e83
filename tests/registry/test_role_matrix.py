"""Every role against every create and edit page and API endpoint: the page, the API and the
README's table "Who may do what" give the same answer."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import delete, select

from registry.extensions import db
from registry.models import PipelineInterest, Project
from registry.services import marketplace
from registry.services.actor import Actor
from tests.conftest import REPO
from tests.sessions import log_in

# The matrix is about who may do what: each PATCH applies to whatever state the object is in
# (the If-Match rule has its own tests, tests/api/test_concurrency_preconditions.py).
ANY_STATE = {"If-Match": "*"}

ROLES = ("admin", "donor", "government", "analyst")
REFUSED = "—"


def readme_table() -> dict[str, dict[str, bool]]:
    """The README's rows: what -> {role: allowed}."""
    text = (REPO / "README.md").read_text("utf-8")
    section = text.split("### Who may do what", 1)[1].split("\n### ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or cells[0] in ("what", "---"):
            continue
        rows[cells[0]] = {role: cells[3 + i] != REFUSED for i, role in enumerate(ROLES)}
    return rows


CSV = (
    b"Project reference,Title,Country,Priority area,Type,Amount,Currency,Value date\n"
    b"RM1,Role matrix import,KEN,23b,commitment,5,USD,2021-01-04\n"
)


@pytest.fixture
def world(make_org, make_user, make_project, make_source, actor):
    """One account of each role, each with objects of its own (an admin acts on the donor's)."""
    donor_org = make_org(ref="RM-DONOR")
    admin_org = make_org(ref="RM-ADMIN")
    ministry = make_org(ref="RM-GOV", kind="government", country_iso3="NPL")
    users = {
        "admin": make_user("admin", org=admin_org),
        "donor": make_user("donor", org=donor_org),
        "government": make_user("government", org=ministry, country="NPL"),
        "analyst": make_user("analyst"),
    }
    project = make_project(org=donor_org, reference="RM-P")
    source = make_source(managing_org_id=donor_org.id)
    gov_actor = Actor(label="gov", channel="cli", user_id=users["government"][0].id, org_id=ministry.id)
    gov_actor = Actor(**{**gov_actor.__dict__, "role": users["government"][0].role, "country_iso3": "NPL"})
    pipeline = marketplace.post_pipeline_project(
        gov_actor,
        {
            "title": "District clinics online",
            "country": "NPL",
            "areas": ["23f"],
            "need": {"amount": "250000", "currency": "USD"},
            "instrument_sought": "grant",
            "contact_email": "plan@example.org",
        },
    )
    db.session.commit()  # a refused request rolls back what it finds uncommitted
    own = {
        "admin": {"project": project.id, "source": source.id, "org": donor_org.id, "pipeline": pipeline.id},
        "donor": {"project": project.id, "source": source.id, "org": donor_org.id, "pipeline": pipeline.id},
        "government": {"project": pipeline.id, "source": source.id, "org": ministry.id, "pipeline": pipeline.id},
        "analyst": {"project": project.id, "source": source.id, "org": donor_org.id, "pipeline": pipeline.id},
    }
    return {"users": users, "own": own, "ministry": ministry.id, "donor_org": donor_org.id}


def _verdict(status: int, where: str) -> bool:
    """Allowed (2xx, or a page's redirect after success) or refused (403); anything else is a
    broken request, not an answer about rights."""
    assert status in (200, 201, 204, 302, 403), (where, status)
    return status != 403


def _page(client, user, method: str, url: str, **kwargs) -> bool:
    log_in(client, user)
    response = client.open(url, method=method, **kwargs)
    return _verdict(response.status_code, f"{method} {url}")


def _api(api, token, method: str, url: str, **kwargs) -> bool:
    response = api(method, url, token, **kwargs)
    return _verdict(response.status_code, f"API {method} {url} {response.get_data(as_text=True)[:200]}")


def _tries(role: str, world: dict) -> dict[str, tuple]:
    """For each README row, the page request and the API request of this role on its own objects."""
    own = world["own"][role]
    project, source, org, pipeline = own["project"], own["source"], own["org"], own["pipeline"]
    new_project = {
        "reference": f"RM-{role}",
        "title": "Role matrix",
        "status": "pipeline" if role == "government" else "active",
        "recipients": [{"country": "NPL" if role == "government" else "KEN"}],
        "areas": [{"code": "23b"}],
    }
    if role == "admin":
        new_project["org_id"] = world["donor_org"]
    post_pipeline = {
        "title": f"Pipeline of {role}",
        "country": "NPL",
        "areas": ["23b"],
        "need": {"amount": "1000", "currency": "USD"},
        "instrument_sought": "grant",
        "contact_email": "x@example.org",
    }
    if role == "admin":
        post_pipeline["org_id"] = world["ministry"]
    new_source = {"ref": f"RM-{role}", "name": role, "kind": "trust_fund"}
    if role == "admin":
        new_source["managing_org_id"] = world["donor_org"]
    tx = {"type": "commitment", "amount": "5", "currency": "USD", "value_date": "2021-01-04"}
    upload = {"data": {"file": (io.BytesIO(CSV), "rm.csv"), "dry_run": "true"}, "content_type": "multipart/form-data"}
    if role == "admin":
        upload["data"]["org"] = "RM-DONOR"
    return {
        "register a project": (("GET", "/projects/new"), ("post", "/api/v1/projects", {"json": new_project})),
        "edit or delete a project": (
            ("GET", f"/projects/{project}/edit"),
            ("patch", f"/api/v1/projects/{project}", {"json": {"description": f"by {role}"}, "headers": ANY_STATE}),
        ),
        "add, change or delete a money flow": (
            ("GET", f"/projects/{project}/transactions/new"),
            ("post", f"/api/v1/projects/{project}/transactions", {"json": tx}),
        ),
        "add a funding source": (
            ("GET", "/funding-sources/new"),
            ("post", "/api/v1/funding-sources", {"json": new_source}),
        ),
        "edit or delete a funding source": (
            ("GET", f"/funding-sources/{source}/edit"),
            ("patch", f"/api/v1/funding-sources/{source}", {"json": {"description": role}, "headers": ANY_STATE}),
        ),
        "post a pipeline project": (
            ("GET", "/pipeline/new"),
            ("post", "/api/v1/pipeline-projects", {"json": post_pipeline}),
        ),
        "edit or withdraw a pipeline project": (
            ("GET", f"/pipeline/{pipeline}/edit"),
            ("patch", f"/api/v1/pipeline-projects/{pipeline}", {"json": {"description": role}, "headers": ANY_STATE}),
        ),
        "mark interest in a pipeline project": (
            ("POST", f"/pipeline/{pipeline}/interest", {"data": {"note": role}}),
            ("post", f"/api/v1/pipeline-projects/{pipeline}/interests", {"json": {"note": role}}),
        ),
        "import a spreadsheet, IATI or CRS file": (("GET", "/imports/"), ("post", "/api/v1/imports", upload)),
        "add or delete an organisation": (
            None,
            ("post", "/api/v1/organisations", {"json": {"ref": f"RM-NEW-{role}", "name": role, "kind": "ngo"}}),
        ),
        "edit an organisation's record": (
            None,
            ("patch", f"/api/v1/organisations/{org}", {"json": {"description": role}, "headers": ANY_STATE}),
        ),
        "read an object's full history": (("GET", f"/admin/history/project/{project}"), None),
        "read the whole audit trail": (("GET", "/admin/audit"), ("get", "/api/v1/audit-events", {})),
        "invite, change and deactivate accounts": (("GET", "/admin/users/invite"), None),
        "reload the reference data": (("GET", "/admin/reference"), None),
        "see every organisation's imports": (("GET", "/admin/imports"), None),
    }


@pytest.mark.parametrize("role", ROLES)
def test_pages_api_and_readme_agree_for_every_role(role, app, client, api, world):
    readme = readme_table()
    user, token = world["users"][role]
    tries = _tries(role, world)
    assert set(tries) == set(readme), "the README's table and this test name the same rows"
    disagreements = []
    for what, (page_try, api_try) in tries.items():
        expected = readme[what][role]
        if page_try is not None:
            method, url, *rest = page_try
            got = _page(client, user, method, url, **(rest[0] if rest else {}))
            if got != expected:
                disagreements.append(f"page {method} {url}: {'allowed' if got else 'refused'}, README {expected}")
            # An interest is recorded once per organisation: let the API record it again.
            db.session.execute(delete(PipelineInterest))
            db.session.commit()
        if api_try is not None:
            method, url, kwargs = api_try
            got = _api(api, token, method, url, **kwargs)
            if got != expected:
                disagreements.append(f"API {method} {url}: {'allowed' if got else 'refused'}, README {expected}")
    assert disagreements == [], f"{role}: " + "; ".join(disagreements)


def test_a_government_sees_no_register_button_and_gets_the_pipeline_form(client, world):
    user, _ = world["users"]["government"]
    log_in(client, user)
    listing = client.get("/projects").data.decode()
    assert "Register a project" not in listing and "Post a pipeline project" in listing
    refused = client.get("/projects/new").data.decode()
    assert "Pipeline" in refused and "/api/v1/pipeline-projects" in refused
    assert re.search(r"<h1>\s*Post a pipeline project|pipeline", client.get("/pipeline/new").data.decode())
    assert db.session.scalar(select(Project).where(Project.reference == "RM-government")) is None


def test_an_admins_source_without_a_managing_organisation_is_a_422_not_a_500(api, world):
    _, token = world["users"]["admin"]
    response = api("post", "/api/v1/funding-sources", token, json={"ref": "RM-X", "name": "X", "kind": "trust_fund"})
    assert response.status_code == 422 and "managing_org_id" in response.get_json()["errors"]


def test_a_government_or_analyst_import_is_refused_before_its_file_is_read(api, world):
    for role in ("government", "analyst"):
        _, token = world["users"][role]
        upload = {"file": (io.BytesIO(b"not a workbook"), "x.xlsx")}
        response = api("post", "/api/v1/imports", token, data=upload, content_type="multipart/form-data")
        assert response.status_code == 403, role
