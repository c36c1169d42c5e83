"""The API reference in a real browser: Swagger UI lists the API's operations and runs one,
with nothing refused by the Content-Security-Policy (the page fixture fails on any)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_the_api_reference_lists_the_operations(page, live_server):
    page.goto(f"{live_server}/api/v1/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 40
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    paths = {text.replace("\u200b", "").strip() for text in summaries}
    assert {"/api/v1/projects", "/api/v1/funding-sources/match", "/api/v1/reports/funding-gap"} <= paths
    # An operation opens and can be tried against this registry (no token needed to read).
    block = page.locator(".opblock-get", has=page.locator(".opblock-summary-path", has_text="/api/v1/priority-areas"))
    block.first.locator(".opblock-summary").first.click()
    block.first.get_by_role("button", name="Try it out").click()
    block.first.get_by_role("button", name="Execute").click()
    block.first.locator(".live-responses-table tbody .response-col_status").first.wait_for()
    assert "200" in block.first.locator(".live-responses-table tbody .response-col_status").first.inner_text()
