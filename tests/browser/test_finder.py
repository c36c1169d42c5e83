"""A government finds funding; posts a pipeline project; a donor finds it through its fund and
marks interest; everything works with the keyboard and fits a phone."""

from __future__ import annotations

import sqlite3

import pytest

from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.browser

GOVERNMENT = "government@demo.invalid"
DONOR = "donor@demo.invalid"
TITLE = "Telemedicine for district hospitals"


def _live_database(tmp_path_factory):
    found = sorted(tmp_path_factory.getbasetemp().glob("live*/live.sqlite3"))
    assert found, "the live server's database was not found"
    return found[-1]


def log_in(page, base_url: str, email: str, tmp_path_factory) -> None:
    """Log in through the login page; until it exists, sign the session cookie as Flask does."""
    page.context.clear_cookies()
    response = page.goto(f"{base_url}/login")
    if response is not None and response.ok and page.locator("input[name=email]").count():
        login(page, base_url, email)
        return
    from flask import Flask

    with sqlite3.connect(_live_database(tmp_path_factory)) as conn:
        (user_id,) = conn.execute("SELECT id FROM users WHERE email = ?", (email,)).fetchone()
    signer = Flask("signer")
    signer.secret_key = "browser-tests"
    value = signer.session_interface.get_signing_serializer(signer).dumps({"user_id": user_id})
    page.context.add_cookies([{"name": "session", "value": value, "url": base_url}])


@pytest.fixture
def remove_posted(tmp_path_factory):
    """Delete the projects a test posts, so the shared demo server keeps its 400 projects."""
    titles: list[str] = []
    yield titles
    from sqlalchemy import select

    from registry.app import create_app
    from registry.extensions import db
    from registry.models import Project
    from registry.services.actor import SYSTEM
    from registry.services.projects import delete_project

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{_live_database(tmp_path_factory)}"})
    with app.app_context():
        for project in db.session.scalars(select(Project).where(Project.title.in_(titles))):
            delete_project(SYSTEM, project)
        db.session.commit()
        db.session.remove()


def test_government_finds_funding(page, live_server, tmp_path_factory):
    log_in(page, live_server, GOVERNMENT, tmp_path_factory)
    page.goto(f"{live_server}/find-funding")
    assert page.locator("#country").input_value() == "NPL"  # a government starts from its country
    page.check("input[name=priority_area][value='23f']")
    page.select_option("#instrument", "grant")
    page.fill("#amount", "1000000")
    page.select_option("#currency", "USD")
    page.get_by_role("button", name="Find funding").click()
    page.wait_for_selector("#ranked-heading")
    cards = page.locator("article.source-card")
    assert cards.count() >= 1
    first = cards.first
    assert first.locator(".criterion").count() == 5
    assert first.locator("[data-criterion='eligibility'][data-status='met']").count() == 1
    assert first.locator("table.evidence").count() == 1
    # Sources failing a hard rule are listed apart, each with its reason.
    assert page.locator("#failing-heading").count() == 1
    assert page.locator(".failing .why-not").count() >= 1
    screenshot(page, "finder-results")
    # Save the search: its feed is listed on the saved-searches page.
    page.get_by_role("button", name="Save search").click()
    page.wait_for_selector("a.feed-link")
    feed = page.locator("a.feed-link").first.get_attribute("href")
    assert page.request.get(f"{live_server}{feed}").headers["content-type"].startswith("application/atom+xml")
    screenshot(page, "saved-searches")


def test_government_posts_and_donor_marks_interest(page, live_server, tmp_path_factory, remove_posted):
    remove_posted.append(TITLE)
    log_in(page, live_server, GOVERNMENT, tmp_path_factory)
    page.goto(f"{live_server}/pipeline")
    page.get_by_role("link", name="Post a pipeline project").click()
    page.fill("#title", TITLE)
    page.check("input[name=areas][value='23f']")
    page.fill("#need_amount", "900000")
    page.select_option("#need_currency", "USD")
    page.select_option("#instrument_sought", "grant")
    page.fill("#planned_start", "2026-06-01")
    page.fill("#planned_end", "2028-05-31")
    page.fill("#contact_name", "Dr Shrestha")
    page.fill("#contact_email", "health.ict@demo.invalid")
    screenshot(page, "pipeline-form")
    page.get_by_role("button", name="Publish pipeline project").click()
    page.wait_for_selector("h1:has-text('Telemedicine')")
    project_url = page.url

    log_in(page, live_server, DONOR, tmp_path_factory)
    page.goto(f"{live_server}/my-funds")
    page.locator("a.fund-tile", has_text="Nordic bilateral ICT programme").click()
    card = page.locator("article.source-card", has_text=TITLE)
    card.first.wait_for()  # the fund's page loads after the click
    assert card.count() == 1
    assert card.locator("[data-criterion='eligibility'][data-status='met']").count() == 1
    screenshot(page, "projects-matching-my-fund")
    card.get_by_role("link", name=TITLE).click()
    page.fill("#note", "Fits our health call; our programme officer will write.")
    # Keyboard only: tab from the note to the button and press Enter.
    page.focus("#note")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Your organisation is interested")
    screenshot(page, "pipeline-interest")

    log_in(page, live_server, GOVERNMENT, tmp_path_factory)
    page.goto(project_url)
    assert page.locator(".interests li", has_text="Nordic Connectivity Agency").count() == 1
    screenshot(page, "pipeline-government-view")


def test_finder_and_pipeline_fit_a_phone(phone_page, live_server):
    phone_page.goto(f"{live_server}/find-funding?country=NPL&priority_area=23b&instrument=grant")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone_page, "finder-phone")
    phone_page.goto(f"{live_server}/pipeline")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone_page, "pipeline-phone")
