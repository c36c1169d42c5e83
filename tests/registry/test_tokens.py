"""API tokens: scopes and expiry enforced on the real API, the service's rules, and the
`flask users token / tokens / revoke-token` commands."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from registry.errors import NotFoundError, PermissionDenied, ValidationError
from registry.extensions import db
from registry.models import ApiToken, AuditEvent
from registry.services import accounts, tokens
from registry.services.actor import Actor
from tests.registry.test_unit_of_work import counting_commits

# These tests are about who may do what, not about concurrent edits: every PATCH and DELETE
# says it applies to whatever state the object is in (tests/api/test_concurrency_preconditions.py).
ANY_STATE = {"If-Match": "*"}

CSV = [
    ["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"],
    ["TOK-1", "Connected clinics", "Kenya", "commitment", "1000", "USD", "2021-01-04"],
]


def _csv() -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(CSV)
    return out.getvalue().encode()


@pytest.fixture
def donor(make_user):
    user, _ = make_user("donor")
    db.session.commit()  # a refused command rolls back its own unit of work, not the account
    return user


@pytest.fixture
def issue(actor):
    """A token of ``user`` with the given scopes, committed; returns (row, secret)."""

    def make(user, *scopes: str, days: int | None = None):
        issued = tokens.issue(actor, user, "test", scopes or tokens.ALL_SCOPES, days)
        db.session.commit()
        return issued.token, issued.secret

    return make


@pytest.fixture
def uploads(app, tmp_path):
    app.config["IMPORT_STORAGE"] = str(tmp_path)


def _upload(api, secret, dry_run=True):
    body = {"file": (io.BytesIO(_csv()), "donor.csv"), "dry_run": "true" if dry_run else "false"}
    return api("post", "/api/v1/imports", secret, data=body, content_type="multipart/form-data")


def _error(response, code: int) -> dict:
    assert response.status_code == code, response.get_json()
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors", "request_id"} and body["code"] == code
    return body


# --------------------------------------------------------------------------- who the token is


def test_an_unknown_token_is_401_saying_so(api):
    body = _error(api("get", "/api/v1/projects", "ict4d_not-a-token-at-all"), 401)
    assert "not known" in body["message"]


def test_an_expired_token_is_401_saying_it_expired_and_when(api, donor, issue, make_project):
    row, secret = issue(donor)
    project = make_project(org=donor.org)
    assert api("get", "/api/v1/projects", secret).status_code == 200
    row.expires_at = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    db.session.commit()
    for method, url in (("get", "/api/v1/projects"), ("patch", f"/api/v1/projects/{project.id}")):
        body = _error(api(method, url, secret, json={}), 401)
        assert body["message"].startswith("The API token expired on 2026-01-02 03:04 UTC"), body


def test_a_revoked_token_is_401_saying_it_was_revoked(api, donor, issue, actor, make_project):
    row, secret = issue(donor)
    other, other_secret = issue(donor)
    project = make_project(org=donor.org)
    tokens.revoke(actor, row, now=dt.datetime(2026, 5, 6, 7, 8, tzinfo=dt.UTC))
    db.session.commit()
    body = _error(api("patch", f"/api/v1/projects/{project.id}", secret, json={}, headers=ANY_STATE), 401)
    assert body["message"].startswith("The API token was revoked on 2026-05-06 07:08 UTC"), body
    # Revoked even after it would have expired: the revocation is what it says.
    row.expires_at = dt.datetime(2026, 5, 7, tzinfo=dt.UTC)
    db.session.commit()
    assert "revoked" in _error(api("get", "/api/v1/projects", secret), 401)["message"]
    assert api("patch", f"/api/v1/projects/{project.id}", other_secret, json={}, headers=ANY_STATE).status_code == 200


def test_a_token_of_a_deactivated_account_is_401(api, donor, issue):
    _, secret = issue(donor)
    donor.active = False
    db.session.commit()
    assert "deactivated" in _error(api("get", "/api/v1/projects", secret), 401)["message"]


# --------------------------------------------------------------------------- what the token may do


def test_a_token_without_write_gets_403_on_every_kind_of_api_write(api, donor, issue, make_project):
    _, secret = issue(donor, "read", "import")
    project = make_project(org=donor.org)
    db.session.commit()
    before = project.title
    writes = [
        ("patch", f"/api/v1/projects/{project.id}", {"title": "Changed"}),
        ("post", "/api/v1/projects", {"reference": "NEW", "title": "New"}),
        ("delete", f"/api/v1/projects/{project.id}", None),
    ]
    for method, url, body in writes:
        error = _error(api(method, url, secret, json=body), 403)
        assert "lacks the 'write' scope" in error["message"], error
        assert "it has: read, import" in error["message"]
        assert error["errors"] == {"scope": ["Missing: write"]}
    db.session.expire_all()
    assert project.title == before
    assert api("get", f"/api/v1/projects/{project.id}", secret).status_code == 200


def test_a_token_without_read_gets_403_on_authenticated_reads(api, donor, issue, make_project):
    _, secret = issue(donor, "write")
    project = make_project(org=donor.org)
    db.session.commit()
    for url in ("/api/v1/projects", f"/api/v1/projects/{project.id}", "/api/v1/organisations"):
        error = _error(api("get", url, secret), 403)
        assert "lacks the 'read' scope" in error["message"] and "it has: write" in error["message"]
    # The same read without a token is public, and the write the token is for works.
    assert api("get", "/api/v1/projects").status_code == 200
    assert (
        api("patch", f"/api/v1/projects/{project.id}", secret, json={"title": "Written"}, headers=ANY_STATE).status_code
        == 200
    )


def test_a_token_without_import_gets_403_on_the_import_endpoints(api, donor, issue, uploads):
    _, secret = issue(donor, "read", "write")
    for method, url in (("get", "/api/v1/imports"), ("get", "/api/v1/imports/1"), ("post", "/api/v1/imports/1/commit")):
        error = _error(api(method, url, secret), 403)
        assert "lacks the 'import' scope" in error["message"], error
    error = _error(_upload(api, secret), 403)
    assert error["errors"] == {"scope": ["Missing: import"]}


def test_an_import_only_token_imports_and_does_nothing_else(api, donor, issue, uploads, make_project):
    _, secret = issue(donor, "import")
    preview = _upload(api, secret)
    assert preview.status_code == 201, preview.get_json()
    batch = preview.get_json()["id"]
    assert api("get", f"/api/v1/imports/{batch}", secret).json["status"] == "previewed"
    committed = api("post", f"/api/v1/imports/{batch}/commit", secret)
    assert committed.status_code == 200 and committed.json["status"] == "committed", committed.json
    project = make_project(org=donor.org)
    db.session.commit()
    assert (
        "'write'"
        in _error(api("patch", f"/api/v1/projects/{project.id}", secret, json={}, headers=ANY_STATE), 403)["message"]
    )
    assert "'read'" in _error(api("get", "/api/v1/projects", secret), 403)["message"]


def test_scopes_narrow_the_role_never_widen_it(api, make_user, issue, make_project):
    analyst, _ = make_user("analyst")
    _, secret = issue(analyst)  # every scope, but an analyst edits nothing
    project = make_project()
    db.session.commit()
    assert (
        _error(api("patch", f"/api/v1/projects/{project.id}", secret, json={}, headers=ANY_STATE), 403)["errors"] == {}
    )


def test_an_unknown_path_stays_404_whatever_the_token_may_do(api, donor, issue):
    _, secret = issue(donor, "import")
    assert _error(api("get", "/api/v1/no-such-thing", secret), 404)
    assert _error(api("post", "/api/v1/no-such-thing", secret, json={}), 404)


def test_a_read_records_when_the_token_was_last_used(api, donor, issue):
    row, secret = issue(donor, "read")
    assert row.last_used_at is None
    before = tokens.utcnow()
    with counting_commits() as commits:
        assert api("get", "/api/v1/projects", secret).status_code == 200
    assert len(commits) == 1  # the use, and nothing the view did
    # A GET's unit of work ends in a rollback (here the request shares the test's session, so
    # roll it back as the end of a request does): the time survives it, it was committed.
    db.session.rollback()
    assert row.last_used_at is not None and row.last_used_at >= before.replace(microsecond=0)
    with counting_commits() as commits:  # used again within the minute: nothing to write
        assert api("get", "/api/v1/projects", secret).status_code == 200
    assert commits == []


def test_a_write_keeps_to_its_one_commit_and_records_the_use_in_it(api, donor, issue, make_project):
    row, secret = issue(donor, "write")
    project = make_project(org=donor.org)
    db.session.commit()
    with counting_commits() as commits:
        assert (
            api(
                "patch", f"/api/v1/projects/{project.id}", secret, json={"title": "Used"}, headers=ANY_STATE
            ).status_code
            == 200
        )
    assert len(commits) == 1
    db.session.rollback()
    assert row.last_used_at is not None
    row.last_used_at = None
    db.session.commit()
    with counting_commits() as commits:  # a refused write commits nothing, the use included
        assert (
            api("patch", f"/api/v1/projects/{project.id}", secret, json={"title": ""}, headers=ANY_STATE).status_code
            == 422
        )
    assert commits == []


def test_last_used_is_written_at_most_once_a_minute(app, donor, issue):
    row, secret = issue(donor, "read")
    start = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    row.expires_at = start + dt.timedelta(days=1)
    assert tokens.authenticate(secret, tokens.Scope.READ, now=start) == (donor, True)
    assert tokens.authenticate(secret, tokens.Scope.READ, now=start + dt.timedelta(seconds=59)) == (donor, False)
    assert row.last_used_at == start
    assert tokens.authenticate(secret, None, now=start + dt.timedelta(minutes=1)) == (donor, True)
    assert row.last_used_at == start + dt.timedelta(minutes=1)


# --------------------------------------------------------------------------- the service


def test_issue_stores_the_hash_scopes_and_expiry_and_audits(app, actor, donor):
    now = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    issued = tokens.issue(actor, donor, "  nightly upload ", ["IMPORT", "read", "import"], 30, now=now)
    row = issued.token
    assert issued.secret.startswith("ict4d_") and row.token_hash == tokens.hash_token(issued.secret)
    assert issued.secret not in (row.token_hash, row.prefix) and issued.secret.startswith(row.prefix)
    assert (row.name, row.scopes) == ("nightly upload", "read import")
    assert row.created_at == now and row.expires_at == now + dt.timedelta(days=30)
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "api_token", AuditEvent.entity_id == row.id)
    ).one()
    assert event.action == "create" and event.after["scopes"] == "read import"
    assert issued.secret not in str(event.after)


def test_a_token_lives_90_days_unless_told_and_never_beyond_the_maximum(app, actor, donor):
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert tokens.issue(actor, donor, now=now).token.expires_at == now + dt.timedelta(days=90)
    short = tokens.Lifetimes(default=7, maximum=30)
    assert tokens.issue(actor, donor, lifetimes=short, now=now).token.expires_at == now + dt.timedelta(days=7)
    assert tokens.issue(actor, donor, days=30, lifetimes=short, now=now).token.expires_at == now + dt.timedelta(days=30)
    with pytest.raises(ValidationError, match="at most 30 days") as refused:
        tokens.issue(actor, donor, days=31, lifetimes=short)
    assert refused.value.errors == {"expires_in": ["At most 30 days"]}
    for days in (0, -5):
        with pytest.raises(ValidationError, match="at least one day"):
            tokens.issue(actor, donor, days=days)
    # A default above the maximum is capped by it.
    capped = tokens.issue(actor, donor, lifetimes=tokens.Lifetimes(default=90, maximum=10), now=now)
    assert capped.token.expires_at == now + dt.timedelta(days=10)
    assert tokens.Lifetimes.of({"API_TOKEN_DAYS": "14", "API_TOKEN_MAX_DAYS": "60"}) == tokens.Lifetimes(14, 60)


@pytest.mark.parametrize(
    ("scopes", "message"), [([], "at least one scope"), (["read", "admin"], "Unknown token scope")]
)
def test_bad_scopes_are_refused_naming_the_field(app, actor, donor, scopes, message):
    with pytest.raises(ValidationError, match=message) as refused:
        tokens.issue(actor, donor, scopes=scopes)
    assert list(refused.value.errors) == ["scopes"]


def test_only_the_holder_or_an_admin_manages_a_token(app, actor, donor, make_user):
    row = tokens.issue(actor, donor).token
    other, _ = make_user("donor")
    as_other = Actor(label=other.email, channel="web", user_id=other.id, role=other.role)
    as_holder = Actor(label=donor.email, channel="web", user_id=donor.id, role=donor.role)
    with pytest.raises(PermissionDenied):
        tokens.get(as_other, row.id)
    with pytest.raises(PermissionDenied):
        tokens.revoke(as_other, row)
    with pytest.raises(NotFoundError):
        tokens.get(as_holder, 999_999)
    assert tokens.get(as_holder, row.id) is row
    assert tokens.revoke(as_holder, row) is True and tokens.status_of(row) == "revoked"
    assert tokens.revoke(actor, row) is False  # already revoked: nothing changes, no second event


# --------------------------------------------------------------------------- the command line


def _secret(output: str) -> str:
    match = re.search(r"(ict4d_[\w-]+)", output)
    assert match, output
    return match.group(1)


def test_users_token_with_scopes_and_expiry(runner, api, donor):
    result = runner.invoke(
        args=[
            "users",
            "token",
            "--email",
            donor.email,
            "--name",
            "ci",
            "--scope",
            "read",
            "--scope",
            "write",
            "--expires-in",
            "30",
        ]  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    secret = _secret(result.output)
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(secret)))
    assert (row.name, row.scopes) == ("ci", "read write")
    assert abs(row.expires_at - (row.created_at + dt.timedelta(days=30))) < dt.timedelta(seconds=1)
    assert f"API token {row.id} for {donor.email}: read, write, expires" in result.output
    assert api("get", "/api/v1/projects", secret).status_code == 200
    assert api("get", "/api/v1/imports", secret).status_code == 403


def test_users_token_keeps_its_defaults_and_label(runner, donor, app):
    result = runner.invoke(args=["users", "token", "--email", donor.email, "--label", "laptop"])
    assert result.exit_code == 0, result.output
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(_secret(result.output))))
    assert (row.name, row.scopes) == ("laptop", "read write import")
    assert abs(row.expires_at - row.created_at - dt.timedelta(days=app.config["API_TOKEN_DAYS"])) < dt.timedelta(
        seconds=1
    )


def test_users_token_refuses_bad_input_and_issues_nothing(runner, app, donor):
    count = lambda: len(db.session.scalars(select(ApiToken).where(ApiToken.user_id == donor.id)).all())  # noqa: E731
    before = count()
    bad_scope = runner.invoke(args=["users", "token", "--email", donor.email, "--scope", "admin"])
    assert bad_scope.exit_code != 0 and "Invalid value for '--scope'" in bad_scope.output
    too_long = runner.invoke(args=["users", "token", "--email", donor.email, "--expires-in", "366"])
    assert too_long.exit_code == 1 and "at most 365 days" in too_long.output
    app.config["API_TOKEN_MAX_DAYS"] = 20
    try:
        capped = runner.invoke(args=["users", "token", "--email", donor.email, "--expires-in", "21"])
        assert capped.exit_code == 1 and "at most 20 days" in capped.output
    finally:
        app.config["API_TOKEN_MAX_DAYS"] = 365
    assert count() == before


def test_users_tokens_lists_and_revoke_token_revokes_by_id(runner, api, donor, issue, make_project):
    kept, kept_secret = issue(donor, "read")
    row, secret = issue(donor, "write", "read")
    project = make_project(org=donor.org)
    db.session.commit()
    listing = runner.invoke(args=["users", "tokens", "--email", donor.email])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[0].split()[:4] == ["id", "prefix", "status", "scopes"]
    assert any(line.split()[:4] == [str(row.id), row.prefix, "active", "read"] for line in lines), listing.output
    assert secret not in listing.output and kept_secret not in listing.output

    result = runner.invoke(args=["users", "revoke-token", str(row.id)])
    assert result.exit_code == 0 and f"Revoked API token {row.id}" in result.output
    assert (
        "revoked"
        in api("patch", f"/api/v1/projects/{project.id}", secret, json={}, headers=ANY_STATE).get_json()["message"]
    )
    assert api("get", "/api/v1/projects", kept_secret).status_code == 200
    listing = runner.invoke(args=["users", "tokens", "--email", donor.email]).output
    assert any(line.split()[:3] == [str(row.id), row.prefix, "revoked"] for line in listing.splitlines())

    again = runner.invoke(args=["users", "revoke-token", str(row.id)])
    assert again.exit_code == 1 and "already revoked" in again.output
    missing = runner.invoke(args=["users", "revoke-token", "999999"])
    assert missing.exit_code == 1 and "No API token with id 999999" in missing.output


def test_users_create_prints_a_token_with_every_scope(runner, make_org):
    make_org(ref="TOK-ORG")
    result = runner.invoke(
        args=["users", "create", "--email", "new@example.org", "--role", "donor", "--org", "TOK-ORG"]
    )
    assert result.exit_code == 0, result.output
    user = accounts.find_user("new@example.org")
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(_secret(result.output))))
    assert row.user_id == user.id and row.scopes == "read write import" and row.expires_at > row.created_at
    expires = row.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    assert f"API token {row.id} (read, write, import; expires {expires})" in result.output
