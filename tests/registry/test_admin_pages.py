"""The administrator's pages: users, invitations, the audit trail, reference data, import jobs."""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from registry.extensions import db
from registry.models import ApiToken, AuditEvent, Country, ImportBatch, User
from registry.services import accounts, admin_users
from tests.sessions import log_in

ADMIN_PAGES = [
    "/admin/",
    "/admin/users",
    "/admin/users/invite",
    "/admin/audit",
    "/admin/reference",
    "/admin/reference/countries",
    "/admin/reference/currencies",
    "/admin/imports",
]


@pytest.fixture
def sign_in(client):
    """Sign the test client in as this user (the session cookie the login form would set)."""

    def sign(user):
        db.session.commit()  # a refused request rolls back what it finds uncommitted
        log_in(client, user)
        return client

    return sign


@pytest.fixture
def admin(make_user, sign_in):
    user, _ = make_user("admin")
    sign_in(user)
    return user


@pytest.mark.parametrize("role", ["donor", "government", "analyst"])
def test_only_admins_see_the_admin_pages(client, make_user, sign_in, role):
    country = "NPL" if role == "government" else None
    user, _ = make_user(role, country=country)
    sign_in(user)
    for url in ADMIN_PAGES + [f"/admin/users/{user.id}", "/admin/reference/reloads/1"]:
        assert client.get(url).status_code == 403, url
    for url in ("/admin/users/invite", f"/admin/users/{user.id}/deactivate", "/admin/reference/reload"):
        assert client.post(url, data={"email": "x@example.org", "role": "admin"}).status_code == 403, url
    assert accounts.find_user("x@example.org") is None
    assert 'href="/admin/"' not in client.get("/").data.decode()


def test_a_visitor_is_sent_to_the_login(client):
    for url in ADMIN_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    assert 'href="/admin/"' not in client.get("/").data.decode()


def test_admin_pages_answer_and_the_nav_offers_them(client, admin):
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 200, url
    assert 'href="/admin/"' in client.get("/").data.decode()


def test_users_list_filters_by_role_organisation_and_status(client, admin, make_user, make_org):
    ministry = make_org(ref="GOV-NPL-A", kind="government", country_iso3="NPL")
    donor, _ = make_user("donor")
    government, _ = make_user("government", org=ministry, country="NPL")
    government.active = False
    db.session.commit()

    def listed(url: str) -> set[int]:
        return {int(n) for n in re.findall(r'href="/admin/users/(\d+)"', client.get(url).data.decode())}

    assert listed("/admin/users?role=donor") == {donor.id}
    assert listed(f"/admin/users?org={ministry.id}") == {government.id}
    assert government.id in listed("/admin/users?active=no") and donor.id not in listed("/admin/users?active=no")
    assert "Deactivated" in client.get("/admin/users?active=no").data.decode()
    assert listed("/admin/users") >= {donor.id, government.id, admin.id}
    assert f'href="/admin/tokens?user={donor.id}"' in client.get("/admin/users").data.decode()
    bad = client.get("/admin/users?role=emperor&org=abc")
    assert bad.status_code == 200 and "were ignored" in bad.data.decode()


