"""Accounts and API clients for the registry's route tests."""

from __future__ import annotations

import pytest

from registry.services import accounts


@pytest.fixture
def make_user(app, actor, make_org):
    """Create a user of a role (with an organisation for donors) and return (user, token)."""

    def make(role: str = "donor", org=None, country: str | None = None, password: str | None = None):
        if role in ("donor", "government") and org is None:
            org = make_org(kind="government" if role == "government" else "donor_agency")
        n = make.counter = getattr(make, "counter", 0) + 1
        user = accounts.create_user(
            actor, f"{role}{n}@example.org", role, password=password, org=org, country_iso3=country
        )
        return user, accounts.issue_token(actor, user)

    return make


@pytest.fixture
def api(client):
    """JSON calls with an optional bearer token: api("post", url, token, json=...)."""

    def call(method: str, url: str, token: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return getattr(client, method)(url, headers=headers, **kwargs)

    return call


@pytest.fixture
def etag(client):
    """The ETag a GET of ``url`` answers: what a client sends back as If-Match to change it."""

    def read(url: str, token: str | None = None) -> str:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = client.get(url, headers=headers)
        assert response.status_code == 200 and response.headers.get("ETag"), (url, response.status_code)
        return response.headers["ETag"]

    return read
