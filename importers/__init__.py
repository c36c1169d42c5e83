"""Importers: donor spreadsheets, IATI activity XML and OECD CRS files."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    """Register the importers' API, pages and commands (called by create_app)."""
    import importers.models  # noqa: F401  (tables known to the metadata and to migrations)

    app.config.setdefault("IMPORT_MAX_UNCOMPRESSED", 300 * 1024 * 1024)

    from importers import export_api, export_cli, interop, interop_cli
    from registry.extensions import csrf

    interop.register_readers()
    group = interop_cli.import_group()
    interop_cli.register(group)
    if "import" not in app.cli.commands:
        app.cli.add_command(group)
    app.cli.add_command(export_cli.export_cli)
    csrf.exempt(export_api.blp)
    api.register_blueprint(export_api.blp)