def test_an_invitation_gives_a_one_time_link_that_sets_the_password(client, admin, make_org, app):
    org = make_org(ref="DON-INV")
    response = client.post(
        "/admin/users/invite", data={"email": "New.Person@Example.org", "role": "donor", "org_id": str(org.id)}
    )
    assert response.status_code == 302
    invited = accounts.find_user("new.person@example.org")
    assert invited.role.value == "donor" and invited.org_id == org.id and invited.password_hash is None
    page = client.get(response.headers["Location"]).data.decode()
    assert "sends no e-mail" in page
    link = re.search(r'value="(http://[^"]+/invitation/[^"]+)"', page).group(1)
    path = link.split("localhost", 1)[1]

    with app.test_client() as visitor:  # the invited person, not signed in
        assert "Set your password" in visitor.get(path).data.decode()
        short = visitor.post(path, data={"password": "short", "confirmation": "short"})
        assert short.status_code == 422 and "at least 10" in short.data.decode()
        differ = visitor.post(path, data={"password": "a-long-password", "confirmation": "another-one!"})
        assert differ.status_code == 422
        done = visitor.post(path, data={"password": "a-long-password", "confirmation": "a-long-password"})
        assert done.status_code == 302 and done.headers["Location"].endswith("/login")
        db.session.expire_all()
        assert accounts.verify_password(accounts.find_user("new.person@example.org"), "a-long-password")
        again = visitor.get(path)
        assert again.status_code == 404 and "already used" in again.data.decode()
        login = visitor.post("/login", data={"email": "new.person@example.org", "password": "a-long-password"})
        assert login.status_code == 302
    assert "Invitation link" not in client.get(f"/admin/users/{invited.id}").data.decode()


def test_an_invitation_link_expires_and_a_forged_one_is_refused(client, admin, app, monkeypatch):
    client.post("/admin/users/invite", data={"email": "late@example.org", "role": "analyst"})
    invited = accounts.find_user("late@example.org")

    def link() -> str:
        page = client.get(f"/admin/users/{invited.id}").data.decode()
        return "/invitation/" + re.search(r"/invitation/([^\"]+)\"", page).group(1)

    fresh = link()
    with monkeypatch.context() as m:  # a link made eight days ago (as the page makes it)
        m.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 8 * 86400)
        old = "/invitation/" + admin_users.invitation_token(invited, app.secret_key)
    expired = app.test_client().get(old)
    assert expired.status_code == 404 and "more than 7 days old" in expired.data.decode()
    assert app.test_client().get(fresh[:-3] + "abc").status_code == 404
    assert app.test_client().get(fresh).status_code == 200
    app.config["INVITATION_DAYS"] = 30
    try:
        assert app.test_client().get(old).status_code == 200
    finally:
        app.config.pop("INVITATION_DAYS")


def test_invite_refuses_what_an_account_cannot_be(client, admin):
    donor_without_org = client.post("/admin/users/invite", data={"email": "d@example.org", "role": "donor"})
    assert donor_without_org.status_code == 422 and "belongs to an organisation" in donor_without_org.data.decode()
    taken = client.post("/admin/users/invite", data={"email": admin.email, "role": "analyst"})
    assert taken.status_code == 422 and "already exists" in taken.data.decode()
    assert accounts.find_user("d@example.org") is None


def test_change_role_and_organisation_is_audited(client, admin, make_user, make_org):
    analyst, _ = make_user("analyst")
    ministry = make_org(ref="GOV-KEN", kind="government", country_iso3="KEN")
    db.session.commit()
    response = client.post(
        f"/admin/users/{analyst.id}", data={"role": "government", "org_id": str(ministry.id), "name": "Officer"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    changed = db.session.get(User, analyst.id)
    assert (changed.role.value, changed.org_id, changed.country_iso3) == ("government", ministry.id, "KEN")
    event = db.session.scalar(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "user", AuditEvent.entity_id == analyst.id)
        .order_by(AuditEvent.id.desc())
    )
    assert event.before["role"] == "analyst" and event.after["role"] == "government"
    history = client.get(f"/admin/audit?entity_type=user&entity_id={analyst.id}").data.decode()
    assert "Changed country, name, org_id, role of" in history


def test_an_admin_cannot_demote_or_deactivate_themselves(client, admin):
    assert client.post(f"/admin/users/{admin.id}", data={"role": "analyst"}).status_code == 403
    assert client.post(f"/admin/users/{admin.id}/deactivate").status_code == 403
    db.session.expire_all()
    assert db.session.get(User, admin.id).role.value == "admin" and db.session.get(User, admin.id).active


def test_deactivation_ends_sessions_and_revokes_tokens(client, admin, make_user, app, api):
    donor, token = make_user("donor")
    db.session.commit()
    with app.test_client() as browser:
        log_in(browser, donor)
        assert b"Log out" in browser.get("/").data
        assert api("patch", "/api/v1/projects/0", token, json={}).status_code == 404  # the token works
        response = client.post(f"/admin/users/{donor.id}/deactivate")
        assert response.status_code == 302
        assert "1 API token revoked" in client.get(response.headers["Location"]).data.decode()
        assert b"Log out" not in browser.get("/").data  # the old session cookie signs nobody in
        assert browser.get("/projects/new").status_code == 302  # to the login
    assert api("patch", "/api/v1/projects/0", token, json={}).status_code == 401
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken).where(ApiToken.user_id == donor.id)).revoked_at is not None
    assert client.post(f"/admin/users/{donor.id}/reactivate").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, donor.id).active
    assert api("patch", "/api/v1/projects/0", token, json={}).status_code == 401  # tokens stay revoked


