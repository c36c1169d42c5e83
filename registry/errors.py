"""Domain errors and the one JSON error shape of the whole application.

Every error the API returns looks like
``{"code": 422, "status": "Unprocessable Entity", "message": "...", "errors": {...}, "request_id": "..."}``
(``request_id``: the request's id, also in its X-Request-ID header and its log lines), 413
(an upload over ``MAX_CONTENT_LENGTH``) and any other HTTP error raised in the app included.
Services raise the domain errors below; the handlers registered on the app turn
them (and every HTTP error, 404 and 405 included) into that shape for API
requests and into an HTML page for browsers.
"""

from __future__ import annotations

import datetime as dt
import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from registry.logging_setup import current_request_id

log = logging.getLogger(__name__)


class RegistryError(Exception):
    """Base of domain errors; ``code`` is the HTTP status it maps to."""

    code = 400

    def __init__(self, message: str, errors: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationError(RegistryError):
    """Input breaks a rule of the domain (shares, dates, codes)."""

    code = 422


class MoneyError(ValidationError):
    """An amount or currency is not acceptable."""


class ConversionError(ValidationError):
    """An amount cannot be converted: no rate for that currency and date."""

    def __init__(self, message: str, currency: str, date: dt.date):
        super().__init__(message, {"currency": [message]})
        self.currency = currency
        self.date = date


class NotFoundError(RegistryError):
    code = 404


class PermissionDenied(RegistryError):
    code = 403


class ConflictError(RegistryError):
    """The object changed since the client read it, or a unique key is taken."""

    code = 409


STALE_MESSAGE = "The object was changed by someone else meanwhile; reload it and try again"


def clash(error: IntegrityError | StaleDataError) -> ConflictError:
    """A write the database refused because another writer got there first (a stale
    optimistic-locking version, a unique key taken meanwhile), as the registry's 409."""
    if isinstance(error, StaleDataError):
        return ConflictError(STALE_MESSAGE)
    return ConflictError(f"The change clashes with existing data: {error.orig}")


class PreconditionFailed(RegistryError):
    code = 412


def error_body(code: int, message: str | None = None, errors: dict | None = None) -> dict:
    """The error shape shared by every API response: ``errors`` is always there (``{}`` when
    no field is to blame), so a client reads every error the same way."""
    status = HTTPStatus(code)
    body = {"code": code, "status": status.phrase, "message": message or status.description, "errors": errors or {}}
    request_id = current_request_id()
    if request_id:  # the id in the logs and the X-Request-ID header, for the user to quote
        body["request_id"] = request_id
    return body


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _respond(code: int, message: str, errors: dict | None = None):
    if _wants_json():
        response = jsonify(error_body(code, message, errors))
        response.status_code = code
        return response
    return render_template(
        "error.html", code=code, status=HTTPStatus(code).phrase, message=message, errors=errors
    ), code


def register_errorhandlers(app: Flask) -> None:
    """Attach the handlers to the app (a blueprint handler would miss 404/405)."""

    @app.errorhandler(RegistryError)
    def handle_domain(error: RegistryError):
        from registry.extensions import db

        db.session.rollback()
        return _respond(error.code, error.message, error.errors)

    @app.errorhandler(StaleDataError)
    @app.errorhandler(IntegrityError)
    def handle_clash(error: IntegrityError | StaleDataError):
        # A flush inside a service or the commit met another writer's change: a 409, never a 500.
        from registry.extensions import db

        db.session.rollback()
        conflict = clash(error)
        return _respond(conflict.code, conflict.message)

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        code = error.code or 500
        errors = None
        message = error.description
        # flask-smorest / webargs put marshmallow messages on error.data
        data = getattr(error, "data", None) or {}
        if isinstance(data, dict) and "messages" in data:
            errors = data["messages"]
            # webargs nests by location ("json", "query", "form"): flatten one level
            if (
                isinstance(errors, dict)
                and len(errors) == 1
                and next(iter(errors))
                in {
                    "json",
                    "query",
                    "form",
                    "files",
                    "headers",
                    "view_args",
                    "path",
                }
            ):
                errors = next(iter(errors.values()))
            message = "The input is not valid; see errors for each field"
        if code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"The upload is larger than the limit of {limit:,} bytes" if limit else message
        response = _respond(code, message, errors)
        if isinstance(response, tuple):
            return response
        for header, value in error.get_headers():
            if header.lower() not in {"content-type", "content-length"}:
                response.headers[header] = value
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        from registry.extensions import db

        db.session.rollback()
        log.exception("Unhandled error on %s %s", request.method, request.path)
        return _respond(500, "Something went wrong on our side; nothing was saved.")
