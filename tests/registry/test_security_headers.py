"""Security headers on every route of the app, and HSTS only in production."""

from __future__ import annotations

import pytest
from flask import Flask

from registry import security
from tests.registry.test_unit_of_work import _login, _url, demo  # noqa: F401  (the demo fixture)

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _csp(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return dict((part.strip().split(" ", 1) + [""])[:2] for part in header.split(";") if part.strip())


def _assert_headers(response, where: str) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (where, name, response.headers.get(name))
    csp = _csp(response)
    for directive, value in CSP_DIRECTIVES.items():
        assert csp.get(directive) == value, (where, directive, csp)
    assert "unsafe-inline" not in csp["script-src"] and "unsafe-eval" not in csp.get("script-src", "")
    assert "Strict-Transport-Security" not in response.headers, where


def test_every_get_route_carries_the_headers(app, client, demo):  # noqa: F811
    """Pages, API, static files and redirects, signed in as an admin on the demo data."""
    _login(client, demo["admin"])
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()):
            continue
        url = _url(rule, demo)
        response = client.get(url)
        response.close()
        _assert_headers(response, url)
        checked += 1
    assert checked >= 50


def test_errors_and_anonymous_requests_carry_the_headers(client):
    for url in ("/no-such-page", "/api/v1/no-such-thing", "/projects/new", "/healthz"):
        response = client.get(url)
        _assert_headers(response, url)
    response = client.get("/no-such-page")
    assert response.status_code == 404
    response = client.post("/api/v1/projects", json={})
    assert response.status_code >= 400
    _assert_headers(response, "POST /api/v1/projects")


def test_pages_have_no_inline_script_handler_or_style(app, client, demo):  # noqa: F811
    """What the CSP would block: an inline <script> or <style>, an on*= or a style= attribute."""
    import re

    _login(client, demo["admin"])
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint.endswith("static"):
            continue
        response = client.get(_url(rule, demo))
        if not response.content_type.startswith("text/html"):
            response.close()  # a streamed download ends in its request's context, read or not
            continue
        page = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), rule.rule
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", page), rule.rule
        assert not re.search(r"<style\b|<[^>]+\sstyle\s*=", page), rule.rule


@pytest.mark.parametrize("env, sends_hsts", [("production", True), ("development", False), ("test", False)])
def test_hsts_only_in_production(env, sends_hsts):
    """The hook as create_app installs it, on an app configured for each environment."""
    app = Flask(__name__)
    app.config["REGISTRY_ENV"] = env
    security.init_app(app)
    app.add_url_rule("/", "index", lambda: "ok")
    response = app.test_client().get("/")
    assert response.status_code == 200
    hsts = response.headers.get("Strict-Transport-Security")
    if sends_hsts:
        assert hsts is not None and "max-age=31536000" in hsts
    else:
        assert hsts is None
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_app_reads_its_environment_for_hsts(app):
    """The test app runs as test (REGISTRY_ENV unset or test): no HSTS on its responses."""
    assert app.config["REGISTRY_ENV"] != "production"
    assert "Strict-Transport-Security" not in app.test_client().get("/healthz").headers