def test_audit_trail_filters_and_pages(client, admin, make_user, make_project):
    donor, _ = make_user("donor")
    first = make_project(reference="AUD-1")
    make_project(reference="AUD-2")
    db.session.commit()
    page = client.get(f"/admin/audit?entity_type=project&entity_id={first.id}").data.decode()
    assert "AUD-1" in page or first.title in page
    assert page.count('class="history-item"') == 1
    by_action = client.get("/admin/audit?action=delete").data.decode()
    assert "No event matches" in by_action
    by_who = client.get(f"/admin/audit?user_id={admin.id}").data.decode()
    assert f"Changes made by <strong>{admin.email}" in by_who and "No event matches" in by_who
    assert "Created account" in client.get("/admin/audit?actor=TESTER").data.decode()
    future = client.get("/admin/audit?since=2999-01-01").data.decode()
    assert "No event matches" in future
    today = client.get("/admin/audit?entity_type=project&until=2999-01-01&since=2000-01-01").data.decode()
    assert today.count('class="history-item"') >= 2
    wrong = client.get("/admin/audit?since=2024-02-01&until=2024-01-01&entity_id=x")
    assert wrong.status_code == 200 and "before the start date" in wrong.data.decode()
    paged = client.get("/admin/audit?page=2").data.decode()
    assert "page 2 of" in paged or "No event matches" in paged


def test_object_history_for_owners_and_admins_only(client, make_user, make_org, make_project, sign_in, app):
    org = make_org(ref="HIST-ORG")
    project = make_project(org=org, reference="HIST-1")
    owner, _ = make_user("donor", org=org)
    stranger, _ = make_user("donor")
    sign_in(owner)
    detail = client.get(f"/projects/{project.id}").data.decode()
    assert f'href="/admin/history/project/{project.id}"' in detail
    history = client.get(f"/admin/history/project/{project.id}")
    assert history.status_code == 200 and "History of" in history.data.decode()
    assert f'href="/admin/history/organisation/{org.id}"' in client.get(f"/organisations/{org.id}").data.decode()
    assert client.get(f"/admin/history/organisation/{org.id}").status_code == 200
    sign_in(stranger)
    assert "/admin/history/" not in client.get(f"/projects/{project.id}").data.decode()
    assert client.get(f"/admin/history/project/{project.id}").status_code == 403
    assert client.get("/admin/history/user/1").status_code == 422
    with app.test_client() as visitor:
        assert visitor.get(f"/admin/history/project/{project.id}").status_code == 302


def test_reference_reload_shows_what_changed(client, admin):
    nepal = db.session.get(Country, "NPL")
    shipped_name = nepal.name
    nepal.name = "Nepal (edited by hand)"
    db.session.commit()
    response = client.post("/admin/reference/reload")
    assert response.status_code == 302 and "/admin/reference/reloads/" in response.headers["Location"]
    result = client.get(response.headers["Location"]).data.decode()
    assert "1 row(s) changed" in result
    assert "NPL" in result and "Nepal (edited by hand)" in result and shipped_name in result
    db.session.expire_all()
    assert db.session.get(Country, "NPL").name == shipped_name
    again = client.get(client.post("/admin/reference/reload").headers["Location"]).data.decode()
    assert "no change" in again and "already matched the files" in again
    listed = client.get("/admin/reference").data.decode()
    assert "Latest reloads" in listed and listed.count("/admin/reference/reloads/") >= 2


