"""Funding sources, organisations and the read-only audit trail through the API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.extensions import db
from registry.models import AuditEvent, FundingSource, Organisation


@pytest.fixture
def donor(make_user):
    return make_user("donor")


@pytest.fixture
def admin(make_user):
    return make_user("admin")


def audit_actions(entity_type: str, entity_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.id)
        )
    )


def test_funding_source_lifecycle(api, donor):
    user, token = donor
    body = {
        "ref": "NCA-DIGITAL",
        "name": "Digital window",
        "kind": "bilateral_oda",
        "instruments": ["grant"],
        "countries": ["KEN", "uga"],
        "regions": ["14"],
        "areas": ["23b"],
        "categories": ["LDC"],
        "min_amount": "50000",
        "max_amount": "2000000.50",
        "amount_currency": "EUR",
        "window_from": "2024-01-01",
        "window_until": "2026-12-31",
    }
    response = api("post", "/api/v1/funding-sources", token, json=body)
    assert response.status_code == 201, response.get_json()
    source = response.get_json()
    assert source["managing_org"]["id"] == user.org_id
    assert source["countries"] == ["KEN", "UGA"] and source["regions"] == ["014"]
    assert source["max_amount"] == "2000000.50" and source["min_amount"] == "50000.00"
    url = f"/api/v1/funding-sources/{source['id']}"
    etag = api("get", url).headers["ETag"]
    changed = api("patch", url, token, json={"countries": ["NPL"]}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["version"] == 2
    assert api("patch", url, token, json={"name": "x"}, headers={"If-Match": etag}).status_code == 412
    assert api("patch", url, token, json={"name": "x", "version": 1}).status_code == 409
    assert api("get", url).get_json()["name"] == "Digital window"
    listed = api("get", "/api/v1/funding-sources?kind=bilateral_oda&q=digital").get_json()
    assert [s["id"] for s in listed["items"]] == [source["id"]]
    assert api("delete", url, token).status_code == 428  # a delete says which state it is based on
    assert api("delete", url, token, headers={"If-Match": changed.headers["ETag"]}).status_code == 204
    assert audit_actions("funding_source", source["id"]) == ["create", "update", "delete"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"min_amount": "10", "max_amount": "5"}, "max_amount"),
        ({"min_amount": 10.5}, "min_amount"),
        ({"min_amount": "1.5", "amount_currency": "JPY"}, "min_amount"),
        ({"amount_currency": "EURO"}, "amount_currency"),
        ({"window_from": "2025-01-01", "window_until": "2024-01-01"}, "window_until"),
        ({"countries": ["XXX"]}, "countries"),
        ({"areas": ["23q"]}, "areas"),
        ({"instruments": ["magic"]}, "instruments"),
        ({"kind": "gift"}, "kind"),
        ({"website": "not a url"}, "website"),
        ({"secret": 1}, "secret"),
    ],
)
def test_funding_source_validation(api, donor, change, field):
    body = {"ref": "S1", "name": "S", "kind": "trust_fund", **change}
    response = api("post", "/api/v1/funding-sources", donor[1], json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert db.session.scalar(select(FundingSource).where(FundingSource.ref == "S1")) is None


def test_an_unknown_funding_source_kind_names_the_kinds(app, actor, make_org):
    """Scripts and forms that reach the service with a wrong kind learn the right ones."""
    from registry.errors import ValidationError
    from registry.services.funding import create_funding_source

    body = {"ref": "S2", "name": "S", "kind": "gift", "managing_org_id": make_org().id}
    with pytest.raises(ValidationError) as error:
        create_funding_source(actor, body)
    assert "'gift'" in error.value.message and "bilateral_oda" in error.value.message
    assert "trust_fund" in error.value.errors["kind"][0]


def test_organisation_lifecycle(api, admin, donor):
    _, token = admin
    body = {"ref": "KE-ICTA", "name": "ICT Authority", "kind": "government", "country_iso3": "KEN"}
    response = api("post", "/api/v1/organisations", token, json=body)
    assert response.status_code == 201, response.get_json()
    org = response.get_json()
    assert api("post", "/api/v1/organisations", token, json=body).status_code == 409
    bad = api("post", "/api/v1/organisations", token, json={**body, "ref": "X", "country_iso3": "ZZZ"})
    assert bad.status_code == 422 and "country_iso3" in bad.get_json()["errors"]
    url = f"/api/v1/organisations/{org['id']}"
    etag = api("get", url).headers["ETag"]
    assert api("patch", url, token, json={"name": "ICTA"}, headers={"If-Match": etag}).status_code == 200
    assert api("patch", url, token, json={"name": "Y"}, headers={"If-Match": etag}).status_code == 412
    assert api("patch", url, token, json={"name": "Y", "version": 1}).status_code == 409
    listed = api("get", "/api/v1/organisations?kind=government&country=KEN").get_json()
    assert [o["name"] for o in listed["items"]] == ["ICTA"]
    assert api("delete", url, token, json={"version": 2}).status_code == 204
    assert db.session.get(Organisation, org["id"]) is None
    assert audit_actions("organisation", org["id"]) == ["create", "update", "delete"]


def test_audit_events_are_read_only_and_filterable(api, admin, make_project):
    _, token = admin
    project = make_project()
    db.session.commit()  # as the request that registers it would
    events = api("get", f"/api/v1/audit-events?entity_type=project&entity_id={project.id}", token)
    assert events.status_code == 200
    items = events.get_json()["items"]
    assert [e["action"] for e in items] == ["create"] and items[0]["after"]["title"] == project.title
    for method in ("post", "put", "patch", "delete"):
        response = api(method, "/api/v1/audit-events", token, json={"action": "delete"})
        assert response.status_code == 405, method
        assert response.get_json()["code"] == 405
    assert api("get", "/api/v1/audit-events?entity_type=nonsense", token).status_code == 422
