"""gunicorn's own logs (its error log and its access log) in the app's format.

``gunicorn.conf.py`` names ``GunicornLogger`` as gunicorn's ``logger_class``. With JSON logs
(LOG_FORMAT=json, or REGISTRY_ENV=production and no LOG_FORMAT) the error log's lines are the
app's JSON lines and each access line is one JSON object built from gunicorn's access atoms,
with the request id the app put in the response's X-Request-ID header; with text logs gunicorn
writes its usual lines."""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

from registry.logging_setup import AccessJsonFormatter, JsonFormatter, log_format


class RawAtoms(dict):
    """gunicorn's SafeAtoms without its quote escaping (JSON escapes what it must): header
    atoms looked up case-insensitively, a missing atom is '-'."""

    def __getitem__(self, key: str):
        key = key.lower() if key.startswith("{") else key
        return super().__getitem__(key) if key in self else "-"


class GunicornLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        environment = os.environ.get("REGISTRY_ENV") or os.environ.get("FLASK_ENV")
        if log_format(os.environ.get("LOG_FORMAT"), (environment or "development").strip().lower()) != "json":
            return
        self.atoms_wrapper_class = RawAtoms
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())
        for handler in self.access_log.handlers:
            handler.setFormatter(AccessJsonFormatter())
