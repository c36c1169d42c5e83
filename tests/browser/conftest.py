"""Browser fixtures: the app served over HTTP in a thread, and a real Chromium.

The live server has its own SQLite database (migrated, with reference and demo
data committed), so the browser sees what a user of `make run` sees. Tests skip
cleanly when Debian's chromium or Playwright is not installed.
"""

from __future__ import annotations

import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


def _buffered(app):
    """The app with every response body read and closed before it is sent.

    Werkzeug's development server does not close a response's iterable when the
    client drops the connection mid-response, which Chromium does with icons it
    no longer needs; the open static file then surfaces as a ResourceWarning in
    whichever test happens to be running. None of the app's responses stream, so
    buffering them changes nothing else.
    """

    def wsgi(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return wsgi


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """Base URL of the app served with demo data on a free loopback port."""
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from registry.app import create_app
    from registry.extensions import db
    from registry.services.demo import seed_demo
    from registry.services.reference import load_reference

    path = tmp_path_factory.mktemp("live") / "live.sqlite3"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SECRET_KEY": "browser-tests",
            "SESSION_COOKIE_SECURE": False,
            "WTF_CSRF_ENABLED": True,
            "QUEUE_IMMEDIATE": True,  # jobs run inline, in the request that queues them
        }
    )
    with app.app_context():
        upgrade()
        load_reference()
        seed_demo()
        db.session.commit()
        db.session.remove()
    server = make_server("127.0.0.1", 0, _buffered(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not _chromium_available():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    with sync_playwright() as playwright:
        executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _watch_csp(page) -> list[str]:
    """The console messages in which Chromium reports something the CSP refused."""
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return blocked


@contextmanager
def opened_page(browser, **context_options):
    """A page in a fresh browser context (no cookies), closed on leaving; anything the
    Content-Security-Policy blocked while it was open fails the test."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    blocked = _watch_csp(page)
    try:
        yield page
    finally:
        context.close()
    assert blocked == [], f"the Content-Security-Policy blocked something: {blocked}"


LAPTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def page(browser):
    """A fresh page, 1280x900."""
    with opened_page(browser, **LAPTOP) as fresh:
        yield fresh


@pytest.fixture
def phone_page(browser):
    """A fresh page at a phone's width (390 px)."""
    with opened_page(browser, **PHONE) as fresh:
        yield fresh


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under tests/browser/screenshots/."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, base_url: str, email: str, password: str = "demo-password") -> None:
    """Log in through the login form."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    # the login form's own button, not the language switch's (they come first on the page)
    page.click("form:has(input[name=password]) [type=submit]")
