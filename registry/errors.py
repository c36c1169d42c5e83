"""Domain errors and the one JSON error shape of the whole application.

Every error the API returns looks like
``{"code": 422, "status": "Unprocessable Entity", "message": "...", "errors": {...}, "request_id": "..."}``
(``request_id``: the request's id, also in its X-Request-ID header and its log lines), 413
(an upload over ``MAX_CONTENT_LENGTH``), 414 (an address over ``MAX_URL_LENGTH``) and any
other HTTP error raised in the app included.
Services raise the domain errors below; the handlers registered on the app turn
them (and every HTTP error, 404 and 405 included) into that shape for API
requests and into an HTML page for browsers.

``message`` and the messages in ``errors`` are in the request's language: the services say
them with ``gettext`` when they raise (English outside a request: the command line, the
queue's worker); the validation messages of marshmallow and webargs, and the standard
descriptions of the HTTP errors, are looked up in the catalogue when the response is shaped
(``registry.schemas.messages``, ``HTTP_MESSAGES``). The machine fields (``code``, ``status``,
the field names, ``request_id``) never change.
"""

from __future__ import annotations

import datetime as dt
import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, abort, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from registry.logging_setup import current_request_id
from registry.schemas.messages import translate_validation_messages

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


STALE_MESSAGE = _l("The object was changed by someone else meanwhile; reload it and try again")


def clash(error: IntegrityError | StaleDataError) -> ConflictError:
    """A write the database refused because another writer got there first (a stale
    optimistic-locking version, a unique key taken meanwhile), as the registry's 409."""
    if isinstance(error, StaleDataError):
        return ConflictError(str(STALE_MESSAGE))
    return ConflictError(_("The change clashes with existing data: %(detail)s", detail=error.orig))


class PreconditionFailed(RegistryError):
    """The If-Match sent is not the object's current ETag: it changed since the client read it."""

    code = 412


class PreconditionRequired(RegistryError):
    """A change sent neither If-Match nor the version it is based on (RFC 6585)."""

    code = 428


# How long a client should wait before trying again after the database was too busy.
RETRY_AFTER_SECONDS = 1
# SQLSTATEs of PostgreSQL's transient refusals: serialization failure, deadlock, lock not available.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03"}


def is_contention(error: OperationalError) -> bool:
    """Whether the database refused only because another writer held a lock for too long
    (SQLite "database is locked" after the busy timeout; a PostgreSQL deadlock or lock timeout)."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    text = str(orig).lower()
    return type(orig).__module__.startswith("sqlite3") and ("database is locked" in text or "busy" in text)


# What an HTTP error says when nothing more precise is known: Werkzeug's descriptions, in the
# catalogue so that they follow the request's language (``status`` stays the standard phrase).
HTTP_MESSAGES = {
    400: _l("The browser (or proxy) sent a request that this server could not understand."),
    401: _l(
        "The server could not verify that you are authorized to access the URL requested. You either "
        "supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to "
        "supply the credentials required."
    ),
    403: _l(
        "You don't have the permission to access the requested resource. It is either read-protected or "
        "not readable by the server."
    ),
    404: _l(
        "The requested URL was not found on the server. If you entered the URL manually please check your "
        "spelling and try again."
    ),
    405: _l("The method is not allowed for the requested URL."),
    406: _l(
        "The resource identified by the request is only capable of generating response entities which have "
        "content characteristics not acceptable according to the accept headers sent in the request."
    ),
    409: _l(
        "A conflict happened while processing the request. The resource might have been modified while the "
        "request was being processed."
    ),
    410: _l(
        "The requested URL is no longer available on this server and there is no forwarding address. If you "
        "followed a link from a foreign page, please contact the author of this page."
    ),
    412: _l("The precondition on the request for the URL failed positive evaluation."),
    413: _l("The data value transmitted exceeds the capacity limit."),
    414: _l(
        "The length of the requested URL exceeds the capacity limit for this server. The request cannot be processed."
    ),
    415: _l("The server does not support the media type transmitted in the request."),
    422: _l("The request was well-formed but was unable to be followed due to semantic errors."),
    428: _l('This request is required to be conditional; try using "If-Match" or "If-Unmodified-Since".'),
    429: _l("This user has exceeded an allotted request count. Try again later."),
    500: _l(
        "The server encountered an internal error and was unable to complete your request. Either the server "
        "is overloaded or there is an error in the application."
    ),
    503: _l(
        "The server is temporarily unable to service your request due to maintenance downtime or capacity "
        "problems. Please try again later."
    ),
}


def http_message(code: int) -> str:
    """What an HTTP error of ``code`` says by default, in the request's language."""
    known = HTTP_MESSAGES.get(code)
    return str(known) if known is not None else HTTPStatus(code).description


