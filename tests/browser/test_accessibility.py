"""Every kind of page passes axe-core's checks with no serious or critical violation, for the
roles that reach it, at a laptop's and a phone's width, in English and in Arabic (right to
left).

axe-core (bundled by axe-playwright-python) runs inside the page as Playwright shows it; a
failure lists each rule broken, its impact and the elements (CSS selectors) that break it.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import LAPTOP, PHONE, login, opened_page

pytestmark = pytest.mark.browser

SERIOUS = {"serious", "critical"}
SIZES = {"laptop": LAPTOP, "phone": PHONE}
LANGUAGES = ("en", "ar")

# (name, role that reaches the page, path); None is a visitor. A path of None is found on
# the page by PATH_FROM.
PAGES = [
    ("home", None, "/"),
    ("projects", None, "/projects"),
    ("project", None, "/projects/1"),
    ("funding-sources", None, "/funding-sources"),
    ("funding-source", None, "/funding-sources/1"),
    ("organisations", None, "/organisations"),
    ("organisation", None, "/organisations/1"),
    ("finder", None, "/find-funding"),
    ("finder-results", None, "/find-funding?country=NPL&priority_area=23b&instrument=grant"),
    ("pipeline", None, "/pipeline"),
    ("pipeline-project", None, None),
    ("reports", None, "/reports/"),
    ("reports-cross-tab", None, "/reports/?by=region&by2=priority_area"),
    ("country", None, "/countries/AFG"),
    ("login", None, "/login"),
    ("error", None, "/projects/999999"),
    ("project-form", "donor", "/projects/new"),
    ("import", "donor", "/imports/"),
    ("my-funds", "donor", "/my-funds"),
    ("saved-searches", "donor", "/saved-searches"),
    ("tokens", "donor", "/account/tokens"),
    ("password", "donor", "/account/password"),
    ("deleted", "donor", "/deleted"),
    ("pipeline-form", "government", "/pipeline/new"),
    ("admin", "admin", "/admin/"),
    ("admin-users", "admin", "/admin/users"),
    ("admin-audit", "admin", "/admin/audit"),
    ("admin-imports", "admin", "/admin/imports"),
    ("admin-reference", "admin", "/admin/reference"),
    ("admin-tokens", "admin", "/admin/tokens"),
    ("admin-deleted", "admin", "/deleted/projects"),
]
# Pages whose address is a link on another page: (page to look on, selector of the link).
PATH_FROM = {"pipeline-project": ("/pipeline", "main a[href*='/pipeline/']:not([href*='for-source'])")}

# Findings in templates that base.html and the stylesheets cannot fix, left to their owners:
# {(page name, size): {rule id: reason}}. Such a page still fails on any other finding, and
# fails when a listed finding is gone (so that the entry is removed).
KNOWN: dict[tuple[str, str], dict[str, str]] = {}


@pytest.fixture(scope="module")
def session_of(browser, live_server):
    """The cookies of a signed-in role, signed in once for the module."""
    states: dict[str, dict] = {}

    def state(role: str | None) -> dict | None:
        if role is None:
            return None
        if role not in states:
            with opened_page(browser, **LAPTOP) as page:
                login(page, live_server, f"{role}@demo.invalid")
                page.wait_for_url(live_server + "/")
                states[role] = page.context.storage_state()
        return states[role]

    return state


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def serious_violations(axe, page) -> list[dict]:
    results = axe.run(page, options={"resultTypes": ["violations"]})
    return [v for v in results.response["violations"] if v.get("impact") in SERIOUS]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:6])
        more = f" (+{len(v['nodes']) - 6} more)" if len(v["nodes"]) > 6 else ""
        lines.append(f"{v['id']} [{v['impact']}] {v['help']}: {targets}{more}")
    return "\n".join(lines)


def open_as(browser, session_of, role: str | None, size: str, language: str):
    options = dict(SIZES[size])
    state = session_of(role)
    if state is not None:
        options["storage_state"] = state
    return opened_page(browser, locale=language, extra_http_headers={"Accept-Language": language}, **options)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("name", "role", "path"), PAGES, ids=[name for name, _, _ in PAGES])
def test_no_serious_accessibility_violation(browser, live_server, session_of, axe, name, role, path, size, language):
    with open_as(browser, session_of, role, size, language) as page:
        if path is None:
            where, link = PATH_FROM[name]
            page.goto(live_server + where)
            path = page.locator(link).first.get_attribute("href")
        response = page.goto(live_server + path)
        assert response is not None and response.status < 500, f"{path} answered {response and response.status}"
        assert page.evaluate("document.documentElement.lang") == language
        found = serious_violations(axe, page)
    known = KNOWN.get((name, size), {})
    ours = [v for v in found if v["id"] not in known]
    assert not ours, f"{path} ({role or 'visitor'}, {size}, {language}):\n{describe(ours)}"
    gone = set(known) - {v["id"] for v in found}
    assert not gone, f"{path} ({size}) no longer breaks {sorted(gone)}: remove it from KNOWN"
    if known:
        pytest.xfail("; ".join(known.values()))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_open_phone_menu_passes_too(browser, live_server, session_of, axe, language):
    with open_as(browser, session_of, "donor", "phone", language) as page:
        page.goto(live_server + "/")
        page.locator("[data-menu-toggle]").click()
        assert page.locator("[data-menu-toggle]").get_attribute("aria-expanded") == "true"
        found = serious_violations(axe, page)
    assert not found, describe(found)
