"""Login, logout, CSRF on forms, and the `flask users` commands."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from registry.extensions import db
from registry.models import ApiToken, AuditEvent, User
from registry.services import accounts


def _token(output: str) -> str:
    match = re.search(r"(ict4d_[\w-]+)", output)
    assert match, output
    return match.group(1)


def test_login_logout_and_next(client, make_user):
    user, _ = make_user("donor", password="correct horse battery")
    db.session.commit()
    page = client.get("/login")
    assert page.status_code == 200 and b'name="password"' in page.data
    wrong = client.post("/login", data={"email": user.email, "password": "nope"})
    assert wrong.status_code == 400 and b"do not match" in wrong.data
    empty = client.post("/login", data={"email": "", "password": ""})
    assert b"Enter your e-mail address" in empty.data
    ok = client.post(
        "/login",
        data={
            "email": user.email.upper(),
            "password": "correct horse battery",
            "next": "/projects",
        },
    )
    assert ok.status_code == 302 and ok.headers["Location"] == "/projects"
    assert user.email.encode() in client.get("/").data
    assert client.post("/logout").status_code == 302
    assert b"Log in" in client.get("/").data


def test_login_never_redirects_off_site(client, make_user):
    user, _ = make_user("analyst", password="correct horse battery")
    db.session.commit()
    for target in ("https://evil.example/", "//evil.example", "javascript:alert(1)"):
        response = client.post(
            "/login",
            data={"email": user.email, "password": "correct horse battery", "next": target},
        )
        assert response.headers["Location"] == "/", target


@pytest.fixture
def csrf_app(app):
    """The app with CSRF protection on, as in production (the suite turns it off)."""
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield app
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_forms_are_refused_without_a_csrf_token(csrf_app):
    browser = csrf_app.test_client()
    refused = browser.post("/login", data={"email": "a@b.c", "password": "x"})
    assert refused.status_code == 400 and b"CSRF" in refused.data
    assert browser.post("/logout").status_code == 400
    assert browser.post("/projects/new", data={"title": "x"}).status_code == 400
    # With the token from the page, the form is processed (and the password checked).
    page = browser.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    accepted = browser.post("/login", data={"email": "a@b.c", "password": "x", "csrf_token": token})
    assert accepted.status_code == 400 and b"do not match" in accepted.data
    # The JSON API is exempt: it authenticates with bearer tokens, never cookies.
    body = {"reference": "R", "title": "T"}
    assert browser.post("/api/v1/projects", json=body).status_code == 401


def test_session_cookie_flags(app):
    from config import Config

    assert Config.SESSION_COOKIE_HTTPONLY is True
    assert Config.SESSION_COOKIE_SAMESITE == "Lax"


def test_users_create_prints_a_token_once_and_stores_its_hash(runner, make_org):
    org = make_org(ref="SE-SIDA")
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Editor@Sida.example",
            "--role",
            "donor",
            "--org",
            "SE-SIDA",
        ]
    )
    assert result.exit_code == 0, result.output
    token = _token(result.output)
    user = db.session.scalar(select(User).where(User.email == "editor@sida.example"))
    assert user.org_id == org.id and user.role.value == "donor"
    stored = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    assert len(stored) == 1 and stored[0].token_hash == accounts.hash_token(token)
    assert token not in stored[0].token_hash
    assert accounts.user_for_token(token).id == user.id
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "user", AuditEvent.entity_id == user.id)
    ).all()
    assert [(e.action, e.channel) for e in events] == [("create", "cli")]


def test_users_create_with_password_prompt(runner, make_org):
    make_org(ref="GOV-NPL", kind="government", country_iso3="NPL")
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "gov@npl.example",
            "--role",
            "government",
            "--org",
            "GOV-NPL",
            "--password-prompt",
        ],
        input="a long enough password\na long enough password\n",
    )
    assert result.exit_code == 0, result.output
    user = accounts.find_user("gov@npl.example")
    assert user.country_iso3 == "NPL"
    assert accounts.verify_password(user, "a long enough password")
    assert user.password_hash.startswith("$argon2")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "donor"], "organisation"),
        (["--role", "donor", "--org", "NOPE"], "No organisation"),
        (["--role", "king"], "Invalid value"),
        (["--role", "government"], "country"),
        (["--role", "analyst", "--country", "XXX"], "Unknown country"),
    ],
)
def test_users_create_refuses_bad_input(runner, args, message):
    result = runner.invoke(args=["users", "create", "--email", "x@example.org", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert accounts.find_user("x@example.org") is None


def test_users_token_and_revoke(runner, client, make_user, make_project):
    user, first = make_user("donor")
    db.session.commit()
    result = runner.invoke(args=["users", "token", "--email", user.email, "--label", "laptop"])
    assert result.exit_code == 0, result.output
    second = _token(result.output)
    project = make_project(org=user.org)
    db.session.commit()
    headers = {"Authorization": f"Bearer {second}"}
    unchanged = {"version": project.version}
    assert client.patch(f"/api/v1/projects/{project.id}", json=unchanged, headers=headers).status_code == 200

    result = runner.invoke(args=["users", "revoke", "--email", user.email, "--prefix", second[:12]])
    assert result.exit_code == 0 and "Revoked 1" in result.output
    assert client.patch(f"/api/v1/projects/{project.id}", json=unchanged, headers=headers).status_code == 401
    assert accounts.user_for_token(first) is not None  # the other token still works

    result = runner.invoke(args=["users", "revoke", "--email", user.email])
    assert "Revoked 1" in result.output and accounts.user_for_token(first) is None
    assert runner.invoke(args=["users", "revoke", "--email", user.email]).exit_code != 0
    assert runner.invoke(args=["users", "token", "--email", "nobody@x.org"]).exit_code != 0


@pytest.mark.parametrize(
    ("role", "offered"), [(None, True), ("donor", True), ("admin", True), ("analyst", False), ("government", False)]
)
def test_the_navigation_offers_import_only_to_roles_that_may_import(client, make_user, role, offered):
    """An analyst or a government officer is not sent to a page that answers 403."""
    if role:
        country = "NPL" if role == "government" else None
        user, _ = make_user(role, password="correct horse battery", country=country)
        db.session.commit()
        client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    page = client.get("/").get_data(as_text=True)
    assert ('href="/imports/"' in page) is offered
    assert 'href="/reports/"' in page
