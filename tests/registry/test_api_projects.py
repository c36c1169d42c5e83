"""The projects API: create, list, read, change, delete; transactions; errors; concurrency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import AuditEvent, Project, Transaction


def project_body(**overrides) -> dict:
    body = {
        "reference": "NEW-1",
        "title": "Community networks in Kenya and Uganda",
        "status": "active",
        "planned_start": "2021-01-01",
        "planned_end": "2023-12-31",
        "recipients": [{"country": "KEN", "share": "60"}, {"country": "UGA", "share": "40"}],
        "areas": [{"code": "23b", "share": "70.5"}, {"code": "23d", "share": "29.5"}],
        "need": {"amount": "2500000.00", "currency": "EUR"},
    }
    body.update(overrides)
    return body


def assert_error(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["code"] == status
    assert isinstance(body["status"], str) and body["message"]
    if field:
        assert field in body["errors"], body
    return body


@pytest.fixture
def donor(make_user):
    return make_user("donor")


def test_create_read_and_list(api, donor):
    user, token = donor
    response = api("post", "/api/v1/projects", token, json=project_body())
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["org"]["id"] == user.org_id
    assert [r["share"] for r in created["recipients"]] == ["60", "40"]
    assert {a["code"]: a["share"] for a in created["areas"]} == {"23b": "70.5", "23d": "29.5"}
    assert created["need"]["amount"] == "2500000.00" and created["need"]["currency"] == "EUR"
    assert isinstance(created["need"]["usd"], str)
    assert response.headers["ETag"] == f'"project-{created["id"]}-v1"'
    assert response.headers["Location"].endswith(f"/projects/{created['id']}")

    got = api("get", f"/api/v1/projects/{created['id']}")
    assert got.status_code == 200 and got.headers["ETag"] == response.headers["ETag"]

    listed = api("get", "/api/v1/projects?country=UGA&area=23d&q=community")
    assert listed.status_code == 200
    assert [p["id"] for p in listed.get_json()["items"]] == [created["id"]]
    assert listed.headers["X-Total-Count"] == "1"


def test_pagination_total_and_links(api, make_project):
    for n in range(5):
        make_project(title=f"Paged {n}")
    response = api("get", "/api/v1/projects?per_page=2&page=2&q=paged&sort=-title")
    body = response.get_json()
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (2, 2, 5, 3)
    assert [p["title"] for p in body["items"]] == ["Paged 2", "Paged 1"]
    assert response.headers["X-Total-Count"] == "5"
    links = response.headers["Link"]
    for rel in ("first", "last", "prev", "next"):
        assert f'rel="{rel}"' in links
    assert "page=3" in links and "q=paged" in links


def test_list_filters_are_validated(api):
    assert_error(api("get", "/api/v1/projects?country=KENYA"), 422, "country")
    assert_error(api("get", "/api/v1/projects?sort=colour"), 422, "sort")
    assert_error(api("get", "/api/v1/projects?year_from=2020&year_to=2010"), 422, "year_to")
    assert_error(api("get", "/api/v1/projects?per_page=1000"), 422, "per_page")
    assert_error(api("get", "/api/v1/projects?colour=red"), 422, "colour")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        (
            {"recipients": [{"country": "KEN", "share": "60"}, {"country": "UGA", "share": "30"}]},
            "recipients",
        ),
        ({"areas": [{"code": "23z", "share": "100"}]}, "areas"),
        ({"recipients": [{"country": "XXX"}]}, "recipients"),
        ({"planned_end": "2020-01-01"}, "planned_end"),
        ({"need": {"amount": 2500.5, "currency": "EUR"}}, "need"),
        ({"need": {"amount": "10.123", "currency": "EUR"}}, "need"),
        ({"need": {"amount": "10", "currency": "EUX"}}, "need"),
        ({"title": ""}, "title"),
        ({"status": "dreaming"}, "status"),
        ({"reference": "x" * 121}, "reference"),
    ],
)
def test_invalid_project_input_is_422_with_field_errors(api, donor, change, field):
    before = db.session.scalar(select(func.count(Project.id)))
    assert_error(api("post", "/api/v1/projects", donor[1], json=project_body(**change)), 422, field)
    assert db.session.scalar(select(func.count(Project.id))) == before


def test_writes_need_a_token(api, client, donor):
    assert_error(api("post", "/api/v1/projects", None, json=project_body()), 401)
    assert_error(api("post", "/api/v1/projects", "ict4d_not-a-token", json=project_body()), 401)
    assert_error(client.post("/api/v1/projects", json={}, headers={"Authorization": "Basic x"}), 401)


def test_duplicate_reference_is_409(api, donor):
    assert api("post", "/api/v1/projects", donor[1], json=project_body()).status_code == 201
    assert_error(api("post", "/api/v1/projects", donor[1], json=project_body()), 409, "reference")


def test_patch_with_etag_and_version_and_conflicts(api, donor):
    token = donor[1]
    created = api("post", "/api/v1/projects", token, json=project_body()).get_json()
    url = f"/api/v1/projects/{created['id']}"
    etag = api("get", url).headers["ETag"]

    ok = api("patch", url, token, json={"title": "Renamed"}, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.get_json()["title"] == "Renamed"
    assert ok.get_json()["version"] == 2 and ok.headers["ETag"] != etag

    # The first ETag is stale now: 412 and nothing changes.
    stale = api("patch", url, token, json={"title": "Lost"}, headers={"If-Match": etag})
    assert_error(stale, 412)
    # A stale version in the body: 409 and nothing changes.
    assert_error(api("patch", url, token, json={"title": "Lost", "version": 1}), 409, "version")
    assert_error(api("delete", url, token, json={"version": 1}), 409)
    assert_error(api("delete", url, token, headers={"If-Match": etag}), 412)
    current = api("get", url).get_json()
    assert current["title"] == "Renamed" and current["version"] == 2
    assert api("patch", url, token, json={"title": "Third", "version": 2}).status_code == 200


def test_concurrent_writers_cannot_lose_an_update(api, donor):
    """Both writers pass the version check; the database refuses the slower one (409)."""
    token = donor[1]
    created = api("post", "/api/v1/projects", token, json=project_body()).get_json()
    project = db.session.get(Project, created["id"])
    assert project.version == 1  # this session now holds version 1
    # Another writer commits version 2 behind this session's back.
    db.session.execute(Project.__table__.update().where(Project.id == project.id).values(version=2, title="Theirs"))
    response = api("patch", f"/api/v1/projects/{project.id}", token, json={"title": "Mine", "version": 1})
    assert_error(response, 409)
    db.session.expire_all()
    assert db.session.get(Project, created["id"]).title != "Mine"


def test_delete_project(api, donor, etag):
    token = donor[1]
    created = api("post", "/api/v1/projects", token, json=project_body()).get_json()
    url = f"/api/v1/projects/{created['id']}"
    assert api("delete", url, token, headers={"If-Match": etag(url)}).status_code == 204
    assert_error(api("get", url), 404)
    assert_error(api("delete", url, token, headers={"If-Match": "*"}), 404)


def test_transactions_crud_with_usd_value(api, donor):
    token = donor[1]
    created = api("post", "/api/v1/projects", token, json=project_body()).get_json()
    url = f"/api/v1/projects/{created['id']}/transactions"
    body = {
        "type": "commitment",
        "amount": "100000.00",
        "currency": "EUR",
        "value_date": "2021-03-15",
    }
    response = api("post", url, token, json=body)
    assert response.status_code == 201, response.get_json()
    tx = response.get_json()
    assert tx["amount"] == "100000.00" and tx["currency"] == "EUR"
    assert tx["usd_rate_date"] == "2021-03-15"
    assert Decimal(tx["usd"]) == (Decimal("100000") * Decimal(tx["usd_rate"])).quantize(Decimal("0.01"))
    listed = api("get", url)
    assert [t["id"] for t in listed.get_json()] == [tx["id"]]

    tx_url = f"{url}/{tx['id']}"
    etag = api("get", tx_url).headers["ETag"]
    changed = api("patch", tx_url, token, json={"amount": "120000"}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["amount"] == "120000.00"
    assert_error(api("patch", tx_url, token, json={"amount": "1"}, headers={"If-Match": etag}), 412)
    # With the current ETag, only the values can be refused.
    current = {"If-Match": changed.headers["ETag"]}
    assert_error(api("patch", tx_url, token, json={"amount": "1.001"}, headers=current), 422, "amount")
    assert_error(api("patch", tx_url, token, json={"amount": 1.5}, headers=current), 422, "amount")
    assert_error(api("patch", tx_url, token, json={"currency": "XYZ"}, headers=current), 422, "currency")
    assert_error(api("patch", tx_url, token, json={"rate": "1"}, headers=current), 422, "rate")
    assert_error(api("post", url, token, json={**body, "value_date": "1950-01-01"}), 422, "currency")
    assert_error(api("post", url, token, json={**body, "funding_source_id": 999999}), 422)
    assert_error(api("get", f"{url}/999999"), 404)
    assert api("delete", tx_url, token, headers={"If-Match": api("get", tx_url).headers["ETag"]}).status_code == 204
    assert db.session.get(Transaction, tx["id"]) is None


def test_transaction_of_another_project_is_404(api, donor, make_project, make_transaction):
    token = donor[1]
    mine = api("post", "/api/v1/projects", token, json=project_body()).get_json()
    other_tx = make_transaction(make_project())
    assert_error(api("get", f"/api/v1/projects/{mine['id']}/transactions/{other_tx.id}"), 404)
    other_url = f"/api/v1/projects/{mine['id']}/transactions/{other_tx.id}"
    assert_error(api("delete", other_url, token, headers={"If-Match": "*"}), 404)


def test_every_change_is_audited_with_channel_and_actor(api, donor, etag):
    user, token = donor
    created = api("post", "/api/v1/projects", token, json=project_body()).get_json()
    pid = created["id"]
    project_url = f"/api/v1/projects/{pid}"
    assert (
        api("patch", project_url, token, json={"title": "Audited"}, headers={"If-Match": etag(project_url)}).status_code
        == 200
    )
    tx = api(
        "post",
        f"/api/v1/projects/{pid}/transactions",
        token,
        json={
            "type": "disbursement",
            "amount": "10",
            "currency": "USD",
            "value_date": "2022-01-03",
        },
    ).get_json()
    tx_url = f"/api/v1/projects/{pid}/transactions/{tx['id']}"
    assert api("patch", tx_url, token, json={"amount": "11"}, headers={"If-Match": etag(tx_url)}).status_code == 200
    assert api("delete", tx_url, token, headers={"If-Match": etag(tx_url)}).status_code == 204
    history = api("get", f"/api/v1/projects/{pid}/history", token).get_json()["items"]
    kinds = [(e["entity_type"], e["action"]) for e in history]
    assert kinds == [
        ("transaction", "delete"),
        ("transaction", "update"),
        ("transaction", "create"),
        ("project", "update"),
        ("project", "create"),
    ]
    update = history[3]
    assert update["changed"] == ["title"] and update["before"]["title"] != "Audited"
    assert update["actor"] == user.email and update["channel"] == "api"
    # Anonymous readers see the history without the person's e-mail.
    public = api("get", f"/api/v1/projects/{pid}/history").get_json()["items"]
    assert public[0]["actor"] is None and public[0]["org_id"] == user.org_id
    assert api("delete", project_url, token, headers={"If-Match": etag(project_url)}).status_code == 204
    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "project", AuditEvent.entity_id == pid)
    ).all()
    assert [r.action for r in rows] == ["create", "update", "delete"]
    assert all(r.occurred_at.tzinfo is not None for r in rows)


def test_amounts_are_strings_never_floats(api, make_project, make_transaction):
    project = make_project(need={"amount": "1000", "currency": "JPY"})
    make_transaction(project, amount=Decimal("12.34"), value_date=dt.date(2020, 6, 1))
    body = api("get", f"/api/v1/projects/{project.id}").get_json()
    assert body["need"]["amount"] == "1000"
    tx = api("get", f"/api/v1/projects/{project.id}/transactions").get_json()[0]
    assert tx["amount"] == "12.34" and isinstance(tx["usd"], str)


def test_openapi_document_lists_the_routes(api):
    spec = api("get", "/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/projects",
        "/api/v1/projects/{project_id}",
        "/api/v1/projects/{project_id}/transactions/{tx_id}",
        "/api/v1/funding-sources/{source_id}",
        "/api/v1/organisations/{org_id}",
        "/api/v1/audit-events",
    ):
        assert path in spec["paths"], path
    assert set(spec["paths"]["/api/v1/audit-events"]) == {"get"}


def test_patch_shares_keeping_the_same_codes(api, donor):
    token = donor[1]
    created = api("post", "/api/v1/projects", token, json=project_body()).get_json()
    change = {
        "recipients": [{"country": "KEN", "share": "10"}, {"country": "UGA", "share": "90"}],
        "areas": [{"code": "23d", "share": "100"}],
        "version": created["version"],
    }
    response = api("patch", f"/api/v1/projects/{created['id']}", token, json=change)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [(r["country"], r["share"]) for r in body["recipients"]] == [
        ("KEN", "10"),
        ("UGA", "90"),
    ]
    assert [(a["code"], a["share"]) for a in body["areas"]] == [("23d", "100")]
    history = api("get", f"/api/v1/projects/{created['id']}/history", token).get_json()["items"]
    assert history[0]["changed"] == ["areas", "recipients"]
    # Shares are recorded as plain decimals ("60", not "6E+1").
    assert [r["share"] for r in history[0]["before"]["recipients"]] == ["60", "40"]
    assert [a["share"] for a in history[0]["before"]["areas"]] == ["70.5", "29.5"]


def test_patch_keeping_the_same_sector_codes(api, donor):
    """Saving a project with the purpose codes it has (an edit of its title on the page posts
    them again) keeps them: 200, not a clash of each code with itself."""
    token = donor[1]
    created = api("post", "/api/v1/projects", token, json=project_body(sectors=["22020", "22040"])).get_json()
    change = {"title": "Community networks, phase 2", "sectors": ["22040", "22020", "11330"], "version": 1}
    response = api("patch", f"/api/v1/projects/{created['id']}", token, json=change)
    assert response.status_code == 200, response.get_json()
    assert sorted(response.get_json()["sectors"]) == ["11330", "22020", "22040"]
    project = db.session.get(Project, created["id"])
    assert sorted(s.code for s in project.sectors) == ["11330", "22020", "22040"]
    assert project.title == "Community networks, phase 2"


def test_transaction_changes_are_guarded_by_the_project_version(api, donor):
    token = donor[1]
    created = api("post", "/api/v1/projects", token, json=project_body()).get_json()
    url = f"/api/v1/projects/{created['id']}/transactions"
    body = {"type": "commitment", "amount": "10.00", "currency": "USD", "value_date": "2021-03-15"}
    tx = api("post", url, token, json=body).get_json()
    version = api("get", f"/api/v1/projects/{created['id']}").get_json()["version"]
    assert version == 2  # adding a flow moved the project on
    stale = api("patch", f"{url}/{tx['id']}", token, json={"amount": "11", "project_version": 1})
    assert stale.status_code == 409
    assert api("delete", f"{url}/{tx['id']}", token, json={"project_version": 1}).status_code == 409
    assert api("get", f"{url}/{tx['id']}").get_json()["amount"] == "10.00"
    ok = api("patch", f"{url}/{tx['id']}", token, json={"amount": "11", "project_version": version})
    assert ok.status_code == 200 and ok.get_json()["amount"] == "11.00"


def test_concurrent_transaction_writers_cannot_lose_an_update(api, donor, etag):
    token = donor[1]
    created = api("post", "/api/v1/projects", token, json=project_body()).get_json()
    url = f"/api/v1/projects/{created['id']}/transactions"
    body = {"type": "commitment", "amount": "10.00", "currency": "USD", "value_date": "2021-03-15"}
    tx = api("post", url, token, json=body).get_json()
    read = etag(f"{url}/{tx['id']}")  # the flow's ETag stays current: only its project moves
    project = db.session.get(Project, created["id"])
    # Another writer changes the project (e.g. one of its flows) behind this session's back.
    db.session.execute(Project.__table__.update().where(Project.id == project.id).values(version=project.version + 1))
    response = api("patch", f"{url}/{tx['id']}", token, json={"amount": "99"}, headers={"If-Match": read})
    assert_error(response, 409)
    db.session.expire_all()
    assert db.session.get(Transaction, tx["id"]).amount == Decimal("10.00")
