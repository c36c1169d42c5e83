"""Marshmallow schemas: what crosses the API, in and out."""
