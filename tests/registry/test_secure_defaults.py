"""Secure by default (issue 14): a production start refuses unsafe settings, an anonymous API
write is 401 before its input is read, and every API error has the one JSON shape."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from werkzeug.exceptions import default_exceptions

from config import unsafe_settings
from registry.app import create_app
from registry.extensions import db

REPO = Path(__file__).resolve().parents[2]
GOOD_KEY = "9f1c" * 16
SHAPE = {"code", "status", "message", "errors", "request_id"}


# -- 1. a production start refuses unsafe settings ----------------------------------


SHARED_STORE = "redis://127.0.0.1:6379/0"


def _start(tmp_path, **env) -> subprocess.CompletedProcess:
    """Import the WSGI entry point, as a production server does, with only ``env`` set."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    environ = {**keep, "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", **env}
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=REPO, env=environ, capture_output=True, text=True, timeout=120
    )


def test_a_production_start_without_a_secret_key_is_refused(tmp_path):
    started = _start(tmp_path, FLASK_ENV="production")
    assert started.returncode != 0
    assert "UnsafeConfiguration" in started.stderr
    assert re.search(r"SECRET_KEY is not set.*token_hex", started.stderr), started.stderr
    # the same start with a real key, a shared store of rate-limit counts (its server is reached
    # at the first counted request, not at the start) and the shipped defaults goes ahead
    started = _start(tmp_path, REGISTRY_ENV="production", SECRET_KEY=GOOD_KEY, RATELIMIT_STORAGE_URI=SHARED_STORE)
    assert started.returncode == 0, started.stderr
    # and a laptop (no environment named, as `make run` and the tests) needs no key
    assert _start(tmp_path, SESSION_COOKIE_SECURE="0").returncode == 0


@pytest.mark.parametrize(
    ("settings", "phrase"),
    [
        ({"SECRET_KEY": "dev-only-change-me"}, r"SECRET_KEY is not set"),
        ({"SECRET_KEY": "test"}, r"SECRET_KEY is 'test', a value published in the repository"),
        ({"SECRET_KEY": "short-but-unknown"}, r"SECRET_KEY has 17 characters, fewer than 32"),
        ({"SESSION_COOKIE_SECURE": False}, r"SESSION_COOKIE_SECURE is off.*SESSION_COOKIE_SECURE=0"),
        ({"DEBUG": True}, r"DEBUG is on \(FLASK_DEBUG=1 or --debug\)"),
        ({"TESTING": True}, r"TESTING is on"),
        ({"WTF_CSRF_ENABLED": False}, r"WTF_CSRF_ENABLED is off"),
        ({"RATELIMIT_STORAGE_URI": "memory://"}, r"RATELIMIT_STORAGE_URI is memory://.*redis://"),
        ({"RATELIMIT_ENABLED": False}, r"RATELIMIT_ENABLED is off"),
    ],
)
def test_each_unsafe_production_setting_is_named(settings, phrase):
    from config import UnsafeConfiguration

    config = {"REGISTRY_ENV": "production", "SECRET_KEY": GOOD_KEY, "SESSION_COOKIE_SECURE": True}
    config |= {"SESSION_COOKIE_HTTPONLY": True, "RATELIMIT_STORAGE_URI": SHARED_STORE, **settings}
    with pytest.raises(UnsafeConfiguration, match=phrase):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", **config})
    # outside production the same settings are a developer's choice
    assert unsafe_settings({**config, "REGISTRY_ENV": "development"}) == []


def test_a_misspelt_environment_is_refused_not_taken_for_development():
    problems = unsafe_settings({"REGISTRY_ENV": "prod", "SECRET_KEY": "dev-only-change-me"})
    assert problems == ["REGISTRY_ENV (or FLASK_ENV) is 'prod'; set it to one of development, test, production"]


# -- 2. an anonymous API write is 401 before any validation -----------------------------


def _write_operations(client) -> list[tuple[str, str]]:
    """(method, url) of every write the OpenAPI document lists, ids filled with 1."""
    spec = client.get("/api/v1/openapi.json").get_json()
    ops = []
    for path, item in spec["paths"].items():
        for method in item:
            if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}:
                ops.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return ops


