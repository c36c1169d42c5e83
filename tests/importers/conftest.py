"""Fixtures of the importer tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def _import_storage(_app, tmp_path_factory):
    """Uploaded files of the tests go to a temporary folder, not the instance folder."""
    _app.config["IMPORT_STORAGE"] = str(tmp_path_factory.mktemp("imports"))


@pytest.fixture(autouse=True)
def _uploads_in_tmp(request):
    """Tests on the shared app keep their uploads in the temporary folder (tests that build
    their own app and database set IMPORT_STORAGE themselves)."""
    if "app" in request.fixturenames:
        request.getfixturevalue("_import_storage")
