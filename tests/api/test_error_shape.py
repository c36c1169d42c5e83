"""Every API error uses the one JSON error shape, including the ones raised before a view runs:
413 (a body over MAX_CONTENT_LENGTH, a form field over MAX_FORM_MEMORY_SIZE) and 414 (an address
over MAX_URL_LENGTH). Pages get the HTML error page for the same errors."""

from __future__ import annotations

import io

import pytest

from registry.extensions import db
from registry.services import accounts

SHAPE = {"code", "status", "message", "errors", "request_id"}


@pytest.fixture
def headers(app, actor, make_org):
    user = accounts.create_user(actor, "shape@example.org", "donor", org=make_org())
    token = accounts.issue_token(actor, user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def small_limits(app):
    saved = {k: app.config.get(k) for k in ("MAX_CONTENT_LENGTH", "MAX_FORM_MEMORY_SIZE", "MAX_URL_LENGTH")}
    app.config.update(MAX_CONTENT_LENGTH=2000, MAX_FORM_MEMORY_SIZE=500, MAX_URL_LENGTH=300)
    yield
    app.config.update(saved)


def _shape(response, code: int) -> dict:
    assert response.status_code == code
    assert response.is_json, response.get_data(as_text=True)[:200]
    body = response.json
    assert set(body) == SHAPE and body["code"] == code
    return body


def test_an_upload_over_the_limit_is_a_413_in_the_shape(client, headers, small_limits):
    body = {"file": (io.BytesIO(b"a,b\n" * 1000), "big.csv")}
    response = client.post("/api/v1/imports", data=body, headers=headers, content_type="multipart/form-data")
    assert _shape(response, 413)["message"] == "The upload is larger than the limit of 2,000 bytes"


def test_a_json_body_over_the_limit_is_a_413_in_the_shape(client, headers, small_limits):
    body = b"{" + b" " * 5000 + b"}"
    response = client.post("/api/v1/projects", data=body, headers=headers, content_type="application/json")
    assert _shape(response, 413)["status"] == "Request Entity Too Large"


def test_a_form_field_over_its_limit_is_a_413_naming_that_limit(client, headers, small_limits):
    body = {"file": (io.BytesIO(b"a,b\n1,2\n"), "small.csv"), "mapping": "x" * 1200}
    response = client.post("/api/v1/imports", data=body, headers=headers, content_type="multipart/form-data")
    assert _shape(response, 413)["message"].startswith("A form field is larger than the limit of 500 bytes")


def test_an_address_over_the_limit_is_a_414_in_the_shape(client, headers, small_limits):
    response = client.get("/api/v1/projects?q=" + "a" * 400, headers=headers)
    body = _shape(response, 414)
    assert body["status"] == "Request-URI Too Long"
    assert "more than the limit of 300" in body["message"]
    # also where no route matches: the length is checked first
    assert _shape(client.get("/api/v1/" + "x" * 400), 414)["code"] == 414


def test_an_address_within_the_limit_is_served(client, headers, small_limits):
    assert client.get("/api/v1/projects?q=" + "a" * 50, headers=headers).status_code == 200


def test_pages_get_the_html_error_page_for_414(client, small_limits):
    response = client.get("/projects/?q=" + "a" * 400)
    assert response.status_code == 414
    assert response.mimetype == "text/html"
    assert "more than the limit of 300" in response.get_data(as_text=True)


def test_the_default_limit_leaves_room_for_real_queries(app):
    assert app.config["MAX_URL_LENGTH"] == 4000  # below gunicorn's default request line limit
