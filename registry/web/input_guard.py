"""Refuse text no database can store: NUL characters and lone UTF-16 surrogates.

PostgreSQL rejects NUL bytes in text and UTF-8 cannot encode a lone surrogate;
either would fail deep in a query as a 500. One check at the door answers 400.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _bad(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_UNSTORABLE.search(value))
    if isinstance(value, dict):
        return any(_bad(k) or _bad(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_bad(v) for v in value)
    return False


def refuse_unstorable_text() -> None:
    """400 when the query, form or JSON body holds a NUL or a lone surrogate."""
    # every value of a repeated parameter (?donor=&donor=%00), not only the first
    values: list[Any] = [*request.args.keys(), *(v for _k, vs in request.args.lists() for v in vs)]
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        values += [*request.form.keys(), *(v for _k, vs in request.form.lists() for v in vs)]
        if request.is_json:
            values.append(request.get_json(silent=True))
    if any(_bad(v) for v in values):
        raise BadRequest(_("Text may not contain NUL characters or unpaired surrogates"))


def init_app(app: Flask) -> None:
    app.before_request(refuse_unstorable_text)
