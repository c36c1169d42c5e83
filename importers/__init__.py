"""Importers: donor spreadsheets, IATI activity XML and OECD CRS files."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    """Register the importers' API, pages and commands (called by create_app)."""
    import importers.models  # noqa: F401  (tables known to the metadata and to migrations)

    app.config.setdefault("IMPORT_MAX_UNCOMPRESSED", 300 * 1024 * 1024)
    from importers.mapping import load_mapping
    from registry.services.areas import RULES_KEY

    # The registry infers paragraph 23 areas from purpose codes with the importers' mapping
    # (data an admin edits), given to it here: the registry never imports the importers.
    app.extensions[RULES_KEY] = load_mapping
    import importers.sheets  # noqa: F401  (registers the spreadsheet reader)
    from importers import export_api, export_cli, interop, interop_cli
    from importers.cli import import_cli

    # IATI and CRS after the spreadsheet reader: upload detection asks later readers first.
    interop.register_readers()
    interop_cli.register(import_cli)
    app.cli.add_command(import_cli)
    app.cli.add_command(export_cli.export_cli)
    from importers.api import init_api
    from registry.extensions import csrf

    init_api(api)
    csrf.exempt(export_api.blp)
    api.register_blueprint(export_api.blp)
    from importers.jobs import register as register_jobs
    from importers.web import bp as web_bp

    register_jobs()

    app.register_blueprint(web_bp)
