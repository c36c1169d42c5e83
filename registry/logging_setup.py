"""The app's logs: JSON in production (one object per line), readable text in development,
every line of a request carrying that request's id.

Each request gets an id: the ``X-Request-ID`` header the proxy (or client) sent when it is
sane (1 to 128 letters, digits and ``. _ : -``), else a new random one. The id is returned in
the response's ``X-Request-ID`` header, added to every log record emitted while the request
runs (a filter on the handler, so the records of SQLAlchemy or any library carry it too), and
put in the API's error bodies (``registry.errors.error_body``) so a user can quote it.

When a request ends the app logs one line (logger ``registry.request``) with its method, path,
status, duration_ms and user_id: the access log, written by the app because only the app knows
the user. The health probes log theirs at DEBUG, so a load balancer's polling is not noise.

``LOG_FORMAT`` is ``json`` or ``text``; unset, it is json with REGISTRY_ENV=production and text
elsewhere. ``LOG_LEVEL`` is the root level (INFO by default).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
FORMATS = ("json", "text")
PROBES = frozenset({"/healthz", "/readyz"})
# The fields every JSON line starts with, in this order; others (a record's extra=) follow.
FIRST_FIELDS = ("time", "level", "logger", "message", "request_id", "method", "path", "status", "duration_ms")
FIRST_FIELDS += ("user_id",)
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

_ID_KEY, _STARTED_KEY = "registry.request_id", "registry.request_started"

request_log = logging.getLogger("registry.request")


def log_format(configured: str | None, environment: str | None) -> str:
    """The format to write: the one configured, else json in production and text elsewhere."""
    chosen = (configured or ("json" if environment == "production" else "text")).strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"LOG_FORMAT is {configured!r}; set it to one of {', '.join(FORMATS)}")
    return chosen


def current_request_id() -> str | None:
    """The id of the request being served (made now if the request has none yet); None outside
    a request."""
    if not has_request_context():
        return None
    # Kept in the WSGI environ, which is the request's own (``g`` belongs to the app context,
    # which a test client shares between requests).
    request_id = request.environ.get(_ID_KEY)
    if request_id is None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = request.environ[_ID_KEY] = given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return request_id


def _user_id() -> int | str | None:
    """The id of the signed-in user, read without touching the database (the session may have
    been rolled back by an error handler, leaving the user's attributes expired)."""
    user = g.get("user") or g.get("_login_user")
    if user is None:
        return None
    try:
        from sqlalchemy import inspect

        state = inspect(user, raiseerr=False)
        if state is not None:
            return state.identity[0] if state.identity else None
        return getattr(user, "id", None)
    except Exception:  # a log line must never fail the request
        return None


class RequestContext(logging.Filter):
    """Adds the request's id, method, path and user id to every record emitted inside it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            for name, value in (
                ("request_id", current_request_id()),
                ("method", request.method),
                ("path", request.path),
                ("user_id", _user_id()),
            ):
                if getattr(record, name, None) is None:
                    setattr(record, name, value)
        return True


def _time(created: float) -> str:
    return dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dumps(entry: dict) -> str:
    ordered = {name: entry.pop(name) for name in FIRST_FIELDS if entry.get(name) is not None}
    ordered.update((name, value) for name, value in entry.items() if value is not None)
    return json.dumps(ordered, default=str, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in a message are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _dumps(entry)


class TextFormatter(logging.Formatter):
    """A readable line for a developer's terminal: time, level, logger, [request id], message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


class AccessJsonFormatter(logging.Formatter):
    """gunicorn's access log as JSON: its record's args are the access atoms of one request."""

    def format(self, record: logging.LogRecord) -> str:
        atoms = record.args if isinstance(record.args, Mapping) else {}

        def atom(key: str):
            value = atoms.get(key)
            return None if value in (None, "-") else value

        duration = atom("D")
        status = atom("s")
        entry = {
            "time": _time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": atom("r"),
            "request_id": atom("{x-request-id}o"),
            "method": atom("m"),
            "path": atom("U"),
            "query": atom("q") or None,
            "status": int(status) if str(status).isdigit() else status,
            "duration_ms": round(duration / 1000, 1) if isinstance(duration, int) else None,
            "bytes": atom("B"),
            "remote_addr": atom("h"),
            "forwarded_for": atom("{x-forwarded-for}i"),
            "user_agent": atom("a"),
            "referer": atom("f"),
        }
        return _dumps(entry)


FORMATTERS = {"json": JsonFormatter, "text": TextFormatter}


def configure(fmt: str, level: str | int = "INFO", stream=None) -> logging.Handler:
    """Send every log record to one handler on the root logger (stderr by default) in FMT,
    replacing the one an earlier call installed; returns the handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_registry", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._registry = True  # type: ignore[attr-defined]
    handler.setFormatter(FORMATTERS[fmt]())
    handler.addFilter(RequestContext())
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler


def _start() -> None:
    request.environ[_STARTED_KEY] = time.perf_counter()
    current_request_id()


def _finish(response: Response) -> Response:
    request_id = current_request_id()
    response.headers[REQUEST_ID_HEADER] = request_id
    started = request.environ.get(_STARTED_KEY)
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    status = response.status_code
    level = logging.DEBUG if request.path in PROBES else logging.WARNING if status >= 500 else logging.INFO
    request_log.log(
        level,
        "%s %s %s %s ms",
        request.method,
        request.path,
        status,
        duration_ms,
        extra={"status": status, "duration_ms": duration_ms},
    )
    return response


def init_app(app: Flask) -> None:
    """Configure the logs from LOG_FORMAT and LOG_LEVEL and give every request its id. Call it
    before any other hook is registered, so the id exists for everything else the request does."""
    fmt = log_format(app.config.get("LOG_FORMAT"), app.config.get("REGISTRY_ENV"))
    configure(fmt, app.config.get("LOG_LEVEL") or "INFO")
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    # after_request hooks run last-registered first: this one, registered first, runs last
    # and so logs the status every other hook has settled.
    app.after_request_funcs.setdefault(None, []).insert(0, _finish)
