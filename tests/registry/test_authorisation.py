"""Who may change what, through every route: the API and the forms alike."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import (
    ApiToken,
    AuditEvent,
    Follow,
    FundingSource,
    ImportBatch,
    Notification,
    Organisation,
    PipelineInterest,
    Project,
    SavedSearch,
    Transaction,
    User,
)
from registry.models.types import Role
from registry.services import funding, organisations, projects, tokens
from registry.services.actor import Actor
from tests.sessions import log_in

MUTATING = {"POST", "PATCH", "PUT", "DELETE"}
# Routes that change no registry object of anyone (signing in and out).
# (changing one's own password touches nobody else: tests/registry/test_sessions.py)
NOT_OBJECT_ROUTES = {"auth.login", "auth.logout", "auth.password"}
# Choosing the language of one's own pages (tests/registry/test_i18n.py).
NOT_OBJECT_ROUTES |= {"i18n.switch_language"}
# Routes that record the user's own interest or saved search, touching nobody else's
# objects (their rules are tested in test_marketplace*.py).
NOT_OBJECT_ROUTES |= {
    "finder_api.Interests",
    "finder.interest_add",
    "finder_api.SavedSearches",
    "finder.saved_search_create",
}
# Following, and marking one's own notifications read, touch the user's own rows alone
# (tests/registry/test_alerts.py); another's follow or notification is walked below.
NOT_OBJECT_ROUTES |= {"alerts_api.Follows", "alerts.follow", "alerts_api.NotificationsRead", "alerts.mark_all_read"}
# Creating an API token makes one for the user alone (test_tokens_pages.py); revoking one is walked below.
NOT_OBJECT_ROUTES |= {"tokens.mine"}

PROJECT_JSON = {
    "reference": "HIJACK",
    "title": "Hijacked",
    "status": "active",
    "recipients": [{"country": "KEN"}],
    "areas": [{"code": "23b"}],
}
TX_JSON = {"type": "commitment", "amount": "5", "currency": "USD", "value_date": "2021-01-04"}
SOURCE_JSON = {"ref": "HIJACK", "name": "Hijacked", "kind": "trust_fund"}
ORG_JSON = {"ref": "HIJACK", "name": "Hijacked", "kind": "ngo"}
PROJECT_FORM = {
    "reference": "HIJACK",
    "title": "Hijacked",
    "status": "active",
    "recipients-0-place": "KEN",
    "areas-0-code": "23b",
}
TX_FORM = {"type": "commitment", "amount": "5", "currency": "USD", "value_date": "2021-01-04"}
SOURCE_FORM = {"ref": "HIJACK", "name": "Hijacked", "kind": "trust_fund"}


CSV = (
    b"Project reference,Title,Country,Priority area,Type,Amount,Currency,Value date\n"
    b"X1,Hijack,KEN,23b,commitment,5,USD,2021-01-04\n"
)


def body_for(rule: str, method: str, other: dict) -> dict:
    """A request body that is valid, so that only the rights can refuse it."""
    if method == "DELETE":
        return {}
    api = rule.startswith("/api/")
    if rule in ("/api/v1/imports", "/imports/"):
        # An upload on behalf of the other organisation.
        field = {"org": "OTHER"} if api else {"org_id": str(other["org"])}
        return {"data": {**field, "file": (io.BytesIO(CSV), "theirs.csv")}, "content_type": "multipart/form-data"}
    if rule.startswith(("/api/v1/imports/", "/imports/")) or rule.endswith("/restore"):
        return {"data": {}}  # a restore has no body (who may restore: tests/registry/test_soft_delete.py)
    if "/follows/" in rule or rule.endswith("/alert") or rule.startswith("/alerts/unsubscribe/"):
        return {"json": {"frequency": "off"}} if api else {"data": {"frequency": "off"}}
    if "/notifications/" in rule:
        return {"data": {}}
    if rule.startswith("/admin/"):  # invite an admin, make the other organisation's user one
        return {"data": {"email": "hijack@example.org", "role": "admin", "org_id": str(other["org"])}}
    if rule.startswith("/invitation/"):  # set a password with a link one does not hold
        return {"data": {"password": "hijacked-password", "confirmation": "hijacked-password"}}
    if rule.endswith("/commitments") or rule.endswith("/commit"):
        commitment = {"funding_source_id": other["source"], "amount": "5", "currency": "USD"}
        return {"json": commitment} if api else {"data": commitment}
    if "/pipeline" in rule or "/saved-searches" in rule:
        pipeline = {"title": "Hijacked", "country": "KEN", "areas": ["23b"], "instrument_sought": "grant"}
        return {"json": pipeline} if api else {"data": pipeline}
    if re.search(r"/transactions(/new|/<int:tx_id>(/edit)?)?$", rule):
        return {"json": TX_JSON} if api else {"data": TX_FORM}
    if rule.endswith("/plans"):  # a project's forward plans: a planned disbursement for next year
        plan = {"period_start": "2030-01-01", "period_end": "2030-12-31", "amount": "1000.00", "currency": "USD"}
        return {"json": {"planned_disbursements": [plan]}}
    if rule.endswith("/delete"):
        return {"data": {"version": "1"}}
    if rule.endswith("/revoke"):
        return {"data": {}}
    if "/projects" in rule:
        if api:
            return {"json": {**PROJECT_JSON, "org_id": other["org"]}}
        return {"data": {**PROJECT_FORM, "org_id": str(other["org"])}}
    if "/funding-sources" in rule:
        if api:
            return {"json": {**SOURCE_JSON, "managing_org_id": other["org"]}}
        return {"data": {**SOURCE_FORM, "managing_org_id": str(other["org"])}}
    if "/organisations" in rule:
        return {"json": ORG_JSON} if api else {"data": ORG_JSON}
    raise AssertionError(f"Teach test_authorisation.body_for about {method} {rule}")


def url_for_rule(rule, other: dict) -> str:
    """The rule's URL with another organisation's object ids."""
    ids = {
        "project_id": other["project"],
        "tx_id": other["tx"],
        "source_id": other["source"],
        "org_id": other["org"],
        "interest_id": other["interest"],
        "search_id": other["search"],
        "batch_id": other["batch"],
        "token_id": other["token"],
        "user_id": other["user"],
        "follow_id": other["follow"],
        "notification_id": other["notification"],
        "token": "not-an-invitation",
        "what": "projects",  # the Deleted pages: /deleted/<what>/<object_id>/restore
        "object_id": other["project"],
    }
    values = {}
    for arg in rule.arguments:
        if arg not in ids:
            raise AssertionError(f"Teach test_authorisation.url_for_rule about <{arg}> in {rule}")
        values[arg] = ids[arg]
    url = rule.rule
    for arg, value in values.items():
        url = re.sub(rf"<(?:[^<>]+:)?{arg}>", str(value), url)
    return url


def world_state(other: dict) -> dict:
    """Everything a refused request must leave untouched."""
    db.session.expire_all()
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return {
        "project": projects.snapshot(db.session.get(Project, other["project"])),
        "tx": projects.transaction_snapshot(db.session.get(Transaction, other["tx"])),
        "source": funding.snapshot(db.session.get(FundingSource, other["source"])),
        "org": organisations.snapshot(db.session.get(Organisation, other["org"])),
        "counts": [
            count(m)
            for m in (Project, Transaction, FundingSource, Organisation, PipelineInterest, SavedSearch, ImportBatch)
        ],
        "batch": db.session.get(ImportBatch, other["batch"]).status,
        "user": (lambda u: (u.role, u.active, u.password_hash))(db.session.get(User, other["user"])),
        "audit": count(AuditEvent),
        "token": db.session.get(ApiToken, other["token"]).revoked_at,
        "alerts": (
            db.session.get(Follow, other["follow"]).frequency,
            db.session.get(SavedSearch, other["search"]).alert_frequency,
            db.session.get(Notification, other["notification"]).read_at,
        ),
    }


@pytest.fixture
def other_org_objects(make_org, make_project, make_source, make_transaction):
    org = make_org(ref="OTHER", name="Other donor")
    source = make_source(managing_org_id=org.id)
    project = make_project(org=org, title="Theirs")
    tx = make_transaction(project, funding_source_id=source.id)
    from registry.services.accounts import create_user

    owner = create_user(Actor(label="t", channel="cli", role=Role.ADMIN), "other@other.example", "donor", org=org)
    interest = PipelineInterest(project_id=project.id, org_id=org.id, user_id=owner.id)
    search = SavedSearch(user_id=owner.id, name="Theirs", kind="pipeline", params={}, token="other-token")
    token = tokens.issue(Actor(label="t", channel="cli", role=Role.ADMIN), owner).token
    follow = Follow(user_id=owner.id, kind="project", project_id=project.id, frequency="daily", last_event_id=0)
    db.session.add_all([interest, search, follow])
    db.session.flush()
    notification = Notification(
        user_id=owner.id, follow_id=follow.id, object_type="project", object_id=str(project.id), template="x", params={}
    )
    db.session.add(notification)
    from importers import pipeline

    batch = pipeline.run_import(
        "sheet",
        "theirs.csv",
        CSV,
        db.session.get(Organisation, org.id),
        Actor(label="t", channel="import"),
        dry_run=True,
    )
    assert batch.status == "previewed", batch.problems
    db.session.commit()  # a savepoint: the test's outer transaction still rolls back
    return {
        "org": org.id,
        "project": project.id,
        "tx": tx.id,
        "source": source.id,
        "interest": interest.id,
        "search": search.id,
        "batch": batch.id,
        "token": token.id,
        "user": owner.id,
        "follow": follow.id,
        "notification": notification.id,
    }


def mutating_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_OBJECT_ROUTES or rule.endpoint.endswith("static"):
            continue
        for method in sorted((rule.methods or set()) & MUTATING):
            yield rule, method


def test_a_donor_cannot_touch_another_organisations_objects_through_any_route(
    app, client, make_user, other_org_objects
):
    user, token = make_user("donor")
    db.session.commit()
    log_in(client, user)
    before = world_state(other_org_objects)
    tried = []
    for rule, method in mutating_rules(app):
        url = url_for_rule(rule, other_org_objects)
        kwargs = body_for(rule.rule, method, other_org_objects)
        headers = {"Authorization": f"Bearer {token}"} if rule.rule.startswith("/api/") else {}
        if rule.rule.startswith("/api/") and method in {"PATCH", "PUT", "DELETE"}:
            headers["If-Match"] = "*"  # a precondition that holds, so that only the rights can refuse
        response = client.open(url, method=method, headers=headers, **kwargs)
        assert response.status_code in (403, 404), (method, url, response.status_code)
        if rule.rule.startswith("/api/"):
            assert response.get_json()["code"] == response.status_code
        assert world_state(other_org_objects) == before, (method, url)
        tried.append(f"{method} {rule.rule}")
    # The walk covered the API and the forms.
    assert "PATCH /api/v1/projects/<int:project_id>" in tried
    assert "POST /projects/<int:project_id>/edit" in tried
    assert "POST /funding-sources/<int:source_id>/delete" in tried
    assert "DELETE /api/v1/projects/<int:project_id>/transactions/<int:tx_id>" in tried
    assert "POST /api/v1/imports" in tried and "POST /imports/<int:batch_id>/undo" in tried
    assert "POST /account/tokens/<int:token_id>/revoke" in tried
    assert "POST /api/v1/projects/<int:project_id>/restore" in tried
    assert len(tried) >= 20


def test_anonymous_users_read_but_cannot_write(client, other_org_objects):
    for url in (
        "/api/v1/projects",
        f"/api/v1/projects/{other_org_objects['project']}",
        f"/api/v1/projects/{other_org_objects['project']}/transactions",
        "/api/v1/funding-sources",
        "/api/v1/organisations",
        "/projects",
        f"/projects/{other_org_objects['project']}",
        "/funding-sources",
        f"/organisations/{other_org_objects['org']}",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/api/v1/audit-events").status_code == 401
    assert client.patch(f"/api/v1/projects/{other_org_objects['project']}", json={}).status_code == 401
    response = client.post(f"/projects/{other_org_objects['project']}/edit", data=PROJECT_FORM)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_login_redirect_keeps_where_you_were_and_nothing_more(client):
    """The page asked for comes back after the login, with its query string if it had one,
    and no stray "?" when it had none."""
    plain = client.get("/imports/")
    assert plain.status_code == 302 and plain.headers["Location"] == "/login?next=/imports/"
    queried = client.get("/pipeline/new?country=NPL")
    assert queried.status_code == 302 and queried.headers["Location"] == "/login?next=/pipeline/new?country%3DNPL"


def test_a_session_cookie_never_authorises_an_api_write(client, make_user, other_org_objects):
    user, _ = make_user("admin")
    db.session.commit()
    log_in(client, user)
    response = client.delete(f"/api/v1/projects/{other_org_objects['project']}")
    assert response.status_code == 401
    assert db.session.get(Project, other_org_objects["project"]) is not None


def _status(api, method, url, token, **kwargs):
    return api(method, url, token, **kwargs).status_code


def test_role_matrix(api, etag, make_user, make_org, make_project):
    donor_org = make_org(ref="MINE")
    nepal = make_org(ref="GOV-NPL", kind="government", country_iso3="NPL")
    _, admin = make_user("admin")
    _, donor = make_user("donor", org=donor_org)
    _, government = make_user("government", org=nepal, country="NPL")
    _, analyst = make_user("analyst")
    theirs = make_project()
    db.session.commit()  # a refused request rolls back what it found uncommitted

    pipeline_npl = {**PROJECT_JSON, "status": "pipeline", "recipients": [{"country": "NPL"}]}
    # Governments: pipeline projects for their own country only, posted through the marketplace
    # (which asks for the need, the instrument and a contact); the projects API refuses them.
    assert _status(api, "post", "/api/v1/projects", government, json=pipeline_npl) == 403
    posted = {
        "title": "Clinics",
        "country": "NPL",
        "areas": ["23f"],
        "need": {"amount": "100000", "currency": "USD"},
        "instrument_sought": "grant",
        "contact_email": "plan@example.org",
    }
    assert _status(api, "post", "/api/v1/pipeline-projects", government, json=posted) == 201
    abroad = {**posted, "country": "KEN"}
    assert _status(api, "post", "/api/v1/pipeline-projects", government, json=abroad) == 403
    gov_project = db.session.scalar(select(Project).where(Project.org_id == nepal.id))
    url = f"/api/v1/projects/{gov_project.id}"
    assert _status(api, "patch", url, government, json={"status": "active", "version": 1}) == 403
    assert _status(api, "patch", url, government, json={"title": "Clinics online", "version": 1}) == 200
    assert _status(api, "patch", f"/api/v1/projects/{theirs.id}", government, json={}) == 403

    # Analysts read and export only; the whole audit trail (every account's e-mail and what it
    # changed) is for administrators, on the API as on the pages.
    assert _status(api, "get", "/api/v1/audit-events", analyst) == 403
    assert _status(api, "get", "/api/v1/audit-events", admin) == 200
    assert _status(api, "post", "/api/v1/projects", analyst, json=PROJECT_JSON) == 403
    assert _status(api, "patch", url, analyst, json={"title": "x"}) == 403
    assert _status(api, "post", "/api/v1/funding-sources", analyst, json=SOURCE_JSON) == 403

    # Donors: their organisation's projects, sources and record; not organisations at large.
    assert _status(api, "post", "/api/v1/projects", donor, json=PROJECT_JSON) == 201
    assert _status(api, "post", "/api/v1/funding-sources", donor, json=SOURCE_JSON) == 201
    assert _status(api, "post", "/api/v1/organisations", donor, json=ORG_JSON) == 403
    org_url = f"/api/v1/organisations/{donor_org.id}"
    assert _status(api, "patch", org_url, donor, json={"name": "N"}, headers={"If-Match": etag(org_url)}) == 200
    assert _status(api, "delete", f"/api/v1/organisations/{donor_org.id}", donor) == 403

    # Admins: everything, for any organisation.
    body = {**PROJECT_JSON, "reference": "A1", "org_id": nepal.id}
    assert _status(api, "post", "/api/v1/projects", admin, json=body) == 201
    assert _status(api, "post", "/api/v1/projects", admin, json=PROJECT_JSON) == 422  # which org?
    their_url = f"/api/v1/projects/{theirs.id}"
    assert _status(api, "patch", their_url, admin, json={"title": "A"}, headers={"If-Match": etag(their_url)}) == 200
    assert _status(api, "post", "/api/v1/organisations", admin, json=ORG_JSON) == 201
    empty = make_org(ref="EMPTY")
    empty_url = f"/api/v1/organisations/{empty.id}"
    assert _status(api, "delete", empty_url, admin, headers={"If-Match": etag(empty_url)}) == 204
    assert _status(api, "delete", org_url, admin, headers={"If-Match": etag(org_url)}) == 409


def test_government_is_sent_to_the_pipeline_form_not_the_project_form(client, make_user, make_org):
    nepal = make_org(ref="GOV-NPL2", kind="government", country_iso3="NPL")
    user, _ = make_user("government", org=nepal, country="NPL")
    db.session.commit()
    log_in(client, user)
    listing = client.get("/projects").data.decode()
    assert "Register a project" not in listing and 'href="/pipeline/new"' in listing
    refused = client.get("/projects/new")
    assert refused.status_code == 403 and "Post a pipeline project" in refused.data.decode()
    form = {**PROJECT_FORM, "recipients-0-place": "NPL", "status": "pipeline", "reference": "GF1"}
    assert client.post("/projects/new", data=form).status_code == 403
    assert db.session.scalar(select(Project).where(Project.reference == "GF1")) is None
    assert client.get("/pipeline/new").status_code == 200
