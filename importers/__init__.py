"""Importers: donor spreadsheets, IATI activity XML and OECD CRS files."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    """Register the importers' API, pages and commands (called by create_app)."""