def test_reference_tables_show_their_rows(client, admin):
    countries = client.get("/admin/reference/countries").data.decode()
    assert "AFG" in countries and "Afghanistan" in countries and "page 1 of 3" in countries
    assert "NPL" not in countries and "Nepal" in client.get("/admin/reference/countries?page=2").data.decode()
    assert "Kosovo" in client.get("/admin/reference/countries?page=3").data.decode()
    assert "XOF" in client.get("/admin/reference/euro_pegs").data.decode()
    assert client.get("/admin/reference/no_such_table").status_code == 404


def test_import_jobs_list_every_organisation(client, admin, make_org, make_user):
    org = make_org(ref="IMP-ORG", name="Importing Agency")
    donor, _ = make_user("donor", org=org)
    db.session.add(
        ImportBatch(
            kind="sheet",
            org_id=org.id,
            user_id=donor.id,
            filename="projects-2024.xlsx",
            file_hash="0" * 64,
            status="committed",
            counts={"projects_created": 3, "projects_updated": 1, "transactions": 12, "errors": 0, "warnings": 2},
        )
    )
    db.session.commit()
    page = client.get("/admin/imports").data.decode()
    assert "projects-2024.xlsx" in page and "Importing Agency" in page and donor.email in page
    assert "3 / 1" in page and ">12<" in page
    assert "projects-2024.xlsx" not in client.get("/admin/imports?status=failed").data.decode()
    assert "were ignored" in client.get("/admin/imports?status=bogus").data.decode()


def test_import_jobs_show_what_the_queue_waits_on_runs_and_failed(client, admin, make_org, make_user):
    from registry import queue

    org = make_org(ref="Q-ORG", name="Queueing Agency")
    donor, _ = make_user("donor", org=org)
    jobs = {}
    for status in ("queued", "running", "failed", "done"):
        job = queue.create_job("import.file", {}, f"Checking {status}.xlsx", donor, org.id)
        job.status = status
        jobs[status] = job
    jobs["running"].stage, jobs["running"].progress_done, jobs["running"].progress_total = "writing", 1, 2
    jobs["failed"].message, jobs["failed"].attempts = "The file 'failed.xlsx' is not a workbook", 3
    db.session.commit()
    page = client.get("/admin/imports").data.decode()
    queue_part = page[page.index("On the job queue") : page.index("<h2>Imports</h2>")]
    for status in ("queued", "running", "failed"):
        assert f"Checking {status}.xlsx" in queue_part, status
    assert "Checking done.xlsx" not in queue_part  # a finished job is in the imports below, not here
    assert "Queueing Agency" in queue_part and donor.email in queue_part
    assert "is not a workbook" in queue_part and "writing" in queue_part
    assert queue_part.index("Checking queued.xlsx") < queue_part.index("Checking failed.xlsx")


def test_the_command_reloads_as_the_page_does_and_is_listed(client, admin, runner):
    db.session.get(Country, "KEN").name = "Kenya (edited)"
    db.session.commit()
    result = runner.invoke(args=["reference", "load"])
    assert result.exit_code == 0 and "Updated: 1 countries" in result.output
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.entity_type == "reference_data").order_by(AuditEvent.id.desc())
    )
    assert event.after["updated"] == {"countries": 1}
    assert event.after["rows"] == [
        {"table": "countries", "kind": "updated", "key": "KEN", "fields": {"name": ["Kenya (edited)", "Kenya"]}}
    ]
    assert f"/admin/reference/reloads/{event.id}" in client.get("/admin/reference").data.decode()