def test_the_openapi_document_lists_every_write_route(app, client):
    documented = {(m.upper(), re.sub(r"/1(?=/|$)", "/<id>", url)) for m, url in _write_operations(client)}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in rule.methods - {"GET", "HEAD", "OPTIONS"}:
                routed.add((method, re.sub(r"<[^>]+>", "<id>", rule.rule)))
    assert routed and documented == routed


@pytest.mark.parametrize("body", [{"json": {"bogus": ["not", "valid"]}}, {"data": b"\xff not json"}])
def test_an_anonymous_write_is_401_before_its_input_is_read(client, body):
    """No API write is public: tokens are issued from the command line and the web pages,
    and there is no login or token endpoint in the API."""
    from registry.auth import PUBLIC_API_WRITES

    assert PUBLIC_API_WRITES == frozenset()
    operations = _write_operations(client)
    assert len(operations) >= 20
    for method, url in operations:
        response = getattr(client, method)(url, **body)
        assert response.status_code == 401, (method, url, response.get_json())
        assert set(response.get_json()) == SHAPE and response.get_json()["code"] == 401
    # a bad token is no better than none, and a session cookie never authorises an API write
    response = client.post("/api/v1/projects", json={}, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_an_authenticated_bad_body_is_still_422(api, make_user):
    _user, token = make_user("donor")
    db.session.commit()
    response = api("post", "/api/v1/projects", token, json={"bogus": 1})
    assert response.status_code == 422 and set(response.get_json()) == SHAPE


def test_unknown_api_paths_and_methods_stay_404_and_405(client):
    assert client.post("/api/v1/no-such-thing", json={}).status_code == 404
    assert client.post("/api/v1/countries", json={}).status_code == 405


# -- 3. bidirectional controls: the field is named (every path: test_one_verdict_every_path) ----


def test_a_bidirectional_control_names_the_field_and_position(api, make_user):
    _user, token = make_user("admin")
    db.session.commit()
    body = {"ref": "ORG-\u202d1", "name": "Ministry", "kind": "government"}
    response = api("post", "/api/v1/organisations", token, json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"]["ref"] == [
        "Contains the invisible bidirectional control U+202D at character 5;"
        " remove it (it can make the text display as something else)"
    ]
    # right-to-left text and the plain marks (U+200F) are not controls that reorder: accepted
    body = {"ref": "ORG-2", "name": "\u0648\u0632\u0627\u0631\u0629\u200f", "kind": "government"}
    assert api("post", "/api/v1/organisations", token, json=body).status_code == 201


# -- 4. every API error has the JSON shape, 413 included ------------------------------------


def test_an_upload_over_the_limit_is_a_json_413(app, api, make_user):
    user, token = make_user("donor")
    db.session.commit()
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 2000
    try:
        data = {"file": (io.BytesIO(b"a,b\n" * 1000), "big.csv"), "org": user.org.ref}
        response = api("post", "/api/v1/imports", token, data=data, content_type="multipart/form-data")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413 and response.is_json
    assert response.get_json() == {
        "code": 413,
        "status": "Request Entity Too Large",
        "message": "The upload is larger than the limit of 2,000 bytes",
        "errors": {},
        "request_id": response.headers["X-Request-ID"],
    }


@pytest.mark.parametrize("code", [400, 404, 405, 413, 414, 415, 429, 431, 500, 503])
def test_every_http_error_raised_in_the_app_has_the_json_shape(app, code):
    """414 and 431 are answered by the server (werkzeug, gunicorn) or the proxy before a request
    reaches the app when the line or headers are too long; raised inside the app they too
    have the shape."""
    with app.test_request_context("/api/v1/projects", method="POST"):
        response = app.make_response(app.handle_user_exception(default_exceptions[code]()))
    assert response.status_code == code and response.is_json
    body = response.get_json()
    assert set(body) == SHAPE and body["code"] == code and body["status"] == HTTPStatus(code).phrase
