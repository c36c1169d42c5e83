"""Reports: funding flows and gaps by region, category and priority area."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    """Register the reports' API, pages and commands (called by create_app)."""
