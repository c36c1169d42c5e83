"""The suite's own rule on skips (tests/conftest.py), run on a small suite of its own."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES

pytest_plugins = ["pytester"]

SUITE = """
import pytest

@pytest.mark.fixtures
def test_needs_the_real_files():
    pytest.skip("the real files are not here")

@pytest.mark.browser
def test_needs_chromium():
    pytest.skip("no chromium")

def test_may_skip():
    pytest.skip("nothing to check here")

def test_runs():
    pass
"""

CONFTEST = """
from tests.conftest import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401

def pytest_configure(config):
    config.addinivalue_line("markers", "fixtures: real files")
    config.addinivalue_line("markers", "browser: chromium")
"""


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="shows the rule where the shared fixtures are present")
def test_a_skipped_fixture_test_fails_where_the_fixtures_are(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr("tests.conftest.IN_CI", False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, skipped=2)
    result.stdout.fnmatch_lines(["*2 skipped*", "*1  no chromium*", "*1  nothing to check here*"])
    result.stdout.fnmatch_lines(["*the shared fixtures are present*the real files are not here*"])


def test_a_skipped_browser_test_fails_in_ci(pytester, monkeypatch):
    monkeypatch.setattr("tests.conftest.IN_CI", True)
    monkeypatch.setattr("tests.conftest.FIXTURES", pytester.path / "no-such-folder")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, skipped=2)
    result.stdout.fnmatch_lines(["*CI installs Chromium*no chromium*"])
