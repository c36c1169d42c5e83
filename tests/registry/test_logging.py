"""Structured logs: every request has an id (the sane X-Request-ID it came with, else a new
one), returned in X-Request-ID, on every log line of the request and in the API's error
bodies; LOG_FORMAT=json writes one JSON object per line, text a readable line."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import current_app

from registry.app import create_app
from registry.extensions import db
from registry.logging_setup import (
    AccessJsonFormatter,
    JsonFormatter,
    RequestContext,
    TextFormatter,
    configure,
    log_format,
)


@pytest.fixture
def log_lines():
    """What the root logger writes, as JSON, during the test (the suite's database setup may
    have replaced the app's own handler: alembic configures logging when it migrates)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContext())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _noisy():
    current_app.logger.info('first\nsecond line, with "quotes"')
    logging.getLogger("some.library").warning("a library speaks")
    return {"ok": True}


def _boom():
    raise RuntimeError("kaboom")


@pytest.fixture
def noisy_app(app, monkeypatch):
    """Two API views of the app's own replaced for the test (the session app has served
    requests already, so no route can be added): one that logs, one that fails."""
    monkeypatch.setitem(app.view_functions, "reference.PriorityAreas", _noisy)
    monkeypatch.setitem(app.view_functions, "reference.RecipientCategories", _boom)
    return app


def test_every_line_of_a_request_carries_its_id_and_the_id_comes_back(noisy_app, client, log_lines):
    response = client.get("/api/v1/priority-areas")
    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0  # made here: a random hex id

    lines = [line for line in log_lines() if line.get("request_id") == request_id]
    by_logger = {line["logger"]: line for line in lines}
    # the app's own line, a library's line and the request line all carry the id
    assert by_logger["registry.app"]["message"] == 'first\nsecond line, with "quotes"'
    assert by_logger["some.library"]["level"] == "WARNING"
    done = by_logger["registry.request"]
    assert done["method"] == "GET" and done["path"] == "/api/v1/priority-areas" and done["status"] == 200
    assert isinstance(done["duration_ms"], float) and done["duration_ms"] >= 0
    assert list(done)[:4] == ["time", "level", "logger", "message"] and done["time"].endswith("Z")
    # no line of the request lacks the id
    assert all(
        line.get("request_id") == request_id for line in log_lines() if line.get("path") == "/api/v1/priority-areas"
    )


def test_a_sane_incoming_id_is_kept_and_an_insane_one_replaced(client, log_lines):
    kept = client.get("/healthz", headers={"X-Request-ID": "edge-7f3a.42:abc_DEF"})
    assert kept.headers["X-Request-ID"] == "edge-7f3a.42:abc_DEF"
    for bad in ("has space", "x" * 129, "<script>", "", "-leading-dash", "semi;colon"):
        replaced = client.get("/healthz", headers={"X-Request-ID": bad})
        assert replaced.headers["X-Request-ID"] != bad and len(replaced.headers["X-Request-ID"]) == 32
    # two requests without an id get two ids
    assert client.get("/healthz").headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]
    # the probes log at DEBUG, every other request at INFO
    probe = [line for line in log_lines() if line["logger"] == "registry.request"]
    assert probe and {line["level"] for line in probe} == {"DEBUG"}


def test_api_error_bodies_carry_the_request_id(api, client, make_user):
    anonymous = client.post("/api/v1/projects", json={}, headers={"X-Request-ID": "client-chosen-1"})
    assert anonymous.status_code == 401
    assert anonymous.get_json()["request_id"] == "client-chosen-1" == anonymous.headers["X-Request-ID"]

    missing = client.get("/api/v1/projects/999999")
    assert missing.status_code == 404
    assert missing.get_json()["request_id"] == missing.headers["X-Request-ID"]

    _, token = make_user("donor")
    db.session.commit()
    invalid = api("post", "/api/v1/projects", token, json={"title": ""})
    assert invalid.status_code == 422
    assert invalid.get_json()["request_id"] == invalid.headers["X-Request-ID"]


