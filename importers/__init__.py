"""Importers: donor spreadsheets, IATI activity XML and OECD CRS files."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    """Register the importers' API, pages and commands (called by create_app)."""
    import importers.models  # noqa: F401  (tables known to the metadata and to migrations)

    app.config.setdefault("IMPORT_MAX_UNCOMPRESSED", 300 * 1024 * 1024)
    import importers.sheets  # noqa: F401  (registers the spreadsheet reader)
    from importers.cli import import_cli

    app.cli.add_command(import_cli)
    from importers.api import init_api

    init_api(api)
    from importers.web import bp as web_bp

    app.register_blueprint(web_bp)
