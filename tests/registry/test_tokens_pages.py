"""The API tokens pages: create (secret shown once), list, revoke; every user's tokens for an admin."""

from __future__ import annotations

import re

import pytest
from flask import g
from sqlalchemy import select

from registry.extensions import db
from registry.models import ApiToken
from registry.services import tokens

PASSWORD = "correct horse battery"


@pytest.fixture
def login(client, make_user):
    """Log a new user of ``role`` in with the test client; returns the user."""

    def log_in(role: str = "donor"):
        user, _ = make_user(role, password=PASSWORD, country="NPL" if role == "government" else None)
        db.session.commit()
        client.post("/logout")
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
        return user

    return log_in


def _create(client, **form):
    data = {"name": "nightly upload", "scopes": ["read", "import"], "expires_in": "30"}
    data.update(form)
    return client.post("/account/tokens", data=data)


def _secret(page: str) -> str:
    match = re.search(r'id="new-token-secret"[^>]*value="(ict4d_[\w-]+)"', page)
    assert match, page
    return match.group(1)


def test_visitors_are_sent_to_the_login(client):
    response = client.get("/account/tokens")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/admin/tokens").status_code == 302


def test_a_user_creates_a_token_and_sees_its_secret_once(client, login, api):
    user = login("donor")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/account/tokens"' in page  # linked from the account area
    empty = client.get("/account/tokens").get_data(as_text=True)
    assert "Unnamed" in empty and 'name="scopes" value="write"' in empty  # the token made with the account

    created = _create(client)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    text = created.get_data(as_text=True)
    secret = _secret(text)
    assert "shown only this once" in text
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.name == "nightly upload"))
    assert row.token_hash == tokens.hash_token(secret) and (row.name, row.scopes) == ("nightly upload", "read import")
    assert abs((row.expires_at - row.created_at).days - 30) <= 1

    again = client.get("/account/tokens").get_data(as_text=True)
    assert secret not in again and row.prefix in again and "nightly upload" in again
    listed = re.search(rf'<tr id="token-{row.id}">(.*?)</tr>', again, re.S).group(1)
    assert "read" in listed and "import" in listed and "write" not in listed
    assert "Active" in listed and "Never" in listed and row.expires_at.strftime("%Y-%m-%d") in listed
    # The secret works on the API, for what its scopes allow.
    assert api("get", "/api/v1/projects", secret).status_code == 200
    assert api("post", "/api/v1/projects", secret, json={}).status_code == 403


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"scopes": []}, "scopes", "at least one scope"),
        ({"scopes": ["read", "sudo"]}, "scopes", "Unknown token scope"),
        ({"expires_in": "366"}, "expires_in", "At most 365 days"),
        ({"expires_in": "0"}, "expires_in", "1 or more"),
        ({"expires_in": "soon"}, "expires_in", "A whole number of days"),
        ({"name": "x" * 101}, "name", "Too long"),
    ],
)
def test_a_bad_form_is_shown_again_with_the_error_and_nothing_is_issued(client, login, form, field, message):
    user = login("analyst")
    held = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    response = _create(client, **form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and "new-token-secret" not in page
    assert db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all() == held


def test_a_user_revokes_their_token_but_not_anyone_elses(client, login, api, actor, make_user):
    user = login("donor")
    secret = _secret(_create(client).get_data(as_text=True))
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.name == "nightly upload"))
    page = client.get("/account/tokens").get_data(as_text=True)
    form = re.search(rf'<form method="post" action="/account/tokens/{row.id}/revoke"[^>]*>', page).group(0)
    assert "data-confirm=" in form  # asks before revoking (static/forms.js), no inline script
    revoked = client.post(f"/account/tokens/{row.id}/revoke", data={"next": "/account/tokens"})
    assert revoked.status_code == 302 and revoked.headers["Location"] == "/account/tokens"
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "Revoked the token nightly upload" in page and "Revoked</span>" in page
    assert f"/account/tokens/{row.id}/revoke" not in page  # nothing left to revoke
    assert "revoked" in api("get", "/api/v1/projects", secret).get_json()["message"]

    other, _ = make_user("donor")
    theirs = tokens.issue(actor, other).token
    db.session.commit()
    assert client.post(f"/account/tokens/{theirs.id}/revoke").status_code == 403
    assert client.post("/account/tokens/999999/revoke").status_code == 404
    db.session.refresh(theirs)
    assert theirs.revoked_at is None
    # A revoke never sends the browser off the site.
    mine = tokens.issue(actor, user).token
    db.session.commit()
    off = client.post(f"/account/tokens/{mine.id}/revoke", data={"next": "https://evil.example/"})
    assert off.headers["Location"] == "/"


def test_an_admin_lists_every_users_tokens_filters_by_user_and_revokes(client, login, actor, make_user):
    alice, _ = make_user("donor")
    bob, _ = make_user("analyst")
    alice_token = tokens.issue(actor, alice, "uploader of alice", ["import"]).token
    db.session.commit()
    login("donor")
    assert client.get("/admin/tokens").status_code == 403
    assert "Every user's tokens" not in client.get("/account/tokens").get_data(as_text=True)

    login("admin")
    assert "Every user's tokens" in client.get("/account/tokens").get_data(as_text=True)
    every = client.get("/admin/tokens").get_data(as_text=True)
    assert alice.email in every and bob.email in every and "uploader of alice" in every
    only_alice = client.get(f"/admin/tokens?user={alice.id}").get_data(as_text=True)
    rows = re.findall(r'<tr id="token-(\d+)">', only_alice)
    assert rows and {db.session.get(ApiToken, int(i)).user_id for i in rows} == {alice.id}
    assert f"Tokens of {alice.email}" in only_alice
    unknown = client.get("/admin/tokens?user=987654", follow_redirects=True).get_data(as_text=True)
    assert "No user with id" in unknown

    back = f"/admin/tokens?user={alice.id}"
    revoked = client.post(f"/account/tokens/{alice_token.id}/revoke", data={"next": back})
    assert revoked.status_code == 302 and revoked.headers["Location"] == back
    db.session.refresh(alice_token)
    assert alice_token.revoked_at is not None


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield app
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_creating_and_revoking_need_the_csrf_token(csrf_app, actor, make_user):
    browser = csrf_app.test_client()
    user, _ = make_user("donor", password=PASSWORD)
    row = tokens.issue(actor, user).token
    db.session.commit()
    page = browser.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    browser.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf})
    # The test's requests share one app context, so Flask-WTF's per-request cache of the token
    # outlives the login's new session: drop it, as a new request of a real server would.
    g.pop("csrf_token", None)
    page = browser.get("/account/tokens").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"name": "x", "scopes": ["read"], "expires_in": "5"}
    assert browser.post("/account/tokens", data=form).status_code == 400
    assert browser.post(f"/account/tokens/{row.id}/revoke").status_code == 400
    db.session.refresh(row)
    assert row.revoked_at is None
    assert browser.post("/account/tokens", data={**form, "csrf_token": csrf}).status_code == 201
    assert browser.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": csrf}).status_code == 302
    db.session.refresh(row)
    assert row.revoked_at is not None
