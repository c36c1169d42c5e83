"""Importers: donor spreadsheets, IATI activity XML and OECD CRS files."""

import os

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    """Register the importers' API, pages and commands (called by create_app)."""
    import importers.models  # noqa: F401  (tables known to the metadata and to migrations)

    app.config.setdefault("IMPORT_MAX_UNCOMPRESSED", 300 * 1024 * 1024)
    # Rejected uploads are deleted once older than this (importers.pipeline.retention).
    app.config.setdefault("IMPORT_REJECTED_RETENTION_DAYS", float(os.environ.get("IMPORT_REJECTED_RETENTION_DAYS", 7)))
    from importers.mapping import load_mapping
    from registry.services.areas import RULES_KEY

    # The registry infers paragraph 23 areas from purpose codes with the importers' mapping
    # (data an admin edits), given to it here: the registry never imports the importers.
    app.extensions[RULES_KEY] = load_mapping
    import importers.sheets  # noqa: F401  (registers the spreadsheet reader)
    from importers import export_api, export_cli, interop, interop_cli
    from importers.cli import import_cli, imports_cli

    # IATI and CRS after the spreadsheet reader: upload detection asks later readers first.
    interop.register_readers()
    interop_cli.register(import_cli)
    app.cli.add_command(import_cli)
    app.cli.add_command(imports_cli)
    app.cli.add_command(export_cli.export_cli)
    from importers.api import init_api
    from registry.auth import token_scope_for
    from registry.extensions import csrf

    init_api(api)
    # An API token works on the imports' routes, reads included, only with the 'import' scope.
    token_scope_for(app, "imports", "import")
    token_scope_for(app, "imports_web", "import")
    csrf.exempt(export_api.blp)
    api.register_blueprint(export_api.blp)
    from importers.jobs import register as register_jobs
    from importers.web import bp as web_bp

    register_jobs()

    app.register_blueprint(web_bp)
