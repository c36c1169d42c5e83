"""Bad input never gets a 500: a few hostile bodies per route, API and forms."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from registry.extensions import db
from registry.models import AuditEvent
from tests.sessions import log_in

BAD_JSON_BODIES = [
    {"data": "{not json", "content_type": "application/json"},
    {"data": "plain text", "content_type": "text/plain"},
    {"json": []},
    {"data": "null", "content_type": "application/json"},
    {"json": "a string"},
    {"json": 12},
    {"json": {"title": 1e308, "amount": 1e308, "share": "NaN"}},
    {"json": {"reference": "x" * 5000, "title": ["a"], "status": {"a": 1}}},
    {
        "json": {
            "amount": "1e999999",
            "currency": "USD",
            "type": "commitment",
            "value_date": "2021-01-04",
        }
    },
    {"json": {"amount": "99999999999999999999", "currency": "USD", "type": "commitment"}},
    {
        "json": {
            "value_date": "2021-02-30",
            "planned_start": "0000-01-01",
            "window_from": "9999-99-99",
        }
    },
    {"json": {"recipients": [{"country": "KEN", "share": "1e999999"}], "areas": "23b"}},
    {"json": {"recipients": [{"country": None, "region": None}], "areas": [{"code": 5}]}},
    {
        "json": {
            "org_id": 2**40,
            "managing_org_id": -1,
            "funding_source_id": 2**63,
            "version": 2**40,
        }
    },
    {"json": {"need": {"amount": "Infinity", "currency": "EUR"}, "min_amount": "-0"}},
    {"json": {"kind": "\x00", "ref": "\ud800", "name": "\u202e", "country_iso3": "ÄÖÜ"}},
]
BAD_QUERIES = [
    "?page=0",
    "?page=999999999999999999999",
    "?per_page=-1",
    "?year_from=99999",
    "?country=%00%00%00",
    "?region=abcd",
    "?funding_source_id=99999999999999999999",
    "?sort=title;drop",
    "?q=" + "x" * 500,
    "?entity_id=-5",
]
BAD_FORMS = [
    {},
    {"title": "x" * 5000, "reference": "\x00", "status": "nope"},
    {"recipients-0-place": "XXX", "recipients-0-share": "1e999999", "areas-0-code": "99z"},
    {"recipients-99999999999999-place": "KEN", "areas-0-share": "-5", "need_amount": "1e30"},
    {"amount": "12.345", "currency": "ZZZ", "value_date": "2021-13-01", "type": "gift"},
    {
        "min_amount": "10",
        "max_amount": "1",
        "window_from": "2022-01-01",
        "window_until": "2021-01-01",
    },
    {"version": "99999999999999999999", "countries": "KEN, XX1", "regions": "9999"},
]


@pytest.fixture
def admin_token(make_user):
    made = make_user("admin")
    db.session.commit()  # a savepoint: error handlers roll back, and must not undo the user
    return made


@pytest.fixture
def objects(make_project, make_source, make_transaction):
    project = make_project()
    source = make_source()
    tx = make_transaction(project)
    db.session.commit()
    return {
        "project_id": project.id,
        "tx_id": tx.id,
        "source_id": source.id,
        "org_id": project.org_id,
    }


def _url(rule, objects) -> str:
    url = rule.rule
    for arg in rule.arguments:
        url = re.sub(rf"<(?:\w+:)?{arg}>", str(objects.get(arg, "KEN")), url)
    return url


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and "openapi" not in rule.rule:
            yield rule


def test_api_bodies_get_a_4xx_in_the_one_error_shape(app, client, admin_token, objects):
    _, token = admin_token
    audit_before = db.session.scalar(select(func.count(AuditEvent.id)))
    checked = 0
    for rule in _api_rules(app):
        url = _url(rule, objects)
        for method in sorted((rule.methods or set()) & {"POST", "PATCH", "PUT"}):
            for body in BAD_JSON_BODIES:
                response = client.open(url, method=method, headers={"Authorization": f"Bearer {token}"}, **body)
                assert 400 <= response.status_code < 500, (method, url, body, response.get_json())
                error = response.get_json()
                assert set(error) >= {"code", "status", "message"}, error
                assert error["code"] == response.status_code
                checked += 1
    assert checked >= 8 * len(BAD_JSON_BODIES)
    # Nothing bad was written.
    assert db.session.scalar(select(func.count(AuditEvent.id))) == audit_before


def test_api_queries_get_a_4xx_or_an_answer(app, client, admin_token, objects):
    _, token = admin_token
    for rule in _api_rules(app):
        # The reference lists (countries with their dated categories) are slow to build
        # and validated by their own tests; the registry's lists are what is fuzzed here.
        if "GET" not in (rule.methods or set()) or rule.endpoint.startswith("reference."):
            continue
        for query in BAD_QUERIES:
            response = client.get(_url(rule, objects) + query, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code < 500, (rule.rule, query)
            if response.status_code >= 400:
                assert response.get_json()["code"] == response.status_code


def test_text_no_database_can_store_is_a_400(client, admin_token, objects):
    _, token = admin_token
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/projects?q=a%00b").status_code == 400
    assert client.get("/projects?q=%00").status_code == 400
    url = f"/api/v1/projects/{objects['project_id']}"
    for text in (r"nul\u0000byte", r"lone \ud800 surrogate"):
        response = client.patch(url, data='{"title": "' + text + '"}', content_type="application/json", headers=headers)
        assert response.status_code == 400 and response.get_json()["code"] == 400
    assert client.post("/login", data={"email": "a\x00@b.c", "password": "x"}).status_code == 400


def test_unknown_ids_are_404_not_500(client, admin_token):
    _, token = admin_token
    headers = {"Authorization": f"Bearer {token}"}
    for url in (
        "/api/v1/projects/99999999999999999999",
        "/api/v1/projects/2147483648",
        "/api/v1/projects/0/transactions/1",
        "/api/v1/funding-sources/99999999999",
        "/api/v1/organisations/2147483648",
        "/projects/99999999999999999999",
        "/funding-sources/2147483648",
    ):
        assert client.get(url, headers=headers).status_code == 404, url
        assert client.delete(url, headers=headers).status_code in (404, 405), url


def test_forms_answer_bad_input_with_a_page_not_a_500(app, client, make_user, objects):
    user, _ = make_user("admin")
    log_in(client, user)
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or "POST" not in (rule.methods or set()):
            continue
        if rule.endpoint in ("auth.logout",) or rule.rule.endswith("/delete"):
            continue
        for form in BAD_FORMS:
            response = client.post(_url(rule, objects), data=form)
            assert response.status_code < 500, (rule.rule, form)
            assert response.status_code in (302, 400, 403, 404, 409, 422), (rule.rule, form)
