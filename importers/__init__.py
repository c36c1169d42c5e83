"""Importers: donor spreadsheets, IATI activity XML and OECD CRS files."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    """Register the importers' API, pages and commands (called by create_app)."""
    import importers.models  # noqa: F401  (tables known to the metadata and to migrations)

    app.config.setdefault("IMPORT_MAX_UNCOMPRESSED", 300 * 1024 * 1024)
