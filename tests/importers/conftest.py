"""Fixtures of the importer tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def _import_storage(_app, tmp_path_factory):
    """Uploaded files of the tests go to a temporary folder, not the instance folder."""
    _app.config["IMPORT_STORAGE"] = str(tmp_path_factory.mktemp("imports"))


@pytest.fixture(autouse=True)
def _uploads_in_tmp(_import_storage):
    """Every importer test keeps its uploads in the temporary folder."""
