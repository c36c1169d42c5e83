"""Soft delete: a DELETE marks projects, flows, funding sources and organisations deleted;
they are hidden from lists, detail, search and the finder, restorable by their owner or an
administrator (API, pages, command line), and their audit trail stays readable."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import AuditEvent, FundingSource, Organisation, Project, Transaction
from registry.models.soft_delete import INCLUDE_DELETED
from registry.services import deletion
from tests.sessions import log_in

# These tests are about who may do what, not about concurrent edits: every PATCH and DELETE
# says it applies to whatever state the object is in (tests/api/test_concurrency_preconditions.py).
ANY_STATE = {"If-Match": "*"}


def _raw(model, object_id):
    """The row as stored, deleted or not."""
    return db.session.get(model, object_id, execution_options=INCLUDE_DELETED, populate_existing=True)


def _actions(entity_type: str, entity_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def donor(make_user):
    user, token = make_user("donor")
    return user, token


@pytest.fixture
def project_with_flows(donor, make_project, make_transaction):
    user, _token = donor
    org = db.session.get(Organisation, user.org_id)
    project = make_project(org=org, title="Rural broadband", reference="RB-1")
    flows = [
        make_transaction(project, amount=Decimal("1000.01")),
        make_transaction(project, type="disbursement", amount=Decimal("250.50")),
        make_transaction(project, amount=Decimal("0.07"), value_date=dt.date(2021, 2, 2)),
    ]
    db.session.commit()
    return project, flows


def test_api_delete_hides_a_project_and_restore_brings_it_back(api, donor, make_user, project_with_flows):
    user, token = donor
    project, flows = project_with_flows
    url = f"/api/v1/projects/{project.id}"
    assert api("delete", url, token, headers=ANY_STATE).status_code == 204

    stored = _raw(Project, project.id)
    assert stored.deleted_at is not None and stored.deleted_by == user.email
    assert all(_raw(Transaction, t.id).deleted_at == stored.deleted_at for t in flows)
    assert api("get", url).status_code == 404
    assert api("get", url, token).status_code == 404
    listed = api("get", "/api/v1/projects?per_page=100").get_json()
    assert project.id not in [p["id"] for p in listed["items"]]
    assert project.id not in [p["id"] for p in api("get", "/api/v1/projects?q=broadband").get_json()["items"]]
    # a second delete finds nothing; an edit neither
    assert api("delete", url, token, headers=ANY_STATE).status_code == 404
    assert api("patch", url, token, json={"title": "x"}, headers=ANY_STATE).status_code == 404

    # the audit of a deleted object stays readable (the whole trail is the administrators')
    _admin, admin_token = make_user("admin")
    events = api("get", f"/api/v1/audit-events?entity_type=project&entity_id={project.id}", admin_token).get_json()
    assert [e["action"] for e in events["items"]] == ["delete", "create"]
    assert events["items"][0]["after"]["transactions"] == 3
    assert len(events["items"][0]["before"]["transactions"]) == 3

    deleted = api("get", "/api/v1/deleted/projects", token).get_json()
    assert [(d["id"], d["restore"]) for d in deleted["items"]] == [(project.id, f"{url}/restore")]
    assert deleted["total"] == 1
    assert api("get", "/api/v1/deleted/projects?page=2", token).get_json() == {"items": [], "page": 2, "total": 1}

    restored = api("post", f"{url}/restore", token)
    assert restored.status_code == 200, restored.get_json()
    assert restored.get_json()["title"] == "Rural broadband" and restored.headers["ETag"]
    assert _raw(Project, project.id).deleted_at is None
    assert all(_raw(Transaction, t.id).deleted_at is None for t in flows)
    assert len(api("get", f"{url}/transactions", token).get_json()) == 3
    assert _actions("project", project.id) == ["create", "delete", "restore"]
    assert api("post", f"{url}/restore", token).status_code == 404  # not deleted any more
    assert api("get", "/api/v1/deleted/projects", token).get_json()["items"] == []


def test_restoring_a_project_brings_back_exactly_the_flows_deleted_with_it(api, donor, project_with_flows):
    _user, token = donor
    project, flows = project_with_flows
    alone = flows[1]
    tx_url = f"/api/v1/projects/{project.id}/transactions/{alone.id}"
    assert api("delete", tx_url, token, headers=ANY_STATE).status_code == 204
    assert api("get", tx_url, token).status_code == 404
    assert [d["id"] for d in api("get", "/api/v1/deleted/transactions", token).get_json()["items"]] == [alone.id]
    assert api("delete", f"/api/v1/projects/{project.id}", token, headers=ANY_STATE).status_code == 204
    # the flows deleted with the project are not listed apart: they come back with it
    assert [d["id"] for d in api("get", "/api/v1/deleted/transactions", token).get_json()["items"]] == []
    # a flow of a deleted project cannot come back alone
    assert api("post", f"{tx_url}/restore", token).status_code == 409

    assert api("post", f"/api/v1/projects/{project.id}/restore", token).status_code == 200
    live = [t["id"] for t in api("get", f"/api/v1/projects/{project.id}/transactions", token).get_json()]
    assert sorted(live) == sorted([flows[0].id, flows[2].id])  # the one deleted before stays deleted
    restored = api("post", f"{tx_url}/restore", token)
    assert restored.status_code == 200 and restored.get_json()["amount"] == "250.50"
    assert _actions("transaction", alone.id) == ["create", "delete", "restore"]
    assert (
        api("post", f"/api/v1/projects/{project.id + 1000}/transactions/{alone.id}/restore", token).status_code == 404
    )


def test_only_the_owner_or_an_administrator_restores(api, donor, make_user, project_with_flows):
    _user, token = donor
    project, _flows = project_with_flows
    assert api("delete", f"/api/v1/projects/{project.id}", token, headers=ANY_STATE).status_code == 204
    _other, other_token = make_user("donor")
    _analyst, analyst_token = make_user("analyst")
    _admin, admin_token = make_user("admin")
    db.session.commit()
    url = f"/api/v1/projects/{project.id}/restore"
    assert api("post", url).status_code == 401
    assert api("post", url, other_token).status_code == 403
    assert api("post", url, analyst_token).status_code == 403
    assert api("get", "/api/v1/deleted/projects", other_token).get_json()["items"] == []
    assert api("get", "/api/v1/deleted/projects", analyst_token).status_code == 403
    assert [d["id"] for d in api("get", "/api/v1/deleted/projects", admin_token).get_json()["items"]] == [project.id]
    assert api("post", url, admin_token).status_code == 200


def test_funding_source_delete_hides_it_from_lists_and_the_finder(api, make_user, make_source):
    _admin, token = make_user("admin")
    source = make_source(name="Village fund", countries=["NPL"], areas=["23b"])
    db.session.commit()
    url = f"/api/v1/funding-sources/{source.id}"
    match = "/api/v1/funding-sources/match?country=NPL&priority_area=23b&date=2024-06-30"

    def matched() -> list[int]:
        body = api("get", match).get_json()
        return [m["source"]["id"] for m in body["matches"]] + [m["source"]["id"] for m in body["failing"]]

    assert source.id in matched()
    assert api("delete", url, token, headers=ANY_STATE).status_code == 204
    assert api("get", url).status_code == 404
    assert source.id not in [s["id"] for s in api("get", "/api/v1/funding-sources?per_page=100").get_json()["items"]]
    assert source.id not in matched()
    assert api("post", f"{url}/restore", token).status_code == 200
    assert api("get", url).status_code == 200 and source.id in matched()
    assert _actions("funding_source", source.id) == ["create", "delete", "restore"]


def test_an_organisation_with_live_projects_is_not_deleted(api, make_user, make_org, make_project, make_source):
    _admin, token = make_user("admin")
    org = make_org(name="Busy agency")
    first, second = make_project(org=org), make_project(org=org)
    source = make_source(managing_org_id=org.id)
    db.session.commit()
    url = f"/api/v1/organisations/{org.id}"
    refused = api("delete", url, token, headers=ANY_STATE)
    assert refused.status_code == 409
    assert "2 live project(s) and 1 live funding source(s)" in refused.get_json()["message"]
    assert _raw(Organisation, org.id).deleted_at is None

    for path in (
        f"/api/v1/projects/{first.id}",
        f"/api/v1/projects/{second.id}",
        f"/api/v1/funding-sources/{source.id}",
    ):
        assert api("delete", path, token, headers=ANY_STATE).status_code == 204
    assert api("delete", url, token, headers=ANY_STATE).status_code == 204  # deleted projects do not hold it back
    assert api("get", url).status_code == 404
    assert org.id not in [o["id"] for o in api("get", "/api/v1/organisations?per_page=100").get_json()["items"]]
    # its project cannot come back before it
    blocked = api("post", f"/api/v1/projects/{first.id}/restore", token)
    assert blocked.status_code == 409 and "restore it first" in blocked.get_json()["message"]
    assert api("post", f"{url}/restore", token).status_code == 200
    assert api("post", f"/api/v1/projects/{first.id}/restore", token).status_code == 200
    assert _actions("organisation", org.id) == ["create", "delete", "restore"]


def test_a_deleted_key_stays_taken_and_says_so(api, donor, project_with_flows):
    _user, token = donor
    project, _flows = project_with_flows
    assert api("delete", f"/api/v1/projects/{project.id}", token, headers=ANY_STATE).status_code == 204
    again = api("post", "/api/v1/projects", token, json={"reference": "RB-1", "title": "Again", "status": "active"})
    assert again.status_code == 409
    assert "deleted" in again.get_json()["message"] and "restore it" in again.get_json()["message"]
    count = select(func.count()).select_from(Project).where(Project.reference == "RB-1")
    assert db.session.scalar(count, execution_options=INCLUDE_DELETED) == 1


def test_restore_from_the_command_line(runner, project_with_flows, actor):
    project, flows = project_with_flows
    deletion.delete_project(actor, project)
    db.session.commit()
    listed = runner.invoke(args=["deleted", "list", "project"])
    assert listed.exit_code == 0 and f"{project.id}\t" in listed.output and "Rural broadband" in listed.output
    done = runner.invoke(args=["deleted", "restore", "project", str(project.id)])
    assert done.exit_code == 0, done.output
    assert _raw(Project, project.id).deleted_at is None
    assert all(_raw(Transaction, t.id).deleted_at is None for t in flows)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "restore"))
    assert event.channel == "cli" and event.entity_id == project.id
    missing = runner.invoke(args=["deleted", "restore", "project", str(project.id)])
    assert missing.exit_code == 1 and "No deleted project" in missing.output


# -- pages --------------------------------------------------------------------


@pytest.fixture
def login(client, make_user):
    def as_role(role: str, org=None):
        user, _token = make_user(role, org=org)
        db.session.commit()
        log_in(client, user)
        return user

    return as_role


def test_delete_and_restore_buttons_on_the_pages(client, login, make_project, make_transaction, make_org):
    org = make_org(name="Page agency")
    user = login("donor", org=org)
    project = make_project(org=org, title="Page project")
    make_transaction(project, amount=Decimal("12.34"))
    db.session.commit()
    assert client.post(f"/projects/{project.id}/delete", data={"version": str(project.version)}).status_code == 302
    assert f'href="/projects/{project.id}"' not in client.get("/projects").data.decode()

    # its own page: a banner with Restore for the owner (410), nothing for anyone else (404)
    page = client.get(f"/projects/{project.id}")
    assert page.status_code == 410
    text = page.data.decode()
    assert "This project is deleted" in text and user.email in text and 'id="restore"' in text
    assert "Deleted Page project and its 1 money flows" in text  # its history stays readable

    listing = client.get("/deleted/projects")
    assert listing.status_code == 200 and "Page project" in listing.data.decode()
    back = client.post(f"/deleted/projects/{project.id}/restore")
    assert back.status_code == 302 and back.headers["Location"].endswith(f"/projects/{project.id}")
    assert client.get(f"/projects/{project.id}").status_code == 200
    assert "Page project" not in client.get("/deleted/projects").data.decode()
    assert _actions("project", project.id)[-2:] == ["delete", "restore"]


def test_a_deleted_page_is_404_for_others(client, login, make_project, actor):
    project = make_project(title="Hidden project")
    deletion.delete_project(actor, project)
    db.session.commit()
    assert client.get(f"/projects/{project.id}").status_code == 404  # a visitor
    login("donor")  # of another organisation
    assert client.get(f"/projects/{project.id}").status_code == 404
    assert "Hidden project" not in client.get("/deleted/projects").data.decode()
    assert client.post(f"/deleted/projects/{project.id}/restore").status_code == 403
    assert client.get("/deleted/organisations").status_code == 403
    assert _raw(Project, project.id).deleted_at is not None


def test_deleted_pages_per_kind_for_an_administrator(client, login, make_source, make_org, make_project, actor):
    source = make_source(name="Gone fund")
    org = make_org(name="Gone agency")
    project = make_project(title="Has a flow")
    from registry.services.projects import add_transaction

    tx = add_transaction(
        actor,
        project,
        {"type": "commitment", "amount": Decimal("5"), "currency": "USD", "value_date": dt.date(2020, 1, 1)},
    )
    deletion.delete_funding_source(actor, source)
    deletion.delete_organisation(actor, org)
    deletion.delete_transaction(actor, tx)
    db.session.commit()
    login("admin")
    assert "Gone fund" in client.get("/deleted/funding-sources").data.decode()
    assert "Gone agency" in client.get("/deleted/organisations").data.decode()
    assert "Has a flow" in client.get("/deleted/flows").data.decode()
    assert client.get(f"/funding-sources/{source.id}").status_code == 410
    assert client.get(f"/organisations/{org.id}").status_code == 410
    assert client.post(f"/deleted/organisations/{org.id}/restore").status_code == 302
    assert client.post(f"/deleted/funding-sources/{source.id}/restore").status_code == 302
    assert client.post(f"/deleted/flows/{tx.id}/restore").status_code == 302
    for model, object_id in ((FundingSource, source.id), (Organisation, org.id), (Transaction, tx.id)):
        assert _raw(model, object_id).deleted_at is None


def test_a_government_deletes_and_restores_its_own_pipeline_project(api, make_user, make_org):
    org = make_org(kind="government", name="Ministry of ICT")
    _user, token = make_user("government", org=org, country="NPL")
    _other, other_token = make_user("government", org=make_org(kind="government"), country="KEN")
    db.session.commit()
    body = {  # a government posts its pipeline projects through the marketplace
        "title": "District connectivity",
        "country": "NPL",
        "areas": ["23c"],
        "need": {"amount": "250000", "currency": "USD"},
        "instrument_sought": "grant",
        "contact_email": "plan@example.org",
    }
    created = api("post", "/api/v1/pipeline-projects", token, json=body)
    assert created.status_code == 201, created.get_json()
    url = f"/api/v1/projects/{created.get_json()['id']}"
    assert api("delete", url, token, headers=ANY_STATE).status_code == 204
    assert [d["id"] for d in api("get", "/api/v1/deleted/projects", token).get_json()["items"]] == [
        created.get_json()["id"]
    ]
    assert api("get", "/api/v1/deleted/funding-sources", token).status_code == 403
    assert api("post", f"{url}/restore", other_token).status_code == 403
    assert api("post", f"{url}/restore", token).status_code == 200
    assert api("get", url).status_code == 200