def error_body(code: int, message: str | None = None, errors: dict | None = None) -> dict:
    """The error shape shared by every API response: ``errors`` is always there (``{}`` when
    no field is to blame), so a client reads every error the same way."""
    status = HTTPStatus(code)
    body = {"code": code, "status": status.phrase, "message": message or http_message(code), "errors": errors or {}}
    request_id = current_request_id()
    if request_id:  # the id in the logs and the X-Request-ID header, for the user to quote
        body["request_id"] = request_id
    return body


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


# The status lines a page can show, in the reader's language (the JSON keeps the standard phrase).
STATUS_PHRASES = {
    400: _l("Bad Request"),
    401: _l("Unauthorized"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    409: _l("Conflict"),
    410: _l("Gone"),
    412: _l("Precondition Failed"),
    413: _l("Request Entity Too Large"),
    414: _l("Request-URI Too Long"),
    415: _l("Unsupported Media Type"),
    422: _l("Unprocessable Entity"),
    428: _l("Precondition Required"),
    429: _l("Too Many Requests"),
    500: _l("Internal Server Error"),
    503: _l("Service Unavailable"),
}


def _respond(code: int, message: str, errors: dict | None = None):
    # A message that carries its own translation (an importer's, which remembers its id and
    # parameters) is shown in the reader's language.
    translated = getattr(message, "translated", None)
    if callable(translated):
        message = translated()
    if _wants_json():
        response = jsonify(error_body(code, message, errors))
        response.status_code = code
        return response
    return render_template(
        "error.html",
        code=code,
        status=str(STATUS_PHRASES.get(code, HTTPStatus(code).phrase)),
        message=message,
        errors=errors,
    ), code


DEFAULT_MAX_URL_LENGTH = 4000  # path and query string; below gunicorn's limit_request_line (4,094)


def _too_large_message(app: Flask, default: str) -> str:
    """Why a request is too large: the whole body over MAX_CONTENT_LENGTH, else one form field
    over MAX_FORM_MEMORY_SIZE (Werkzeug refuses both with 413)."""
    from registry.i18n import number

    limit = app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length is None or request.content_length > limit):
        return _("The upload is larger than the limit of %(limit)s bytes", limit=number(limit))
    field_limit = app.config.get("MAX_FORM_MEMORY_SIZE")
    if field_limit:
        return _(
            "A form field is larger than the limit of %(limit)s bytes; send the file as a file",
            limit=number(field_limit),
        )
    return default


def refuse_long_urls(app: Flask) -> None:
    """Answer 414 (in the error shape) to an address longer than MAX_URL_LENGTH, before routing:
    a filter that long is a mistake or an attack, and proxies would cut it anyway."""
    app.config.setdefault("MAX_URL_LENGTH", DEFAULT_MAX_URL_LENGTH)

    @app.before_request
    def check_url_length():
        from registry.i18n import number

        limit = int(app.config["MAX_URL_LENGTH"])
        length = len(request.path) + len(request.query_string)
        if length > limit:
            abort(
                414,
                description=_(
                    "The address is %(length)s characters long, more than the limit of %(limit)s; "
                    "shorten the query (or send long filters in a request body)",
                    length=number(length),
                    limit=number(limit),
                ),
            )


def register_errorhandlers(app: Flask) -> None:
    """Attach the handlers to the app (a blueprint handler would miss 404/405); refuse
    over-long addresses with 414."""
    refuse_long_urls(app)

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

    @app.errorhandler(OperationalError)
    def handle_operational(error: OperationalError):
        # Another writer held the database for longer than the busy timeout: nothing was saved,
        # and the same request may well succeed a moment later, so 503 with Retry-After.
        from registry.extensions import db

        db.session.rollback()
        if not is_contention(error):
            return handle_unexpected(error)
        log.warning("Database busy on %s %s: %s [%s]", request.method, request.path, error.orig, error.statement)
        response = _respond(
            503, _("The database is busy with other changes; nothing was saved. Try again in a moment.")
        )
        if isinstance(response, tuple):
            response = app.make_response(response)
        response.headers["Retry-After"] = g.retry_after = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        code = error.code or 500
        errors = None
        message = error.description
        if message == type(error).description and code in HTTP_MESSAGES:
            # Werkzeug's own wording (no more precise description was given): the catalogue's
            message = http_message(code)
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
            errors = translate_validation_messages(errors)
            message = _("The input is not valid; see errors for each field")
        if code == 413:
            message = _too_large_message(app, message)
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
        return _respond(500, _("Something went wrong on our side; nothing was saved."))