def test_a_500_logs_the_exception_with_the_id_the_body_names(noisy_app, client, log_lines):
    response = client.get("/api/v1/recipient-categories", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.get_json()["request_id"] == "trace-500"
    lines = [line for line in log_lines() if line.get("request_id") == "trace-500"]
    error = next(line for line in lines if line["level"] == "ERROR")
    assert "RuntimeError: kaboom" in error["exception"] and error["path"] == "/api/v1/recipient-categories"
    done = next(line for line in lines if line["logger"] == "registry.request")
    assert done["status"] == 500 and done["level"] == "WARNING"


def test_the_request_line_names_the_signed_in_user(client, make_user, log_lines):
    user, token = make_user("donor")
    db.session.commit()
    response = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    done = next(
        line
        for line in log_lines()
        if line["logger"] == "registry.request" and line["request_id"] == response.headers["X-Request-ID"]
    )
    assert done["user_id"] == user.id
    anonymous = client.get("/api/v1/projects")
    done = next(
        line
        for line in log_lines()
        if line["logger"] == "registry.request" and line["request_id"] == anonymous.headers["X-Request-ID"]
    )
    assert "user_id" not in done, done


def test_json_lines_are_one_object_each_and_text_lines_are_readable():
    record = logging.LogRecord("registry.x", logging.ERROR, __file__, 1, "bad %s", ("thing\nnext",), None)
    record.request_id = "r-1"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) == {
        "time": json.loads(line)["time"],
        "level": "ERROR",
        "logger": "registry.x",
        "message": "bad thing\nnext",
        "request_id": "r-1",
    }
    text = TextFormatter().format(record)
    assert " ERROR " in text and "registry.x [r-1] bad thing" in text
    outside = logging.LogRecord("registry.x", logging.INFO, __file__, 1, "no request", (), None)
    assert "[-] no request" in TextFormatter().format(outside)


def test_log_format_follows_the_environment_unless_set():
    assert log_format(None, "production") == "json"
    assert log_format(None, "development") == "text"
    assert log_format("text", "production") == "text"
    assert log_format("JSON", "development") == "json"
    with pytest.raises(ValueError, match="LOG_FORMAT is 'xml'"):
        log_format("xml", "production")


@pytest.mark.parametrize(("settings", "formatter"), [({}, TextFormatter), ({"LOG_FORMAT": "json"}, JsonFormatter)])
def test_create_app_installs_one_handler_in_the_chosen_format(tmp_path, settings, formatter):
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        for _ in range(2):  # a second app replaces the first one's handler, never adds a second
            app = create_app(
                {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}", **settings}
            )
        ours = [h for h in root.handlers if getattr(h, "_registry", False)]
        assert len(ours) == 1 and type(ours[0].formatter) is formatter
        assert any(isinstance(f, RequestContext) for f in ours[0].filters)
        with app.app_context():
            db.engine.dispose()
    finally:
        for handler in list(root.handlers):
            if handler not in before[0]:
                root.removeHandler(handler)
        root.setLevel(before[1])


def test_configure_writes_json_to_the_stream_it_is_given():
    root = logging.getLogger()
    before = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        configure("json", "WARNING", stream)
        logging.getLogger("registry.test").info("dropped: below the level")
        logging.getLogger("registry.test").warning("kept", extra={"batch_id": 7})
    finally:
        for handler in list(root.handlers):
            if handler not in before[0]:
                root.removeHandler(handler)
        root.setLevel(before[1])
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["message"] == "kept" and json.loads(line)["batch_id"] == 7


def test_gunicorn_access_lines_become_json_with_the_request_id():
    atoms = {
        "r": 'GET /projects?q=a"b HTTP/1.1',
        "m": "GET",
        "U": "/projects",
        "q": 'q=a"b',
        "s": "200",
        "D": 12345,
        "B": 512,
        "h": "127.0.0.1",
        "a": "locust",
        "f": "-",
        "{x-request-id}o": "abc123",
        "{x-forwarded-for}i": "203.0.113.9",
    }
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(r)s", (atoms,), None)
    line = json.loads(AccessJsonFormatter().format(record))
    assert line["request_id"] == "abc123" and line["status"] == 200 and line["duration_ms"] == 12.3
    assert line["path"] == "/projects" and line["query"] == 'q=a"b' and line["forwarded_for"] == "203.0.113.9"
    assert "referer" not in line  # '-' is gunicorn's "none"
