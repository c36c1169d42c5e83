"""API tokens in a real browser: create one (secret shown once), use it, revoke it after the
confirmation; an administrator's page of every user's tokens."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.browser


def test_a_donor_creates_uses_and_revokes_a_token(page, live_server):
    login(page, live_server, "donor@demo.invalid")
    page.wait_for_url(live_server + "/")
    page.locator(".account").get_by_role("link", name="API tokens").click()
    page.wait_for_url(live_server + "/account/tokens")
    page.get_by_label("Name").fill("Browser uploader")
    page.get_by_label("write").check()
    page.get_by_label("import").check()
    page.get_by_label("Expires in (days)").fill("30")
    page.get_by_role("button", name="Create token").click()

    secret_field = page.locator("#new-token-secret")
    secret = secret_field.input_value()
    assert re.fullmatch(r"ict4d_[\w-]{30,}", secret), secret
    assert "shown only this once" in page.locator("#new-token").inner_text()
    screenshot(page, "tokens-created")
    row = page.locator("tr", has_text="Browser uploader")
    assert "read" in row.inner_text() and "write" in row.inner_text() and "import" in row.inner_text()
    assert "Active" in row.inner_text() and "Never" in row.inner_text()

    api = page.request
    used = api.get(live_server + "/api/v1/imports", headers={"Authorization": f"Bearer {secret}"})
    assert used.status == 200, used.text()

    # The secret is not on the page any more once it is left.
    page.goto(live_server + "/account/tokens")
    assert secret not in page.content()
    row = page.locator("tr", has_text="Browser uploader")
    assert "Never" not in row.inner_text()  # last used: just now

    # Revoking asks first; dismissing the question changes nothing.
    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    row.get_by_role("button", name=re.compile("Revoke")).click()
    assert "Revoke the token “Browser uploader”" in questions[0]
    assert "Active" in page.locator("tr", has_text="Browser uploader").inner_text()
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.locator("tr", has_text="Browser uploader").get_by_role("button", name=re.compile("Revoke")).click()
    page.wait_for_selector("text=Revoked the token Browser uploader")
    assert "Revoked" in page.locator("tr", has_text="Browser uploader").inner_text()
    screenshot(page, "tokens-revoked")

    refused = api.get(live_server + "/api/v1/imports", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status == 401 and "revoked" in refused.json()["message"]


def test_an_admin_sees_every_users_tokens_and_filters_them(page, live_server):
    login(page, live_server, "donor@demo.invalid")
    page.wait_for_url(live_server + "/")
    page.goto(live_server + "/account/tokens")
    page.get_by_label("Name").fill("Donor reporting script")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_selector("#new-token-secret")
    page.get_by_role("button", name="Log out").click()

    login(page, live_server, "admin@demo.invalid")
    page.wait_for_url(live_server + "/")
    page.goto(live_server + "/account/tokens")
    page.get_by_role("link", name="Every user's tokens").click()
    page.wait_for_url(live_server + "/admin/tokens")
    assert "Donor reporting script" in page.locator("table.tokens-table").inner_text()
    page.select_option("#user", label="donor@demo.invalid")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*/admin/tokens\?user=\d+$"))
    users = page.locator("table.tokens-table tbody td[data-label=User]").all_inner_texts()
    assert users and set(users) == {"donor@demo.invalid"}
    screenshot(page, "tokens-admin")


def test_the_tokens_page_at_a_phones_width(phone_page, live_server):
    login(phone_page, live_server, "analyst@demo.invalid")
    phone_page.wait_for_url(live_server + "/")
    phone_page.goto(live_server + "/account/tokens")
    phone_page.get_by_label("Name").fill("Phone check")
    phone_page.get_by_role("button", name="Create token").click()
    phone_page.wait_for_selector("#new-token-secret")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    screenshot(phone_page, "tokens-phone")
